"""The PSA pins agree: generator/tools, the oracle's go.mod, and the newest policy version the registry knows.

A PSA release is taken in several places (CONTRIBUTING.md, "Move to a new PSA
release"); each test here fails with the step that was left out.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from generator import tools
from generator.policy.versions import NEWEST_MINOR
from generator.tools import PSA_MODULE, PSA_VERSION, ROOT, psa_module_dir

ORACLE_DIR = ROOT / "conformance" / "oracle"
STEPS = "see CONTRIBUTING.md, 'Move to a new PSA release'"
BUMP = f"in conformance/oracle run `go get {PSA_MODULE}@{PSA_VERSION}` and `go mod tidy` ({STEPS})"

_REQUIRE_LINE = re.compile(r"^\s*(\S+)\s+(v\S+)(\s*//\s*indirect)?\s*$")
# A check version in the PSA policy package: `MinimumVersion: api.MajorMinorVersion(1, 35)`.
_MINIMUM_VERSION = re.compile(r"MinimumVersion:\s*api\.MajorMinorVersion\(\s*1\s*,\s*(\d+)\s*\)")


def go_mod_requires(text: str) -> dict[str, tuple[str, bool]]:
    """``module -> (version, indirect)`` for every require of a go.mod, single-line or in a block."""
    requires: dict[str, tuple[str, bool]] = {}
    in_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_block:
            if line == ")":
                in_block = False
            elif (match := _REQUIRE_LINE.match(line)) is not None:
                requires[match[1]] = (match[2], match[3] is not None)
        elif line == "require (":
            in_block = True
        elif line.startswith("require ") and (match := _REQUIRE_LINE.match(line.removeprefix("require "))):
            requires[match[1]] = (match[2], match[3] is not None)
    return requires


def go_mod_replaces(text: str) -> set[str]:
    """The modules a go.mod replaces (a replaced module is not the version it requires)."""
    replaced: set[str] = set()
    in_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_block:
            if line == ")":
                in_block = False
            elif "=>" in line:
                replaced.add(line.split()[0])
        elif line == "replace (":
            in_block = True
        elif line.startswith("replace ") and "=>" in line:
            replaced.add(line.split()[1])
    return replaced


def newest_policy_minor(module_dir: Path) -> int:
    """The newest MinimumVersion of any check in the PSA module's policy package: what ``latest`` means there
    (its registry clamps every version to the newest check version it was given)."""
    minors = [
        int(m)
        for path in sorted((module_dir / "policy").glob("check_*.go"))
        if not path.name.endswith("_test.go")
        for m in _MINIMUM_VERSION.findall(path.read_text(encoding="utf-8"))
    ]
    if not minors:
        raise AssertionError(f"no MinimumVersion found in {module_dir / 'policy'}/check_*.go: has upstream moved it?")
    return max(minors)


def test_go_mod_reader_on_a_made_up_go_mod(tmp_path: Path) -> None:
    text = (
        "module x\n\ngo 1.26.0\n\nrequire example.com/single v1.2.3\n\n"
        "require (\n\tk8s.io/api v0.37.2\n\tgithub.com/y/z v0.1.0 // indirect\n)\n\n"
        "replace example.com/single => ../single\nreplace (\n\tk8s.io/api => k8s.io/api v0.36.0\n)\n"
    )
    assert go_mod_requires(text) == {
        "example.com/single": ("v1.2.3", False),
        "k8s.io/api": ("v0.37.2", False),
        "github.com/y/z": ("v0.1.0", True),
    }
    assert go_mod_replaces(text) == {"example.com/single", "k8s.io/api"}
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "check_a.go").write_text(
        "MinimumVersion: api.MajorMinorVersion(1, 0),\nMinimumVersion: api.MajorMinorVersion(1, 9)"
    )
    (policy / "check_a_test.go").write_text("MinimumVersion: api.MajorMinorVersion(1, 99)")
    (policy / "check_b.go").write_text("MinimumVersion:   api.MajorMinorVersion(1, 12),")
    assert newest_policy_minor(tmp_path) == 12


def test_oracle_go_mod_requires_exactly_the_pinned_psa_module() -> None:
    text = (ORACLE_DIR / "go.mod").read_text(encoding="utf-8")
    requires = go_mod_requires(text)
    assert PSA_MODULE in requires, f"conformance/oracle/go.mod does not require {PSA_MODULE}: {BUMP}"
    version, indirect = requires[PSA_MODULE]
    assert version == PSA_VERSION, (
        f"conformance/oracle/go.mod requires {PSA_MODULE} {version}, but generator/tools pins PSA_VERSION "
        f"{PSA_VERSION}: {BUMP}"
    )
    assert not indirect, f"conformance/oracle/go.mod requires {PSA_MODULE} only indirectly: {BUMP}"
    assert PSA_MODULE not in go_mod_replaces(text), (
        f"conformance/oracle/go.mod replaces {PSA_MODULE}, so the oracle is not {PSA_VERSION}: remove the replace"
    )
    go_sum = (ORACLE_DIR / "go.sum").read_text(encoding="utf-8")
    assert f"{PSA_MODULE} {PSA_VERSION} h1:" in go_sum, f"conformance/oracle/go.sum lacks {PSA_VERSION}: {BUMP}"


@pytest.fixture(scope="module")
def module_dir() -> Path:
    return psa_module_dir()


def test_newest_minor_is_the_newest_the_pinned_module_knows(module_dir: Path) -> None:
    newest = newest_policy_minor(module_dir)
    assert newest == NEWEST_MINOR, (
        f"the pinned {PSA_MODULE} {PSA_VERSION} has check versions up to v1.{newest} (policy/check_*.go), but "
        f"NEWEST_MINOR in generator/policy/versions.py is v1.{NEWEST_MINOR}: add the check versions the release "
        f"brings to generator/policy/checks, set NEWEST_MINOR to {newest}, regenerate out/ and the corpus ({STEPS})"
    )


def test_tools_install_builds_every_pinned_tool_by_default_or_by_make_cluster_tools() -> None:
    # A pin that neither `pssgen tools install` (`make tools`) nor `make cluster-tools` builds is never built for
    # `make test`. The local cluster's tools are kept out of the default install (an installed pssgen checking
    # manifests needs none of their ~400 MB and ~10 cold minutes), and `make test` depends on both targets.
    cli_tools = importlib.import_module("generator.cli.tools")  # the package re-exports the click group as `tools`
    pinned = {t.name for t in vars(tools).values() if isinstance(t, tools.Tool)}
    default, cluster = set(cli_tools.TOOLS), set(cli_tools.CLUSTER_TOOLS)
    assert not default & cluster, f"{sorted(default & cluster)} are both default and cluster tools"
    assert pinned == default | cluster, f"generator/cli/tools.py installs none of {sorted(pinned - default - cluster)}"
    recipe = re.search(r"^cluster-tools:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert recipe is not None, "the Makefile has no cluster-tools target"
    named = set(recipe[1].split())
    assert cluster <= named, f"`make cluster-tools` does not install {sorted(cluster - named)}"
    test = re.search(r"^test:(.*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert test is not None and {"tools", "cluster-tools"} <= set(test[1].split()), (
        "`make test` must depend on `tools` and `cluster-tools`: tests/test_cluster_harness.py starts a cluster"
    )


@pytest.mark.parametrize("tool", [tools.OPA, tools.GATOR, tools.CONFTEST, tools.GATEKEEPER], ids=lambda t: t.name)
def test_local_build_is_the_pinned_module_version(tool: tools.Tool) -> None:
    # `go install pkg@version` records the module version in the binary; a stale .tools/bin build shows here.
    if not tool.local_path.exists():
        pytest.skip(f"{tool.local_path} is not built ({tools.make_target(tool)})")
    proc = subprocess.run(["go", "version", "-m", tool.local_path], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"go version -m failed: {proc.stderr.strip()}")
    modules = {f[1]: f[2] for line in proc.stdout.splitlines() if (f := line.split())[0] == "mod" and len(f) >= 3}
    module = next((m for m in modules if tool.package == m or tool.package.startswith(m + "/")), None)
    assert module is not None, f"{tool.local_path} was not built from {tool.package}: {proc.stdout[:300]}"
    assert modules[module] == tool.version, (
        f"{tool.local_path} is {module} {modules[module]}, the pin is {tool.version}: "
        f"rebuild with `{tools.make_target(tool)}`"
    )


# --------------------------------------------------------------------------- the local cluster's pins

CLUSTER_DIR = ROOT / "conformance" / "cluster"
ETCD_DIR = ROOT / "conformance" / "etcd"
CLUSTER_STEPS = (
    f"in conformance/cluster set `require {tools.KUBERNETES_MODULE} {tools.KUBERNETES_VERSION}`, replace each staging "
    f"module kubernetes' go.mod replaces with its published {PSA_VERSION}, and run `go mod tidy`"
)


def go_mod_replacements(text: str) -> dict[str, str]:
    """``module -> target`` for every replace of a go.mod (the target as written: a path, or ``module version``)."""
    found: dict[str, str] = {}
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block and line == ")":
            in_block = False
        elif line == "replace (":
            in_block = True
        elif (in_block or line.startswith("replace ")) and "=>" in line:
            left, right = line.removeprefix("replace ").split("=>", 1)
            found[left.split()[0]] = " ".join(right.split())
    return found


def test_go_mod_replacements_on_a_made_up_go_mod() -> None:
    text = (
        "module x\n\nreplace k8s.io/a => ./staging/src/k8s.io/a\n"
        "replace (\n\tk8s.io/b => k8s.io/b v0.37.2 // published\n\tk8s.io/c v0.1.0 => ../c\n)\n"
    )
    assert go_mod_replacements(text) == {
        "k8s.io/a": "./staging/src/k8s.io/a",
        "k8s.io/b": "k8s.io/b v0.37.2",
        "k8s.io/c": "../c",
    }


def test_kubernetes_and_psa_pins_are_one_release() -> None:
    # Kubernetes 1.N.P publishes its staging modules (PSA among them) as v0.N.P: the cluster's kube-apiserver must run
    # the PodSecurity admission the oracle evaluates, or the in-cluster suite compares two different PSAs.
    assert tools.KUBERNETES_VERSION.removeprefix("v1.") == PSA_VERSION.removeprefix("v0."), (
        f"KUBERNETES_VERSION {tools.KUBERNETES_VERSION} and PSA_VERSION {PSA_VERSION} in generator/tools are not the "
        f"same Kubernetes release: move both ({STEPS}), then {CLUSTER_STEPS}"
    )


@pytest.fixture(scope="module")
def kubernetes_go_mod() -> str:
    """kubernetes' own go.mod at the pin (``go list -m`` fetches only the go.mod, not the module)."""
    spec = f"{tools.KUBERNETES_MODULE}@{tools.KUBERNETES_VERSION}"
    proc = subprocess.run(
        ["go", "list", "-m", "-json", spec], cwd=CLUSTER_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"go list -m {spec} failed: {proc.stderr.strip()}")
    return Path(json.loads(proc.stdout)["GoMod"]).read_text(encoding="utf-8")


def test_cluster_go_mod_builds_kubernetes_at_the_pin_with_every_staging_module_published(
    kubernetes_go_mod: str,
) -> None:
    text = (CLUSTER_DIR / "go.mod").read_text(encoding="utf-8")
    requires = go_mod_requires(text)
    # `// indirect`: go mod tidy marks a module that only `tool` lines use so; the tool lines are what pin it here.
    assert requires.get(tools.KUBERNETES_MODULE, ("",))[0] == tools.KUBERNETES_VERSION, (
        f"conformance/cluster/go.mod requires {tools.KUBERNETES_MODULE} {requires.get(tools.KUBERNETES_MODULE)}, the "
        f"pin is {tools.KUBERNETES_VERSION}: {CLUSTER_STEPS}"
    )
    tool_lines = re.search(r"^tool \(\n(.*?)^\)", text, re.M | re.S)
    declared = set(tool_lines[1].split()) if tool_lines else set()
    built = {tools.KUBE_APISERVER.package, tools.KUBECTL.package}
    assert built <= declared, f"conformance/cluster/go.mod declares no `tool` for {sorted(built - declared)}"
    staging = {m for m, target in go_mod_replacements(kubernetes_go_mod).items() if target.startswith("./staging/")}
    assert len(staging) > 20, f"kubernetes' go.mod replaces only {sorted(staging)} with ./staging: has it moved them?"
    ours = go_mod_replacements(text)
    wrong = {m: ours.get(m) for m in sorted(staging) if ours.get(m) != f"{m} {PSA_VERSION}"}
    assert not wrong, (
        f"conformance/cluster/go.mod does not replace these with their {PSA_VERSION}: {wrong}; {CLUSTER_STEPS}"
    )
    extra = sorted(set(ours) - staging)
    assert not extra, f"conformance/cluster/go.mod replaces {extra}, which kubernetes does not: remove them"
    assert f"{tools.KUBERNETES_MODULE} {tools.KUBERNETES_VERSION} h1:" in (CLUSTER_DIR / "go.sum").read_text(), (
        f"conformance/cluster/go.sum lacks {tools.KUBERNETES_MODULE} {tools.KUBERNETES_VERSION}: {CLUSTER_STEPS}"
    )


def test_etcd_go_mod_requires_exactly_the_pinned_etcd() -> None:
    text = (ETCD_DIR / "go.mod").read_text(encoding="utf-8")
    assert go_mod_requires(text).get(tools.ETCD_MODULE) == (tools.ETCD_VERSION, False), (
        f"conformance/etcd/go.mod must require {tools.ETCD_MODULE} {tools.ETCD_VERSION} (ETCD_VERSION): "
        f"in conformance/etcd run `go get {tools.ETCD_MODULE}@{tools.ETCD_VERSION}` and `go mod tidy`"
    )
    assert tools.ETCD_MODULE not in go_mod_replacements(text), "conformance/etcd/go.mod replaces etcd: remove it"


def test_cluster_builds_are_keyed_by_their_module() -> None:
    # An edited go.mod must build a new binary, never run the old one under the new pin.
    for tool in (tools.KUBE_APISERVER, tools.KUBECTL, tools.ETCD):
        assert tool.local_path.parent.name == f"{tool.name}-{tool.version}-{tool.source_key()}"
    assert tools.KUBE_APISERVER.source_key() != tools.KUBECTL.source_key()  # one module, two programs


def _build_info(binary: Path) -> dict[str, list[str]]:
    """``go version -m``: the main module under "mod", each dependency (with its replacement, if any) under its path."""
    proc = subprocess.run(["go", "version", "-m", binary], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        pytest.fail(f"go version -m {binary} failed: {proc.stderr.strip()}")
    info: dict[str, list[str]] = {}
    last = ""
    for line in proc.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] in ("mod", "dep"):
            last = fields[1]
            info[last] = fields[2:3]
        elif fields and fields[0] == "=>" and last:
            info[last] += fields[1:3]
    return info


@pytest.mark.parametrize("tool", [tools.KUBE_APISERVER, tools.KUBECTL], ids=lambda t: t.name)
def test_kubernetes_builds_are_the_pin_with_published_staging_modules(tool: tools.Tool) -> None:
    if not tool.local_path.exists():
        pytest.skip(f"{tool.local_path} is not built (make cluster-tools)")
    info = _build_info(tool.local_path)
    assert info.get(tools.KUBERNETES_MODULE, [""])[0] == tools.KUBERNETES_VERSION, info.get(tools.KUBERNETES_MODULE)
    staging = {m: v for m, v in info.items() if m.startswith("k8s.io/") and v[:1] == ["v0.0.0"]}
    assert staging, f"{tool.local_path} holds no staging module: not built from conformance/cluster?"
    wrong = {m: v for m, v in staging.items() if v[1:] != [m, PSA_VERSION]}
    assert not wrong, f"{tool.local_path}: staging modules not replaced by their {PSA_VERSION}: {wrong}"
    out = subprocess.run([tool.local_path, *tool.version_args], capture_output=True, text=True, timeout=60).stdout
    assert tools.KUBERNETES_VERSION in out.split(), f"`{tool.name} {' '.join(tool.version_args)}` says {out!r}"


def test_etcd_build_is_the_pin() -> None:
    if not tools.ETCD.local_path.exists():
        pytest.skip(f"{tools.ETCD.local_path} is not built (make cluster-tools)")
    assert _build_info(tools.ETCD.local_path)[tools.ETCD_MODULE][0] == tools.ETCD_VERSION
    out = subprocess.run([tools.ETCD.local_path, "--version"], capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == f"etcd Version: {tools.ETCD_VERSION.lstrip('v')}"


# --------------------------------------------------------------------------- the vap engine's pins

VAP_DIR = ROOT / "conformance" / "vap"
VAP_STEPS = (
    f"in conformance/vap require {tools.KUBERNETES_MODULE} {tools.KUBERNETES_VERSION} and k8s.io/apiserver, api, "
    f"apimachinery, client-go {PSA_VERSION}, replace each staging module kubernetes' go.mod replaces with its "
    f"published {PSA_VERSION} (as conformance/cluster does), and run `go mod tidy`"
)


def test_vap_go_mod_runs_the_pinned_api_server_code(kubernetes_go_mod: str) -> None:
    # vap-engine must evaluate with the API server the cluster runs: its plugin (k8s.io/apiserver) and its defaulting
    # and policy validation (k8s.io/kubernetes), one release.
    text = (VAP_DIR / "go.mod").read_text(encoding="utf-8")
    requires = go_mod_requires(text)
    staging_pins = ("k8s.io/apiserver", "k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go")
    wanted = {tools.KUBERNETES_MODULE: tools.KUBERNETES_VERSION, **dict.fromkeys(staging_pins, PSA_VERSION)}
    wrong = {m: requires.get(m) for m, v in wanted.items() if requires.get(m) != (v, False)}
    assert not wrong, f"conformance/vap/go.mod requires {wrong}, wanted {wanted}: {VAP_STEPS}"
    staging = {m for m, target in go_mod_replacements(kubernetes_go_mod).items() if target.startswith("./staging/")}
    ours = go_mod_replacements(text)
    wrong = {m: ours.get(m) for m in sorted(staging) if ours.get(m) != f"{m} {PSA_VERSION}"}
    assert not wrong, f"conformance/vap/go.mod does not replace these with their {PSA_VERSION}: {wrong}; {VAP_STEPS}"
    assert not sorted(set(ours) - staging), "conformance/vap/go.mod replaces modules kubernetes does not: remove them"


def test_vap_engine_build_is_keyed_by_its_sources_and_carries_the_api_server_version() -> None:
    engine = tools.VAP_ENGINE
    assert engine.local_path.parent.name == f"vap-engine-{PSA_VERSION}-{engine.source_key()}"
    # CEL's compatibility version comes from the binary's version, as in kube-apiserver
    assert f"-X k8s.io/component-base/version.gitVersion={tools.KUBERNETES_VERSION}" in engine.ldflags
    if not engine.local_path.exists():
        pytest.skip(f"{engine.local_path} is not built (make tools)")
    info = _build_info(engine.local_path)
    assert info.get("k8s.io/apiserver") == [PSA_VERSION, "k8s.io/apiserver", PSA_VERSION], info.get("k8s.io/apiserver")
    assert info.get(tools.KUBERNETES_MODULE, [""])[0] == tools.KUBERNETES_VERSION
