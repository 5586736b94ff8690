"""The local cluster harness: the pinned etcd and kube-apiserver start on loopback, built-in Pod Security Admission
judges server-side dry-run requests as PSA (the oracle) words them, and nothing is left once it stops, however it
stops (the ``with`` block, SIGTERM, or SIGKILL of the process that started it).

Each test starts a kube-apiserver (10-40 s on a busy 2-core machine); the binaries come from `make cluster-tools`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from generator import tools
from generator.engines.cluster import ClusterError, LocalCluster
from generator.parity.oracle import Oracle

pytestmark = [pytest.mark.tools, pytest.mark.slow]

ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.fixture(scope="module")
def binaries() -> dict[str, Path]:
    try:
        return {"etcd": tools.require(tools.ETCD), "kube-apiserver": tools.require(tools.KUBE_APISERVER)}
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


def pod(name: str, security_context: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "registry.k8s.io/pause:3.10"}
    if security_context is not None:
        container["securityContext"] = security_context
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


def alive(pid: int, binary: Path) -> bool:
    """Whether ``pid`` is still the component it was (not a zombie, not a reused pid running something else)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return state not in ("Z", "X") and os.fsencode(binary) in cmdline


def wait_gone(pids: dict[str, int], binaries: dict[str, Path], grace: float = 10.0) -> list[str]:
    deadline = time.monotonic() + grace
    while True:
        left = [name for name, pid in pids.items() if alive(pid, binaries[name])]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def test_builtin_psa_judges_dry_run_pods_with_psa_message_and_stop_leaves_nothing(
    binaries: dict[str, Path], oracle: Oracle
) -> None:
    cluster = LocalCluster(etcd=binaries["etcd"], kube_apiserver=binaries["kube-apiserver"])
    with cluster:
        pids, workdir = cluster.pids, cluster.workdir
        assert workdir is not None and workdir.is_dir()
        assert set(pids) == {"etcd", "kube-apiserver"}
        cluster.ensure_namespace("psa-baseline", {ENFORCE: "baseline"})
        core = k8s.CoreV1Api(cluster.api_client())

        privileged = pod("privileged", {"privileged": True})
        with pytest.raises(ApiException) as denied:
            core.create_namespaced_pod("psa-baseline", privileged, dry_run="All")
        assert denied.value.status == 403, denied.value.body
        status = json.loads(denied.value.body or "{}")
        expected = oracle.evaluate(privileged, "baseline", "latest")
        assert not expected.allowed
        assert status["reason"] == "Forbidden"
        assert status["message"] == f'pods "privileged" is forbidden: {expected.message}'

        plain = pod("plain")
        assert oracle.evaluate(plain, "baseline", "latest").allowed
        created = core.create_namespaced_pod("psa-baseline", plain, dry_run="All")
        assert created.metadata.name == "plain"
        assert core.list_namespaced_pod("psa-baseline").items == []  # dry run: admitted, never stored

        # The same privileged Pod in a namespace with no PSA label is privileged-level: admitted.
        cluster.ensure_namespace("psa-none")
        assert core.create_namespaced_pod("psa-none", privileged, dry_run="All").metadata.name == "privileged"
    assert wait_gone(pids, binaries) == [], "components still running after stop"
    assert not workdir.exists()
    with pytest.raises(ClusterError, match="not running"):
        _ = cluster.kubeconfig


def test_start_failure_names_the_component_and_leaves_nothing(binaries: dict[str, Path], tmp_path: Path) -> None:
    # A flag kube-apiserver refuses: start() must fail with its words on one line and stop etcd.
    cluster = LocalCluster(
        etcd=binaries["etcd"], kube_apiserver=binaries["kube-apiserver"], apiserver_args=("--no-such-flag",)
    )
    with pytest.raises(ClusterError, match=r"kube-apiserver exited with \d+: .*no-such-flag") as failed:
        cluster.start()
    assert "\n" not in str(failed.value)
    assert cluster.workdir is None and cluster.pids == {}
    etcd = os.fsencode(binaries["etcd"])
    left = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p).startswith(etcd)]
    assert all(b"pssgen-cluster-" not in _cmdline(p) for p in left), "etcd outlived the failed start"


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return proc_dir.joinpath("cmdline").read_bytes()
    except OSError:
        return b""


CHILD = """
import os, signal, sys, time
from pathlib import Path
from generator.engines.cluster import LocalCluster
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job (nohup ... &) starts with SIGINT ignored
cluster = LocalCluster(Path(sys.argv[1]), Path(sys.argv[2])).start()
print(cluster.workdir, cluster.pids["etcd"], cluster.pids["kube-apiserver"], flush=True)
os.kill(os.getpid(), getattr(signal, sys.argv[3]))
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_nothing_outlives_a_starter_that_is_killed(binaries: dict[str, Path], run_bounded: Any, how: str) -> None:
    # SIGINT: the KeyboardInterrupt ends Python, whose atexit hook stops the cluster (Python then dies of SIGINT).
    # SIGTERM: the harness's handler stops it. Both remove its folder. SIGKILL runs no handler: the kernel
    # (PR_SET_PDEATHSIG) still kills both components; only the folder stays, and this test removes it.
    proc = run_bounded([sys.executable, "-c", CHILD, binaries["etcd"], binaries["kube-apiserver"], how], timeout=300)
    assert proc.returncode == -getattr(signal, how), proc.stderr[-2000:]
    workdir, etcd_pid, apiserver_pid = proc.stdout.split()
    left = wait_gone({"etcd": int(etcd_pid), "kube-apiserver": int(apiserver_pid)}, binaries)
    assert left == [], f"{left} outlived a {how} of the process that started them"
    if how != "SIGKILL":
        assert not Path(workdir).exists()
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def test_gatekeeper_out_of_cluster_enforces_the_bundle_with_psa_messages(
    binaries: dict[str, Path], oracle: Oracle
) -> None:
    # The bundle applied as the README says (`kubectl apply -k out/gatekeeper`, again once the templates are ready),
    # in an API server without built-in PSA (as after a migration), then a namespace labelled enforce=baseline: the
    # bundle reads the label and denies with PSA's own message; an unlabelled namespace is privileged (PSA's
    # defaults, the bundle's without a --psa-config).
    try:
        gatekeeper, kubectl = tools.require(tools.GATEKEEPER), tools.require(tools.KUBECTL)
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")
    without_psa = ("--disable-admission-plugins=PodSecurity",)
    with LocalCluster(etcd=binaries["etcd"], kube_apiserver=binaries["kube-apiserver"],
                      apiserver_args=without_psa) as cluster:  # fmt: skip
        cluster.start_gatekeeper(gatekeeper)
        cluster.apply_bundle(tools.ROOT / "out" / "gatekeeper", kubectl=kubectl)
        cluster.ensure_namespace("gatekeeper-judges", {"pod-security.kubernetes.io/enforce": "baseline"})
        cluster.ensure_namespace("unlabelled")
        core = k8s.CoreV1Api(cluster.api_client())

        privileged = pod("privileged", {"privileged": True})
        expected = oracle.evaluate(privileged, "baseline", "latest")
        assert len(expected.violations) == 1
        with pytest.raises(ApiException) as denied:
            core.create_namespaced_pod("gatekeeper-judges", privileged, dry_run="All")
        assert denied.value.status == 403, denied.value.body
        assert json.loads(denied.value.body or "{}")["message"] == (
            'admission webhook "validation.gatekeeper.sh" denied the request: '
            f"[pod-security-enforce] {expected.message}"
        )
        assert core.create_namespaced_pod("unlabelled", privileged, dry_run="All").metadata.name == "privileged"
        assert core.create_namespaced_pod("gatekeeper-judges", pod("plain"), dry_run="All").metadata.name == "plain"
        pids = cluster.pids
        assert set(pids) == {"etcd", "kube-apiserver", "gatekeeper"}
    assert wait_gone(pids, {**binaries, "gatekeeper": gatekeeper}) == []
