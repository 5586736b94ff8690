"""The ValidatingAdmissionPolicy bundle in a live API server: its verdicts and messages are PSA's.

One local cluster for the module, with the PodSecurity admission plugin off, so the only judge is ``out/vap``,
applied as the README says (``kubectl apply -k out/vap``). Namespaces carry PSA's own labels (the ``cluster``
engine makes one per level and version, enforce and warn), which the policy reads through ``namespaceObject``.
The oracle (upstream PSA) judges each object as the API server would store it, as in test_cluster_parity.

The corpus: upstream's fixtures at v1.18, v1.24, v1.34 and latest, the project's corpus, and generated pods at three
versions; then the requests PSA treats specially (an ephemeral container added through its subresource, UPDATEs,
workloads, exemptions), each compared with what built-in PSA does in the same situation (``generator.policy.admission``,
itself held to the API server's PSA by test_psa_modes_cluster).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator import tools
from generator.engines.cluster import LocalCluster
from generator.engines.live import ClusterEngine, DryRun, dry_run
from generator.parity.fixtures import minimal_pod
from generator.parity.oracle import Oracle
from generator.policy.versions import NEWEST_MINOR, parse_version
from generator.render import vap
from generator.render.vap import POLICY_NAME, binding_name

sys.path.insert(0, str(Path(__file__).parent))
from cluster_cases import api_request, judged_corpus

pytestmark = [pytest.mark.tools, pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "out" / "vap"
STORED = "pssgen-stored"
ENFORCE, WARN = "pod-security.kubernetes.io/enforce", "pod-security.kubernetes.io/warn"
SMP = "application/strategic-merge-patch+json"
DEBUGGER = {"name": "debugger", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": True}}


def denied_prefix(mode: str = "enforce") -> str:
    return f"ValidatingAdmissionPolicy '{POLICY_NAME}' with binding '{binding_name(mode)}' denied request: "


def warning_prefix(mode: str = "warn") -> str:
    return f"Validation failed for ValidatingAdmissionPolicy '{POLICY_NAME}' with binding '{binding_name(mode)}': "


@dataclass
class Live:
    cluster: LocalCluster
    engine: ClusterEngine


def _request(live: Live, method: str, path: str, body: Mapping[str, Any], content_type: str = "application/json",
             dry: bool = True) -> DryRun:  # fmt: skip
    return api_request(live.cluster, method, path, body, content_type, dry)


def _pod(name: str, **container: Any) -> dict[str, Any]:
    pod = minimal_pod("restricted", NEWEST_MINOR)
    pod["metadata"] = {"name": name}
    pod["spec"]["containers"][0].update(container)
    return pod


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    try:
        etcd, apiserver, kubectl = (tools.require(t) for t in (tools.ETCD, tools.KUBE_APISERVER, tools.KUBECTL))
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")
    args = ("--disable-admission-plugins=PodSecurity",)
    with LocalCluster(etcd=etcd, kube_apiserver=apiserver, apiserver_args=args) as cluster:
        applied = cluster.kubectl("apply", "-k", str(BUNDLE), kubectl=kubectl)
        assert applied.returncode == 0, applied.stderr
        cluster.ensure_namespace("pssgen-vap-probe", {ENFORCE: "restricted"})
        probe = _pod("probe", securityContext={"privileged": True})
        api = cluster.api_client()
        cluster.wait_until(  # the policy and its bindings take a moment to reach the admission plugin
            "the VAP bundle to deny a privileged Pod",
            lambda: dry_run(api, "/api/v1/namespaces/pssgen-vap-probe/pods", probe).status == 403,
            timeout=60,
        )
        cluster.ensure_namespace(STORED)
        with ClusterEngine(str(cluster.kubeconfig)) as engine:
            yield Live(cluster, engine)


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


def test_the_vap_bundle_in_a_live_cluster_agrees_with_the_oracle(
    live: Live, oracle: Oracle, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = judged_corpus(live.cluster, STORED, oracle)
    cases, judged, verdicts = corpus.cases, corpus.judged, corpus.verdicts
    requests = [(obj, level, parse_version(version)) for _, obj, level, version in judged]
    before, started = live.engine.requests, time.monotonic()
    results = live.engine.evaluate_many(requests)
    seconds, sent = time.monotonic() - started, live.engine.requests - before
    problems = []
    for (name, _, _, _), want, got in zip(judged, verdicts, results, strict=True):
        assert want.error is None, f"{name}: the oracle could not evaluate the stored form: {want.error}"
        if (got.allowed, got.violations) != (want.allowed, want.violations):
            problems.append(f"{name}: the VAP: {got}; oracle: {want.result}")
        elif not got.allowed and got.message != want.message:
            problems.append(f"{name}: the VAP said {got.message!r}; oracle {want.message!r}")
    by_version = Counter(f"{level}:{version}" for _, _, level, version in judged)
    lines = [
        f"VAP in a live cluster: {len(cases)} cases, {len(judged)} judged (the rest refused before admission), "
        f"{sum(1 for v in verdicts if not v.allowed)} denied; {sent} requests in {seconds:.1f} s "
        f"({sent / seconds:.0f}/s)",
        f"  by kind: {dict(Counter(str(obj.get('kind')) for _, obj, _, _ in judged))}",
        f"  by level:version: {dict(sorted(by_version.items()))}",
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(judged) > 1800
    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(problems[:40])


def test_an_ephemeral_container_added_through_the_subresource_is_denied(live: Live, oracle: Oracle) -> None:
    namespace = "pssgen-vap-ephemeral"
    live.cluster.ensure_namespace(namespace, {ENFORCE: "restricted"})
    created = _request(live, "POST", f"/api/v1/namespaces/{namespace}/pods", _pod("debug-me"), dry=False)
    assert created.object is not None, created.message
    stored = dict(created.object)
    debugged = {**stored, "spec": {**stored["spec"], "ephemeralContainers": [DEBUGGER]}}
    want = oracle.evaluate(debugged, "restricted", "latest")
    assert not want.allowed and want.violations[0].check == "privileged"
    path = f"/api/v1/namespaces/{namespace}/pods/debug-me/ephemeralcontainers"
    answer = _request(live, "PATCH", path, {"spec": {"ephemeralContainers": [DEBUGGER]}}, SMP)
    assert answer.status == 403, answer
    assert answer.message == f'pods "debug-me" is forbidden: {denied_prefix()}{want.message}'
    # A label-only update of the same pod is not a significant change: allowed, as PSA allows it.
    relabel = _request(live, "PATCH", f"/api/v1/namespaces/{namespace}/pods/debug-me",
                       {"metadata": {"labels": {"x": "y"}}}, SMP)  # fmt: skip
    assert relabel.status == 200, relabel.message
    # Status updates are among the subresources PSA ignores.
    status = _request(live, "PATCH", f"/api/v1/namespaces/{namespace}/pods/debug-me/status",
                      {"status": {"message": "x"}}, SMP)  # fmt: skip
    assert status.status == 200, status.message


def _denial(live: Live, namespace: str, pod: Mapping[str, Any]) -> str:
    """The VAP's denial of ``pod`` in ``namespace``, without the API server's and the VAP's wrappers."""
    answer = _request(live, "POST", f"/api/v1/namespaces/{namespace}/pods", pod)
    assert answer.status == 403, answer
    prefix = f'pods "{pod["metadata"]["name"]}" is forbidden: {denied_prefix()}'
    assert answer.message.startswith(prefix), answer.message
    return answer.message[len(prefix) :]


def _stored(live: Live, pod: Mapping[str, Any]) -> dict[str, Any]:
    answer = _request(live, "POST", f"/api/v1/namespaces/{STORED}/pods", pod)
    assert answer.object is not None, answer.message
    return dict(answer.object)


def test_each_listed_message_difference_is_the_only_difference(live: Live, oracle: Oracle) -> None:
    """MESSAGE_DIFFERENCES, shown: the verdict and checks are PSA's, the text differs only as listed."""
    namespace = "pssgen-vap-differences"
    live.cluster.ensure_namespace(namespace, {ENFORCE: "baseline"})
    # Go's %q escapes U+2028 where CEL's strings.quote writes it as it is; but the API server refuses every
    # annotation value PSA would quote with it (AppArmor and seccomp values are validated), so that difference
    # only exists offline (the vap engine's suite pins it).
    quoted = _pod("quoted")
    name = quoted["spec"]["containers"][0]["name"]
    for key in (f"container.apparmor.security.beta.kubernetes.io/{name}", "seccomp.security.alpha.kubernetes.io/pod"):
        quoted["metadata"]["annotations"] = {key: "x\u2028y"}
        refused = _request(live, "POST", f"/api/v1/namespaces/{STORED}/pods", quoted)
        assert refused.status == 422, (key, refused)
    # Over 5 KiB: cut, with the mark. Forty containers, each privileged and adding a capability, at baseline.
    long = _pod("long")
    container = long["spec"]["containers"][0]
    long["spec"]["containers"] = [
        {**container, "name": f"{'c' * 55}-{i:03}", "securityContext": {"privileged": True, "capabilities": {
            "add": [f"CAP_{i}"]}}} for i in range(40)
    ]  # fmt: skip
    want = oracle.evaluate(_stored(live, long), "baseline", "latest")
    assert len(want.message.encode()) > vap.MAX_MESSAGE_BYTES
    got = _denial(live, namespace, long)
    assert got == vap.vap_message(want.message) and got.endswith(vap.CUT_MARK) and len(got) == vap.MAX_MESSAGE_BYTES
    # A newline (a probe host may hold one: the API server does not validate it): escaped.
    newline = _pod("newline")
    newline["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"host": "a\nb", "port": 80}}
    want = oracle.evaluate(_stored(live, newline), "baseline", "latest")
    assert "a\nb" in want.message
    assert _denial(live, namespace, newline) == vap.vap_message(want.message) == want.message.replace("\n", "\\n")


def test_a_pod_with_a_hundred_containers_and_long_lists_is_judged_at_every_level(live: Live, oracle: Oracle) -> None:
    """Within CEL's runtime limits: 50 init and 50 regular containers, each adding 40 capabilities and exposing
    20 host ports, 60 volumes and 60 sysctls; then 20 ephemeral containers added through their subresource."""
    pod = _pod("hundred")
    base = pod["spec"]["containers"][0]

    def container(name: str, i: int) -> dict[str, Any]:
        ports = [{"containerPort": 1000 + p, "hostPort": 2000 + 20 * i + p} for p in range(20)]
        context = {**base.get("securityContext", {}),
                   "capabilities": {"add": [f"CAP_{c}" for c in range(40)], "drop": ["ALL"]}}  # fmt: skip
        return {**base, "name": name, "ports": ports, "securityContext": context}

    pod["spec"]["initContainers"] = [container(f"init-{i}", i) for i in range(50)]
    pod["spec"]["containers"] = [container(f"app-{i}", 50 + i) for i in range(50)]
    pod["spec"]["volumes"] = [{"name": f"v{i}", "hostPath": {"path": f"/v{i}"}} for i in range(60)]
    sysctls = [{"name": f"net.x.s{i}", "value": "1"} for i in range(60)]
    pod["spec"]["securityContext"] = {**pod["spec"].get("securityContext", {}), "sysctls": sysctls}
    stored = _stored(live, pod)
    # 2,000 distinct host ports: more than SORT_LIMIT, so the policy lists the first SORT_LIMIT sorted, then "..."
    # (the "long-lists" difference); PSA sorts them all. The 4,000 capabilities repeat 40 values: listed exactly.
    ports = [
        str(p["hostPort"]) for c in (*pod["spec"]["initContainers"], *pod["spec"]["containers"]) for p in c["ports"]
    ]
    psa_ports, vap_ports = ", ".join(sorted(set(ports))), ", ".join([*sorted(ports[: vap.SORT_LIMIT]), vap.CUT_ITEM])
    for level in ("privileged", "baseline", "restricted"):
        for version in ("latest", "v1.34", "v1.24", "v1.18"):
            namespace = f"pssgen-vap-hundred-{level}-{version.replace('.', '-')}"
            live.cluster.ensure_namespace(namespace, {ENFORCE: level, f"{ENFORCE}-version": version})
            want = oracle.evaluate(stored, level, version)
            if want.allowed:
                answer = _request(live, "POST", f"/api/v1/namespaces/{namespace}/pods", pod)
                assert answer.status == 201, (level, version, answer.message)
            else:
                assert psa_ports in want.message
                expected = vap.vap_message(want.message.replace(psa_ports, vap_ports))
                assert _denial(live, namespace, pod) == expected, (level, version)
    # The same pod created for real where nothing is enforced, then the namespace made restricted, then twenty
    # ephemeral containers added through their subresource: 120 containers judged.
    namespace = "pssgen-vap-hundred"
    live.cluster.ensure_namespace(namespace, {ENFORCE: "privileged"})
    created = _request(live, "POST", f"/api/v1/namespaces/{namespace}/pods", pod, dry=False)
    assert created.object is not None, created.message
    relabel = _request(live, "PATCH", f"/api/v1/namespaces/{namespace}",
                       {"metadata": {"labels": {ENFORCE: "restricted"}}}, SMP, dry=False)  # fmt: skip
    assert relabel.status == 200, relabel.message
    debuggers = [{**DEBUGGER, "name": f"debug-{i}"} for i in range(20)]
    debugged = {**created.object, "spec": {**created.object["spec"], "ephemeralContainers": debuggers}}
    want = oracle.evaluate(debugged, "restricted", "latest")
    path = f"/api/v1/namespaces/{namespace}/pods/hundred/ephemeralcontainers"
    body = {"spec": {"ephemeralContainers": debuggers}}
    live.cluster.wait_until(  # the policy reads the namespace from the API server's cache
        "the VAP to see the namespace restricted",
        lambda: _request(live, "PATCH", path, body, SMP).status == 403,
        timeout=30,
    )
    answer = _request(live, "PATCH", path, body, SMP)
    expected = vap.vap_message(want.message.replace(psa_ports, vap_ports))
    assert answer.message == f'pods "hundred" is forbidden: {denied_prefix()}{expected}'
