"""Privilege Escalation.

Privilege escalation (such as via set-user-ID or set-group-ID file mode) should not be allowed.

**Restricted Fields:**
spec.containers[*].securityContext.allowPrivilegeEscalation,
spec.initContainers[*].securityContext.allowPrivilegeEscalation,
spec.ephemeralContainers[*].securityContext.allowPrivilegeEscalation

**Allowed Values:** false
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView
from generator.policy.relaxations import WINDOWS


def allowPrivilegeEscalation_1_8(pod: PodView, _: Allowed) -> Forbidden | None:
    # Only an explicit false passes: a nil securityContext or a nil field fails.
    bad = [c.get("name") or "" for c, sc in pod.container_contexts if sc.get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return Forbidden(
        "allowPrivilegeEscalation != false",
        f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


CHECK = Check(
    id="allowPrivilegeEscalation",
    level="restricted",
    control="Privilege Escalation",
    reasons=("allowPrivilegeEscalation != false",),
    fields=(
        "spec.containers[*].securityContext.allowPrivilegeEscalation",
        "spec.initContainers[*].securityContext.allowPrivilegeEscalation",
        "spec.ephemeralContainers[*].securityContext.allowPrivilegeEscalation",
    ),
    versions=(
        CheckVersion(
            8,
            "allowPrivilegeEscalation_1_8",
            allowPrivilegeEscalation_1_8,
            rego="allowPrivilegeEscalation_1_8",
            change="Requires securityContext.allowPrivilegeEscalation=false on every container.",
        ),
        CheckVersion(
            25,
            "allowPrivilegeEscalation_1_25",
            allowPrivilegeEscalation_1_8,
            rego="allowPrivilegeEscalation_1_8",
            relaxations=(WINDOWS,),
            change="Exempts Windows pods (spec.os.name: windows).",
        ),
    ),
    doc=__doc__ or "",
)
