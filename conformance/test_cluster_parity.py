"""In-cluster parity: built-in PSA and pssgen's Gatekeeper bundle, in one live API server, against the PSA oracle.

One local cluster (the pinned etcd, kube-apiserver and Gatekeeper) for the module. The bundle is applied as the
README tells users to; its two cluster-wide Constraints are then removed, so that every namespace has exactly one
judge: PSA's labels (the ``cluster`` engine's namespaces) or one Constraint of the bundle for one level and version
(``generator.parity.cluster``). The oracle judges each object as the API server would store it (see that module).

The corpus: every upstream fixture of v1.18, v1.24, v1.34 and the newest version (that one at ``latest``), the
project's own corpus, and generated pods at three versions. The run prints, per level x version and judge, how many
objects it sent, and each judge's requests per second; any disagreement fails the test, naming the object.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes import client as k8s

from generator import tools
from generator.engines.cluster import LocalCluster
from generator.engines.live import ClusterEngine, DryRun
from generator.parity.cluster import GatekeeperJudge, Tally, gatekeeper_problem
from generator.parity.fixtures import minimal_pod
from generator.parity.oracle import Oracle
from generator.policy.versions import NEWEST_MINOR, parse_version

sys.path.insert(0, str(Path(__file__).parent))
from cluster_cases import api_request, judged_corpus

pytestmark = [pytest.mark.tools, pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "out" / "gatekeeper"
ENFORCE, WARN = "pod-security.kubernetes.io/enforce", "pod-security.kubernetes.io/warn"
STORED = "pssgen-stored"  # no PSA label, no Constraint: what the API server stores, unjudged


@dataclass
class Live:
    cluster: LocalCluster
    psa: ClusterEngine
    gatekeeper: GatekeeperJudge


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    try:
        binaries = [tools.require(t) for t in (tools.ETCD, tools.KUBE_APISERVER, tools.GATEKEEPER, tools.KUBECTL)]
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")
    etcd, apiserver, gatekeeper, kubectl = binaries
    with LocalCluster(etcd=etcd, kube_apiserver=apiserver) as cluster:
        cluster.start_gatekeeper(gatekeeper, audit_interval=5)
        cluster.apply_bundle(BUNDLE, kubectl=kubectl)
        removed = cluster.kubectl("delete", "-f", str(BUNDLE / "constraints"), kubectl=kubectl)
        assert removed.returncode == 0, removed.stderr
        cluster.ensure_namespace(STORED)
        with ClusterEngine(str(cluster.kubeconfig)) as psa:
            judge = GatekeeperJudge(cluster.api_client(), BUNDLE, cluster.wait_until)
            yield Live(cluster, psa, judge)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


_FIRST_ERROR = re.compile(r"is invalid: \[?([^:]+): ([A-Z][a-z]+(?: [a-z]+)?)")
SHOWN_REFUSALS = 12


def _refusal(answer: DryRun) -> str:
    """The kind of refusal: the first field error (``spec.containers[*].name: Required value``), not its values."""
    found = _FIRST_ERROR.search(answer.message)
    if found is None:
        return f"HTTP {answer.status} {answer.message}"
    where = re.sub(r"\[[0-9]+\]", "[*]", found.group(1))
    where = re.sub(r"annotations(\[|\.)[^:]*", "annotations[...]", where)
    return f"{where}: {found.group(2)}"


def _order(level: str, version: str) -> tuple[str, int]:
    minor = parse_version(version).minor
    return level, NEWEST_MINOR + 1 if minor is None else minor


def _report(name: str, tally: Tally, width: int = 34) -> list[str]:
    by_lv: Counter[tuple[str, str]] = Counter()
    for (level, version, _), n in tally.counts.items():
        by_lv[(level, version)] += n
    rows = [f"{name}: {tally.requests} requests in {tally.seconds:.1f} s ({tally.rate:.0f}/s)"]
    for (level, version), n in sorted(by_lv.items(), key=lambda kv: _order(*kv[0])):
        rows.append(f"  {f'{level}:{version}':<{width}}{n:>6}")
    return rows


def test_psa_and_gatekeeper_in_a_live_cluster_agree_with_the_oracle(
    live: Live, oracle: Oracle, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = judged_corpus(live.cluster, STORED, oracle)
    cases, stored, judged, verdicts = corpus.cases, corpus.stored, corpus.judged, corpus.verdicts
    refused = Counter(_refusal(answer) for answer in stored if answer.object is None)
    raw = oracle.evaluate_many([(obj, level, version) for _, obj, level, version in judged])
    reworded = sum(1 for a, b in zip(verdicts, raw, strict=True) if a.violations != b.violations)

    requests = [(obj, level, parse_version(version)) for _, obj, level, version in judged]
    psa_tally = Tally()
    before = live.psa.requests
    started = time.monotonic()
    psa_results = live.psa.evaluate_many(requests)
    psa_tally.seconds, psa_tally.requests = time.monotonic() - started, live.psa.requests - before
    for obj, level, version in requests:
        psa_tally.counts[(level, str(version), str(obj.get("kind")))] += 1
    gk_answers = live.gatekeeper.judge([(obj, level, version) for _, obj, level, version in judged])

    problems = []
    for (name, _, _, _), want, got, answer in zip(judged, verdicts, psa_results, gk_answers, strict=True):
        assert want.error is None, f"{name}: the oracle could not evaluate the stored form: {want.error}"
        if (got.allowed, got.violations) != (want.allowed, want.violations):
            problems.append(f"{name}: PSA in the cluster: {got}; oracle: {want.result}")
        elif not got.allowed and got.message != want.message:
            problems.append(f"{name}: PSA in the cluster said {got.message!r}; oracle {want.message!r}")
        if (problem := gatekeeper_problem(answer, want)) is not None:
            problems.append(f"{name}: {problem}")

    lines = [
        f"in-cluster parity: {len(cases)} cases, {corpus.objects} distinct objects; "
        f"{sum(refused.values())} refused by the API server before admission, "
        f"{len(judged)} cases judged by both; the API server's defaulting changed PSA's words for {reworded}",
        *(f"  refused x{n}: {why}" for why, n in refused.most_common(SHOWN_REFUSALS)),
        f"  ... and {len(refused) - SHOWN_REFUSALS} other kinds of refusal" if len(refused) > SHOWN_REFUSALS else "",
        f"  judged, by kind: {dict(Counter(str(obj.get('kind')) for _, obj, _, _ in judged))}",
        *_report("built-in PSA", psa_tally),
        *_report("Gatekeeper (the bundle's Constraints)", live.gatekeeper.tally),
    ]
    with capsys.disabled():  # the figures belong in every run's output, not only a failing one's
        print("\n" + "\n".join(lines))
    denied = sum(1 for v in verdicts if not v.allowed)
    assert 0.2 * len(judged) < denied < 0.95 * len(judged), f"{denied} of {len(judged)} denied"
    assert len(judged) > 1800
    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(problems[:40])


# --- the requests gator cannot show ---------------------------------------------------------------------------------

SMP = "application/strategic-merge-patch+json"
DEBUGGER = {"name": "debugger", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": True}}


def _pod(name: str, level: str = "restricted", **container: Any) -> dict[str, Any]:
    pod = minimal_pod(level, NEWEST_MINOR)
    pod["metadata"] = {"name": name}
    pod["spec"]["containers"][0].update(container)
    return pod


def _create(live: Live, namespace: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Really create ``obj`` (no scheduler runs: a Pod stays Pending); the stored form."""
    answer = _request(live, "POST", f"/api/v1/namespaces/{namespace}/pods", obj, dry=False)
    assert answer.object is not None, answer.message
    return dict(answer.object)


def _request(live: Live, method: str, path: str, body: Mapping[str, Any], content_type: str = "application/json",
             dry: bool = True) -> DryRun:  # fmt: skip
    return api_request(live.cluster, method, path, body, content_type, dry)


def _psa_namespace(live: Live, name: str, labels: dict[str, str] | None = None) -> str:
    live.cluster.ensure_namespace(name, labels)
    return name


def _label_and_wait(live: Live, namespace: str, level: str) -> None:
    """Label ``namespace`` enforce=``level`` and wait until PSA's namespace cache has it (a privileged Pod denied)."""
    patch = {"metadata": {"labels": {ENFORCE: level}}}
    assert _request(live, "PATCH", f"/api/v1/namespaces/{namespace}", patch, SMP, dry=False).status == 200
    probe = _pod("probe", securityContext={"privileged": True})
    live.cluster.wait_until(
        f"PSA to see {namespace}'s label",
        lambda: _request(live, "POST", f"/api/v1/namespaces/{namespace}/pods", probe).status == 403,
        timeout=30,
    )


def _psa_denial(answer: DryRun, name: str) -> str:
    assert answer.status == 403, answer
    prefix = f'pods "{name}" is forbidden: '
    assert answer.message.startswith(prefix), answer.message
    return answer.message[len(prefix) :]


def test_an_ephemeral_container_added_through_the_subresource_is_denied_by_both(live: Live, oracle: Oracle) -> None:
    # What `kubectl debug` does: PATCH pods/NAME/ephemeralcontainers. An ephemeral container cannot be in a Pod's
    # create (the API server refuses spec.ephemeralContainers there), so this is the only way one reaches admission.
    psa = _psa_namespace(live, "pssgen-ephemeral-psa", {ENFORCE: "restricted"})
    gatekeeper = live.gatekeeper.namespace("restricted", "latest")
    patch = {"spec": {"ephemeralContainers": [DEBUGGER]}}
    for namespace in (psa, gatekeeper):
        stored = _create(live, namespace, _pod("debug-me"))
        debugged = {**stored, "spec": {**stored["spec"], "ephemeralContainers": [DEBUGGER]}}
        want = oracle.evaluate(debugged, "restricted", "latest")
        assert not want.allowed and want.violations[0].check == "privileged"
        path = f"/api/v1/namespaces/{namespace}/pods/debug-me/ephemeralcontainers"
        answer = _request(live, "PATCH", path, patch, SMP)
        if namespace == psa:
            assert _psa_denial(answer, "debug-me") == want.message
        else:
            assert gatekeeper_problem(answer, want) is None
        # the same patch without the privileged bit is admitted by both: the subresource is judged, not refused
        plain = {"spec": {"ephemeralContainers": [{**DEBUGGER, "securityContext": minimal_security(live)}]}}
        assert _request(live, "PATCH", path, plain, SMP).status == 200


def minimal_security(_: Live) -> dict[str, Any]:
    """A container securityContext restricted allows (the one minimal_pod gives its containers)."""
    return dict(minimal_pod("restricted", NEWEST_MINOR)["spec"]["containers"][0].get("securityContext") or {})


def test_updates_are_judged_only_when_psa_judges_them(live: Live, oracle: Oracle) -> None:
    # A privileged Pod that existed before its namespace was judged: a label change is not significant to PSA (not
    # judged, admitted); an image change is (judged, denied). Gatekeeper's bundle does the same.
    privileged = _pod("old", "baseline", securityContext={"privileged": True})
    psa = _psa_namespace(live, "pssgen-update-psa")
    plain = _psa_namespace(live, "pssgen-update-gk")
    stored = {psa: _create(live, psa, privileged), plain: _create(live, plain, privileged)}
    _label_and_wait(live, psa, "baseline")
    live.gatekeeper.constrain(plain, "baseline", "latest")
    relabel = {"metadata": {"labels": {"touched": "yes"}}}
    reimage = {
        "spec": {
            "containers": [{"name": privileged["spec"]["containers"][0]["name"], "image": "registry.k8s.io/pause:3.9"}]
        }
    }
    for namespace in (psa, plain):
        path = f"/api/v1/namespaces/{namespace}/pods/old"
        assert _request(live, "PATCH", path, relabel, SMP).status == 200, f"{namespace}: a label change was judged"
        answer = _request(live, "PATCH", path, reimage, SMP)
        changed = stored[namespace]
        changed["spec"]["containers"][0]["image"] = "registry.k8s.io/pause:3.9"
        want = oracle.evaluate(changed, "baseline", "latest")
        assert not want.allowed
        if namespace == psa:
            assert _psa_denial(answer, "old") == want.message
        else:
            assert gatekeeper_problem(answer, want) is None


def test_a_workload_gets_psa_warning_from_psa_and_the_bundles_denial_from_gatekeeper(
    live: Live, oracle: Oracle
) -> None:
    psa = _psa_namespace(live, "pssgen-workload-psa", {ENFORCE: "baseline", WARN: "baseline"})
    gatekeeper = live.gatekeeper.namespace("baseline", "latest")
    template = _pod("unused", "baseline", securityContext={"privileged": True})
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": template["spec"]}},
    }  # fmt: skip
    answer = _request(live, "POST", f"/apis/apps/v1/namespaces/{psa}/deployments", deployment)
    assert answer.status == 201 and answer.object is not None, answer  # PSA never rejects a workload...
    want = oracle.evaluate(answer.object, "baseline", "latest")
    assert answer.warnings == [want.result.warning]  # ...it warns, with its own words
    denied = _request(live, "POST", f"/apis/apps/v1/namespaces/{gatekeeper}/deployments", deployment)
    assert gatekeeper_problem(denied, want) is None  # the bundle denies it (documented: --deny-workloads behaviour)


def test_gatekeeper_audit_lists_pods_that_existed_before_the_constraint_with_psa_messages(
    live: Live, oracle: Oracle
) -> None:
    namespace = _psa_namespace(live, "pssgen-audit")
    stored = _create(live, namespace, _pod("before", "baseline", securityContext={"privileged": True}))
    want = oracle.evaluate(stored, "baseline", "latest")
    assert not want.allowed
    name = live.gatekeeper.constrain(namespace, "baseline", "latest")
    custom = k8s.CustomObjectsApi(live.cluster.api_client())

    def violations() -> list[dict[str, Any]]:
        found = cast(
            dict[str, Any],
            custom.get_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8spodsecurity", name),
        )
        return [v for v in found.get("status", {}).get("violations") or [] if v.get("namespace") == namespace]

    live.cluster.wait_until("Gatekeeper's audit to list the Pod", lambda: bool(violations()), timeout=120)
    listed = sorted((v["kind"], v["name"], v["message"]) for v in violations())
    assert listed == [("Pod", "before", want.message)]


def test_with_gatekeeper_stopped_its_webhook_fails_open_and_psa_labels_still_hold(live: Live) -> None:
    # Gatekeeper's reference webhook is failurePolicy: Ignore (timeoutSeconds: 3): with the controller gone, every
    # request it would judge is admitted. PSA's labels are judged in the API server itself and still hold.
    # Keep this test last in the module: it stops Gatekeeper.
    gatekeeper = live.gatekeeper.namespace("baseline", "latest")
    psa = _psa_namespace(live, "pssgen-stopped-psa", {ENFORCE: "baseline"})
    privileged = _pod("unjudged", "baseline", securityContext={"privileged": True})
    assert _request(live, "POST", f"/api/v1/namespaces/{gatekeeper}/pods", privileged).status == 403
    live.cluster.stop_gatekeeper()
    started = time.monotonic()
    admitted = _request(live, "POST", f"/api/v1/namespaces/{gatekeeper}/pods", privileged)
    waited = time.monotonic() - started
    assert admitted.status == 201, admitted  # fail open
    assert waited < 10, f"the API server waited {waited:.1f}s for the missing webhook"
    assert _request(live, "POST", f"/api/v1/namespaces/{psa}/pods", privileged).status == 403
