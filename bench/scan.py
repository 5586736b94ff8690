"""Throughput and peak memory of ``pssgen check`` on a whole-cluster export, as users run it.

Usage: python bench/scan.py [--objects N] [--formats yaml,json] [--jobs J,...] [--outputs O,...]
                            [--keep DIR [--write-only]]

Generates (into a temporary directory) what ``kubectl get -A -o yaml`` writes
for a busy cluster: ONE ``kind: List`` document, keys sorted, holding N objects
(mostly Pods of 2-4 containers with resources, probes, env and volumes, plus
Deployments, ReplicaSets, DaemonSets, Jobs, CronJobs, Services, ConfigMaps and
Namespaces carrying Pod Security labels; some violate), and with ``--formats
json`` the same objects as ``kubectl get -A -o json`` writes them. Then it runs
``pssgen check`` on it as a subprocess with the python engine, JSON and text
output, with and without ``--namespace-labels``, and prints objects/s and the
child's peak RSS (``ru_maxrss``). The goal is >= 2,000 objects/s and < 500 MB
for 100,000 objects; the figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml

PSS = "pod-security.kubernetes.io/"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """kubectl never writes anchors: every shared dict is written out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# The share of each kind in a generated export, in per mille; Pods take the rest.
MIX = {"Deployment": 40, "ReplicaSet": 80, "DaemonSet": 10, "Job": 20, "CronJob": 10,
       "Service": 60, "ConfigMap": 80}  # fmt: skip
NAMESPACE_EVERY = 400  # one Namespace per this many objects
PROTOTYPES = 64  # distinct shapes per kind; names, namespaces and uids differ per object


def _uid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _container(rng: random.Random, name: str, violating: bool) -> dict[str, Any]:
    port = rng.choice([8080, 8443, 9090, 3000, 5432])
    probe = {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"}, "initialDelaySeconds": 5,
             "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}  # fmt: skip
    container: dict[str, Any] = {
        "name": name,
        "image": f"registry.example.com/team-{rng.randint(1, 40)}/{name}:v{rng.randint(1, 9)}.{rng.randint(0, 30)}.0",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}],
        "env": [{"name": f"ENV_{i}", "value": f"value-{rng.randint(0, 10**6)}"} for i in range(rng.randint(2, 5))]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
           {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
        "resources": {"limits": {"cpu": f"{rng.randint(1, 4)}", "memory": f"{rng.choice([256, 512, 1024])}Mi"},
                      "requests": {"cpu": f"{rng.randint(50, 500)}m", "memory": f"{rng.choice([64, 128, 256])}Mi"}},
        "livenessProbe": probe,
        "readinessProbe": dict(probe, initialDelaySeconds=2),
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True},
                         {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                          "readOnly": True}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }  # fmt: skip
    security: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    if violating:
        security = rng.choice([
            {"privileged": True},
            {"allowPrivilegeEscalation": True, "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}},
            {"runAsUser": 0},
            {"capabilities": {"add": ["NET_RAW"]}},
        ])  # fmt: skip
        if rng.random() < 0.3:
            container["ports"][0]["hostPort"] = port
    container["securityContext"] = security
    return container


def _pod_spec(rng: random.Random, violating: bool) -> dict[str, Any]:
    names = ["app", "sidecar", "proxy", "metrics", "log-shipper"]
    count = rng.randint(2, 4)
    containers = [_container(rng, names[i], violating and i == count - 1) for i in range(count)]
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                            "fsGroup": 2000},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "tolerationSeconds": 300},
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": "app-config", "defaultMode": 420}},
            {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]}},
            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }  # fmt: skip
    if violating and rng.random() < 0.3:
        spec["volumes"].append({"name": "host-logs", "hostPath": {"path": "/var/log", "type": "Directory"}})
        spec["hostNetwork"] = True
    return spec


def _metadata(kind: str) -> dict[str, Any]:
    return {
        "name": "__NAME__",
        "namespace": "__NS__",
        "uid": "__UID__",
        "resourceVersion": "__RV__",
        "creationTimestamp": "2026-05-04T10:11:12Z",
        "labels": {"app.kubernetes.io/name": "__APP__", "app.kubernetes.io/part-of": "shop", "tier": "backend"},
        "annotations": {"example.com/owner": "team-__APP__", "example.com/kind": kind.lower()},
    }


def _status(spec: dict[str, Any]) -> dict[str, Any]:
    conditions = [{"lastProbeTime": None, "lastTransitionTime": "2026-05-04T10:11:15Z", "status": "True", "type": t}
                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]  # fmt: skip
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": "10.0.3.17",
        "podIP": "10.244.7.31",
        "podIPs": [{"ip": "10.244.7.31"}],
        "qosClass": "Burstable",
        "startTime": "2026-05-04T10:11:12Z",
        "containerStatuses": [
            {"name": c["name"], "image": c["image"], "imageID": f"{c['image']}@sha256:{'ab' * 32}", "ready": True,
             "restartCount": 0, "started": True, "containerID": f"containerd://{'cd' * 32}",
             "state": {"running": {"startedAt": "2026-05-04T10:11:14Z"}}}
            for c in spec["containers"]
        ],
    }  # fmt: skip


def _template(rng: random.Random, violating: bool) -> dict[str, Any]:
    return {"metadata": {"labels": {"app.kubernetes.io/name": "__APP__"}}, "spec": _pod_spec(rng, violating)}


def prototype(kind: str, rng: random.Random, violating: bool) -> dict[str, Any]:
    """One object of ``kind`` with placeholders (``__NAME__``, ``__NS__``, ...) filled per copy."""
    api = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1",
           "CronJob": "batch/v1"}.get(kind, "v1")  # fmt: skip
    obj: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": _metadata(kind)}
    selector = {"matchLabels": {"app.kubernetes.io/name": "__APP__"}}
    if kind == "Pod":
        obj["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "__APP__-7d9f",
                "uid": "__UID__",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        obj["spec"] = _pod_spec(rng, violating)
        obj["spec"]["nodeName"] = f"node-{rng.randint(1, 50)}"
        obj["status"] = _status(obj["spec"])
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        obj["spec"] = {"selector": selector, "template": _template(rng, violating)}
        if kind != "DaemonSet":
            obj["spec"]["replicas"] = rng.randint(1, 5)
        obj["status"] = {"observedGeneration": 3, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    elif kind == "Job":
        obj["spec"] = {"backoffLimit": 6, "completions": 1, "parallelism": 1, "template": _template(rng, violating)}
        obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    elif kind == "CronJob":
        job = {"template": _template(rng, violating)}
        job["template"]["spec"]["restartPolicy"] = "OnFailure"
        obj["spec"] = {"schedule": "*/15 * * * *", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": job}}
    elif kind == "Service":
        obj["spec"] = {"type": "ClusterIP", "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"],
                       "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                       "selector": {"app.kubernetes.io/name": "__APP__"}, "sessionAffinity": "None"}  # fmt: skip
    elif kind == "ConfigMap":
        obj["data"] = {f"key-{i}": f"value {i}\n" * rng.randint(1, 4) for i in range(rng.randint(2, 6))}
        obj["data"]["app.properties"] = "log.level=info\nfeature.x=true\n"
    return obj


def _item_text(obj: dict[str, Any], fmt: str = "yaml") -> str:
    """The object as one item of kubectl's List, keys sorted: ``- apiVersion: ...``, or JSON indented as in
    ``kubectl get -o json`` (four spaces, the item at depth two, no separating comma)."""
    if fmt == "json":
        return textwrap.indent(json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False), " " * 8)
    return yaml.dump([obj], Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=10**6)


def namespace_text(name: str, rng: random.Random, fmt: str = "yaml") -> str:
    level = rng.choice(["restricted", "restricted", "baseline", "privileged"])
    labels = {"kubernetes.io/metadata.name": name, PSS + "enforce": level, PSS + "warn": "restricted",
              PSS + "audit": "restricted"}  # fmt: skip
    if rng.random() < 0.5:
        labels[PSS + "enforce-version"] = f"v1.{rng.randint(25, 37)}"
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}  # fmt: skip
    return _item_text(obj, fmt)


def write_export(path: Path, objects: int, seed: int = 1, fmt: str = "yaml") -> int:
    """Write a kubectl-style List of ``objects`` items to ``path``; returns its size in bytes.

    ``fmt`` "yaml" is ``kubectl get -o yaml``'s layout, "json" ``kubectl get -o json``'s; with the same seed both
    hold the same objects, so the two formats can be timed on the same input.
    """
    rng = random.Random(seed)
    kinds = [k for k, share in MIX.items() for _ in range(share)]
    kinds += ["Pod"] * (1000 - len(kinds))
    texts = {
        kind: [_item_text(prototype(kind, rng, violating=rng.random() < 0.15), fmt) for _ in range(PROTOTYPES)]
        for kind in sorted({*kinds})  # sorted: set order changes from run to run
    }
    namespaces = [f"team-{i:03d}" for i in range(max(2, objects // NAMESPACE_EVERY))]
    version = "'{}'" if fmt == "yaml" else "{}"  # the placeholder is a plain scalar in YAML, inside quotes in JSON
    separator = "" if fmt == "yaml" else ",\n"
    with path.open("w", encoding="utf-8") as out:
        out.write("apiVersion: v1\nitems:\n" if fmt == "yaml" else '{\n    "apiVersion": "v1",\n    "items": [\n')
        written = 0
        while written < objects - len(namespaces):
            text = rng.choice(texts[rng.choice(kinds)])
            app = f"svc-{rng.randint(0, 999)}"
            text = (text.replace("__NAME__", f"{app}-{written:06d}").replace("__NS__", rng.choice(namespaces))
                    .replace("__UID__", _uid(rng)).replace("__RV__", version.format(written + 1000))
                    .replace("__APP__", app))  # fmt: skip
            out.write((separator if written else "") + text)
            written += 1
        for i, name in enumerate(namespaces):  # last, as `kubectl get pods,deploy,...,ns -A` lists them
            out.write((separator if written or i else "") + namespace_text(name, rng, fmt))
        if fmt == "yaml":
            out.write('kind: List\nmetadata:\n  resourceVersion: ""\n')
        else:
            out.write('\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')
    return path.stat().st_size


# ---------------------------------------------------------------- running pssgen

_CHILD = """
import resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(proc.returncode, elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, len(proc.stderr.splitlines()))
"""  # a fresh parent per run: RUSAGE_CHILDREN's ru_maxrss is the largest child it ever waited for


def run(export: Path, objects: int, output: str, namespace_labels: bool, jobs: int) -> None:
    """One ``pssgen check`` of the export: objects/s, CPU time, peak RSS (of the largest process, main or worker).

    CPU seconds (of every process of the run) say what a run costs whatever else the machine is doing; objects/s
    is what a user waits for, and on a shared machine depends on the load printed beside it.
    """
    args = [sys.executable, "-c", "from generator.cli import main; main()", "check", str(export),
            "--engine", "python", "--output", output, "--jobs", str(jobs)]  # fmt: skip
    if namespace_labels:
        args.append("--namespace-labels")
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was before the run
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=True).stdout
    code, elapsed, peak, cpu, stderr_lines = out.split()
    label = f"--output {output:<4} {'--namespace-labels' if namespace_labels else '':<18} --jobs {jobs}"
    print(
        f"{label}  {objects / float(elapsed):>8,.0f} objects/s  {float(elapsed):>7.1f} s  cpu {float(cpu):>6.1f} s  "
        f"peak {int(peak) / 1024:>6,.0f} MB  exit {code}  stderr lines {stderr_lines}  (load before: {load:.1f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000, help="objects in the generated List")
    parser.add_argument("--formats", default="yaml", help="comma-separated layouts to write and time: yaml, json")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to time")
    parser.add_argument("--outputs", default="json,text", help="comma-separated --output values to time")
    parser.add_argument("--keep", type=Path, help="write the export here (and keep it) instead of a temporary dir")
    parser.add_argument("--write-only", action="store_true", help="only write the export (with --keep), time nothing")
    args = parser.parse_args()
    if args.write_only and args.keep is None:
        parser.error("--write-only needs --keep DIR")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            export = (args.keep or Path(tmp)) / f"cluster-{args.objects}.{fmt}"
            started = time.perf_counter()
            size = write_export(export, args.objects, fmt=fmt)
            print(
                f"{export.name}: {args.objects:,} objects in one kind: List, {size / 2**20:,.0f} MiB "
                f"({size / args.objects / 1024:.1f} KiB/object), written in {time.perf_counter() - started:.0f} s; "
                f"{os.cpu_count()} CPUs",
                flush=True,
            )
            if args.write_only:
                continue
            for jobs in (int(j) for j in args.jobs.split(",")):
                for output in args.outputs.split(","):
                    for namespace_labels in (False, True):
                        run(export, args.objects, output, namespace_labels, jobs)
            if args.keep is None:
                export.unlink()  # a 100,000-object JSON export is 1.7 GB


if __name__ == "__main__":
    main()
