"""Capabilities.

Adding NET_RAW or capabilities beyond the default set must be disallowed.

**Restricted Fields:**
spec.containers[*].securityContext.capabilities.add
spec.initContainers[*].securityContext.capabilities.add
spec.ephemeralContainers[*].securityContext.capabilities.add

**Allowed Values:**
undefined / empty
values from the default set "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE","FOWNER", "FSETID", "KILL", "MKNOD",
"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase, join_quote
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView


def capabilitiesBaseline_1_0(pod: PodView, allowed: Allowed) -> Forbidden | None:
    default_set = allowed["capabilities"]
    if "capabilities" not in pod.context_fields:
        return None
    bad_containers: list[str] = []
    non_default: set[str] = set()
    for c, sc in pod.container_contexts:
        capabilities = sc.get("capabilities")
        if capabilities is None:
            continue
        add = capabilities.get("add")
        if not add:
            continue
        valid = True
        for capability in add:
            if capability not in default_set:
                valid = False
                non_default.add(capability or "")
        if not valid:
            bad_containers.append(c.get("name") or "")
    if not bad_containers:
        return None
    return Forbidden(
        "non-default capabilities",
        f"{containers_phrase(bad_containers)} must not include {join_quote(sorted(non_default))}"
        " in securityContext.capabilities.add",
    )


CHECK = Check(
    id="capabilities_baseline",
    level="baseline",
    control="Capabilities",
    reasons=("non-default capabilities",),
    fields=(
        "spec.containers[*].securityContext.capabilities.add",
        "spec.initContainers[*].securityContext.capabilities.add",
        "spec.ephemeralContainers[*].securityContext.capabilities.add",
    ),
    versions=(
        CheckVersion(
            0,
            "capabilitiesBaseline_1_0",
            capabilitiesBaseline_1_0,
            rego="capabilitiesBaseline_1_0",
            allowed={
                "capabilities": (
                    "AUDIT_WRITE",
                    "CHOWN",
                    "DAC_OVERRIDE",
                    "FOWNER",
                    "FSETID",
                    "KILL",
                    "MKNOD",
                    "NET_BIND_SERVICE",
                    "SETFCAP",
                    "SETGID",
                    "SETPCAP",
                    "SETUID",
                    "SYS_CHROOT",
                ),
            },
            change="Allows only the default capabilities in capabilities.add.",
        ),
    ),
    doc=__doc__ or "",
)
