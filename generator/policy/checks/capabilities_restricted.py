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

from generator.policy.checks._helpers import containers_phrase, join_quote
from generator.policy.model import Check, CheckVersion, Forbidden
from generator.policy.pod import PodView

# Every entry here must appear, exactly, in capabilities.drop.
REQUIRED_DROP: tuple[str, ...] = ("ALL",)
# The only entries capabilities.add may hold (exact, case-sensitive).
ALLOWED_ADD: tuple[str, ...] = ("NET_BIND_SERVICE",)

_REQUIRED_DROP = frozenset(REQUIRED_DROP)
_ALLOWED_ADD = frozenset(ALLOWED_ADD)


def capabilitiesRestricted_1_22(pod: PodView) -> Forbidden | None:
    missing_drop_all: list[str] = []
    adding_forbidden: list[str] = []
    forbidden_caps: set[str] = set()
    for c in pod.containers:
        sc = c.get("securityContext")
        caps = None if sc is None else sc.get("capabilities")
        if caps is None:
            missing_drop_all.append(c.get("name") or "")
            continue
        if not _REQUIRED_DROP.issubset(caps.get("drop") or ()):
            missing_drop_all.append(c.get("name") or "")
        add = caps.get("add")
        if add:
            bad = [a for a in add if a not in _ALLOWED_ADD]
            if bad:
                adding_forbidden.append(c.get("name") or "")
                forbidden_caps.update(bad)
    if not missing_drop_all and not adding_forbidden:
        return None
    details = []
    if missing_drop_all:
        details.append(
            f"{containers_phrase(missing_drop_all)} must set securityContext.capabilities.drop="
            f"[{join_quote(REQUIRED_DROP)}]"
        )
    if adding_forbidden:
        details.append(
            f"{containers_phrase(adding_forbidden)} must not include "
            f"{join_quote(sorted(forbidden_caps))} in securityContext.capabilities.add"
        )
    return Forbidden("unrestricted capabilities", "; ".join(details))


CHECK = Check(
    id="capabilities_restricted",
    level="restricted",
    control="Capabilities",
    fields=(
        "spec.containers[*].securityContext.capabilities.drop",
        "spec.initContainers[*].securityContext.capabilities.drop",
        "spec.ephemeralContainers[*].securityContext.capabilities.drop",
        "spec.containers[*].securityContext.capabilities.add",
        "spec.initContainers[*].securityContext.capabilities.add",
        "spec.ephemeralContainers[*].securityContext.capabilities.add",
    ),
    overrides=("capabilities_baseline",),
    versions=(
        CheckVersion(
            22,
            "capabilitiesRestricted_1_22",
            capabilitiesRestricted_1_22,
            allowed={"drop": REQUIRED_DROP, "add": ALLOWED_ADD},
            change='Requires capabilities.drop to include "ALL" and allows only NET_BIND_SERVICE in add.',
        ),
        CheckVersion(
            25,
            "capabilitiesRestricted_1_25",
            capabilitiesRestricted_1_22,
            allowed={"drop": REQUIRED_DROP, "add": ALLOWED_ADD},
            change="Exempts Windows pods (spec.os.name: windows).",
            exempt_windows=True,
        ),
    ),
    doc=__doc__ or "",
)
