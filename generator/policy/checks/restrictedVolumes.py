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
from generator.policy.model import Check, CheckVersion, Forbidden
from generator.policy.pod import PodView

# The volume sources the restricted profile allows, sorted.
VOLUME_TYPES: tuple[str, ...] = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
    "projected", "secret",
)  # fmt: skip
# The restricted sources in the order upstream tests for them: a volume is reported under the
# first one it sets, or "unknown" if it sets none.
REPORTED_TYPES: tuple[str, ...] = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
    "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)  # fmt: skip
UNKNOWN_TYPE = "unknown"

_VOLUME_TYPES = frozenset(VOLUME_TYPES)


def _reported_type(volume: Mapping[str, Any]) -> str:
    for source in REPORTED_TYPES:
        if volume.get(source) is not None:
            return source
    return UNKNOWN_TYPE


def restrictedVolumes_1_0(pod: PodView) -> Forbidden | None:
    bad: list[str] = []
    bad_types: set[str] = set()
    for volume in pod.volumes:
        # The allowed test comes first: a volume that also sets an allowed source passes.
        for key, value in volume.items():
            if value is not None and key in _VOLUME_TYPES:
                break
        else:
            bad.append(volume.get("name") or "")
            bad_types.add(_reported_type(volume))
    if not bad:
        return None
    return Forbidden(
        "restricted volume types",
        f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
        f"{pluralize('uses', 'use', len(bad))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(bad_types))} "
        f"{join_quote(sorted(bad_types))}",
    )


CHECK = Check(
    id="restrictedVolumes",
    level="restricted",
    control="Volume Types",
    fields=tuple(f"spec.volumes[*].{source}" for source in REPORTED_TYPES),
    overrides=("hostPathVolumes",),
    versions=(
        CheckVersion(
            0,
            "restrictedVolumes_1_0",
            restrictedVolumes_1_0,
            allowed={"volume_types": VOLUME_TYPES, "reported_types": REPORTED_TYPES},
            change="Forbids every volume source but the nine allowed ones, hostPath included.",
        ),
    ),
    doc=__doc__ or "",
)
