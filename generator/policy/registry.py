"""The ordered, validated tuple of every PSA check, and the checks in force per level and version.

Mirrors policy/registry.go: restricted runs every restricted check plus the
baseline checks no active restricted check overrides; order is baseline IDs
sorted, then restricted IDs sorted (byte-wise, as Go sorts).
"""

from __future__ import annotations

import itertools
from functools import cache

from generator.errors import PssgenError
from generator.policy.checks import (
    allowPrivilegeEscalation,
    appArmorProfile,
    capabilities_baseline,
    capabilities_restricted,
    hostNamespaces,
    hostPathVolumes,
    hostPorts,
    hostProbesAndHostLifecycle,
    privileged,
    procMount,
    procMount_restricted,
    restrictedVolumes,
    runAsNonRoot,
    runAsUser,
    seccompProfile_baseline,
    seccompProfile_restricted,
    seLinuxOptions,
    sysctls,
    windowsHostProcess,
)
from generator.policy.model import Check, CheckVersion
from generator.policy.versions import NEWEST_MINOR

CHECKS: tuple[Check, ...] = (
    allowPrivilegeEscalation.CHECK,
    appArmorProfile.CHECK,
    capabilities_baseline.CHECK,
    capabilities_restricted.CHECK,
    hostNamespaces.CHECK,
    hostPathVolumes.CHECK,
    hostPorts.CHECK,
    hostProbesAndHostLifecycle.CHECK,
    privileged.CHECK,
    procMount.CHECK,
    procMount_restricted.CHECK,
    restrictedVolumes.CHECK,
    runAsNonRoot.CHECK,
    runAsUser.CHECK,
    seLinuxOptions.CHECK,
    seccompProfile_baseline.CHECK,
    seccompProfile_restricted.CHECK,
    sysctls.CHECK,
    windowsHostProcess.CHECK,
)


class RegistryError(PssgenError, ValueError):
    """The check definitions contradict PSA's registry rules."""


def validate(checks: tuple[Check, ...]) -> None:
    """PSA's validateChecks, plus the project's own invariant that NEWEST_MINOR is the newest version."""
    ids = [c.id for c in checks]
    by_id = {c.id: c for c in checks}
    errors: list[str] = []
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(f"{dup}: duplicate check id")
    for check in checks:
        if check.level not in ("baseline", "restricted"):
            errors.append(f"{check.id}: invalid level {check.level!r}")
        if not check.versions:
            errors.append(f"{check.id}: no versions")
        minors = [v.minimum_minor for v in check.versions]
        if any(b <= a for a, b in itertools.pairwise(minors)):
            errors.append(f"{check.id}: versions not strictly increasing: {minors}")
        if any(m < 0 or m > NEWEST_MINOR for m in minors):
            errors.append(f"{check.id}: version outside v1.0..v1.{NEWEST_MINOR}: {minors}")
        if check.overrides and check.level != "restricted":
            errors.append(f"{check.id}: only restricted checks may override")
        for target in check.overrides:
            other = by_id.get(target)
            if other is None:
                errors.append(f"{check.id}: overrides unknown check {target!r}")
            elif other.level != "baseline":
                errors.append(f"{check.id}: may only override baseline checks, not {target!r}")
        if not check.doc.strip():
            errors.append(f"{check.id}: no spec text")
    newest = max((v.minimum_minor for c in checks for v in c.versions), default=0)
    if newest != NEWEST_MINOR:
        errors.append(f"newest check version v1.{newest} != NEWEST_MINOR v1.{NEWEST_MINOR}")
    if errors:
        raise RegistryError("; ".join(errors))


validate(CHECKS)

BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}


@cache
def active_checks(level: str, minor: int) -> tuple[tuple[Check, CheckVersion], ...]:
    """The (check, implementation) pairs PSA runs at ``level`` and ``minor``, in PSA's order."""
    if level == "privileged":
        return ()
    minor = min(minor, NEWEST_MINOR)
    active = [(c, v) for c in CHECKS if (v := c.version_at(minor)) is not None]
    baseline = sorted(((c, v) for c, v in active if c.level == "baseline"), key=lambda cv: cv[0].id)
    if level == "baseline":
        return tuple(baseline)
    restricted = sorted(((c, v) for c, v in active if c.level == "restricted"), key=lambda cv: cv[0].id)
    overridden = {target for c, _ in restricted for target in c.overrides}
    return tuple([cv for cv in baseline if cv[0].id not in overridden] + restricted)
