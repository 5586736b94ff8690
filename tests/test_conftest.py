"""The README's `conftest test` invocation, run with the pinned conftest over hostile manifests; the same
manifests through `opa eval` on the rendered Rego.

conftest (v0.71.1) reads YAML with sigs.k8s.io/yaml, as kubectl does (YAML 1.1:
`privileged: yes` is true); `opa eval -i` reads YAML 1.2 (`yes` is the string
"yes"). Either way, what kubectl + PSA would deny must fail: the Rego's type
gate turns a value the API would refuse into an error, never an allow.

The verdict each file must get is not written here: it is `pssgen check`'s, whose
reader is kubectl's and whose evaluator gives PSA's verdicts and messages
(0 allowed, 1 denied, 2 a document kubectl or the API refuses).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from generator import tools
from generator.tools import ROOT

pytestmark = pytest.mark.tools

TIMEOUT = 120
RunBounded = Callable[..., subprocess.CompletedProcess[str]]  # the root conftest's run_bounded fixture
Verdict = tuple[int, list[str]]

# Each case is one file, YAML or JSON, as a user would write it.
CLEAN_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: clean}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
"""


def _pod(extra_spec: str = "", container: str = "", name: str = "p") -> str:
    """The clean pod with lines added to its spec and to its container's securityContext (YAML flow entries)."""
    sc = "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}" + (f", {container}" if container else "") + "}"
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{extra_spec}"
        "  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n"
        f"  containers:\n  - name: app\n    image: nginx\n    securityContext: {sc}\n"
    )


def _json_pod(spec: dict[str, object], kind: str = "Pod") -> str:
    return json.dumps({"apiVersion": "v1", "kind": kind, "metadata": {"name": "j"}, "spec": spec})


CASES: dict[str, str] = {
    # passes
    "clean.yaml": CLEAN_POD,
    "clean.json": _json_pod(
        {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {"name": "a", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
            ],
        }
    ),
    "clean-list.yaml": "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n  spec:\n"
    "    securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n"
    "    containers: [{name: app, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n"
    "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n",
    "empty-items.yaml": _pod(container="privileged: true") + "items: []\n",  # a List to kubectl: nothing to send
    "multi.yaml": CLEAN_POD + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    # YAML 1.1 booleans and integers that kubectl reads as such
    "privileged-yes.yaml": _pod(container="privileged: yes"),
    "host-network-on.yaml": _pod(extra_spec="  hostNetwork: on\n"),
    "host-pid-y.yaml": _pod(extra_spec="  hostPID: Y\n"),
    "run-as-user-octal.yaml": _pod(container="runAsUser: 0o0"),
    # wrong types the API refuses
    "privileged-string.yaml": _pod(container='privileged: "true"'),
    "run-as-user-string.yaml": _pod(container='runAsUser: "0"'),
    "run-as-user-string.json": _json_pod({"containers": [{"name": "a", "securityContext": {"runAsUser": "0"}}]}),
    "host-ipc-number.json": _json_pod({"hostIPC": 1, "containers": [{"name": "a"}]}),
    "containers-object.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    "    app: {name: app, image: nginx, securityContext: {privileged: true}}\n",
    "containers-empty-object.json": _json_pod({"containers": {}}),
    "security-context-string.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    "  - {name: app, image: nginx, securityContext: privileged}\n",
    "capabilities-add-string.yaml": _pod(container="capabilities: {drop: [ALL], add: NET_RAW}"),
    "host-port-string.json": _json_pod(
        {"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": "80"}]}]}
    ),
    "deployment-template-string.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
    "  template: privileged\n",
    # Lists as kubectl's reader expands them
    "pod-list-kindless.yaml": "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: bad}\n  spec:\n"
    "    containers:\n    - {name: app, image: nginx, securityContext: {privileged: true}}\n",
    "deployment-list.json": json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "DeploymentList",
            "items": [
                {
                    "metadata": {"name": "d"},
                    "spec": {"template": {"spec": {"hostNetwork": True, "containers": [{"name": "a"}]}}},
                }
            ],
        }
    ),
    "pod-with-items.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: carrier}\nitems:\n"
    "- {apiVersion: v1, kind: Pod, metadata: {name: inner}, spec: {hostPID: true, containers: [{name: a}]}}\n",
    "list-in-list.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n"
    "  - {apiVersion: v1, kind: Pod, metadata: {name: deep}, spec: {containers: [{name: a}]}}\n",
    "items-object.json": json.dumps({"apiVersion": "v1", "kind": "List", "items": {"a": {"kind": "Pod"}}}),
    "list-item-type-confusion.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n"
    "  metadata: {name: t}\n  spec: {containers: [{name: a, securityContext: {privileged: yes}}]}\n",
}
CLEAN = {"clean.yaml", "clean.json", "clean-list.yaml", "empty-items.yaml", "multi.yaml"}


@pytest.fixture(scope="module")
def conftest_bin() -> Path:
    try:
        return tools.require(tools.CONFTEST)
    except tools.ToolError as exc:
        pytest.skip(str(exc))


def readme_conftest_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^### Rego for OPA and conftest\n(.*?)(?=^#)", text, re.S | re.M)
    assert match, "README.md has no '### Rego for OPA and conftest' section"
    return match[1]


def readme_commands() -> list[list[str]]:
    """The shell lines of the section's ```sh block, each split as a shell would."""
    block = re.search(r"```sh\n(.*?)```", readme_conftest_section(), re.S)
    assert block, "the README's conftest section has no ```sh block"
    return [shlex.split(line) for line in block[1].splitlines() if line.strip()]


def readme_invocations(tmp: Path) -> list[tuple[list[str], Path, tuple[str, str]]]:
    """Each `conftest test` line of the README with the files it names moved into ``tmp``, the manifest (the
    line's last argument) to write per case, and the level and version it judges at: those of the --data file
    (written from the README's `echo '...' > file` line), else restricted:latest."""
    invocations: list[tuple[list[str], Path, tuple[str, str]]] = []
    for argv in readme_commands():
        if argv[:1] == ["echo"] and len(argv) == 4 and argv[2] == ">":
            (tmp / argv[3]).write_text(argv[1] + "\n")
        elif argv[:2] == ["conftest", "test"]:
            args = [str(tmp / a) if (tmp / a).is_file() else a for a in argv[2:-1]]
            policy = ("restricted", "latest")
            if "--data" in argv:
                config = json.loads((tmp / argv[argv.index("--data") + 1]).read_text())["pss"]["config"]
                policy = (config.get("level", "restricted"), config.get("version", "latest"))
            invocations.append((args, tmp / "manifest" / argv[-1], policy))
    assert invocations, "the README's conftest section runs no `conftest test`"
    return invocations


def pssgen_verdicts(run_bounded: RunBounded, folder: Path, level: str, version: str) -> dict[str, Verdict]:
    """Per file of ``folder``, what `pssgen check` says at ``level:version``: 2 when a document is refused, else 1
    when an object is denied, else 0; and the denied objects' messages (PSA's "reason (detail)")."""
    pssgen = ROOT / ".venv" / "bin" / "pssgen"
    proc = run_bounded([pssgen, "check", folder, "--level", level, "--version", version, "--output", "json"], TIMEOUT)
    assert proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(proc.stdout)
    found: dict[str, Verdict] = {}
    for path in sorted(folder.iterdir()):
        results = [r for r in report["results"] if Path(r["source"]).name == path.name]
        errors = [e for e in report["errors"] if Path(e["source"]).name == path.name]
        messages = [
            f"{v['reason']} ({v['detail']})" if v["detail"] else v["reason"] for r in results for v in r["violations"]
        ]
        found[path.name] = (2 if errors else 1 if any(not r["allowed"] for r in results) else 0, messages)
    return found


_VERDICTS: dict[tuple[str, str], dict[str, Verdict]] = {}


@pytest.fixture
def verdict(run_bounded: RunBounded, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, str], Verdict]:
    """``verdict(case, level, version)``: pssgen check's, one run over every case per level and version."""

    def get(case: str, level: str, version: str) -> Verdict:
        if (level, version) not in _VERDICTS:
            folder = tmp_path_factory.mktemp("verdicts")
            for name, text in CASES.items():
                (folder / name).write_text(text)
            _VERDICTS[level, version] = pssgen_verdicts(run_bounded, folder, level, version)
        return _VERDICTS[level, version][case]

    return get


def test_the_cases_mean_what_they_say(verdict: Callable[[str, str, str], Verdict]) -> None:
    # The reference: kubectl's reading + PSA. A case meant to fail that pssgen allows would test nothing.
    for name in CASES:
        code, _ = verdict(name, "restricted", "latest")
        assert (code == 0) == (name in CLEAN), f"pssgen check {name} exits {code}"


def test_readme_names_the_invocation_this_file_runs() -> None:
    lines = [" ".join(argv) for argv in readme_commands()]
    assert "conftest test -p out/rego deploy.yaml" in lines, lines


@pytest.mark.parametrize("case", sorted(CASES))
def test_readme_conftest_invocation(
    case: str, conftest_bin: Path, verdict: Callable[[str, str, str], Verdict], run_bounded: RunBounded, tmp_path: Path
) -> None:
    for args, manifest, policy in readme_invocations(tmp_path):
        code, messages = verdict(case, *policy)
        manifest.parent.mkdir(exist_ok=True)
        target = manifest.with_suffix(Path(case).suffix)  # conftest picks its parser by the file's extension
        target.write_text(CASES[case])
        proc = run_bounded([conftest_bin, "test", "--no-color", *args, target], TIMEOUT, cwd=ROOT)
        shown = f"conftest test {' '.join(args)} {case}:\n{proc.stdout}{proc.stderr}"
        if code == 0:
            assert proc.returncode == 0, f"kubectl + PSA allow it, conftest fails: {shown}"
            continue
        assert proc.returncode == 1, f"kubectl + PSA would deny (pssgen check exits {code}): {shown}"
        assert "FAIL" in proc.stdout, shown
        # conftest reads YAML as kubectl does, so it names each of PSA's messages, or the refused field.
        for message in messages:
            assert message in proc.stdout, f"missing {message!r}: {shown}"
        if code == 2:
            assert re.search(r"expected an? \w+, got|List|items", proc.stdout), shown


@pytest.mark.parametrize("case", sorted(CASES))
def test_opa_eval_on_the_rendered_rego(
    case: str, opa_bin: Path, verdict: Callable[[str, str, str], Verdict], run_bounded: RunBounded, tmp_path: Path
) -> None:
    # opa eval -i reads YAML 1.2: `yes` stays a string, which the type gate refuses instead of reading as false.
    code, _ = verdict(case, "restricted", "latest")
    path = tmp_path / case
    path.write_text(CASES[case])
    proc = run_bounded(
        [opa_bin, "eval", "--format", "json", "-d", ROOT / "out" / "rego", "-i", path, "data.main.deny"], TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr
    denied = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    if code == 0:
        assert denied == [], f"{case}: kubectl + PSA allow it, opa denies {denied}"
    else:
        assert denied, f"{case}: kubectl + PSA would deny (pssgen check exits {code}), opa eval allows it"


def test_combine_expands_each_file(
    conftest_bin: Path, verdict: Callable[[str, str, str], Verdict], run_bounded: RunBounded, tmp_path: Path
) -> None:
    # With --combine, input is [{"path", "contents"}]: each file's contents is judged, not the wrapper.
    for name in CASES:
        (tmp_path / name).write_text(CASES[name])
    clean = [tmp_path / name for name in sorted(CLEAN)]
    proc = run_bounded([conftest_bin, "test", "--no-color", "--combine", "-p", "out/rego", *clean], TIMEOUT, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout
    for case in ("privileged-yes.yaml", "pod-list-kindless.yaml", "containers-empty-object.json"):
        proc = run_bounded(
            [conftest_bin, "test", "--no-color", "--combine", "-p", "out/rego", *clean, tmp_path / case],
            TIMEOUT,
            cwd=ROOT,
        )
        assert proc.returncode == 1, f"--combine with {case}:\n{proc.stdout}"
        for message in verdict(case, "restricted", "latest")[1]:
            assert message in proc.stdout, f"--combine with {case}: missing {message!r}\n{proc.stdout}"
