"""Throughput of the Python reference evaluator beside upstream PSA's Go evaluator, on the same pods.

Usage: python bench/evaluator.py [--seconds S]

Prints pods per second (one core) for a typical three-container pod at
restricted:latest, allowed and denied, for the Python evaluator and for PSA's
own EvaluatePod in Go (in process, measured by the oracle's -bench mode, with
and without JSON decoding of the object).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from typing import Any

from generator.parity.oracle import build_oracle
from generator.policy.evaluate import evaluate

SAFE = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}


def typical_pod(denied: bool) -> dict[str, Any]:
    """An init container, an app and a sidecar, with probes, ports and volumes, as real pods have."""

    def container(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": f"registry.example/{name}:1.0",
            "ports": [{"containerPort": 8080, "name": "http"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "securityContext": dict(SAFE),
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
        }

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [container("migrate")],
            "containers": [container("app"), container("proxy")],
            "volumes": [{"name": "config", "configMap": {"name": "web"}}, {"name": "tmp", "emptyDir": {}}],
        },
    }
    if denied:
        sc = pod["spec"]["containers"][1]["securityContext"]
        sc["privileged"] = True
        sc["capabilities"] = {"add": ["NET_ADMIN"]}
    return pod


def python_rate(pod: dict[str, Any], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(1000):
            evaluate(pod, "restricted", "latest")
        count += 1000
    return count / elapsed


def go_rates(pod: dict[str, Any], count: int) -> dict[str, float]:
    request = json.dumps({"object": pod, "level": "restricted", "version": "latest"}) + "\n"
    out = subprocess.run(
        [str(build_oracle()), "-bench", str(count)], input=request, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to time each Python case")
    args = parser.parse_args()
    print("pods/s at restricted:latest, typical 3-container pod (init + app + sidecar), one core")
    print(f"{'case':<10} {'python':>12} {'go PSA eval':>14} {'go decode+eval':>16}")
    for denied in (False, True):
        pod = typical_pod(denied)
        assert evaluate(pod, "restricted", "latest").allowed is not denied
        py = python_rate(pod, args.seconds)
        go = go_rates(pod, 200_000)
        label = "denied" if denied else "allowed"
        eval_only, with_decode = go["eval_pods_per_second"], go["decode_eval_pods_per_second"]
        print(f"{label:<10} {py:>12,.0f} {eval_only:>14,.0f} {with_decode:>16,.0f}")


if __name__ == "__main__":
    main()
