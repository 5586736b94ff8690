"""Running as Non-root user.

Containers must not set runAsUser: 0
unless the pod is in a user namespace ("hostUsers: false").

**Restricted Fields:**
spec.securityContext.runAsUser,
spec.containers[*].securityContext.runAsUser,
spec.initContainers[*].securityContext.runAsUser,
spec.ephemeralContainers[*].securityContext.runAsUser

**Allowed Values:**
non-zero values
undefined/null
any value if "hostUsers" is false (from v1.35)
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView
from generator.policy.relaxations import USER_NAMESPACES


def runAsUser1_23(pod: PodView, _: Allowed) -> Forbidden | None:
    bad_setters: list[str] = []
    psc = pod.security_context
    # Only an explicit 0 fails; a pod-level 0 fails even if every container overrides it.
    if psc is not None and psc.get("runAsUser") == 0:
        bad_setters.append("pod")
    explicitly_bad = (
        [c.get("name") or "" for c, sc in pod.container_contexts if sc.get("runAsUser") == 0]
        if "runAsUser" in pod.context_fields
        else None
    )
    if explicitly_bad:
        bad_setters.append(containers_phrase(explicitly_bad))
    if not bad_setters:
        return None
    return Forbidden("runAsUser=0", f"{' and '.join(bad_setters)} must not set runAsUser=0")


CHECK = Check(
    id="runAsUser",
    level="restricted",
    control="Running as Non-root user",
    reasons=("runAsUser=0",),
    fields=(
        "spec.securityContext.runAsUser",
        "spec.containers[*].securityContext.runAsUser",
        "spec.initContainers[*].securityContext.runAsUser",
        "spec.ephemeralContainers[*].securityContext.runAsUser",
    ),
    versions=(
        CheckVersion(
            23,
            "runAsUser1_23",
            runAsUser1_23,
            rego="runAsUser1_23",
            change="Forbids an explicit runAsUser=0 on the pod or any container.",
        ),
        CheckVersion(
            35,
            "runAsUser1_35",
            runAsUser1_23,
            rego="runAsUser1_23",
            relaxations=(USER_NAMESPACES,),
            change="Allows any value in a user-namespaced pod (spec.hostUsers: false).",
        ),
    ),
    doc=__doc__ or "",
)
