"""/proc Mount Type.

The default /proc masks are set up to reduce attack surface, and should be required
by the baseline policy unless the pod is in a user namespace ("hostUsers: false").

**Restricted Fields:**
spec.containers[*].securityContext.procMount
spec.initContainers[*].securityContext.procMount
spec.ephemeralContainers[*].securityContext.procMount

**Allowed Values:** undefined/null, "Default" (or any value if "hostUsers" is false)
"""

from __future__ import annotations

from dataclasses import replace

from generator.policy.checks._helpers import containers_phrase, join_quote
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView
from generator.policy.relaxations import USER_NAMESPACES


def procMount_1_0(pod: PodView, allowed: Allowed) -> Forbidden | None:
    """Forbids any procMount but the allowed ones, unconditionally (also procMount_restricted's check)."""
    allowed_types = allowed["proc_mount_types"]
    if "procMount" not in pod.context_fields:
        return None
    bad_containers: list[str] = []
    forbidden_types: set[str] = set()
    for c, sc in pod.container_contexts:
        proc_mount = sc.get("procMount")
        if proc_mount is not None and proc_mount not in allowed_types:
            bad_containers.append(c.get("name") or "")
            forbidden_types.add(proc_mount)
    if not bad_containers:
        return None
    return Forbidden(
        "procMount",
        f"{containers_phrase(bad_containers)} must not set securityContext.procMount to"
        f" {join_quote(sorted(forbidden_types))}",
    )


# Also the version procMount_restricted runs, with these allowed values, from v1.35.
V1_0 = CheckVersion(
    0,
    "procMount_1_0",
    procMount_1_0,
    rego="procMount_1_0",
    allowed={"proc_mount_types": ("Default",)},
    change="Forbids any procMount other than Default.",
)

CHECK = Check(
    id="procMount",
    level="baseline",
    control="/proc Mount Type",
    reasons=("procMount",),
    fields=(
        "spec.containers[*].securityContext.procMount",
        "spec.initContainers[*].securityContext.procMount",
        "spec.ephemeralContainers[*].securityContext.procMount",
    ),
    versions=(
        V1_0,
        # Upstream's procMount1_35baseline is procMount_1_0 behind relaxPolicyForUserNamespacePod;
        # the relaxation is data here, applied by every engine.
        replace(
            V1_0,
            minimum_minor=35,
            name="procMount1_35baseline",
            relaxations=(USER_NAMESPACES,),
            change="Allows any procMount in pods that set hostUsers: false.",
        ),
    ),
    doc=__doc__ or "",
)
