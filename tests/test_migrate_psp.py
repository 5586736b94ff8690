"""pssgen migrate-psp: every mapped PSP field in both directions, each claim backed by the generated-pod proof."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.migrate.proof import fuzzed_pods, prove
from generator.migrate.rbac import grants
from generator.migrate.report import build, minor_ranges, namespace_suggestions
from generator.policy import psp as pspmap
from generator.policy.evaluate import evaluate
from generator.policy.registry import CHECKS
from generator.policy.versions import NEWEST_MINOR

EXAMPLES = Path(__file__).parent.parent / "conformance" / "psp"
PODS = 60  # fuzzed pods per proof in these tests (the command's default is 200)


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}-psp.yaml").read_text())
    return loaded


def tight() -> dict[str, Any]:
    """The PSS page's restricted PSP with the SELinux options baseline needs: baseline up to v1.33."""
    obj = example("restricted")
    obj["metadata"]["name"] = "tight"
    obj["spec"]["seLinux"] = {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}}
    return obj


def opened(psp: pspmap.Psp, level: str, minor: int) -> set[str]:
    return {o.check for o in pspmap.openings(psp, level, minor)}


def test_every_check_has_a_rule() -> None:
    assert set(pspmap.RULES) == {c.id for c in CHECKS}


def test_the_three_examples_of_the_pss_page() -> None:
    """Each maps to privileged at every version, and the report names exactly the fields that keep it there."""
    privileged, baseline, restricted = (pspmap.read_psp(example(n)) for n in ("privileged", "baseline", "restricted"))
    for psp in (privileged, baseline, restricted):
        assert {pspmap.level_at(psp, m) for m in range(NEWEST_MINOR + 1)} == {"privileged"}
        proof = prove(psp, pods=PODS)
        assert proof.ok, proof.failures[:3]
        assert proof.witnesses > 0 and proof.pods > PODS / 2
    assert opened(baseline, "baseline", 18) == {"capabilities_baseline", "seLinuxOptions", "seccompProfile_baseline"}
    assert opened(restricted, "baseline", 33) == {"seLinuxOptions"}
    assert opened(restricted, "baseline", 34) == {"seLinuxOptions", "hostProbesAndHostLifecycle"}
    only_restricted = {o.check for o in pspmap.openings(restricted, "restricted", 18)} - {"seLinuxOptions"}
    assert only_restricted == {"runAsNonRoot"}
    at_19 = {o.check for o in pspmap.openings(restricted, "restricted", 19)} - {"seLinuxOptions"}
    assert at_19 == {"runAsNonRoot", "seccompProfile_restricted"}


def test_levels_suggestion_and_versions() -> None:
    report = build(pspmap.read_psp(tight()), "t", "t", 0, None, pods=PODS)
    assert report.level_ranges() == [("baseline", "v1.0-v1.33"), ("privileged", "v1.34+")]
    assert report.suggestion.labels == {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "v1.33",
    }
    assert report.proof.ok
    assert minor_ranges([0, 1, 2, 5, NEWEST_MINOR - 1, NEWEST_MINOR]) == f"v1.0-v1.2, v1.5, v1.{NEWEST_MINOR - 1}+"


def _set(path: str, value: Any) -> Any:
    def change(obj: dict[str, Any]) -> None:
        node = obj
        *parents, last = path.split("/", 2)  # an annotation key holds slashes of its own
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value

    return change


SECCOMP = "metadata/annotations/" + pspmap.SECCOMP_ALLOWED
APPARMOR = "metadata/annotations/" + pspmap.APPARMOR_ALLOWED
MUST_RUN_AS = {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t"}}

# (PSP change that opens the check, change that keeps it closed, check, level, minor judged at)
BOTH_WAYS = [
    ("spec/privileged", True, False, "privileged", "baseline", 30),
    ("spec/allowedCapabilities", ["NET_RAW"], ["CHOWN"], "capabilities_baseline", "baseline", 30),
    ("spec/allowedCapabilities", ["*"], [], "capabilities_baseline", "baseline", 30),
    ("spec/defaultAddCapabilities", ["SYS_ADMIN"], ["KILL"], "capabilities_baseline", "baseline", 30),
    ("spec/allowedCapabilities", ["CHOWN"], ["NET_BIND_SERVICE"], "capabilities_restricted", "restricted", 30),
    ("spec/requiredDropCapabilities", ["NET_RAW"], ["ALL"], "capabilities_restricted", "restricted", 30),
    ("spec/volumes", ["hostPath", "secret"], ["secret", "nfs"], "hostPathVolumes", "baseline", 30),
    ("spec/volumes", ["*"], ["configMap"], "hostPathVolumes", "baseline", 30),
    ("spec/volumes", ["nfs", "secret"], ["secret", "csi", "ephemeral"], "restrictedVolumes", "restricted", 30),
    ("spec/volumes", ["cephFS"], ["projected"], "restrictedVolumes", "restricted", 30),
    ("spec/hostNetwork", True, False, "hostNamespaces", "baseline", 30),
    ("spec/hostPID", True, False, "hostNamespaces", "baseline", 30),
    ("spec/hostIPC", True, False, "hostNamespaces", "baseline", 30),
    ("spec/hostNetwork", True, False, "windowsHostProcess", "baseline", 30),
    ("spec/hostPorts", [{"min": 8000, "max": 8080}], [{"min": 0, "max": 0}], "hostPorts", "baseline", 30),
    ("spec/seLinux", {"rule": "RunAsAny"}, MUST_RUN_AS, "seLinuxOptions", "baseline", 30),
    ("spec/seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"user": "root", "type": "container_t"}}, MUST_RUN_AS,
     "seLinuxOptions", "baseline", 30),
    ("spec/seLinux", {"rule": "MustRunAs", "seLinuxOptions": {"type": "spc_t"}},
     {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_init_t"}}, "seLinuxOptions", "baseline", 30),
    ("spec/runAsUser", {"rule": "RunAsAny"}, {"rule": "MustRunAsNonRoot"}, "runAsUser", "restricted", 30),
    ("spec/runAsUser", {"rule": "MustRunAs", "ranges": [{"min": 0, "max": 10}]},
     {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}, "runAsUser", "restricted", 30),
    ("spec/allowPrivilegeEscalation", True, False, "allowPrivilegeEscalation", "restricted", 30),
    ("spec/allowPrivilegeEscalation", None, False, "allowPrivilegeEscalation", "restricted", 8),  # unset is true
    ("spec/allowedProcMountTypes", ["Default", "Unmasked"], ["Default"], "procMount", "baseline", 30),
    ("spec/allowedProcMountTypes", ["Unmasked"], ["Default"], "procMount_restricted", "restricted", 36),
    (SECCOMP, "runtime/default,unconfined", "runtime/default,docker/default", "seccompProfile_baseline", "baseline",
     18),
    (SECCOMP, "runtime/default,unconfined", "localhost/*,runtime/default", "seccompProfile_baseline", "baseline", 30),
    (SECCOMP, "*", "runtime/default", "seccompProfile_baseline", "baseline", 30),
    (APPARMOR, None, "runtime/default", "appArmorProfile", "baseline", 30),
    (APPARMOR, "runtime/default,unconfined", "runtime/default,localhost/*", "appArmorProfile", "baseline", 30),
    ("spec/allowedUnsafeSysctls", ["kernel.msgmax"], ["net.ipv4.tcp_syncookies"], "sysctls", "baseline", 30),
    ("spec/allowedUnsafeSysctls", ["net.ipv4.*"], [], "sysctls", "baseline", NEWEST_MINOR),
]  # fmt: skip


@pytest.mark.parametrize(("path", "loose", "strict", "check", "level", "minor"), BOTH_WAYS)
def test_every_mapped_field_both_ways(path: str, loose: Any, strict: Any, check: str, level: str, minor: int) -> None:
    """The loose value opens the check (its witness denied by it, the proof holding at the lower level claimed); the
    strict one keeps it closed, the proof showing every admitted pod allowed at the level claimed."""
    for value, is_open in ((loose, True), (strict, False)):
        obj = tight()
        _set(path, value)(obj)
        psp = pspmap.read_psp(obj)
        assert (check in opened(psp, level, minor)) is is_open, (path, value)
        proof = prove(psp, pods=PODS)
        assert proof.ok, (path, value, proof.failures[:3])
        if is_open:
            entry = next(o for o in pspmap.openings(psp, level, minor) if o.check == check)
            pod = copy.deepcopy(pspmap.base_pod(psp))
            entry.opening.witness(pod)
            assert not pspmap.admits(psp, pod)
            assert check in {v.check for v in evaluate(pod, level, f"v1.{minor}").violations}


def test_version_boundaries_come_from_the_check_data() -> None:
    """A sysctl PSA allows from v1.29 opens the check before it; container_engine_t is allowed from v1.31."""
    obj = tight()
    obj["spec"]["allowedUnsafeSysctls"] = ["net.ipv4.tcp_keepalive_time"]
    psp = pspmap.read_psp(obj)
    assert [pspmap.level_at(psp, m) for m in (28, 29, 33)] == ["privileged", "baseline", "baseline"]
    obj = tight()
    obj["spec"]["seLinux"] = {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_engine_t"}}
    psp = pspmap.read_psp(obj)
    assert [pspmap.level_at(psp, m) for m in (30, 31)] == ["privileged", "baseline"]
    assert prove(psp, pods=PODS).ok


def test_seccomp_unset_and_by_annotation_only_keep_restricted_back() -> None:
    obj = tight()
    obj["metadata"]["annotations"][pspmap.SECCOMP_ALLOWED] = "runtime/default,"
    reasons = {o.opening.why for o in pspmap.openings(pspmap.read_psp(obj), "restricted", 19)}
    assert "pods may run without a seccomp profile" in reasons
    assert any("as a pod annotation" in r for r in reasons)
    assert "seccompProfile_restricted" not in opened(pspmap.read_psp(obj), "restricted", 18)


def test_a_wrong_mapping_is_caught_by_the_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that forgets an opening makes a level claim the generated pods refute."""
    obj = tight()
    obj["spec"]["hostPID"] = True
    psp = pspmap.read_psp(obj)
    monkeypatch.setitem(pspmap.RULES, "hostNamespaces", lambda _psp, _allowed: [])  # type: ignore[arg-type]
    assert pspmap.level_at(psp, 30) == "baseline"
    proof = prove(psp, pods=PODS)
    assert not proof.ok
    assert any("host namespaces (hostPID=true)" in f.message for f in proof.failures)


def test_psp_validation_refuses_what_the_psp_refuses() -> None:
    psp = pspmap.read_psp(tight())
    good = pspmap.base_pod(psp)
    assert pspmap.admits(psp, good) == []
    for change, words in [
        (lambda p: p["spec"]["containers"][0]["securityContext"].update(privileged=True), "privileged not allowed"),
        (lambda p: p["spec"]["containers"][0]["securityContext"].update(runAsUser=0), "must run as non-root"),
        (lambda p: p["spec"].update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "hostPath not allowed"),
        (lambda p: p["spec"]["securityContext"].update(sysctls=[{"name": "kernel.msgmax"}]), "sysctl"),
        (lambda p: p["metadata"]["annotations"].update({pspmap.SECCOMP_POD_ANNOTATION: "unconfined"}), "seccomp"),
    ]:
        pod = copy.deepcopy(good)
        change(pod)
        assert any(words in problem for problem in pspmap.admits(psp, pod)), words
    pod = copy.deepcopy(good)  # MustRunAsNonRoot admits a non-zero UID without runAsNonRoot: restricted does not
    del pod["spec"]["securityContext"]["runAsNonRoot"]
    pod["spec"]["securityContext"]["runAsUser"] = 1000
    assert pspmap.admits(psp, pod) == []
    assert [v.check for v in evaluate(pod, "restricted", "latest").violations] == ["runAsNonRoot"]


def test_fuzzed_pods_are_admitted_and_vary() -> None:
    psp = pspmap.read_psp(example("baseline"))
    pods = fuzzed_pods(psp, 7, 80)
    assert pods == fuzzed_pods(psp, 7, 80)  # seeded
    assert all(pspmap.admits(psp, p) == [] for p in pods)
    assert sum("volumes" in p["spec"] for p in pods) > 10
    assert sum(bool(p["metadata"].get("annotations")) for p in pods) > 10


def test_mutations_and_unmapped_of_the_restricted_example() -> None:
    psp = pspmap.read_psp(example("restricted"))
    fields = [m.field for m in pspmap.mutations(psp)]
    assert "spec.requiredDropCapabilities" in fields and "spec.allowPrivilegeEscalation" in fields
    assert {u.field for u in pspmap.unmapped(psp)} == {"spec.supplementalGroups", "spec.fsGroup"}
    report = build(psp, "r", "r", 0, None, pods=PODS)
    escalation = next(m for m in report.mutations if m[0].field == "spec.allowPrivilegeEscalation")
    assert escalation[2] is not None and escalation[2].startswith("allowPrivilegeEscalation != false")


# ---------------------------------------------------------------- the command


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["migrate-psp", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_command_over_the_examples() -> None:
    code, out, _ = run(str(EXAMPLES), "--pods", "20")
    assert code == 0
    assert 'podsecuritypolicies "restricted": privileged at v1.0+' in out
    assert "runAsNonRoot (v1.0+): spec.runAsUser.rule = MustRunAsNonRoot" in out
    assert out.rstrip().endswith("3 PodSecurityPolicies: 3 proven, 0 failed; 0 RBAC objects, 0 other objects "
                                 "skipped, 0 errors")  # fmt: skip
    code, out, _ = run(str(EXAMPLES), "--pods", "20", "--output", "json")
    data = json.loads(out)
    assert [p["name"] for p in data["psps"]] == ["baseline", "privileged", "restricted"]
    assert data["psps"][2]["levels"] == [{"level": "privileged", "versions": "v1.0+"}]
    code, out, _ = run(str(EXAMPLES), "--pods", "20", "--output", "markdown")
    assert out.startswith("# PodSecurityPolicy to Pod Security Standards")
    assert "| restricted | `runAsNonRoot` |" in out


def test_bad_input_is_one_line_each_and_the_rest_is_judged(tmp_path: Path) -> None:
    good = yaml.safe_dump(tight())
    bad_type = copy.deepcopy(tight())
    bad_type["spec"]["privileged"] = "yes"
    bad_type["metadata"]["name"] = "bad"
    no_rule = copy.deepcopy(tight())
    del no_rule["spec"]["runAsUser"]
    path = tmp_path / "psps.yaml"
    path.write_text("\n---\n".join([good, "a: [unclosed", yaml.safe_dump(bad_type), yaml.safe_dump(no_rule)]))
    code, out, err = run(str(path), "--pods", "10")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"error: {path}: document 1: ")
    assert lines[1] == f"error: {path}: document 2: spec.privileged: must be a boolean, got a string"
    assert lines[2] == f"error: {path}: document 3: spec.runAsUser: required"
    assert 'podsecuritypolicies "tight": baseline at v1.0-v1.33' in out
    assert "Traceback" not in out + err


def test_no_psp_and_wrong_api_version() -> None:
    code, _, err = run("-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert code == 2 and "no PodSecurityPolicy in the input" in err
    obj = tight()
    obj["apiVersion"] = "policy/v1"
    code, _, err = run("-", stdin=yaml.safe_dump(obj))
    assert code == 2 and 'a PodSecurityPolicy is policy/v1beta1 or extensions/v1beta1, got "policy/v1"' in err


RBAC = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp:tight}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [tight]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp:privileged}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [privileged]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: tight, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp:tight}
subjects: [{kind: Group, name: system:serviceaccounts:apps}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system-privileged}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp:privileged}
subjects: [{kind: Group, name: system:serviceaccounts:kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: legacy}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp:legacy}
subjects: [{kind: Group, name: system:authenticated}]
"""


def test_namespace_labels_from_rbac() -> None:
    objects = list(yaml.safe_load_all(RBAC))
    reports = [build(pspmap.read_psp(o), "x", "x", 0, None, pods=5) for o in (tight(), example("privileged"))]
    granted = grants(objects, ["tight", "privileged"])
    assert granted.by_namespace == {"apps": {"tight"}, "kube-system": {"privileged"}}
    assert granted.notes == ["ClusterRoleBinding legacy: ClusterRole psp:legacy is not in the input; not counted"]
    by_namespace = {s.namespace: s.suggestion.labels for s in namespace_suggestions(granted, reports)}
    assert by_namespace == {
        "apps": {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/enforce-version": "v1.33",
        },
        "kube-system": {"pod-security.kubernetes.io/enforce": "privileged"},
    }
    everyone = grants([*objects[:1], {**objects[2], "kind": "ClusterRoleBinding", "subjects": [{"kind": "User",
                       "name": "alice"}]}], ["tight", "ghost"])  # fmt: skip
    assert everyone.by_namespace == {"*": {"tight"}}
    code, out, _ = run("-", "--pods", "5", stdin=yaml.safe_dump(tight()) + "---\n" + RBAC)
    assert code == 0
    labels = "pod-security.kubernetes.io/enforce=baseline, pod-security.kubernetes.io/enforce-version=v1.33"
    assert f"namespace apps: {labels} (may use tight)" in out
    assert (
        "namespace kube-system: pod-security.kubernetes.io/enforce=privileged (may use privileged (not in the input))"
        in out
    )
