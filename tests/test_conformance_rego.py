"""`pssgen conformance --rego`: anyone's Rego held against upstream PSA, per check, with minimal examples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from generator.cli import cli, main
from generator.parity import rego_policy
from generator.parity.corpus import upstream_corpus
from generator.tools import ROOT

pytestmark = pytest.mark.tools

OUT = ROOT / "out"
PRIVILEGED_RULE = "c.securityContext.privileged == true"


def run(*args: str) -> tuple[Result, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["conformance", *args, "--output", "json"])
    assert result.exit_code in (0, 1), result.output
    return result, json.loads(result.output)


def too_permissive(payload: dict[str, Any]) -> dict[str, int]:
    return {row["check"]: row["too_permissive"] for row in payload["checks"] if row["too_permissive"]}


def test_pssgens_own_rego_agrees_on_the_upstream_corpus() -> None:
    result, payload = run("--rego", str(OUT / "rego"), "--corpus", "upstream", "--generated", "0")
    assert result.exit_code == 0
    assert payload["cases"] == len(upstream_corpus())
    assert payload["too_permissive"] == payload["too_strict"] == 0 and payload["agree"]
    assert payload["policy_errors"] == payload["oracle_errors"] == []
    rows = {row["check"]: row for row in payload["checks"]}
    assert rows[rego_policy.NONE]["cases"] == payload["cases"] - payload["psa_denied"] > 0
    assert rows["privileged"]["cases"] > 0 and rows["runAsNonRoot"]["cases"] > 0


def test_a_broken_check_is_reported_as_too_permissive_with_a_minimal_example(tmp_path: Path) -> None:
    broken = tmp_path / "rego"
    shutil.copytree(OUT / "rego", broken)
    check = broken / "lib" / "pss" / "checks" / "privileged.rego"
    text = check.read_text()
    assert text.count(PRIVILEGED_RULE) == 1
    check.write_text(text.replace(PRIVILEGED_RULE, 'c.securityContext.privileged == "never"'))
    result, payload = run("--rego", str(broken), "--corpus", "upstream", "--generated", "300", "--seed", "5")
    assert result.exit_code == 1
    assert list(too_permissive(payload)) == ["privileged"]
    assert payload["too_strict"] == 0
    [example] = payload["examples"]
    assert (example["check"], example["direction"]) == ("privileged", "too permissive")
    assert example["policy"] == [] and "privileged" in example["psa"]
    assert "privileged=true" in example["psa"] and '"privileged": true' in json.dumps(example["object"])
    assert len(json.dumps(example["object"])) < 200, example["object"]  # shrunk: little besides the one field


def test_text_report_names_the_check_and_prints_the_example(tmp_path: Path) -> None:
    broken = tmp_path / "rego"
    shutil.copytree(OUT / "rego", broken)
    check = broken / "lib" / "pss" / "checks" / "hostNamespaces.rego"
    text = check.read_text()
    assert text.count('["hostNetwork", "hostPID", "hostIPC"]') == 1
    check.write_text(text.replace('["hostNetwork", "hostPID", "hostIPC"]', '["hostNetwork", "hostIPC"]'))
    args = ["conformance", "--rego", str(broken), "--corpus", "upstream", "--generated", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    [row] = [line for line in result.output.splitlines() if line.startswith("hostNamespaces ")]
    assert row.split()[2] != "0"
    assert "too permissive, hostNamespaces: upstream:" in result.output
    assert "hostPID: true" in result.output
    assert "the policy DISAGREES with PSA" in result.output


def _defaults(level: str, version: str) -> str:
    """The template's parameters judging every object at level:version, workloads too (as PSA judges a Pod)."""
    return json.dumps({"mode": "enforce", "defaults": {"enforce": level, "enforce-version": version},
                       "denyWorkloads": True})  # fmt: skip


@pytest.mark.parametrize(
    ("level", "version"), [("baseline", "latest"), ("restricted", "latest"), ("baseline", "v1.24")]
)
def test_pssgens_gatekeeper_template_agrees(level: str, version: str) -> None:
    path = OUT / "gatekeeper" / "templates" / "k8spodsecurity.yaml"
    args = ["--rego", str(path), "--input-shape", "gatekeeper", "--level", level, "--version", version,
            "--parameters", _defaults(level, version), "--generated", "500"]  # fmt: skip
    result, payload = run(*args)
    assert result.exit_code == 0, [e["case"] for e in payload["examples"]]
    assert payload["agree"] and payload["policy"]["targets"] == ["k8spodsecurity.violation"]
    assert payload["by_source"]["upstream"] > 0 and payload["by_source"]["project"] > 0
    assert payload["by_source"]["generated"] > 0 and payload["psa_denied"] > 0


def test_gatekeeper_templates_at_the_wrong_version_disagree() -> None:
    """The Constraint's version is the policy's: v1.0's rules judged at latest part from PSA."""
    path = OUT / "gatekeeper" / "templates" / "k8spodsecurity.yaml"
    args = ["--rego", str(path), "--input-shape", "gatekeeper", "--level", "restricted",
            "--parameters", _defaults("restricted", "v1.0"), "--corpus", "upstream", "--generated", "0"]  # fmt: skip
    result, payload = run(*args)
    assert result.exit_code == 1 and payload["too_permissive"] > 0


TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {{name: {name}}}
spec:
  crd: {{spec: {{names: {{kind: {kind}}}}}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package {name}
        import data.lib.helper
        violation[{{"msg": msg}}] {{
          helper.bad(input.review.object.spec)
          msg := sprintf("%v: %v", [helper.name, input.parameters.word])
        }}
      libs:
        - |
          package lib.helper
          bad(spec) {{ spec.{field} }}
          name := "{name}"
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: {kind}
metadata: {{name: ignored}}
"""


def test_v0_templates_keep_their_libs_apart(tmp_path: Path) -> None:
    """Two v0 templates with a library of the same package (as gatekeeper-library's do) each run their own: shared,
    the two values of ``name`` would conflict, and each template would deny what the other's ``bad`` finds."""
    (tmp_path / "pid.yaml").write_text(TEMPLATE.format(name="nopid", kind="NoPid", field="hostPID"))
    (tmp_path / "ipc.yaml").write_text(TEMPLATE.format(name="noipc", kind="NoIpc", field="hostIPC"))
    args = ["--rego", str(tmp_path), "--input-shape", "gatekeeper", "--level", "baseline", "--check", "hostNamespaces",
            "--parameters", '{"word": "no"}', "--corpus", "upstream", "--generated", "200"]  # fmt: skip
    result, payload = run(*args)
    assert result.exit_code == 1
    assert payload["policy"]["targets"] == ["noipc.violation", "nopid.violation"]
    assert too_permissive(payload).keys() == {"hostNamespaces"}  # hostNetwork is neither's
    [example] = payload["examples"]
    assert example["object"]["spec"].get("hostNetwork") is True
    assert payload["too_strict"] == 0 and payload["policy_errors"] == []
    assert payload["checks"][0]["cases"] > payload["too_permissive"] > 0  # hostPID and hostIPC were denied
    policy = rego_policy.constraint_template_set([tmp_path])
    assert policy.v0 and len(policy.modules) == 4
    with rego_policy.RegoPolicy(policy, "gatekeeper", parameters={"word": "no"}) as running:
        pid, ipc, both = running.judge_many([
            ({"kind": "Pod", "spec": spec}, "baseline", "latest")
            for spec in ({"hostPID": True}, {"hostIPC": True}, {"hostPID": True, "hostIPC": True})
        ])  # fmt: skip
    assert pid == rego_policy.Answer(True, ("nopid: nopid: no",))
    assert ipc == rego_policy.Answer(True, ("noipc: noipc: no",))
    assert both == rego_policy.Answer(True, ("noipc: noipc: no", "nopid: nopid: no"))


RAW = """\
package team.pods

deny contains msg if {
	some c in input.spec.containers
	c.securityContext.privileged
	msg := sprintf("%s is privileged", [c.name])
}

deny contains "host network" if input.spec.hostNetwork
"""


def test_raw_policy_per_check(tmp_path: Path) -> None:
    """A team's conftest-style policy: covers privileged containers (not init ones) and hostNetwork."""
    (tmp_path / "pods.rego").write_text(RAW)
    args = ["--rego", str(tmp_path), "--input-shape", "raw", "--query", "data.team.pods.deny", "--level", "baseline",
            "--check", "privileged", "--check", "hostNamespaces", "--check", "hostPorts", "--generated", "300",
            "--admissible"]  # fmt: skip
    result, payload = run(*args)
    assert result.exit_code == 1
    assert too_permissive(payload).keys() == {"privileged", "hostNamespaces", "hostPorts"}
    spec = {e["check"]: e["object"]["spec"] for e in payload["examples"]}
    assert not any(c.get("securityContext", {}).get("privileged") for c in spec["privileged"]["containers"])
    others = [c for kind in ("initContainers", "ephemeralContainers") for c in spec["privileged"].get(kind, [])]
    assert [c["securityContext"]["privileged"] for c in others] == [True]
    assert not spec["hostNamespaces"].get("hostNetwork")
    assert payload["too_strict"] == 0


def test_raw_allow_rule_and_too_strict(tmp_path: Path) -> None:
    """--deny-when false reads an allow rule; a policy stricter than PSA lands under "(none: PSA allows)"."""
    (tmp_path / "allow.rego").write_text("package gate\n\nallow if not input.spec.hostNetwork\n")
    args = ["--rego", str(tmp_path), "--input-shape", "raw", "--query", "gate.allow", "--deny-when", "false",
            "--level", "privileged", "--corpus", "upstream", "--generated", "200"]  # fmt: skip
    result, payload = run(*args)
    assert result.exit_code == 1
    assert payload["psa_denied"] == 0 and payload["too_permissive"] == 0 and payload["too_strict"] > 0
    [example] = payload["examples"]
    assert example["check"] == rego_policy.NONE and example["psa"] == "allowed"
    assert example["object"]["spec"]["hostNetwork"] is True


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What ``pssgen conformance ...`` says on stderr, having exited 2 (``main``: one line per PssgenError)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["conformance", *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(("pssgen: error: ", "Error: ")), err  # the error: one line
    return err


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rego").write_text("package p\n\ndeny contains 1 if input.x\n")
    base = ["--rego", str(tmp_path), "--input-shape", "raw", "--level", "baseline", "--generated", "0"]
    for extra, words in [
        (["--query", "p.denied"], "no loaded module defines data.p.denied"),
        (["--query", "p deny"], "expected a rule's path"),
        (["--query", "p.deny", "--parameters", "{}"], "--parameters only applies with --input-shape gatekeeper"),
        ([], "--input-shape raw needs --query"),
        (["--query", "p.deny", "--check", "privilegd"], "unknown check privilegd"),
    ]:
        assert words in fails(capsys, *base, *extra, "--corpus", "upstream")
    (tmp_path / "q.rego").write_text("package q\n\ndeny[x] { x := 1 }\n")  # v0 syntax, read as v1
    assert "q.rego" in fails(capsys, *base, "--query", "p.deny", "--corpus", "upstream")
    assert "only apply with --rego" in fails(capsys, "--engine", "python", "--level", "baseline")
    template = tmp_path / "t.yaml"
    template.write_text("kind: ConstraintTemplate\nmetadata: {name: t}\nspec: {targets: [{target: x}]}\n")
    err = fails(capsys, "--rego", str(template), "--input-shape", "gatekeeper", "--level", "baseline")
    assert f"{template} document 0 (ConstraintTemplate t): no Rego for target" in err


def test_interpret() -> None:
    nonempty = [
        (False, None, False), (True, [], False), (True, [{"msg": "m"}], True), (True, True, True),
        (True, False, False), (True, {"allowed": True, "violations": []}, False), (True, {}, False),
        (True, {"allowed": False, "violations": [{"check": "c", "reason": "r", "detail": "d"}]}, True),
        (True, "", False), (True, "no", True), (True, {"a": 1}, True),
    ]  # fmt: skip
    for present, value, denied in nonempty:
        assert rego_policy.interpret("q", present, value, "nonempty").denied is denied, (present, value)
    assert rego_policy.interpret("q", True, {"allowed": False, "violations": [
        {"check": "c", "reason": "r", "detail": "d"}]}, "nonempty").messages == ("r (d)",)  # fmt: skip
    assert rego_policy.interpret("q", False, None, "true").denied is False
    assert rego_policy.interpret("q", False, None, "false").denied is True
    assert rego_policy.interpret("q", True, True, "false").denied is False
    with pytest.raises(rego_policy.PolicyError, match="not a boolean"):
        rego_policy.interpret("q", True, [], "true")
    with pytest.raises(rego_policy.PolicyError, match="not a set"):
        rego_policy.interpret("q", True, 3, "nonempty")


def test_inadmissible() -> None:
    pod: dict[str, Any] = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    assert rego_policy.inadmissible(pod) is None
    assert rego_policy.inadmissible({**pod, "metadata": {}}) == "metadata.name is required"
    no_image = {**pod, "spec": {"containers": [{"name": "c"}]}}
    assert rego_policy.inadmissible(no_image) == "spec.containers[0].image is required"
    template = {"metadata": {}, "spec": no_image["spec"]}
    assert (
        rego_policy.inadmissible({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": template}})
        is None
    )
    twice = {
        **pod,
        "spec": {"containers": [{"name": "c", "image": "i"}], "initContainers": [{"name": "c", "image": "i"}]},
    }
    assert rego_policy.inadmissible(twice) == "spec.containers[0].name 'c' is a duplicate"
