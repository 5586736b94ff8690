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

from generator.policy.checks._helpers import containers_phrase, join_quote, security_field
from generator.policy.model import Check, CheckVersion, Forbidden
from generator.policy.pod import PodView

PROC_MOUNT_TYPES = ("Default",)


def procMount_1_0(pod: PodView) -> Forbidden | None:
    """Forbids any procMount but Default, unconditionally (also procMount_restricted's check)."""
    bad_containers: list[str] = []
    forbidden_types: set[str] = set()
    for c in pod.containers:
        proc_mount = security_field(c, "procMount")
        if proc_mount is not None and proc_mount not in PROC_MOUNT_TYPES:
            bad_containers.append(c.get("name") or "")
            forbidden_types.add(proc_mount)
    if not bad_containers:
        return None
    return Forbidden(
        "procMount",
        f"{containers_phrase(bad_containers)} must not set securityContext.procMount to"
        f" {join_quote(sorted(forbidden_types))}",
    )


_ALLOWED = {"proc_mount_types": PROC_MOUNT_TYPES}

CHECK = Check(
    id="procMount",
    level="baseline",
    control="/proc Mount Type",
    fields=(
        "spec.containers[*].securityContext.procMount",
        "spec.initContainers[*].securityContext.procMount",
        "spec.ephemeralContainers[*].securityContext.procMount",
    ),
    versions=(
        CheckVersion(
            0,
            "procMount_1_0",
            procMount_1_0,
            allowed=_ALLOWED,
            change="Forbids any procMount other than Default.",
        ),
        # Upstream's procMount1_35baseline is procMount_1_0 behind relaxPolicyForUserNamespacePod;
        # the relaxation is data here, applied by the evaluator.
        CheckVersion(
            35,
            "procMount1_35baseline",
            procMount_1_0,
            allowed=_ALLOWED,
            change="Allows any procMount in pods that set hostUsers: false.",
            relax_user_namespaces=True,
        ),
    ),
    doc=__doc__ or "",
)
