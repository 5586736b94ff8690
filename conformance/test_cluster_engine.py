"""The ``cluster`` engine and ``pssgen cluster``, run as users run them, against the local cluster.

- ``pssgen check --engine cluster`` on upstream's newest fixtures gives ``--engine python``'s JSON report, except
  where the API server itself makes a difference, and those objects are found here by asking the API server (not
  listed by hand): an object it refuses before admission is an error line instead of a verdict, and an object its
  defaulting changes (AppArmor annotations copied into fields) gets PSA's words for the stored form.
- A cluster that cannot judge is refused with one line: unreachable, a user without the permissions, an API server
  without PodSecurity admission.
- The temporary namespaces are deleted when the run ends, also when it is interrupted.
- ``pssgen cluster`` prints a KUBECONFIG that kubectl can use, judges with Gatekeeper, and leaves nothing on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s

from generator import tools
from generator.engines.cluster import LocalCluster
from generator.engines.live import NAMESPACE_PREFIX, creatable, dry_run, object_path
from generator.parity.corpus import upstream_corpus_dir
from generator.parity.oracle import Oracle
from generator.policy.versions import NEWEST_MINOR

pytestmark = [pytest.mark.tools, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
PSSGEN = str(Path(sys.executable).with_name("pssgen"))
VIEWER = "viewer"  # a user RBAC lets do nothing


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    try:
        etcd, apiserver = tools.require(tools.ETCD), tools.require(tools.KUBE_APISERVER)
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")
    with LocalCluster(etcd=etcd, kube_apiserver=apiserver, users=(VIEWER,)) as running:
        running.ensure_namespace("pssgen-stored")
        yield running


def _pssgen(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PSSGEN, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode in (0, 1, 2), proc.stderr
    return cast(dict[str, Any], json.loads(proc.stdout))


def _managed_namespaces(cluster: LocalCluster) -> list[k8s.V1Namespace]:
    listed = k8s.CoreV1Api(cluster.api_client()).list_namespace(label_selector="app.kubernetes.io/managed-by=pssgen")
    return [ns for ns in listed.items if ns.metadata.name.startswith(NAMESPACE_PREFIX)]


def _all_deleted(cluster: LocalCluster) -> bool:
    """Every namespace the engine made is gone or being deleted (no namespace controller runs here to finish it)."""
    return all(ns.metadata.deletion_timestamp is not None for ns in _managed_namespaces(cluster))


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_check_engine_cluster_reports_what_engine_python_reports(
    cluster: LocalCluster, level: str, oracle_process: Oracle
) -> None:
    newest = [upstream_corpus_dir() / lv / f"v1.{NEWEST_MINOR}" for lv in ("baseline", "restricted")]
    paths = [str(p) for p in newest]
    python = _report(_pssgen("check", *paths, "--level", level, "--output", "json"))
    started = time.monotonic()
    live = _report(_pssgen("check", *paths, "--level", level, "--engine", "cluster", "--kubeconfig",
                           str(cluster.kubeconfig), "--output", "json"))  # fmt: skip
    seconds = time.monotonic() - started
    assert _all_deleted(cluster)

    # What the API server does to each object before admission, asked of the API server itself.
    api = cluster.api_client()
    refused, reworded = set(), set()
    for entry in python["results"]:
        obj = yaml.safe_load(Path(entry["source"]).read_text(encoding="utf-8"))
        path = object_path(obj, "pssgen-stored")
        assert path is not None
        stored = dry_run(api, path, creatable(obj, "pssgen-stored"))
        if stored.object is None:
            refused.add(entry["source"])
        elif oracle_process.evaluate(stored.object, level, "latest") != oracle_process.evaluate(obj, level, "latest"):
            reworded.add(entry["source"])
    errors = {e["source"]: e["message"] for e in live["errors"]}
    assert set(errors) == refused, "the cluster engine's errors are exactly the objects the API server refuses"
    assert all("not judged: the API server refused it (HTTP 422)" in m for m in errors.values()), errors
    by_source = {e["source"]: e for e in live["results"]}
    for entry in python["results"]:
        source = entry["source"]
        if source in refused:
            assert source not in by_source
        elif source in reworded:
            got = by_source[source]
            assert (got["allowed"], [v["check"] for v in got["violations"]]) == (
                entry["allowed"],
                [v["check"] for v in entry["violations"]],
            ), source
        else:
            assert by_source[source] == entry, source
    print(f"\n{level}: {len(python['results'])} objects, {len(refused)} refused by the API server, "
          f"{len(reworded)} reworded by its defaulting; cluster engine run {seconds:.1f} s")  # fmt: skip
    assert len(refused) < 20 and len(reworded) < 10 and len(python["results"]) > 100


@pytest.fixture(scope="module")
def oracle_process() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


def test_a_user_without_permissions_gets_one_line_naming_them(cluster: LocalCluster, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
    proc = _pssgen("check", str(pod), "--engine", "cluster", "--kubeconfig", str(cluster.kubeconfig),
                   "--context", VIEWER)  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line == (
        f"pssgen: error: {cluster.server}: this user may not create namespaces, delete namespaces, create "
        "serviceaccounts, create pods (the cluster engine needs them; see the README)"
    )
    assert proc.stdout == ""


def test_an_unreachable_cluster_and_a_bad_kubeconfig_are_one_line(tmp_path: Path, cluster: LocalCluster) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    with socket.socket() as closed:  # a port nothing listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
        gone = tmp_path / "gone.kubeconfig"
        gone.write_text(yaml.safe_dump(config))
        pod = tmp_path / "pod.yaml"
        pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
        proc = _pssgen("check", str(pod), "--engine", "cluster", "--kubeconfig", str(gone))
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"pssgen: error: cannot reach the API server at https://127.0.0.1:{port}: ")
    missing = _pssgen("check", str(pod), "--engine", "cluster", "--kubeconfig", str(tmp_path / "none"))
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"pssgen: error: cannot load {tmp_path / 'none'}: ")
    assert len(missing.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted (SIGINT)")],
    ids=["SIGTERM", "SIGINT"],
)
def test_an_interrupted_run_deletes_its_namespaces(
    cluster: LocalCluster, tmp_path: Path, signum: signal.Signals, code: int, said: str
) -> None:
    many = tmp_path / "many.yaml"
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "c", "image": "i"}]}}
    many.write_text(yaml.safe_dump_all([{**pod, "metadata": {"name": f"p{i}"}} for i in range(20_000)]))
    proc = subprocess.Popen(
        [PSSGEN, "check", str(many), "--engine", "cluster", "--kubeconfig", str(cluster.kubeconfig)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not [ns for ns in _managed_namespaces(cluster) if ns.metadata.deletion_timestamp is None]:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it made a namespace"
            time.sleep(0.2)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert said in err
    assert _all_deleted(cluster)


def test_conformance_engine_cluster_parts_from_the_oracle_only_where_the_api_server_does(
    cluster: LocalCluster, tmp_path: Path, oracle_process: Oracle
) -> None:
    """``pssgen conformance --engine cluster`` on upstream's newest fixtures: it agrees with the pinned PSA except
    on the objects the API server refuses before admission (named, "not judged") or rewords by defaulting, both
    found by asking the API server; on a corpus of the rest it agrees and exits 0."""
    corpus = tmp_path / "corpus"
    for level in ("baseline", "restricted"):
        shutil.copytree(upstream_corpus_dir() / level / f"v1.{NEWEST_MINOR}", corpus / level / f"v1.{NEWEST_MINOR}")
    api = cluster.api_client()
    refused, reworded = set(), set()
    for path in sorted(corpus.rglob("*.yaml")):
        level, version, expect = path.relative_to(corpus).parts[:3]
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
        where = object_path(obj, "pssgen-stored")
        assert where is not None
        stored = dry_run(api, where, creatable(obj, "pssgen-stored"))
        case = f"{level}/{version}/{expect}/{path.stem}"
        if stored.object is None:
            refused.add(case)
        elif oracle_process.evaluate(stored.object, level, version) != oracle_process.evaluate(obj, level, version):
            reworded.add(case)
    assert refused and len(refused) + len(reworded) < 30
    proc = _pssgen("conformance", "--engine", "cluster", "--kubeconfig", str(cluster.kubeconfig),
                   "--corpus", str(corpus), "--output", "json")  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)["engines"]["cluster"]
    parted = {line.split(" [cluster]")[0]: line for line in report["disagreements"]}
    assert set(parted) == refused | reworded
    assert all("not judged: the API server refused it (HTTP 422)" in parted[case] for case in refused)
    assert report["total"] - report["agreed"] == len(parted)
    assert _all_deleted(cluster)

    for case in refused | reworded:
        (corpus / f"{case}.yaml").unlink()
    agreed = _pssgen("conformance", "--engine", "cluster", "--kubeconfig", str(cluster.kubeconfig),
                     "--corpus", str(corpus))  # fmt: skip
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert agreed.stdout.rstrip().endswith("engines cluster agree with upstream PSA")
    print(f"\nconformance --engine cluster: {report['total']} cases, {len(refused)} refused by the API server, "
          f"{len(reworded)} reworded by its defaulting")  # fmt: skip


def test_a_cluster_without_podsecurity_is_refused_as_a_judge(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
    with LocalCluster(apiserver_args=("--disable-admission-plugins=PodSecurity",)) as bare:
        proc = _pssgen("check", str(pod), "--engine", "cluster", "--kubeconfig", str(bare.kubeconfig))
        assert proc.returncode == 2
        (line,) = proc.stderr.splitlines()
        assert line == (
            f"pssgen: error: {bare.server} admitted a privileged Pod in a namespace labelled "
            "pod-security.kubernetes.io/enforce=restricted: it runs no PodSecurity admission, or exempts this user"
        )
        assert _all_deleted(bare)


def test_pssgen_cluster_prints_a_kubeconfig_kubectl_uses_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    kubectl = tools.require(tools.KUBECTL)
    proc = subprocess.Popen([PSSGEN, "cluster"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until it is up (or gone)
        assert line.startswith("export KUBECONFIG="), proc.stderr.read() if proc.stderr else ""
        kubeconfig = line.strip().split("=", 1)[1]
        workdir = Path(kubeconfig).parent
        pod = tmp_path / "pod.yaml"
        pod.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: privileged}\n"
            "spec: {containers: [{name: app, image: registry.k8s.io/pause:3.10,\n"
            "                     securityContext: {privileged: true}}]}\n"
        )
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        # Both judges read the namespace's labels: built-in PSA and the bundle each warn with PSA's words.
        labelled = subprocess.run([str(kubectl), "label", "namespace", "default",
                                   "pod-security.kubernetes.io/warn=baseline"], capture_output=True, text=True,
                                  env=env, timeout=60, check=False)  # fmt: skip
        assert labelled.returncode == 0, labelled.stderr
        warned = subprocess.run([str(kubectl), "apply", "--dry-run=server", "-f", str(pod)], capture_output=True,
                                text=True, env=env, timeout=60, check=False)  # fmt: skip
        assert warned.returncode == 0, warned.stderr
        psa = 'would violate PodSecurity "baseline:latest": privileged (container "app" must not set'
        assert f"Warning: {psa}" in warned.stderr
        assert f"Warning: [pod-security-warn] {psa}" in warned.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert err.strip().endswith("pssgen: stopped the local cluster")
    assert not workdir.exists()
