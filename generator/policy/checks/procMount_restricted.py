"""/proc Mount Type.

The default /proc masks are set up to reduce attack surface, and should be required by the restricted profile.

**Restricted Fields:**
spec.containers[*].securityContext.procMount,
spec.initContainers[*].securityContext.procMount,
spec.ephemeralContainers[*].securityContext.procMount

**Allowed Values:** undefined/null, "Default"
"""

from __future__ import annotations

from dataclasses import replace

from generator.policy.checks import procMount
from generator.policy.model import Check

CHECK = Check(
    id="procMount_restricted",
    level="restricted",
    control="/proc Mount Type",
    reasons=("procMount",),
    fields=(
        "spec.containers[*].securityContext.procMount",
        "spec.initContainers[*].securityContext.procMount",
        "spec.ephemeralContainers[*].securityContext.procMount",
    ),
    versions=(
        # Baseline procMount relaxes for user-namespaced pods from v1.35; restricted overrides it and
        # keeps running the unconditional v1.0 check, with its allowed values, in its place.
        replace(
            procMount.V1_0,
            minimum_minor=35,
            rego="procMount.procMount_1_0",
            overrides=("procMount",),
            change="Keeps forbidding any procMount but Default, even in user-namespaced pods.",
        ),
    ),
    doc=__doc__ or "",
)
