"""Volume Types.

In addition to restricting HostPath volumes, the restricted profile
limits usage of inline pod volume sources to:
* configMap
* downwardAPI
* emptyDir
* projected
* secret
* csi
* persistentVolumeClaim
* ephemeral
* image

**Restricted Fields:**
spec.volumes[*].hostPath,
spec.volumes[*].gcePersistentDisk,
spec.volumes[*].awsElasticBlockStore,
spec.volumes[*].gitRepo,
spec.volumes[*].nfs,
spec.volumes[*].iscsi,
spec.volumes[*].glusterfs,
spec.volumes[*].rbd,
spec.volumes[*].flexVolume,
spec.volumes[*].cinder,
spec.volumes[*].cephfs,
spec.volumes[*].flocker,
spec.volumes[*].fc,
spec.volumes[*].azureFile,
spec.volumes[*].vsphereVolume,
spec.volumes[*].quobyte,
spec.volumes[*].azureDisk,
spec.volumes[*].portworxVolume,
spec.volumes[*].photonPersistentDisk,
spec.volumes[*].scaleIO,
spec.volumes[*].storageos

**Allowed Values:** undefined/null
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.policy.checks._helpers import join_quote, pluralize
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView

UNKNOWN_TYPE = "unknown"


def _reported_type(volume: Mapping[str, Any], reported_types: tuple[str, ...]) -> str:
    for source in reported_types:
        if volume.get(source) is not None:
            return source
    return UNKNOWN_TYPE


def restrictedVolumes_1_0(pod: PodView, allowed: Allowed) -> Forbidden | None:
    volume_types, reported_types = allowed["volume_types"], allowed["reported_types"]
    bad: list[str] = []
    bad_types: set[str] = set()
    for volume in pod.volumes:
        # The allowed test comes first: a volume that also sets an allowed source passes.
        for key, value in volume.items():
            if value is not None and key in volume_types:
                break
        else:
            bad.append(volume.get("name") or "")
            bad_types.add(_reported_type(volume, reported_types))
    if not bad:
        return None
    return Forbidden(
        "restricted volume types",
        f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
        f"{pluralize('uses', 'use', len(bad))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(bad_types))} "
        f"{join_quote(sorted(bad_types))}",
    )


V1_0 = CheckVersion(
    0,
    "restrictedVolumes_1_0",
    restrictedVolumes_1_0,
    rego="restrictedVolumes_1_0",
    allowed={
        # The volume sources the restricted profile allows, sorted.
        "volume_types": (
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "image",
            "persistentVolumeClaim",
            "projected",
            "secret",
        ),
        # The restricted sources in the order upstream tests for them: a volume is reported under the
        # first one it sets, or "unknown" if it sets none.
        "reported_types": (
            "hostPath",
            "gcePersistentDisk",
            "awsElasticBlockStore",
            "gitRepo",
            "nfs",
            "iscsi",
            "glusterfs",
            "rbd",
            "flexVolume",
            "cinder",
            "cephfs",
            "flocker",
            "fc",
            "azureFile",
            "vsphereVolume",
            "quobyte",
            "azureDisk",
            "photonPersistentDisk",
            "portworxVolume",
            "scaleIO",
            "storageos",
        ),
    },
    overrides=("hostPathVolumes",),
    change="Forbids every volume source but the nine allowed ones, hostPath included.",
)

CHECK = Check(
    id="restrictedVolumes",
    level="restricted",
    control="Volume Types",
    reasons=("restricted volume types",),
    fields=tuple(f"spec.volumes[*].{source}" for source in V1_0.allowed["reported_types"]),
    versions=(V1_0,),
    doc=__doc__ or "",
)
