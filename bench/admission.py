"""make bench's admission section: what each judge adds to a dry-run Pod create in a live API server.

One run, the same pods for every judge (``pod``: an init container, an app and a sidecar with volumes, restricted
as written or with one capability added, in turn, at restricted:latest), one request at a time so each figure is
a request's latency, not a throughput:

  none         the API server with no Pod Security judge (PodSecurity off, nothing applied): the floor for the
               VAP and Gatekeeper
  none (PSA on) PodSecurity on, the namespace labelled enforce=privileged (PSA judges nothing): the floor for
               built-in PSA, measured in turn with it, request for request
  built-in PSA kube-apiserver's own PodSecurity admission, the namespace labelled enforce=restricted
  VAP          PodSecurity off, out/vap applied (kubectl apply -k), the same labels
  Gatekeeper   PodSecurity off, Gatekeeper with out/gatekeeper applied, the same labels (a webhook round trip)

Two local clusters (the project's pinned etcd, kube-apiserver, Gatekeeper): one with PodSecurity on, one without,
where the VAP bundle is applied, measured and deleted before Gatekeeper starts. Median and p99 per judge, and the
median over its cluster's floor.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from generator.engines.cluster import LocalCluster
from generator.engines.live import dry_run
from generator.parity.fixtures import minimal_pod
from generator.policy.versions import NEWEST_MINOR
from generator.tools import ETCD, GATEKEEPER, KUBE_APISERVER, KUBECTL, require

ROOT = Path(__file__).resolve().parents[1]
ENFORCE = "pod-security.kubernetes.io/enforce"
NAMESPACE = "bench-restricted"
OPEN = "bench-privileged"


def pod(name: str, denied: bool) -> dict[str, Any]:
    """A Pod the API server stores as written (bench/evaluator's typical pod has fields it refuses): restricted,
    or denied at every level by one added capability."""
    base = minimal_pod("restricted", NEWEST_MINOR)
    container = base["spec"]["containers"][0]
    mounts = [{"name": "config", "mountPath": "/etc/app"}, {"name": "scratch", "mountPath": "/tmp"}]
    containers = [{**container, "name": n, "volumeMounts": mounts} for n in ("app", "sidecar")]
    if denied:
        context = containers[1]["securityContext"]
        containers[1]["securityContext"] = {**context, "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}
    volumes = [{"name": "config", "configMap": {"name": "app"}}, {"name": "scratch", "emptyDir": {}}]
    spec = {**base["spec"], "initContainers": [{**container, "name": "init"}], "containers": containers,
            "volumes": volumes}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}}, "spec": spec}


WARM_UP = 50  # requests before the measured ones: connections, the judge's caches, the API server's own


def _latencies(cluster: LocalCluster, namespaces: Sequence[str], pods: Sequence[Mapping[str, Any]],
               expect: Callable[[str, int, int], bool]) -> list[list[float]]:  # fmt: skip
    """Milliseconds per dry-run create of each pod, into each namespace in turn (request for request, so drift
    falls on all alike); ``expect(namespace, i, status)`` says the answer is the judge's."""
    api = cluster.api_client()
    paths = [f"/api/v1/namespaces/{namespace}/pods" for namespace in namespaces]
    for pod in pods[:WARM_UP]:
        for path in paths:
            dry_run(api, path, pod)
    out: list[list[float]] = [[] for _ in namespaces]
    for i, pod in enumerate(pods):
        for namespace, path, times in zip(namespaces, paths, out, strict=True):
            started = time.perf_counter()
            answer = dry_run(api, path, pod)
            times.append((time.perf_counter() - started) * 1000)
            if not expect(namespace, i, answer.status):
                raise RuntimeError(f"request {i} in {namespace}: HTTP {answer.status}: {answer.message[:200]}")
    return out


def _judged(namespace: str, i: int, status: int) -> bool:
    """In the judged namespace even requests are the allowed pod, odd ones the denied pod; elsewhere all pass."""
    if namespace != NAMESPACE:
        return status < 300
    return status < 300 if i % 2 == 0 else status == 403


def _wait_denying(cluster: LocalCluster, denied: Mapping[str, Any], judge: str) -> None:
    api = cluster.api_client()
    cluster.wait_until(f"{judge} to deny the denied pod",
                       lambda: dry_run(api, f"/api/v1/namespaces/{NAMESPACE}/pods", denied).status == 403,
                       timeout=120)  # fmt: skip


def measure(pods: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Each judge's latencies (ms) on ``pods`` (allowed, denied, allowed, ...)."""
    etcd, apiserver, gatekeeper, kubectl = (require(t) for t in (ETCD, KUBE_APISERVER, GATEKEEPER, KUBECTL))
    found: dict[str, list[float]] = {}
    with LocalCluster(etcd=etcd, kube_apiserver=apiserver) as cluster:
        cluster.ensure_namespace(NAMESPACE, {ENFORCE: "restricted"})
        cluster.ensure_namespace(OPEN, {ENFORCE: "privileged"})
        _wait_denying(cluster, pods[1], "built-in PSA")
        found["built-in PSA"], found["none (PSA on)"] = _latencies(cluster, [NAMESPACE, OPEN], pods, _judged)
    off = ("--disable-admission-plugins=PodSecurity",)
    with LocalCluster(etcd=etcd, kube_apiserver=apiserver, apiserver_args=off) as cluster:
        cluster.ensure_namespace(NAMESPACE, {ENFORCE: "restricted"})
        (found["none"],) = _latencies(cluster, [NAMESPACE], pods, lambda _, __, status: status < 300)
        applied = cluster.kubectl("apply", "-k", str(ROOT / "out" / "vap"), kubectl=kubectl)
        if applied.returncode != 0:
            raise RuntimeError(f"kubectl apply -k out/vap: {applied.stderr.strip()}")
        _wait_denying(cluster, pods[1], "the VAP bundle")
        (found["VAP"],) = _latencies(cluster, [NAMESPACE], pods, _judged)
        deleted = cluster.kubectl("delete", "-k", str(ROOT / "out" / "vap"), kubectl=kubectl)
        if deleted.returncode != 0:
            raise RuntimeError(f"kubectl delete -k out/vap: {deleted.stderr.strip()}")
        api = cluster.api_client()
        cluster.wait_until("the VAP to be gone",
                           lambda: dry_run(api, f"/api/v1/namespaces/{NAMESPACE}/pods", pods[1]).status < 300,
                           timeout=60)  # fmt: skip
        cluster.start_gatekeeper(gatekeeper)
        cluster.apply_bundle(ROOT / "out" / "gatekeeper", kubectl=kubectl)
        _wait_denying(cluster, pods[1], "Gatekeeper")
        (found["Gatekeeper"],) = _latencies(cluster, [NAMESPACE], pods, _judged)
    return found


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def summary(found: Mapping[str, Sequence[float]]) -> list[tuple[str, float, float]]:
    """(figure, median ms, p99 ms): each floor, then each judge's allowed pods (a denial ends a request early, so
    the two are apart), its denied pods, and its allowed pods' median over its cluster's floor (p99 0)."""
    floors = {"built-in PSA": "none (PSA on)", "VAP": "none", "Gatekeeper": "none"}
    rows: list[tuple[str, float, float]] = []
    for name in ("none (PSA on)", "none"):
        if name in found:
            rows.append((name, statistics.median(found[name]), p99(found[name])))
    for name, floor in floors.items():
        if name not in found:
            continue
        allowed, denied = found[name][0::2], found[name][1::2]
        rows.append((f"{name}, allowed pods", statistics.median(allowed), p99(allowed)))
        rows.append((f"{name}, denied pods", statistics.median(denied), p99(denied)))
        rows.append((f"{name}, allowed pods over no judge",
                     statistics.median(allowed) - statistics.median(found[floor]), 0.0))  # fmt: skip
    return rows
