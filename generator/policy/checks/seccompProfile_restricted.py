"""Seccomp.

Seccomp profiles must be specified, and only runtime default and localhost profiles are allowed.

v1.19+:
**Restricted Fields:**
spec.securityContext.seccompProfile.type,
spec.containers[*].securityContext.seccompProfile.type,
spec.initContainers[*].securityContext.seccompProfile.type,
spec.ephemeralContainers[*].securityContext.seccompProfile.type

**Allowed Values:** 'RuntimeDefault', 'Localhost'
Note: container-level fields may be undefined if pod-level field is specified.
"""

from __future__ import annotations

from dataclasses import replace

from generator.policy.checks._helpers import containers_phrase, join_quote
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView
from generator.policy.relaxations import WINDOWS


def seccompProfileRestricted_1_19(pod: PodView, allowed: Allowed) -> Forbidden | None:
    types = allowed["types"]
    bad_setters: list[str] = []
    bad_values: set[str] = set()
    pod_valid = False
    psc = pod.security_context
    if psc is not None and (profile := psc.get("seccompProfile")) is not None:
        # `seccompProfile: {}` is an explicit profile of type "", not an unset one.
        kind = profile.get("type") or ""
        if kind in types:
            pod_valid = True
        else:
            bad_setters.append("pod")
            bad_values.add(kind)
    if pod_valid and "seccompProfile" not in pod.context_fields:
        return None  # the pod's valid profile covers every container, and none sets one of its own
    explicitly_bad: list[str] = []
    implicitly_bad: list[str] = []
    for c, sc in pod.container_contexts:
        profile = sc.get("seccompProfile")
        if profile is None:
            if not pod_valid:
                implicitly_bad.append(c.get("name") or "")
            continue
        kind = profile.get("type") or ""
        if kind not in types:
            explicitly_bad.append(c.get("name") or "")
            bad_values.add(kind)
    # Explicit bad values win, and only they are reported.
    if explicitly_bad:
        bad_setters.append(containers_phrase(explicitly_bad))
    if bad_setters:
        return Forbidden(
            "seccompProfile",
            f"{' and '.join(bad_setters)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(bad_values))}",
        )
    if implicitly_bad:
        # Upstream's wording, which names the allowed types in this fixed order.
        return Forbidden(
            "seccompProfile",
            f"pod or {containers_phrase(implicitly_bad)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
        )
    return None


V1_19 = CheckVersion(
    19,
    "seccompProfileRestricted_1_19",
    seccompProfileRestricted_1_19,
    rego="seccompProfileRestricted_1_19",
    allowed={"types": ("Localhost", "RuntimeDefault")},  # sorted
    overrides=("seccompProfile_baseline",),
    change="Requires a RuntimeDefault or Localhost seccompProfile on the pod or on every container.",
)

CHECK = Check(
    id="seccompProfile_restricted",
    level="restricted",
    control="Seccomp",
    reasons=("seccompProfile",),
    fields=(
        "spec.securityContext.seccompProfile.type",
        "spec.containers[*].securityContext.seccompProfile.type",
        "spec.initContainers[*].securityContext.seccompProfile.type",
        "spec.ephemeralContainers[*].securityContext.seccompProfile.type",
    ),
    versions=(
        V1_19,
        replace(
            V1_19,
            minimum_minor=25,
            name="seccompProfileRestricted_1_25",
            relaxations=(WINDOWS,),
            change="Exempts Windows pods (spec.os.name: windows).",
        ),
    ),
    doc=__doc__ or "",
)
