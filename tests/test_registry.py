"""The registry: PSA's validation rules over the real checks, and the order PSA runs them in."""

from __future__ import annotations

import dataclasses

import pytest

from generator.policy.model import Check, CheckVersion
from generator.policy.registry import BY_ID, CHECKS, RegistryError, active_checks, validate
from generator.policy.versions import NEWEST_MINOR

BASELINE_V0 = [
    "appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes", "hostPorts",
    "privileged", "procMount", "seLinuxOptions", "seccompProfile_baseline", "sysctls", "windowsHostProcess",
]  # fmt: skip


def ids(level: str, minor: int) -> list[str]:
    return [c.id for c, _ in active_checks(level, minor)]


def test_real_checks_validate() -> None:
    validate(CHECKS)
    assert len(CHECKS) == 19
    assert sorted(BY_ID) == sorted(c.id for c in CHECKS)


def test_baseline_order() -> None:
    assert ids("baseline", 0) == BASELINE_V0
    assert ids("baseline", 33) == BASELINE_V0
    with_probes = [*BASELINE_V0[:5], "hostProbesAndHostLifecycle", *BASELINE_V0[5:]]
    assert ids("baseline", 34) == with_probes
    assert ids("baseline", NEWEST_MINOR) == with_probes


def test_restricted_order_matches_psa_table() -> None:
    r0 = [i for i in BASELINE_V0 if i != "hostPathVolumes"] + ["restrictedVolumes", "runAsNonRoot"]
    assert ids("restricted", 0) == r0
    assert ids("restricted", 7) == r0
    r8 = [*r0[:-2], "allowPrivilegeEscalation", "restrictedVolumes", "runAsNonRoot"]
    assert ids("restricted", 8) == r8
    r19 = [i for i in r8 if i != "seccompProfile_baseline"] + ["seccompProfile_restricted"]
    assert ids("restricted", 19) == r19
    r22 = [i for i in r19 if i != "capabilities_baseline"]
    r22.insert(r22.index("allowPrivilegeEscalation") + 1, "capabilities_restricted")
    assert ids("restricted", 22) == r22
    r23 = r22[:]
    r23.insert(r23.index("runAsNonRoot") + 1, "runAsUser")
    assert ids("restricted", 23) == r23
    r34 = r23[:]
    r34.insert(r34.index("hostPorts") + 1, "hostProbesAndHostLifecycle")
    assert ids("restricted", 34) == r34
    r35 = [i for i in r34 if i != "procMount"]
    r35.insert(r35.index("capabilities_restricted") + 1, "procMount_restricted")
    assert ids("restricted", 35) == r35
    assert len(r35) == 15
    assert ids("restricted", NEWEST_MINOR) == r35


def test_privileged_runs_nothing_and_newer_versions_clamp() -> None:
    assert active_checks("privileged", NEWEST_MINOR) == ()
    assert ids("restricted", NEWEST_MINOR + 5) == ids("restricted", NEWEST_MINOR)


def test_behaviour_changes_at_psa_versions() -> None:
    minors = sorted({v.minimum_minor for c in CHECKS for v in c.versions})
    assert minors == [0, 8, 19, 22, 23, 25, 27, 29, 31, 32, 34, 35, 37]


def _with(check: Check, **changes: object) -> tuple[Check, ...]:
    return tuple(dataclasses.replace(check, **changes) if c is check else c for c in CHECKS)


@pytest.mark.parametrize(
    ("check_id", "changes", "message"),
    [
        ("privileged", {"id": "hostPorts"}, "duplicate check id"),
        (
            "sysctls",
            {"versions": tuple(reversed(BY_ID["sysctls"].versions))},
            "versions not strictly increasing",
        ),
        ("privileged", {"overrides": ("hostPorts",)}, "only restricted checks may override"),
        ("runAsNonRoot", {"overrides": ("runAsUser",)}, "may only override baseline checks"),
        ("runAsNonRoot", {"overrides": ("nope",)}, "overrides unknown check"),
        ("privileged", {"level": "extreme"}, "invalid level"),
        ("privileged", {"doc": " "}, "no spec text"),
    ],
)
def test_validation_rejects(check_id: str, changes: dict[str, object], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        validate(_with(BY_ID[check_id], **changes))


def test_validation_requires_newest_minor_to_match() -> None:
    sysctls = BY_ID["sysctls"]
    newer = (*sysctls.versions, CheckVersion(NEWEST_MINOR + 1, "x", sysctls.versions[-1].evaluate))
    with pytest.raises(RegistryError, match="NEWEST_MINOR"):
        validate(_with(sysctls, versions=newer))
