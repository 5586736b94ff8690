"""Capabilities.

Containers must drop ALL, and may only add NET_BIND_SERVICE.

**Restricted Fields:**
spec.containers[*].securityContext.capabilities.drop,
spec.initContainers[*].securityContext.capabilities.drop,
spec.ephemeralContainers[*].securityContext.capabilities.drop

**Allowed Values:**
Must include "ALL"

**Restricted Fields:**
spec.containers[*].securityContext.capabilities.add,
spec.initContainers[*].securityContext.capabilities.add,
spec.ephemeralContainers[*].securityContext.capabilities.add

**Allowed Values:**
undefined / empty
"NET_BIND_SERVICE"
"""

from __future__ import annotations

from dataclasses import replace

from generator.policy.checks._helpers import containers_phrase, join_quote
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView
from generator.policy.relaxations import WINDOWS


def capabilitiesRestricted_1_22(pod: PodView, allowed: Allowed) -> Forbidden | None:
    """``drop`` must name a capability of ``allowed["drop"]``; ``add`` may hold only ``allowed["add"]`` (exact)."""
    required_drop, allowed_add = allowed["drop"], allowed["add"]
    missing_drop_all: list[str] = []
    adding_forbidden: list[str] = []
    forbidden_caps: set[str] = set()
    for c, sc in pod.container_contexts:
        caps = sc.get("capabilities")
        if caps is None:
            missing_drop_all.append(c.get("name") or "")
            continue
        for dropped in caps.get("drop") or ():
            if dropped in required_drop:
                break
        else:
            missing_drop_all.append(c.get("name") or "")
        add = caps.get("add")
        if add:
            bad = [a for a in add if a not in allowed_add]
            if bad:
                adding_forbidden.append(c.get("name") or "")
                forbidden_caps.update(bad)
    if not missing_drop_all and not adding_forbidden:
        return None
    details = []
    if missing_drop_all:
        # Upstream's wording, as the Rego's: it names "ALL" whatever the data holds.
        details.append(f'{containers_phrase(missing_drop_all)} must set securityContext.capabilities.drop=["ALL"]')
    if adding_forbidden:
        details.append(
            f"{containers_phrase(adding_forbidden)} must not include "
            f"{join_quote(sorted(forbidden_caps))} in securityContext.capabilities.add"
        )
    return Forbidden("unrestricted capabilities", "; ".join(details))


V1_22 = CheckVersion(
    22,
    "capabilitiesRestricted_1_22",
    capabilitiesRestricted_1_22,
    rego="capabilitiesRestricted_1_22",
    allowed={"drop": ("ALL",), "add": ("NET_BIND_SERVICE",)},
    overrides=("capabilities_baseline",),
    change='Requires capabilities.drop to include "ALL" and allows only NET_BIND_SERVICE in add.',
)

CHECK = Check(
    id="capabilities_restricted",
    level="restricted",
    control="Capabilities",
    reasons=("unrestricted capabilities",),
    fields=(
        "spec.containers[*].securityContext.capabilities.drop",
        "spec.initContainers[*].securityContext.capabilities.drop",
        "spec.ephemeralContainers[*].securityContext.capabilities.drop",
        "spec.containers[*].securityContext.capabilities.add",
        "spec.initContainers[*].securityContext.capabilities.add",
        "spec.ephemeralContainers[*].securityContext.capabilities.add",
    ),
    versions=(
        V1_22,
        replace(
            V1_22,
            minimum_minor=25,
            name="capabilitiesRestricted_1_25",
            relaxations=(WINDOWS,),
            change="Exempts Windows pods (spec.os.name: windows).",
        ),
    ),
    doc=__doc__ or "",
)
