"""From a manifest to the pod PSA evaluates: metadata, spec and the containers it visits.

PSA evaluates Pods directly and the pod-template workloads through their
template. Offline manifests have not been through the API server, so the two
defaults PSA's fixtures and a real cluster rely on are applied here: a volume
with no source is an emptyDir, and a Pod (not a template, since v1.28) with
``hostNetwork: true`` gets ``hostPort = containerPort`` on every port that
leaves it unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Kinds PSA evaluates through their pod template, and where the template sits.
TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "ReplicationController": ("spec", "template"),
    "PodTemplate": ("template",),
    "ReplicaSet": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
EVALUATED_KINDS: frozenset[str] = frozenset({"Pod", *TEMPLATE_PATHS})

# The API group of every evaluated kind (all at version v1), for apiVersion and Gatekeeper's match.
API_GROUPS: Mapping[str, str] = {
    "Pod": "",
    "ReplicationController": "",
    "PodTemplate": "",
    "ReplicaSet": "apps",
    "Deployment": "apps",
    "StatefulSet": "apps",
    "DaemonSet": "apps",
    "Job": "batch",
    "CronJob": "batch",
}

# Every volume source field of core/v1 VolumeSource.
VOLUME_SOURCES: tuple[str, ...] = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs",
    "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
    "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral",
    "image",
)  # fmt: skip

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class PodView:
    """The parts of a pod every check reads, computed once per object."""

    annotations: Mapping[str, Any]
    spec: Mapping[str, Any]
    security_context: Mapping[str, Any] | None  # spec.securityContext; None is Go's nil
    containers: tuple[Mapping[str, Any], ...]  # init, then regular, then ephemeral: PSA's visit order
    volumes: tuple[Mapping[str, Any], ...]  # defaulted


def pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object holding ``metadata`` and ``spec`` that PSA evaluates, or None if there is none."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj
    path = TEMPLATE_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None:
        return None
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node if isinstance(node, Mapping) else None


def _default_host_ports(container: Mapping[str, Any]) -> Mapping[str, Any]:
    ports = container.get("ports")
    if not ports or all(p.get("hostPort") for p in ports):
        return container
    defaulted = [p if p.get("hostPort") else {**p, "hostPort": p.get("containerPort", 0)} for p in ports]
    return {**container, "ports": defaulted}


def pod_view(obj: Mapping[str, Any]) -> PodView | None:
    """The defaulted pod for a Pod or workload, or None for kinds PSA does not evaluate."""
    template = pod_template(obj)
    if template is None:
        return None
    metadata = template.get("metadata") or _EMPTY
    spec = template.get("spec") or _EMPTY
    init = spec.get("initContainers") or ()
    regular = spec.get("containers") or ()
    if obj.get("kind") == "Pod" and spec.get("hostNetwork") is True:
        init = [_default_host_ports(c) for c in init]
        regular = [_default_host_ports(c) for c in regular]
    containers = (*init, *regular, *(spec.get("ephemeralContainers") or ()))
    volumes = tuple(
        v if any(v.get(src) is not None for src in VOLUME_SOURCES) else {**v, "emptyDir": {}}
        for v in spec.get("volumes") or ()
    )
    return PodView(
        annotations=metadata.get("annotations") or _EMPTY,
        spec=spec,
        security_context=spec.get("securityContext"),
        containers=containers,
        volumes=volumes,
    )
