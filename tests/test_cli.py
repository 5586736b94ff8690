"""The CLI as a user meets it: check and controls, exit codes, JSON shape, stdin, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: nginx
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""

BAD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        securityContext: {privileged: true}
"""

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          hostPID: true
          containers: [{name: job, image: busybox}]
"""

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / "apps.yaml").write_text("---\n".join([BAD_DEPLOYMENT, CRONJOB, SERVICE]))
    (tmp_path / "notes.txt").write_text("not a manifest")
    return tmp_path


def test_allowed_pod_exits_zero(manifests: Path) -> None:
    code, out = run("check", str(manifests / "pod.yaml"))
    assert code == 0
    assert out.strip() == "1 objects: 1 allowed, 0 denied, 0 skipped, 0 errors (restricted:latest, engine python)"


def test_directory_json_shape(manifests: Path) -> None:
    code, out = run("check", str(manifests), "--level", "baseline", "--version", "v1.30", "--output", "json")
    assert code == 1
    payload = json.loads(out)
    assert payload["level"] == "baseline" and payload["version"] == "v1.30" and payload["errors"] == []
    assert sorted(r["name"] for r in payload["results"]) == ["api", "nightly", "web", "web"]
    by_name = {r["name"]: r for r in payload["results"] if r["kind"] != "Service"}
    api = by_name["api"]
    assert api["kind"] == "Deployment" and api["document"] == 0 and api["allowed"] is False
    assert api["violations"] == [
        {
            "check": "privileged",
            "reason": "privileged",
            "detail": 'container "app" must not set securityContext.privileged=true',
        }
    ]
    nightly = by_name["nightly"]
    assert nightly["document"] == 1
    assert [v["check"] for v in nightly["violations"]] == ["hostNamespaces"]
    service = next(r for r in payload["results"] if r["kind"] == "Service")
    assert service == {
        "source": str(manifests / "apps.yaml"), "document": 2, "kind": "Service", "namespace": None,
        "name": "web", "allowed": True, "skipped": True, "violations": [],
    }  # fmt: skip


def test_text_output_uses_psa_messages(manifests: Path) -> None:
    code, out = run("check", str(manifests / "apps.yaml"), "--level", "baseline")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        f'{manifests / "apps.yaml"}: document 0: deployments.apps "api": would violate PodSecurity '
        '"baseline:latest": privileged (container "app" must not set securityContext.privileged=true)'
    )
    assert lines[1].endswith('cronjobs.batch "nightly": would violate PodSecurity "baseline:latest": '
                             "host namespaces (hostPID=true)")  # fmt: skip
    assert lines[-1] == "3 objects: 0 allowed, 2 denied, 1 skipped, 0 errors (baseline:latest, engine python)"


def test_pod_denial_text_is_the_enforce_message() -> None:
    pod = POD.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
    code, out = run("check", "-", stdin=pod)
    assert code == 1
    assert out.splitlines()[0] == (
        '<stdin>: document 0: pods "web" is forbidden: violates PodSecurity "restricted:latest": '
        "allowPrivilegeEscalation != false "
        '(container "app" must set securityContext.allowPrivilegeEscalation=false)'
    )


def test_list_items_are_expanded() -> None:
    bad = {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}
    items = [
        {"metadata": {"name": "a"}, "spec": bad},
        {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "b"}},
    ]
    # Any object with items is a List; an item with neither kind nor apiVersion takes the List's kind minus "List".
    doc = json.dumps({"apiVersion": "v1", "kind": "Pod", "items": items})
    code, out = run("check", "-", "--level", "baseline", "--output", "json", stdin=doc)
    assert code == 1
    results = json.loads(out)["results"]
    assert [(r["document"], r["item"], r["allowed"]) for r in results] == [(0, 0, False), (0, 1, True)]


def test_unreadable_documents_are_reported_and_the_rest_evaluated(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD + "---\n- just\n- a list\n---\nkind: Pod\nkind: Service\n")
    code, out = run("check", str(tmp_path / "a.yaml"), str(tmp_path / "missing.yaml"), "--output", "json")
    assert code == 2
    payload = json.loads(out)
    assert [r["name"] for r in payload["results"]] == ["web"]
    messages = [(e["document"], e["message"]) for e in payload["errors"]]
    assert messages[0] == (1, "document is a sequence, not a Kubernetes object")
    assert messages[1][0] == 2 and "duplicate key 'kind'" in messages[1][1]
    assert payload["errors"][2] == {
        "source": str(tmp_path / "missing.yaml"),
        "document": None,
        "message": "no such file or directory",
    }


@pytest.mark.parametrize("version", ["v1.05", "1.30", "v1.30.1", "v2.0"])
def test_bad_version_is_a_usage_error(manifests: Path, version: str) -> None:
    code, out = run("check", str(manifests / "pod.yaml"), "--version", version)
    assert code == 2
    assert 'must be "latest" or "v1.x"' in out
    assert "Traceback" not in out


def test_versions_above_newest_evaluate_as_newest_but_print_as_asked() -> None:
    pod = POD.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
    code, out = run("check", "-", "--version", "v1.99", stdin=pod)
    assert code == 1
    assert 'violates PodSecurity "restricted:v1.99"' in out


def test_controls_table_and_json() -> None:
    code, out = run("controls", "--level", "restricted", "--version", "v1.21")
    assert code == 0
    assert out.startswith("PSS restricted:v1.21\n")
    assert "capabilities_baseline" in out and "capabilities_restricted" not in out
    code, out = run("controls", "--level", "baseline", "--version", "v1.34", "--output", "json")
    payload = json.loads(out)
    checks = [c["check"] for c in payload["checks"]]
    assert len(checks) == 12 and "hostProbesAndHostLifecycle" in checks
    sysctls = next(c for c in payload["checks"] if c["check"] == "sysctls")
    assert sysctls["implementation"] == "sysctlsV1Dot32" and "net.ipv4.tcp_rmem" in sysctls["allowed"]["sysctls"]
    code, out = run("controls", "--level", "privileged")
    assert code == 0 and "allows everything" in out


def test_version_flag() -> None:
    code, out = run("--version")
    assert code == 0 and out.startswith("pssgen, version ")


def test_diff_command_text_and_json() -> None:
    code, out = run("diff", "v1.33", "v1.34", "--level", "baseline")
    assert code == 0
    assert out.startswith("baseline v1.33 → v1.34:\n+ hostProbesAndHostLifecycle")
    code, out = run("diff", "v1.21", "v1.22", "--output", "json")
    payload = json.loads(out)
    assert [d["level"] for d in payload] == ["baseline", "restricted"]
    restricted = payload[1]
    assert [a["check"] for a in restricted["added"]] == ["capabilities_restricted"]
    code, out = run("diff", "v1.21", "1.22")
    assert code == 2 and 'must be "latest" or "v1.x"' in out


def test_controls_markdown() -> None:
    code, out = run("controls", "--output", "markdown")
    assert code == 0
    assert out.startswith("<!-- generated by pssgen; do not edit -->")
    assert "`hostProbesAndHostLifecycle`" in out


@pytest.mark.parametrize("fmt", ["junit", "sarif"])
def test_ci_formats_from_the_cli(manifests: Path, fmt: str) -> None:
    code, out = run("check", str(manifests / "apps.yaml"), "--level", "baseline", "--output", fmt)
    assert code == 1
    if fmt == "junit":
        assert out.startswith("<?xml") and 'failures="2"' in out
    else:
        results = json.loads(out)["runs"][0]["results"]
        assert [r["ruleId"] for r in results] == ["privileged", "hostNamespaces"]


def test_a_key_repeated_with_the_same_value_is_read_with_a_warning() -> None:
    """kubectl keeps the last value of a repeated key: the same value twice is read so, and said; two values are not."""
    same = POD.replace(
        "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false, allowPrivilegeEscalation: false"
    )
    assert same != POD
    result = CliRunner().invoke(cli, ["check", "-"], input=same)
    assert result.exit_code == 0, result.output
    assert "warning: <stdin>: document 0: line " in result.output
    assert "duplicate key 'allowPrivilegeEscalation' with the same value (kubectl keeps the last)" in result.output
    code, out = run("check", "-", "--output", "json", stdin=same)
    assert code == 0 and "kubectl keeps the last" in json.loads(out)["results"][0]["read_warnings"][0]
    other = POD.replace(
        "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false, allowPrivilegeEscalation: true"
    )
    code, out = run("check", "-", "--output", "json", stdin=other)
    assert code == 2
    assert "with different values" in json.loads(out)["errors"][0]["message"]


def test_an_error_is_one_line_whatever_a_tool_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tool's output in an error (gator's, OPA's) cannot add lines to pssgen's stderr, or forge one."""
    import generator.cli as cli_module
    from generator.errors import PssgenError

    def fail(**_: object) -> None:
        raise PssgenError("gator test exited with 1:\nreading: bad\n::error file=x::forged\n")

    monkeypatch.setattr(cli_module.cli, "main", fail)
    with pytest.raises(SystemExit) as exited:
        cli_module.main([])
    assert exited.value.code == 2
    assert (
        capsys.readouterr().err == "pssgen: error: gator test exited with 1:\\nreading: bad\\n::error file=x::forged\n"
    )
