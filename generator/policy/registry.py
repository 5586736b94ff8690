"""The ordered, validated tuple of every PSA check, and the checks in force per level and version.

Mirrors policy/registry.go: restricted runs every restricted check plus the
baseline checks that no restricted version in force overrides; order is
baseline IDs sorted, then restricted IDs sorted (byte-wise, as Go sorts).
``validate`` and ``inflate`` take any tuple of checks, so tests pin the rules on
made-up checks as upstream's registry_test.go does.
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
    """The check definitions contradict PSA's registry rules; ``problems`` lists each broken rule."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate(checks: tuple[Check, ...], *, newest_minor: int | None = None) -> None:
    """PSA's validateChecks over any checks, naming every problem, not just the first.

    With ``newest_minor``, also the project's invariant that it is exactly the newest version any
    check starts at (the real registry passes NEWEST_MINOR, so a new upstream version cannot be
    half added).
    """
    ids = [c.id for c in checks]
    levels = {c.id: c.level for c in checks}
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
        if any(m < 0 for m in minors):
            errors.append(f"{check.id}: version before v1.0: {minors}")
        for version in check.versions:
            where = f"{check.id} {version.name} (v1.{version.minimum_minor})"
            if version.overrides and check.level != "restricted":
                errors.append(f"{where}: only restricted checks may override")
            for target in version.overrides:
                if target not in levels:
                    errors.append(f"{where}: overrides unknown check {target!r}")
                elif levels[target] != "baseline":
                    errors.append(f"{where}: may only override baseline checks, not {target!r}")
        if not check.doc.strip():
            errors.append(f"{check.id}: no spec text")
        if not check.reasons:
            errors.append(f"{check.id}: no forbidden reasons")
    newest = max((v.minimum_minor for c in checks for v in c.versions), default=0)
    if newest_minor is not None and newest != newest_minor:
        errors.append(f"newest check version v1.{newest} != NEWEST_MINOR v1.{newest_minor}")
    if not errors:  # a message names reasons, not checks: each must lead back to one check wherever checks run
        shared: dict[tuple[str, str, str], str] = {}
        for level, minor in itertools.product(("baseline", "restricted"), range(newest + 1)):
            seen: dict[str, str] = {}
            for check, _ in inflate(checks, level, minor):
                for reason in check.reasons:
                    if seen.setdefault(reason, check.id) != check.id:
                        shared.setdefault((check.id, reason, seen[reason]), f"{level} v1.{minor}")
        errors += [f"{a}: reason {r!r} is also {b}'s (first at {where})" for (a, r, b), where in shared.items()]
    if errors:
        raise RegistryError(tuple(errors))


def inflate(checks: tuple[Check, ...], level: str, minor: int) -> tuple[tuple[Check, CheckVersion], ...]:
    """PSA's populate for one level and minor version, over any validated checks, in PSA's order.

    Each check runs its newest version at or below ``minor``; at restricted, the baseline checks
    named by the overrides of the restricted versions in force are dropped. Overrides belong to
    versions, so a restricted check can override different baseline checks at different versions.
    """
    if level == "privileged":
        return ()
    if level not in ("baseline", "restricted"):
        raise ValueError(f"unknown level {level!r}")
    active = sorted(
        ((c, v) for c in checks if (v := c.version_at(minor)) is not None),
        key=lambda cv: (cv[0].level != "baseline", cv[0].id),
    )
    baseline = [cv for cv in active if cv[0].level == "baseline"]
    if level == "baseline":
        return tuple(baseline)
    restricted = [cv for cv in active if cv[0].level == "restricted"]
    overridden = {target for _, v in restricted for target in v.overrides}
    return tuple([cv for cv in baseline if cv[0].id not in overridden] + restricted)


validate(CHECKS, newest_minor=NEWEST_MINOR)

BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}


@cache
def active_checks(level: str, minor: int) -> tuple[tuple[Check, CheckVersion], ...]:
    """The (check, implementation) pairs PSA runs at ``level`` and ``minor``, in PSA's order."""
    return inflate(CHECKS, level, min(minor, NEWEST_MINOR))
