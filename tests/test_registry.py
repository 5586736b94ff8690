"""The registry: PSA's inflation and override rules on made-up checks, its validation, and the real checks' order.

The synthetic checks are upstream's policy/registry_test.go TestCheckRegistry, check for check,
so the rules are pinned independently of what the real checks happen to contain.
"""

from __future__ import annotations

import dataclasses

import pytest

from generator.policy.model import Check, CheckVersion, Forbidden
from generator.policy.registry import BY_ID, CHECKS, RegistryError, active_checks, inflate, validate
from generator.policy.versions import NEWEST_MINOR

# --- synthetic checks, as upstream's registry_test.go ---------------------------------------------


def _version(check_id: str, minor: int, overrides: tuple[str, ...]) -> CheckVersion:
    def fails(*_: object) -> Forbidden:
        return Forbidden(f"{check_id}:v1.{minor}", "")

    return CheckVersion(minor, f"{check_id}_1_{minor}", fails, rego=f"{check_id}_1_{minor}", overrides=overrides)


def _check(check_id: str, level: str, *versions: int | tuple[int, tuple[str, ...]]) -> Check:
    """A made-up check; a version is a minor, or (minor, the baseline checks it overrides)."""
    built = tuple(_version(check_id, *(v if isinstance(v, tuple) else (v, ()))) for v in versions)
    return Check(
        check_id,
        level,
        f"control {check_id}",
        (),
        built,
        doc=f"made-up check {check_id}",
        reasons=(f"{check_id} reason",),
    )


SYNTHETIC: tuple[Check, ...] = (
    _check("a", "baseline", 0),
    _check("b", "baseline", 10),
    _check("c", "baseline", 0, 5, 10),
    _check("d", "baseline", 11, 15, 20),
    _check("e", "restricted", 0),
    _check("f", "restricted", 12, 16, 21),
    _check("g", "restricted", (10, ("a",))),
    _check("h", "restricted", (0, ("b",))),
    # Each version overrides a different baseline check: c from v1.10, then d (and no longer c) from v1.21.
    _check("i", "restricted", (10, ("c",)), (21, ("d",))),
)
SYNTHETIC_NEWEST = 21
LATEST = NEWEST_MINOR  # how "latest" reaches the registry: already resolved

# (level, minor) → the check versions PSA runs, as upstream's table writes them ("id:v1.N").
SYNTHETIC_CASES: list[tuple[str, int, list[str]]] = [
    ("privileged", 0, []),
    ("privileged", LATEST, []),
    ("baseline", 0, ["a:v1.0", "c:v1.0"]),
    ("baseline", 4, ["a:v1.0", "c:v1.0"]),
    ("baseline", 5, ["a:v1.0", "c:v1.5"]),
    ("baseline", 10, ["a:v1.0", "b:v1.10", "c:v1.10"]),
    ("baseline", 11, ["a:v1.0", "b:v1.10", "c:v1.10", "d:v1.11"]),
    ("baseline", LATEST, ["a:v1.0", "b:v1.10", "c:v1.10", "d:v1.20"]),
    ("restricted", 0, ["a:v1.0", "c:v1.0", "e:v1.0", "h:v1.0"]),
    ("restricted", 4, ["a:v1.0", "c:v1.0", "e:v1.0", "h:v1.0"]),
    ("restricted", 5, ["a:v1.0", "c:v1.5", "e:v1.0", "h:v1.0"]),
    ("restricted", 10, ["e:v1.0", "g:v1.10", "h:v1.0", "i:v1.10"]),
    ("restricted", 11, ["d:v1.11", "e:v1.0", "g:v1.10", "h:v1.0", "i:v1.10"]),
    ("restricted", 20, ["d:v1.20", "e:v1.0", "f:v1.16", "g:v1.10", "h:v1.0", "i:v1.10"]),
    ("restricted", 21, ["c:v1.10", "e:v1.0", "f:v1.21", "g:v1.10", "h:v1.0", "i:v1.21"]),
    ("restricted", LATEST, ["c:v1.10", "e:v1.0", "f:v1.21", "g:v1.10", "h:v1.0", "i:v1.21"]),
    ("restricted", 10000, ["c:v1.10", "e:v1.0", "f:v1.21", "g:v1.10", "h:v1.0", "i:v1.21"]),
]


def inflated(checks: tuple[Check, ...], level: str, minor: int) -> list[str]:
    """What the registry runs, named by what each version's implementation reports, as upstream's test does."""
    found = []
    for _, version in inflate(checks, level, minor):
        forbidden = version.evaluate(None, version.allowed)
        assert forbidden is not None
        found.append(forbidden.reason)
    return found


def test_synthetic_checks_validate() -> None:
    validate(SYNTHETIC, newest_minor=SYNTHETIC_NEWEST)


@pytest.mark.parametrize(
    ("level", "minor", "expected"), SYNTHETIC_CASES, ids=[f"{lv}-v1.{m}" for lv, m, _ in SYNTHETIC_CASES]
)
def test_synthetic_inflation(level: str, minor: int, expected: list[str]) -> None:
    assert inflated(SYNTHETIC, level, minor) == expected


@pytest.mark.parametrize(("minor", "expected"), [(m, ids) for lv, m, ids in SYNTHETIC_CASES if lv == "baseline"])
def test_synthetic_without_restricted_checks_restricted_is_baseline(minor: int, expected: list[str]) -> None:
    baseline_only = tuple(c for c in SYNTHETIC if c.level == "baseline")
    validate(baseline_only)
    assert inflated(baseline_only, "baseline", minor) == expected
    assert inflated(baseline_only, "restricted", minor) == expected


@pytest.mark.parametrize("level", ["privileged", "baseline", "restricted"])
def test_no_checks_run_nothing(level: str) -> None:
    validate(())
    assert inflate((), level, LATEST) == ()


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        inflate(SYNTHETIC, "strict", 0)


# --- validation: each case breaks exactly one rule -------------------------------------------------


def _replace(checks: tuple[Check, ...], check_id: str, **changes: object) -> tuple[Check, ...]:
    return tuple(dataclasses.replace(c, **changes) if c.id == check_id else c for c in checks)


def _with_overrides(check_id: str, overrides: tuple[str, ...]) -> tuple[Check, ...]:
    """The real checks, with the newest version of ``check_id`` overriding ``overrides``."""
    *older, newest = BY_ID[check_id].versions
    return _replace(CHECKS, check_id, versions=(*older, dataclasses.replace(newest, overrides=overrides)))


def _with_versions(check_id: str, versions: tuple[CheckVersion, ...]) -> tuple[Check, ...]:
    return _replace(CHECKS, check_id, versions=versions)


SYSCTLS = BY_ID["sysctls"].versions
BROKEN: list[tuple[str, tuple[Check, ...], str]] = [
    ("duplicate-id", _replace(CHECKS, "privileged", id="hostPorts"), "hostPorts: duplicate check id"),
    ("invalid-level", _replace(CHECKS, "privileged", level="extreme"), "privileged: invalid level 'extreme'"),
    ("no-versions", _with_versions("privileged", ()), "privileged: no versions"),
    ("decreasing-versions", _with_versions("sysctls", tuple(reversed(SYSCTLS))), "sysctls: versions not strictly"),
    (
        "repeated-version",
        _with_versions("sysctls", (*SYSCTLS[:2], dataclasses.replace(SYSCTLS[2], minimum_minor=27), *SYSCTLS[3:])),
        "sysctls: versions not strictly increasing",
    ),
    (
        "version-before-v1.0",
        _with_versions("sysctls", (dataclasses.replace(SYSCTLS[0], minimum_minor=-1), *SYSCTLS[1:])),
        "sysctls: version before v1.0",
    ),
    (
        "baseline-overrides",
        _with_overrides("privileged", ("hostPorts",)),
        "privileged privileged_1_0 (v1.0): only restricted checks may override",
    ),
    (
        "overrides-restricted",
        _with_overrides("runAsNonRoot", ("runAsUser",)),
        "runAsNonRoot runAsNonRoot1_35 (v1.35): may only override baseline checks, not 'runAsUser'",
    ),
    (
        "overrides-unknown",
        _with_overrides("runAsNonRoot", ("nope",)),
        "runAsNonRoot runAsNonRoot1_35 (v1.35): overrides unknown check 'nope'",
    ),
    ("no-spec-text", _replace(CHECKS, "privileged", doc=" "), "privileged: no spec text"),
    ("no-reasons", _replace(CHECKS, "privileged", reasons=()), "privileged: no forbidden reasons"),
    (
        "shared-reason",
        _replace(CHECKS, "sysctls", reasons=("forbidden sysctls", "privileged")),
        "sysctls: reason 'privileged' is also privileged's (first at baseline v1.0)",
    ),
    (
        "newer-than-NEWEST_MINOR",
        _with_versions("sysctls", (*SYSCTLS, dataclasses.replace(SYSCTLS[-1], minimum_minor=NEWEST_MINOR + 1))),
        f"newest check version v1.{NEWEST_MINOR + 1} != NEWEST_MINOR",
    ),
    (
        "older-than-NEWEST_MINOR",
        _with_versions("sysctls", SYSCTLS[:-1]),
        f"!= NEWEST_MINOR v1.{NEWEST_MINOR}",
    ),
]


def test_real_checks_validate() -> None:
    validate(CHECKS, newest_minor=NEWEST_MINOR)
    assert len(CHECKS) == 19
    assert sorted(BY_ID) == sorted(c.id for c in CHECKS)


@pytest.mark.parametrize(("checks", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_validation_rejects_exactly_the_broken_rule(checks: tuple[Check, ...], message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        validate(checks, newest_minor=NEWEST_MINOR)
    (problem,) = caught.value.problems
    assert message in problem


# --- the real checks, in PSA's order ---------------------------------------------------------------

BASELINE_V0 = [
    "appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes", "hostPorts",
    "privileged", "procMount", "seLinuxOptions", "seccompProfile_baseline", "sysctls", "windowsHostProcess",
]  # fmt: skip


def ids(level: str, minor: int) -> list[str]:
    return [c.id for c, _ in active_checks(level, minor)]


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
