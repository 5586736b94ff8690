"""Privileged Containers.

Privileged Pods disable most security mechanisms and must be disallowed.

**Restricted Fields:**
spec.containers[*].securityContext.privileged,
spec.initContainers[*].securityContext.privileged,
spec.ephemeralContainers[*].securityContext.privileged

**Allowed Values:** false, undefined/null
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView


def privileged_1_0(pod: PodView, _: Allowed) -> Forbidden | None:
    if "privileged" not in pod.context_fields:
        return None
    bad = [c.get("name") or "" for c, sc in pod.container_contexts if sc.get("privileged") is True]
    if not bad:
        return None
    return Forbidden(
        "privileged",
        f"{containers_phrase(bad)} must not set securityContext.privileged=true",
    )


CHECK = Check(
    id="privileged",
    level="baseline",
    control="Privileged Containers",
    reasons=("privileged",),
    fields=(
        "spec.containers[*].securityContext.privileged",
        "spec.initContainers[*].securityContext.privileged",
        "spec.ephemeralContainers[*].securityContext.privileged",
    ),
    versions=(CheckVersion(0, "privileged_1_0", privileged_1_0, rego="privileged_1_0"),),
    doc=__doc__ or "",
)
