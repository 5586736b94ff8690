"""HostProcess.

Pod and containers must not set securityContext.windowsOptions.hostProcess to true.

**Restricted Fields:**

spec.securityContext.windowsOptions.hostProcess
spec.containers[*].securityContext.windowsOptions.hostProcess
spec.initContainers[*].securityContext.windowsOptions.hostProcess
spec.ephemeralContainers[*].securityContext.windowsOptions.hostProcess

**Allowed Values:** undefined / false
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden, spec_get
from generator.policy.pod import PodView


def windowsHostProcess_1_0(pod: PodView, _: Allowed) -> Forbidden | None:
    bad_containers = (
        [
            c.get("name") or ""
            for c, sc in pod.container_contexts
            if spec_get(sc.get("windowsOptions"), "hostProcess") is True
        ]
        if "windowsOptions" in pod.context_fields
        else None
    )
    pod_forbidden = spec_get(spec_get(pod.security_context, "windowsOptions"), "hostProcess") is True
    if not (pod_forbidden or bad_containers):
        return None
    forbidden_setters = ["pod"] if pod_forbidden else []
    if bad_containers:
        forbidden_setters.append(containers_phrase(bad_containers))
    return Forbidden(
        "hostProcess",
        f"{' and '.join(forbidden_setters)} must not set securityContext.windowsOptions.hostProcess=true",
    )


CHECK = Check(
    id="windowsHostProcess",
    level="baseline",
    control="HostProcess",
    reasons=("hostProcess",),
    fields=(
        "spec.securityContext.windowsOptions.hostProcess",
        "spec.containers[*].securityContext.windowsOptions.hostProcess",
        "spec.initContainers[*].securityContext.windowsOptions.hostProcess",
        "spec.ephemeralContainers[*].securityContext.windowsOptions.hostProcess",
    ),
    versions=(
        CheckVersion(
            0,
            "windowsHostProcess_1_0",
            windowsHostProcess_1_0,
            rego="windowsHostProcess_1_0",
            change="Forbids hostProcess=true on the pod and its containers.",
        ),
    ),
    doc=__doc__ or "",
)
