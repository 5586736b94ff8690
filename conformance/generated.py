"""Varied pods of the project's own, beyond the upstream fixtures.

Seeded and deterministic: each pod mixes random settings for every check's
fields across init, regular and ephemeral containers, including values the
upstream corpus never uses (ephemeral containers, AppArmor fields, Windows pods,
``hostUsers: false``, odd annotation values that need Go quoting), and some are
wrapped in workload kinds. They are evaluated at every version where any check
changes, and on both sides of each change.
"""

from __future__ import annotations

import random
from typing import Any

from generator.policy.pod import API_GROUPS, TEMPLATE_PATHS
from generator.policy.versions import NEWEST_MINOR

# Both sides of every behaviour change, plus latest and a version above the newest.
_MINORS = {0, 7, 8, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, NEWEST_MINOR}
VERSIONS: tuple[str, ...] = (*(f"v1.{m}" for m in sorted(_MINORS)), "latest", f"v1.{NEWEST_MINOR + 3}")
LEVELS: tuple[str, ...] = ("baseline", "restricted")

CAPS = ["CHOWN", "NET_BIND_SERVICE", "NET_RAW", "SYS_ADMIN", "chown", "ALL", "KILL", "CAP_CHOWN", "SETUID"]
SYSCTLS = [
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
    "kernel.msgmax", "net.core.somaxconn", "net.ipv4.ping_group_range",
]  # fmt: skip
SECCOMP_TYPES = ["RuntimeDefault", "Localhost", "Unconfined", "", "Other"]
APPARMOR_TYPES = ["RuntimeDefault", "Localhost", "Unconfined", ""]
ANNOTATION_VALUES = [
    "runtime/default", "docker/default", "localhost/x", "localhost/", "unconfined", "", 'we"ird\n', "tab\there",
]  # fmt: skip
SELINUX_TYPES = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t", "spc_t", "bad"]
VOLUME_SOURCES = [
    {"emptyDir": {}}, {"configMap": {"name": "c"}}, {"secret": {"secretName": "s"}},
    {"hostPath": {"path": "/"}}, {"nfs": {"server": "x", "path": "/"}}, {"gitRepo": {"repository": "r"}},
    {"image": {"reference": "r"}}, {"persistentVolumeClaim": {"claimName": "p"}}, {}, {"rbd": {"image": "x"}},
    {"csi": {"driver": "d"}}, {"flexVolume": {"driver": "d"}},
]  # fmt: skip
HOSTS = ["", "a.com", "b.com", "localhost", "127.0.0.1"]


def _maybe(rng: random.Random, p: float = 0.25) -> bool:
    return rng.random() < p


def _security_context(rng: random.Random) -> dict[str, Any] | None:
    if _maybe(rng, 0.15):
        return None
    sc: dict[str, Any] = {}
    if _maybe(rng, 0.6):
        sc["allowPrivilegeEscalation"] = rng.random() < 0.75
    if _maybe(rng, 0.12):
        sc["privileged"] = rng.choice([True, False])
    if _maybe(rng, 0.5):
        caps: dict[str, Any] = {}
        if _maybe(rng, 0.7):
            caps["drop"] = rng.sample(["ALL", "NET_RAW", "all"], rng.randint(0, 2)) or ["ALL"]
        if _maybe(rng, 0.35):
            caps["add"] = rng.sample(CAPS, rng.randint(1, 3))
        sc["capabilities"] = caps
    if _maybe(rng, 0.3):
        sc["runAsNonRoot"] = rng.random() < 0.7
    if _maybe(rng, 0.2):
        sc["runAsUser"] = rng.choice([0, 1000, 65534])
    if _maybe(rng, 0.15):
        sc["procMount"] = rng.choice(["Default", "Unmasked", "other"])
    if _maybe(rng, 0.25):
        sc["seccompProfile"] = {"type": rng.choice(SECCOMP_TYPES)} if not _maybe(rng, 0.1) else {}
    if _maybe(rng, 0.12):
        sc["appArmorProfile"] = {"type": rng.choice(APPARMOR_TYPES)}
    if _maybe(rng, 0.15):
        sc["seLinuxOptions"] = _selinux(rng)
    if _maybe(rng, 0.08):
        sc["windowsOptions"] = {"hostProcess": rng.choice([True, False])}
    return sc


def _selinux(rng: random.Random) -> dict[str, str]:
    opts = {"type": rng.choice(SELINUX_TYPES)}
    if _maybe(rng, 0.2):
        opts["user"] = rng.choice(["", "u"])
    if _maybe(rng, 0.2):
        opts["role"] = rng.choice(["", "r"])
    if _maybe(rng, 0.2):
        opts["level"] = "s0:c1"
    return opts


def _handler(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["httpGet", "tcpSocket", "exec", "grpc"])
    if kind == "exec":
        return {"exec": {"command": ["true"]}}
    if kind == "grpc":
        return {"grpc": {"port": 1}}
    handler: dict[str, Any] = {"port": 8080}
    if _maybe(rng, 0.6):
        handler["host"] = rng.choice(HOSTS)
    return {kind: handler}


def _port(rng: random.Random) -> dict[str, int]:
    port = {"containerPort": rng.choice([80, 8080])}
    if _maybe(rng, 0.7):
        port["hostPort"] = rng.choice([0, 9, 10, 100])
    return port


def _container(rng: random.Random, name: str, ephemeral: bool) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "registry.k8s.io/pause"}
    sc = _security_context(rng)
    if sc is not None:
        c["securityContext"] = sc
    if not ephemeral and _maybe(rng, 0.2):
        c["ports"] = [_port(rng) for _ in range(rng.randint(1, 3))]
    if not ephemeral and _maybe(rng, 0.15):
        c[rng.choice(["livenessProbe", "readinessProbe", "startupProbe"])] = _handler(rng)
    if not ephemeral and _maybe(rng, 0.1):
        c["lifecycle"] = {rng.choice(["postStart", "preStop"]): _handler(rng)}
    return c


def _pod_spec(rng: random.Random) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    names = iter(f"c{i}" for i in range(100))
    if _maybe(rng, 0.5):
        spec["initContainers"] = [_container(rng, f"init-{next(names)}", False) for _ in range(rng.randint(1, 2))]
    spec["containers"] = [_container(rng, next(names), False) for _ in range(rng.randint(1, 3))]
    if _maybe(rng, 0.3):
        spec["ephemeralContainers"] = [_container(rng, f"debug-{next(names)}", True) for _ in range(rng.randint(1, 2))]
    psc: dict[str, Any] = {}
    if _maybe(rng, 0.6):
        psc["runAsNonRoot"] = rng.random() < 0.8
    if _maybe(rng, 0.5):
        psc["seccompProfile"] = {"type": rng.choice(SECCOMP_TYPES)}
    if _maybe(rng, 0.15):
        psc["runAsUser"] = rng.choice([0, 1000])
    if _maybe(rng, 0.1):
        psc["appArmorProfile"] = {"type": rng.choice(APPARMOR_TYPES)}
    if _maybe(rng, 0.12):
        psc["seLinuxOptions"] = _selinux(rng)
    if _maybe(rng, 0.15):
        psc["sysctls"] = [{"name": rng.choice(SYSCTLS), "value": "1"} for _ in range(rng.randint(1, 3))]
    if _maybe(rng, 0.06):
        psc["windowsOptions"] = {"hostProcess": True}
    if psc or _maybe(rng, 0.1):
        spec["securityContext"] = psc
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if _maybe(rng, 0.07):
            spec[field] = rng.choice([True, False])
    if _maybe(rng, 0.15):
        spec["hostUsers"] = rng.choice([True, False, False])
    if _maybe(rng, 0.15):
        spec["os"] = {"name": rng.choice(["windows", "linux", "Windows"])}
    if _maybe(rng, 0.3):
        spec["volumes"] = [{"name": f"v{i}", **rng.choice(VOLUME_SOURCES)} for i in range(rng.randint(1, 3))]
    return spec


def _clean_spec(rng: random.Random) -> dict[str, Any]:
    """A pod restricted:latest allows, with at most one setting changed at random."""
    safe = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {"name": f"c{i}", "image": "x", "securityContext": dict(safe)} for i in range(rng.randint(1, 3))
        ],
    }
    if _maybe(rng, 0.4):
        spec["initContainers"] = [{"name": "init", "image": "x", "securityContext": dict(safe)}]
    if _maybe(rng, 0.6):
        noisy = _pod_spec(rng)
        field = rng.choice(sorted(noisy))
        if field in ("containers", "initContainers", "ephemeralContainers"):
            target = rng.choice(spec["containers"])
            extra = noisy[field][0].get("securityContext") or {}
            if extra:
                key = rng.choice(sorted(extra))
                target["securityContext"] = {**target["securityContext"], key: extra[key]}
        else:
            spec[field] = noisy[field]
    return spec


def _annotations(rng: random.Random, spec: dict[str, Any]) -> dict[str, str]:
    names = [c["name"] for k in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(k, [])]
    ann: dict[str, str] = {}
    if _maybe(rng, 0.15):
        ann["seccomp.security.alpha.kubernetes.io/pod"] = rng.choice(ANNOTATION_VALUES)
    if _maybe(rng, 0.15):
        name = rng.choice([*names, "ghost"])
        ann[f"container.seccomp.security.alpha.kubernetes.io/{name}"] = rng.choice(ANNOTATION_VALUES)
    if _maybe(rng, 0.15):
        name = rng.choice([*names, "ghost", ""])
        ann[f"container.apparmor.security.beta.kubernetes.io/{name}"] = rng.choice(ANNOTATION_VALUES)
    return ann


def generated_objects(count: int = 400, seed: int = 20261126) -> list[tuple[str, dict[str, Any]]]:
    """``count`` (name, object) pairs; about one in five is a workload wrapping the pod."""
    rng = random.Random(seed)
    objects = []
    for i in range(count):
        spec = _clean_spec(rng) if _maybe(rng, 0.45) else _pod_spec(rng)
        metadata: dict[str, Any] = {"name": f"gen{i}"}
        ann = _annotations(rng, spec)
        if ann:
            metadata["annotations"] = ann
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
        if _maybe(rng, 0.2):
            kind = rng.choice(sorted(TEMPLATE_PATHS))
            objects.append((f"gen{i}-{kind}", _wrap(kind, metadata, spec)))
        else:
            objects.append((f"gen{i}", pod))
    return objects


def _wrap(kind: str, metadata: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` as the pod template of a ``kind`` an API server would accept (a selector, a Job's restart policy, a
    CronJob's schedule: fields no check reads), so the in-cluster suite can judge it too."""
    labels = {"app": metadata["name"]}
    template_meta = {**{k: v for k, v in metadata.items() if k != "name"}, "labels": labels}
    if kind in ("Job", "CronJob") and spec.get("restartPolicy") not in ("Never", "OnFailure"):
        spec = {**spec, "restartPolicy": "Never"}
    template: dict[str, Any] = {"metadata": template_meta, "spec": spec}
    group = API_GROUPS[kind]
    api_version = f"{group}/v1" if group else "v1"
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": metadata["name"]}}
    node = obj
    path = TEMPLATE_PATHS[kind]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = template
    if kind in ("ReplicaSet", "Deployment", "StatefulSet", "DaemonSet"):
        obj["spec"]["selector"] = {"matchLabels": labels}
    elif kind == "ReplicationController":
        obj["spec"]["selector"] = labels
    elif kind == "CronJob":
        obj["spec"]["schedule"] = "@daily"
    return obj
