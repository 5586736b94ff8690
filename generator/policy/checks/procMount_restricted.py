"""/proc Mount Type.

The default /proc masks are set up to reduce attack surface, and should be required by the restricted profile.

**Restricted Fields:**
spec.containers[*].securityContext.procMount,
spec.initContainers[*].securityContext.procMount,
spec.ephemeralContainers[*].securityContext.procMount

**Allowed Values:** undefined/null, "Default"
"""

from __future__ import annotations

from generator.policy.checks.procMount import PROC_MOUNT_TYPES, procMount_1_0
from generator.policy.model import Check, CheckVersion

CHECK = Check(
    id="procMount_restricted",
    level="restricted",
    control="/proc Mount Type",
    fields=(
        "spec.containers[*].securityContext.procMount",
        "spec.initContainers[*].securityContext.procMount",
        "spec.ephemeralContainers[*].securityContext.procMount",
    ),
    overrides=("procMount",),
    versions=(
        # Baseline procMount relaxes for user-namespaced pods from v1.35; restricted keeps
        # running the unconditional v1.0 check in its place.
        CheckVersion(
            35,
            "procMount_1_0",
            procMount_1_0,
            allowed={"proc_mount_types": PROC_MOUNT_TYPES},
            change="Keeps forbidding any procMount but Default, even in user-namespaced pods.",
        ),
    ),
    doc=__doc__ or "",
)
