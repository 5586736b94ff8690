"""Running as Non-root.

Containers must be required to run as non-root users,
unless the pod is in a user namespace ("hostUsers: false").

**Restricted Fields:**
spec.securityContext.runAsNonRoot,
spec.containers[*].securityContext.runAsNonRoot,
spec.initContainers[*].securityContext.runAsNonRoot,
spec.ephemeralContainers[*].securityContext.runAsNonRoot

**Allowed Values:**
true
undefined/null at container-level if pod-level is set to true
any value if "hostUsers" is false (from v1.35)
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView
from generator.policy.relaxations import USER_NAMESPACES


def runAsNonRoot1_0(pod: PodView, _: Allowed) -> Forbidden | None:
    bad_setters: list[str] = []
    pod_non_root = False
    psc = pod.security_context
    if psc is not None and (value := psc.get("runAsNonRoot")) is not None:
        if value:
            pod_non_root = True
        else:
            bad_setters.append("pod")
    if pod_non_root and "runAsNonRoot" not in pod.context_fields:
        return None  # the pod's true covers every container, and none sets a value of its own
    explicitly_bad: list[str] = []
    implicitly_bad: list[str] = []
    for c, sc in pod.container_contexts:
        value = sc.get("runAsNonRoot")
        if value is None:
            if not pod_non_root:
                implicitly_bad.append(c.get("name") or "")
        elif not value:
            explicitly_bad.append(c.get("name") or "")
    # An explicit false anywhere wins, and only it is reported.
    if explicitly_bad:
        bad_setters.append(containers_phrase(explicitly_bad))
    if bad_setters:
        return Forbidden(
            "runAsNonRoot != true",
            f"{' and '.join(bad_setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicitly_bad:
        return Forbidden(
            "runAsNonRoot != true",
            f"pod or {containers_phrase(implicitly_bad)} must set securityContext.runAsNonRoot=true",
        )
    return None


CHECK = Check(
    id="runAsNonRoot",
    level="restricted",
    control="Running as Non-root",
    reasons=("runAsNonRoot != true",),
    fields=(
        "spec.securityContext.runAsNonRoot",
        "spec.containers[*].securityContext.runAsNonRoot",
        "spec.initContainers[*].securityContext.runAsNonRoot",
        "spec.ephemeralContainers[*].securityContext.runAsNonRoot",
    ),
    versions=(
        CheckVersion(
            0,
            "runAsNonRoot1_0",
            runAsNonRoot1_0,
            rego="runAsNonRoot1_0",
            change="Requires runAsNonRoot=true on the pod or every container; an explicit false fails.",
        ),
        CheckVersion(
            35,
            "runAsNonRoot1_35",
            runAsNonRoot1_0,
            rego="runAsNonRoot1_0",
            relaxations=(USER_NAMESPACES,),
            change="Allows any value in a user-namespaced pod (spec.hostUsers: false).",
        ),
    ),
    doc=__doc__ or "",
)
