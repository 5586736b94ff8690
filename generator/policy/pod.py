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
_SOURCES = frozenset(VOLUME_SOURCES)


@dataclass(slots=True)
class PodView:
    """The parts of a pod every check reads, computed once per object (and not changed after: the checks are
    pure; not frozen only because a frozen dataclass costs more to build than many checks cost to run)."""

    annotations: Mapping[str, Any]
    spec: Mapping[str, Any]
    security_context: Mapping[str, Any] | None  # spec.securityContext; None is Go's nil
    containers: tuple[Mapping[str, Any], ...]  # init, then regular, then ephemeral: PSA's visit order
    volumes: tuple[Mapping[str, Any], ...]  # defaulted
    # Each container with its securityContext, in ``containers``' order, an empty one for nil: every check reads a
    # nil securityContext as one that sets nothing, as Go reads a nil pointer's fields through PSA's nil checks.
    container_contexts: tuple[tuple[Mapping[str, Any], Mapping[str, Any]], ...]
    # Every field some container's securityContext holds (null or not): a check reading only fields outside it
    # finds them all nil in every container, without walking the containers.
    context_fields: frozenset[str]


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


def _defaulted_volumes(volumes: list[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """The API's default for a volume with no source: an emptyDir."""
    defaulted = list(volumes)
    for i, volume in enumerate(volumes):
        for key, value in volume.items():
            if value is not None and key in _SOURCES:
                break
        else:
            defaulted[i] = {**volume, "emptyDir": {}}
    return tuple(defaulted)


def pod_view(obj: Mapping[str, Any]) -> PodView | None:
    """The defaulted pod for a Pod or workload, or None for kinds PSA does not evaluate."""
    template = pod_template(obj)
    if template is None:
        return None
    return template_view(template, is_pod=obj.get("kind") == "Pod")


def template_view(template: Mapping[str, Any], *, is_pod: bool) -> PodView:
    """The defaulted pod of ``template`` (a Pod itself when ``is_pod``, which gets hostNetwork's port default)."""
    metadata = template.get("metadata") or _EMPTY
    spec = template.get("spec") or _EMPTY
    init = spec.get("initContainers") or ()
    regular = spec.get("containers") or ()
    if is_pod and spec.get("hostNetwork") is True:
        init = [_default_host_ports(c) for c in init]
        regular = [_default_host_ports(c) for c in regular]
    containers = (*init, *regular, *(spec.get("ephemeralContainers") or ()))
    contexts = [c.get("securityContext") or _EMPTY for c in containers]
    volumes = spec.get("volumes")
    return PodView(
        metadata.get("annotations") or _EMPTY,
        spec,
        spec.get("securityContext"),
        containers,
        _defaulted_volumes(volumes) if volumes else (),
        tuple(zip(containers, contexts)),  # noqa: B905 -- the same length by construction; strict= costs a third more
        frozenset().union(*contexts),
    )
