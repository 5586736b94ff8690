"""The vap engine: its reading of the API server's answers (no tool), and vap-engine itself on a small bundle.

``tests/data/vap_bundle`` is shaped as ``out/vap`` (a policy with params, namespaceObject labels, variables,
messageExpressions and an audit annotation; Deny, Warn and Audit bindings with params in kube-system; one binding
whose params live in the request's namespace). The answers expected of vap-engine here are written out from the
API server's rules; ``conformance/test_vap_engine_cluster.py`` holds the engine to a real kube-apiserver.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.engines.base import UNATTRIBUTED
from generator.engines.vap import (
    AUDIT_ANNOTATION_KEY,
    VapEngine,
    VapError,
    judged_namespace,
    request_body,
    strip_denial,
    strip_warning,
    verdict,
)
from generator.policy.versions import parse_version
from generator.tools import ROOT, VAP_ENGINE, find

BUNDLE = ROOT / "tests" / "data" / "vap_bundle"
DENIED = (
    'pods "p" is forbidden: '
    + "ValidatingAdmissionPolicy 'pssgen-pod-security' with binding "
    + ("'pssgen-pod-security-enforce' denied request: ")
)
WARNED = (
    "Validation failed for ValidatingAdmissionPolicy 'pssgen-pod-security' with binding 'pssgen-pod-security-warn': "
)
HOST = "host namespaces (hostNetwork=true)"
POD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}
DEPLOYMENT: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}


# --------------------------------------------------------------------------- reading answers (no tool)


def test_the_wrappers_come_off_and_nothing_else() -> None:
    assert (
        strip_denial(DENIED + 'violates PodSecurity "baseline:latest": x')
        == 'violates PodSecurity "baseline:latest": x'
    )
    assert strip_denial('pods "p" is forbidden: violates PodSecurity "baseline:latest": x') is None  # PSA's own plugin
    assert strip_denial("ValidatingAdmissionPolicy 'a' with binding 'b' denied request: x") is None  # no resource head
    assert strip_warning(WARNED + "would violate PodSecurity x") == "would violate PodSecurity x"
    assert strip_warning("would violate PodSecurity x") is None


def test_a_pod_is_judged_by_the_denial_read_back_into_checks() -> None:
    status = {"code": 403, "reason": "Forbidden", "message": DENIED + f'violates PodSecurity "baseline:v1.29": {HOST}'}
    result = verdict(POD, {"id": 0, "allowed": False, "status": status, "warnings": []}, "baseline", "v1.29")
    assert not result.allowed
    assert [(v.check, v.reason, v.detail) for v in result.violations] == [
        ("hostNamespaces", "host namespaces", "hostNetwork=true")
    ]
    assert result.message == f'violates PodSecurity "baseline:v1.29": {HOST}'
    allowed = verdict(
        POD, {"id": 0, "allowed": True, "warnings": [WARNED + "would violate PodSecurity x"]}, "baseline", "latest"
    )
    assert allowed.allowed  # an allowed Pod is allowed, whatever warn says


def test_a_workload_is_judged_by_the_audit_annotation_equal_to_its_warning() -> None:
    text = f'would violate PodSecurity "restricted:latest": {HOST}'
    audited = {AUDIT_ANNOTATION_KEY: text}
    answer = {"id": 0, "allowed": True, "warnings": [WARNED + text], "annotations": audited}
    result = verdict(DEPLOYMENT, answer, "restricted", "latest")
    assert [v.check for v in result.violations] == ["hostNamespaces"]
    # The API server drops a warning holding a control character: the annotation still gives the verdict.
    dropped = verdict(DEPLOYMENT, {"id": 0, "allowed": True, "warnings": [], "annotations": audited}, "restricted",
                      "latest")  # fmt: skip
    assert [v.check for v in dropped.violations] == ["hostNamespaces"]
    assert verdict(DEPLOYMENT, {"id": 0, "allowed": True, "warnings": []}, "restricted", "latest").allowed
    with pytest.raises(VapError, match="is not the audit annotation"):
        verdict(DEPLOYMENT, {"id": 0, "allowed": True, "warnings": [WARNED + text]}, "restricted", "latest")


def test_text_that_is_psa_shaped_but_unreadable_is_kept_unattributed() -> None:
    status = {"code": 403, "message": DENIED + 'violates PodSecurity "baseline:latest": something new (x)'}
    result = verdict(POD, {"id": 0, "allowed": False, "status": status}, "baseline", "latest")
    assert [(v.check, v.reason) for v in result.violations] == [(UNATTRIBUTED, "something new (x)")]


@pytest.mark.parametrize(
    ("obj", "answer", "said"),
    [
        (POD, {"id": 0, "error": "object: bad"}, "could not judge it: object: bad"),
        (
            POD,
            {
                "id": 0,
                "allowed": False,
                "status": {"code": 422, "message": DENIED + "expression 'x' resulted in error"},
            },
            "not as PSA denies (HTTP 422)",
        ),
        (
            POD,
            {"id": 0, "allowed": False, "status": {"code": 404, "message": 'namespaces "x" not found'}},
            "not as PSA denies (HTTP 404)",
        ),
        (
            DEPLOYMENT,
            {"id": 0, "allowed": False, "status": {"code": 403, "message": DENIED + "violates PodSecurity"}},
            "PSA only warns on workloads",
        ),
        (DEPLOYMENT, {"id": 0, "allowed": True, "warnings": [WARNED + "failed expression: x"]}, "not PSA's"),
    ],
    ids=["engine-error", "cel-error", "not-a-vap-denial", "workload-denied", "warning-not-psa"],
)
def test_anything_but_psa_s_verdict_is_an_engine_error(obj: dict[str, Any], answer: dict[str, Any], said: str) -> None:
    with pytest.raises(VapError, match=said.replace("(", r"\(").replace(")", r"\)")):
        verdict(obj, answer, "baseline", "latest")


def test_requests_carry_the_level_and_version_on_every_modes_labels_in_their_own_namespace() -> None:
    body = request_body(POD, "restricted", "v1.29")
    labels = body["namespace"]["metadata"]["labels"]
    assert labels == {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.29",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.29",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.29",
    }
    assert body["object"]["metadata"]["namespace"] == body["namespace"]["metadata"]["name"] == "pssgen-restricted-v1-29"
    assert body["operation"] == "CREATE" and body["dryRun"] is True and body["userInfo"]["username"]
    assert POD["metadata"] == {"name": "p"}  # the caller's object is not changed
    assert (
        judged_namespace("baseline", "latest")["metadata"]["name"]
        != judged_namespace("baseline", "v1.0")["metadata"]["name"]
    )


# --------------------------------------------------------------------------- vap-engine on the test bundle


@pytest.fixture(scope="module")
def binary() -> Path:
    found = find(VAP_ENGINE)
    if found is None:
        pytest.skip(f"{VAP_ENGINE.local_path} is not built (make tools)")
    return found


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}  # fmt: skip


ENFORCE_29 = namespace("ns1", **{"pod-security.kubernetes.io/enforce": "baseline",
                                 "pod-security.kubernetes.io/enforce-version": "v1.29"})  # fmt: skip
PRIVILEGED = [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]


def ask(binary: Path, requests: list[dict[str, Any] | str], *args: str) -> list[dict[str, Any]]:
    lines = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in requests)
    proc = subprocess.run([binary, *args], input=lines, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.tools
@pytest.mark.timeout(180)
def test_engine_answers_as_the_api_server_words_it(binary: Path) -> None:
    policy, prefix = "test-host-network", "ValidatingAdmissionPolicy 'test-host-network' with binding "
    requests: list[dict[str, Any] | str] = [
        {"id": "denied", "object": pod("p", hostNetwork=True), "namespace": ENFORCE_29, "userInfo": {"username": "u"}},
        {"id": 2, "object": pod("p"), "namespace": namespace("ns1"), "userInfo": {"username": "u"}},
        "not json",
        {"id": 4, "object": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}},
        {"id": 5, "object": pod("p"), "namespace": namespace("ns3", params="local"), "userInfo": {"username": "u"}},
        {"id": 6, "operation": "UPDATE", "subresource": "ephemeralcontainers",
         "object": pod("p", ephemeralContainers=[{**PRIVILEGED[0], "name": "e"}]), "oldObject": pod("p"),
         "namespace": namespace("ns1"),
         "userInfo": {"username": "carol"}},
    ]  # fmt: skip
    denied, allowed, not_json, secret, no_params, ephemeral = ask(binary, requests, str(BUNDLE))
    assert denied["id"] == "denied" and not denied["allowed"]
    assert denied["status"] == {
        "code": 403,
        "reason": "Forbidden",  # the validation's reason
        "message": f"pods \"p\" is forbidden: {prefix}'{policy}-enforce' denied request: "
        f'violates PodSecurity "baseline:v1.29": {HOST}',
    }
    # warn has no label: its params' level, and "latest"
    assert denied["warnings"] == [
        f"Validation failed for {prefix}'{policy}-warn': violates PodSecurity \"baseline:latest\": {HOST}"
    ]
    # one value per binding, joined in the order the plugin's source lists the bindings, which it does not fix
    modes = denied["annotations"][f"{policy}/host-network"].split(", ")
    assert sorted(modes) == ["audit:restricted", "enforce:baseline", "warn:baseline"]
    failures = json.loads(denied["annotations"]["validation.policy.admission.k8s.io/validation_failure"])
    assert [(f["binding"], f["expressionIndex"]) for f in failures] == [(f"{policy}-audit", 0)]
    assert allowed == {"id": 2, "allowed": True, "warnings": [], "annotations": {}}
    assert not_json["id"] is None and "not JSON" in not_json["error"] and set(not_json) == {"id", "error"}
    assert secret == {"id": 4, "error": 'object: v1 "Secret" is not a kind PSA judges'}
    assert no_params["status"]["message"] == (
        f"pods \"p\" is forbidden: {prefix}'{policy}-local' denied request: failed to configure binding: "
        "no params found for policy binding with `Deny` parameterNotFoundAction"
    )
    assert ephemeral["status"]["code"] == 422  # no reason given: Invalid
    assert ephemeral["status"]["message"].endswith("denied request: privileged (e) by carol")


def measure(binary: Path, pod_file: Path, ns_file: Path) -> dict[str, Any]:
    command = [binary, "cost", str(BUNDLE), "--object", str(pod_file), "--namespace", str(ns_file), "--username", "u"]
    answer: dict[str, Any] = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=120,
                                                       check=True).stdout)  # fmt: skip
    return answer


@pytest.mark.tools
@pytest.mark.timeout(180)
def test_cost_estimates_every_expression_and_measures_a_request(binary: Path, tmp_path: Path) -> None:
    proc = subprocess.run([binary, "cost", str(BUNDLE)], capture_output=True, text=True, timeout=120, check=True)
    rows = json.loads(proc.stdout)
    paths = [r["expression"] for r in rows]
    assert paths == [*(f"spec.variables[{i}].expression" for i in range(4)),
                     "spec.validations[0].expression", "spec.validations[0].messageExpression",
                     "spec.validations[1].expression", "spec.validations[1].messageExpression",
                     "spec.auditAnnotations[0].valueExpression"]  # fmt: skip
    by_path = {r["expression"]: r for r in rows}
    assert by_path["spec.validations[0].expression"]["max"] < 1000  # no list walked: bounded
    assert by_path["spec.validations[1].expression"]["over"]  # walks the containers of a dyn object: unbounded
    assert all(r["limit"] == 1_000_000 and r["min"] <= r["max"] for r in rows)
    pod_file, ns_file = tmp_path / "pod.yaml", tmp_path / "ns.yaml"
    many = [{"name": f"c{i}", "image": "i"} for i in range(100)]
    pod_file.write_text(json.dumps(pod("p", containers=many)))
    ns_file.write_text(json.dumps(namespace("ns1")))
    answer = measure(binary, pod_file, ns_file)
    assert answer["allowed"]
    costs = {c["binding"]: c for c in answer["cost"]}
    assert set(costs) == {"test-host-network-enforce", "test-host-network-warn", "test-host-network-audit"}
    enforce = costs["test-host-network-enforce"]
    assert (
        enforce["total"] == enforce["validations"] + enforce["messageExpressions"] and enforce["budget"] == 10_000_000
    )
    alone = {e["expression"]: e["cost"] for e in enforce["expressions"]}
    # walking 100 containers costs at least 100 more than walking one
    pod_file.write_text(json.dumps(pod("p")))
    one = measure(binary, pod_file, ns_file)
    single = {e["expression"]: e["cost"] for e in one["cost"][0]["expressions"]}
    assert alone["spec.validations[1].expression"] - single["spec.validations[1].expression"] >= 99


@pytest.mark.tools
@pytest.mark.timeout(60)
def test_a_bundle_the_api_server_would_refuse_is_refused_in_its_words(binary: Path, tmp_path: Path) -> None:
    text = (BUNDLE / "policy.yaml").read_text().replace("failurePolicy: Fail", "failurePolicy: Sometimes")
    (tmp_path / "policy.yaml").write_text(text)
    proc = subprocess.run([binary, "cost", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert 'ValidatingAdmissionPolicy.admissionregistration.k8s.io "test-host-network" is invalid: ' in proc.stderr
    assert 'spec.failurePolicy: Unsupported value: "Sometimes"' in proc.stderr


@pytest.fixture
def engine(binary: Path) -> Iterator[VapEngine]:
    with VapEngine() as running:  # the bundle generator.render.vap renders, in memory
        yield running


@pytest.mark.tools
@pytest.mark.timeout(180)
def test_engine_judges_the_rendered_bundle_as_the_python_evaluator(engine: VapEngine) -> None:
    from generator.engines.python import PythonEngine

    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"template": {"spec": {"hostNetwork": True, "containers": PRIVILEGED}}}}  # fmt: skip
    requests = [(obj, level, parse_version(version))
                for obj in (pod("a", hostNetwork=True), pod("b"), pod("c", containers=PRIVILEGED), deployment)
                for level in ("privileged", "baseline", "restricted") for version in ("latest", "v1.22")]  # fmt: skip
    expected = PythonEngine().evaluate_many(requests)
    got = engine.evaluate_many(requests)
    assert [(r.allowed, r.violations, r.level, r.version) for r in got] == [
        (r.allowed, r.violations, r.level, r.version) for r in expected
    ]  # a denial is a Worded (the answer's text kept), the same verdict
    assert sum(not r.allowed for r in expected) >= 8  # denials were judged, not only allowed objects


@pytest.mark.tools
@pytest.mark.timeout(180)
def test_the_rendered_bundles_parameters_deny_when_bad_and_exempt_as_configured(binary: Path, tmp_path: Path) -> None:
    """out/vap's ConfigMaps, under the API server's plugin: the configured defaults and exemptions apply, a bad
    parameter denies (never allows), and a missing ConfigMap denies."""
    from generator.render import gatekeeper as gk
    from generator.render import vap

    config = gk.configured_sample()  # defaults enforce=baseline, audit and warn restricted; exemptions
    files = vap.vap_bundle(config)
    bundle = tmp_path / "vap"
    bundle.mkdir()
    for name, text in files.items():
        (bundle / name).write_text(text)
    privileged = pod("p", containers=PRIVILEGED)
    plain = namespace("plain")

    def one(obj: dict[str, Any], ns: dict[str, Any], user: str = "jane") -> dict[str, Any]:
        return {"object": obj, "namespace": ns, "userInfo": {"username": user}}

    exempt_user, exempt_ns = config.usernames[0], config.namespaces[0]
    runtime = pod("p", containers=PRIVILEGED, runtimeClassName=config.runtime_classes[0])
    asked = [one(privileged, plain), one(privileged, plain, exempt_user), one(privileged, namespace(exempt_ns)),
             one(runtime, plain)]  # fmt: skip
    requests: list[dict[str, Any] | str] = [{"id": n, **r} for n, r in enumerate(asked)]
    defaulted, by_user, by_namespace, by_runtime_class = ask(binary, requests, str(bundle))
    assert defaulted["status"]["message"].endswith('denied request: violates PodSecurity "baseline:latest": '
                                                   'privileged (container "c" must not set securityContext.'
                                                   'privileged=true)')  # fmt: skip
    assert by_user["allowed"] and by_namespace["allowed"] and by_runtime_class["allowed"]
    params = (bundle / vap.PARAMS_PATH).read_text()
    (bundle / vap.PARAMS_PATH).write_text(params.replace("enforce: baseline", "enforce: strict", 1))
    (bad,) = ask(binary, [{"id": 0, **one(pod("p"), plain)}], str(bundle))
    assert not bad["allowed"] and bad["status"]["message"].endswith(
        "denied request: invalid parameters for pssgen-pod-security: "
        "data.enforce must be one of privileged, baseline, restricted"
    )
    (bundle / vap.PARAMS_PATH).unlink()
    (missing,) = ask(binary, [{"id": 0, **one(pod("p"), plain)}], str(bundle))
    assert not missing["allowed"] and "no params found" in missing["status"]["message"]
