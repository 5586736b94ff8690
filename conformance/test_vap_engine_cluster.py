"""vap-engine answers as a real kube-apiserver does, for the fixture bundle ``tests/data/vap_bundle``.

A throw-away cluster (the PodSecurity plugin off, so only the bundle judges) gets the bundle with ``kubectl apply
-k``, as users apply ``out/vap``; then each request is made to it with server-side dry run and given to vap-engine
with the Namespace the API server holds. The whole Status message, its code and the Warning texts must be equal: a
denied Pod, an allowed one, a warned workload, a binding whose params are missing in the request's namespace, and
an UPDATE of ``pods/ephemeralcontainers``. (Audit annotations reach only the audit log; the engine's are checked in
tests/test_vap_engine.py.)
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from kubernetes import client as k8s

from generator import tools
from generator.engines.cluster import ADMIN, LocalCluster
from generator.engines.live import _warnings

pytestmark = [pytest.mark.tools, pytest.mark.slow, pytest.mark.timeout(600)]

BUNDLE = tools.ROOT / "tests" / "data" / "vap_bundle"
PSA = "pod-security.kubernetes.io/"
NAMESPACES: Mapping[str, dict[str, str]] = {
    "ns-enforce": {f"{PSA}enforce": "baseline", f"{PSA}enforce-version": "v1.29"},
    "ns-plain": {},
    "ns-privileged": {f"{PSA}enforce": "privileged", f"{PSA}warn": "restricted"},
    "ns-local": {"params": "local"},
}
PRIVILEGED = {"privileged": True}


def pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause"}], **spec}}  # fmt: skip


TEMPLATE = {"hostNetwork": True, "containers": [{"name": "c", "image": "i", "securityContext": PRIVILEGED}]}
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
    "spec": {"selector": {"matchLabels": {"app": "d"}},
             "template": {"metadata": {"labels": {"app": "d"}}, "spec": TEMPLATE}},
}  # fmt: skip
PATHS = {"Pod": "/api/v1/namespaces/{ns}/pods", "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments"}


def call(api: k8s.ApiClient, method: str, path: str, body: Mapping[str, Any], *, dry: bool = True) -> dict[str, Any]:
    """The API server's answer in vap-engine's shape: allowed, status (code, message), warnings."""
    verb, url, headers, payload = api.param_serialize(
        method, path, query_params=[("dryRun", "All")] if dry else [], body=body,
        header_params={"Content-Type": "application/json", "Accept": "application/json"}, auth_settings=["BearerToken"],
    )[:4]  # fmt: skip
    response = api.call_api(verb, url, header_params=headers, body=payload, _request_timeout=30)
    response.read()  # type: ignore[no-untyped-call]
    data = json.loads((response.data or b"{}").decode())
    answer: dict[str, Any] = {"allowed": response.status < 300, "warnings": _warnings(response.headers)}
    if response.status >= 300:
        answer["status"] = {"code": data.get("code"), "message": data.get("message")}
    else:
        answer["stored"] = data
    return answer


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    try:
        etcd, apiserver, kubectl = (tools.require(t) for t in (tools.ETCD, tools.KUBE_APISERVER, tools.KUBECTL))
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")
    args = ("--disable-admission-plugins=PodSecurity",)
    with LocalCluster(etcd, apiserver, apiserver_args=args) as running:
        for name, labels in NAMESPACES.items():
            running.ensure_namespace(name, labels or None)
            running.ensure_service_account(name)
        applied = running.kubectl("apply", "-k", str(BUNDLE), kubectl=kubectl)
        assert applied.returncode == 0, applied.stderr
        api = running.api_client()
        deadline = time.monotonic() + 60  # the API server's policy source picks the bundle up on its own time
        while "status" not in call(api, "POST", PATHS["Pod"].format(ns="ns-enforce"), pod(hostNetwork=True)):
            assert time.monotonic() < deadline, "the bundle's policy never denied its first request"
            time.sleep(0.5)
        yield running


def engine(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    binary = tools.require(tools.VAP_ENGINE)
    lines = "".join(json.dumps({"id": n, **r}) + "\n" for n, r in enumerate(requests))
    proc = subprocess.run([binary, str(BUNDLE)], input=lines, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_engine_answers_as_the_api_server(cluster: LocalCluster) -> None:
    api = cluster.api_client()
    core = k8s.CoreV1Api(api)
    user = {"username": ADMIN, "groups": ["system:masters", "system:authenticated"]}
    cases = [("denied pod", "ns-enforce", pod(hostNetwork=True)), ("allowed pod", "ns-plain", pod()),
             ("warned workload", "ns-privileged", DEPLOYMENT), ("no params", "ns-local", pod())]  # fmt: skip
    asked, requests = [], []
    for _, ns, obj in cases:
        asked.append(call(api, "POST", PATHS[obj["kind"]].format(ns=ns), obj))
        namespace = api.sanitize_for_serialization(core.read_namespace(ns))
        requests.append({"operation": "CREATE", "object": obj, "namespace": namespace, "userInfo": user})
    # pods/ephemeralcontainers: a stored Pod, updated with a privileged ephemeral container
    stored = call(api, "POST", PATHS["Pod"].format(ns="ns-plain"), pod(), dry=False)["stored"]
    updated = {**stored, "spec": {**stored["spec"], "ephemeralContainers": [
        {"name": "e", "image": "i", "securityContext": PRIVILEGED, "terminationMessagePolicy": "File"}]}}  # fmt: skip
    asked.append(call(api, "PUT", f"{PATHS['Pod'].format(ns='ns-plain')}/p/ephemeralcontainers", updated))
    namespace = api.sanitize_for_serialization(core.read_namespace("ns-plain"))
    requests.append({"operation": "UPDATE", "subresource": "ephemeralcontainers", "object": updated,
                     "oldObject": stored, "namespace": namespace, "userInfo": user})  # fmt: skip
    cases.append(("ephemeral container", "ns-plain", updated))
    answers = engine(requests)
    for (name, _, _), server, ours in zip(cases, asked, answers, strict=True):
        assert "error" not in ours, f"{name}: {ours}"
        mine = {"allowed": ours["allowed"], "warnings": ours["warnings"]}
        if "status" in ours:
            mine["status"] = {"code": ours["status"]["code"], "message": ours["status"]["message"]}
        server.pop("stored", None)
        assert mine == server, name
    # the cases are the ones named: each kind of answer came back
    assert [a["allowed"] for a in asked] == [False, True, True, False, False]
    assert len(asked[2]["warnings"]) == 2 and "no params found" in asked[3]["status"]["message"]
    assert asked[4]["status"]["message"].endswith(f"privileged (e) by {ADMIN}")
