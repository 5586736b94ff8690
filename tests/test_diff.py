"""`pssgen diff`'s data: what a level gains and loses between versions, read from the registry."""

from __future__ import annotations

import dataclasses
import json

import pytest

from generator.policy.diff import LevelDiff, diff_json, diff_text, level_diff, level_diffs, levels_for
from generator.policy.registry import BY_ID
from generator.policy.versions import LATEST, NEWEST_MINOR, VersionError, parse_version


def diff(a: str, b: str, level: str = "restricted") -> LevelDiff:
    return level_diff(parse_version(a), parse_version(b), level)


def ids(items: tuple) -> list[str]:
    return [item.id for item in items]


def test_restricted_1_21_to_1_22_replaces_capabilities() -> None:
    d = diff("v1.21", "v1.22")
    assert ids(d.added) == ["capabilities_restricted"] and ids(d.removed) == ["capabilities_baseline"]
    assert d.added[0].reason == "new" and d.added[0].overrides == ("capabilities_baseline",)
    assert [s.name for s in d.added[0].steps] == ["capabilitiesRestricted_1_22"]
    assert d.removed[0].reason == "overridden" and d.removed[0].overridden_by == ("capabilities_restricted",)
    assert [(o.check, o.by, o.since) for o in d.now_overridden] == [
        ("capabilities_baseline", "capabilities_restricted", 22)
    ]
    assert d.no_longer_overridden == () and d.changed == ()
    text = diff_text(d)
    assert text.splitlines()[0] == "restricted v1.21 → v1.22:"
    assert "+ capabilities_restricted (Capabilities): new in v1.22; overrides capabilities_baseline" in text
    assert "- capabilities_baseline (Capabilities): overridden by capabilities_restricted" in text


def test_restricted_1_24_to_1_25_windows_exemptions() -> None:
    d = diff("v1.24", "v1.25")
    assert d.added == () and d.removed == ()
    assert ids(d.changed) == ["allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"]
    for c in d.changed:
        assert [(f.flag, f.before, f.after) for f in c.flags] == [("exempt_windows", False, True)]
        assert c.allowed == ()
        assert [s.minor for s in c.steps] == [25] and "Windows" in c.steps[0].change
    assert d.changed[0].from_implementation == "allowPrivilegeEscalation_1_8"
    assert d.changed[0].to_implementation == "allowPrivilegeEscalation_1_25"
    assert "~ capabilities_restricted: Windows pods exempt: no → yes" in diff_text(d)


def test_restricted_1_34_to_1_35_proc_mount_and_user_namespaces() -> None:
    d = diff("v1.34", "v1.35")
    assert ids(d.added) == ["procMount_restricted"] and ids(d.removed) == ["procMount"]
    assert d.removed[0].overridden_by == ("procMount_restricted",)
    assert ids(d.changed) == ["runAsNonRoot", "runAsUser"]
    for c in d.changed:
        assert [(f.flag, f.before, f.after) for f in c.flags] == [("relax_user_namespaces", False, True)]
    # The restricted procMount check keeps forbidding Unmasked in user-namespaced pods.
    assert d.added[0].relax_user_namespaces is False
    text = diff_text(d)
    assert "+ procMount_restricted (/proc Mount Type): new in v1.35; overrides procMount" in text
    assert "~ runAsUser: hostUsers: false pods exempt: no → yes" in text


def test_baseline_1_34_to_1_35_relaxes_proc_mount() -> None:
    d = diff("v1.34", "v1.35", "baseline")
    assert d.added == () and d.removed == ()
    assert ids(d.changed) == ["procMount"]
    assert d.changed[0].to_implementation == "procMount1_35baseline"


def test_baseline_1_33_to_1_34_adds_host_probes() -> None:
    d = diff("v1.33", "v1.34", "baseline")
    assert ids(d.added) == ["hostProbesAndHostLifecycle"] and d.removed == () and d.changed == ()
    assert d.added[0].since == 34 and d.added[0].implementation == "hostProbesAndHostLifecycleV1Dot34"
    assert diff_text(d).splitlines()[1] == (
        "+ hostProbesAndHostLifecycle (Host Probes / Lifecycle Hooks): new in v1.34"
    )


def test_baseline_1_26_to_1_37_lists_every_sysctl_addition() -> None:
    d = diff("v1.26", "v1.37", "baseline")
    sysctls = next(c for c in d.changed if c.id == "sysctls")
    assert [s.minor for s in sysctls.steps] == [27, 29, 32, 37]
    assert [s.name for s in sysctls.steps] == ["sysctlsV1Dot27", "sysctlsV1Dot29", "sysctlsV1Dot32", "sysctlsV1Dot37"]
    [change] = sysctls.allowed
    old = BY_ID["sysctls"].version_at(26).allowed["sysctls"]
    new = BY_ID["sysctls"].version_at(37).allowed["sysctls"]
    assert change.name == "sysctls" and change.removed == ()
    assert change.added == tuple(v for v in new if v not in old)
    assert change.added == (
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
    )  # fmt: skip
    selinux = next(c for c in d.changed if c.id == "seLinuxOptions")
    assert [(a.name, a.added, a.removed) for a in selinux.allowed] == [("types", ("container_engine_t",), ())]
    assert ids(d.added) == ["hostProbesAndHostLifecycle"]
    assert ids(d.changed) == ["procMount", "seLinuxOptions", "sysctls"]


def test_one_sysctl_step_reads_as_in_the_brief() -> None:
    text = diff_text(diff("v1.31", "v1.32", "baseline"))
    assert text.splitlines() == [
        "baseline v1.31 → v1.32:",
        "~ sysctls (Sysctls): sysctlsV1Dot29 → sysctlsV1Dot32",
        "    v1.32 sysctlsV1Dot32: Also allows net.ipv4.tcp_rmem, net.ipv4.tcp_wmem.",
        "~ sysctls: allowed sysctls + net.ipv4.tcp_rmem, net.ipv4.tcp_wmem",
    ]


@pytest.mark.parametrize("level", ["privileged", "baseline", "restricted"])
@pytest.mark.parametrize("version", ["v1.0", "v1.22", "latest"])
def test_same_version_has_no_changes(level: str, version: str) -> None:
    d = diff(version, version, level)
    assert d.empty and d.now_overridden == () and d.no_longer_overridden == ()
    assert diff_text(d).endswith("no changes") or "no changes (" in diff_text(d)


def test_versions_that_resolve_alike_have_no_changes() -> None:
    d = diff("v1.99", "latest")
    assert d.empty
    assert diff_text(d) == f"restricted v1.99 (v1.{NEWEST_MINOR}) → latest (v1.{NEWEST_MINOR}): no changes"


def test_reverse_direction_mirrors_forward() -> None:
    forward, backward = diff("v1.21", "v1.22"), diff("v1.22", "v1.21")
    assert ids(backward.added) == ids(forward.removed) == ["capabilities_baseline"]
    assert ids(backward.removed) == ids(forward.added) == ["capabilities_restricted"]
    assert backward.added[0].reason == "no longer overridden"
    assert backward.added[0].no_longer_overridden_by == ("capabilities_restricted",)
    assert backward.removed[0].reason == "absent"
    assert backward.no_longer_overridden == forward.now_overridden
    text = diff_text(backward)
    assert "+ capabilities_baseline (Capabilities): no longer overridden by capabilities_restricted" in text
    assert "- capabilities_restricted (Capabilities): absent before v1.22" in text


def test_reverse_direction_removes_allowed_values_and_undoes_steps() -> None:
    d = diff("v1.37", "v1.26", "baseline")
    sysctls = next(c for c in d.changed if c.id == "sysctls")
    assert [s.minor for s in sysctls.steps] == [37, 32, 29, 27] and all(s.undone for s in sysctls.steps)
    assert sysctls.allowed[0].added == () and "net.ipv4.tcp_rmem" in sysctls.allowed[0].removed
    assert ids(d.removed) == ["hostProbesAndHostLifecycle"]
    text = diff_text(d)
    assert "~ sysctls: allowed sysctls - net.ipv4.ip_local_reserved_ports," in text
    assert "v1.37 sysctlsV1Dot37 (undone):" in text
    flags = next(c for c in diff("v1.35", "v1.34").changed if c.id == "runAsUser").flags
    assert [(f.before, f.after) for f in flags] == [(True, False)]


def test_latest_resolves_to_newest() -> None:
    d = level_diff(parse_version("v1.21"), LATEST, "restricted")
    assert (d.to_version, d.to_minor) == ("latest", NEWEST_MINOR)
    assert d == dataclasses.replace(diff("v1.21", f"v1.{NEWEST_MINOR}"), to_version="latest")
    assert ids(d.added) == [
        "hostProbesAndHostLifecycle",
        "capabilities_restricted",
        "procMount_restricted",
        "runAsUser",
    ]
    assert ids(d.removed) == ["capabilities_baseline", "procMount"]
    assert diff_text(d).splitlines()[0] == f"restricted v1.21 → latest (v1.{NEWEST_MINOR}):"


def test_privileged_level_never_changes() -> None:
    d = diff("v1.0", "latest", "privileged")
    assert d.empty
    assert (
        diff_text(d)
        == f"privileged v1.0 → latest (v1.{NEWEST_MINOR}): no changes (the privileged level allows everything)"
    )
    assert diff_json(d)["changes"] is False


def test_all_expands_to_baseline_and_restricted() -> None:
    assert levels_for("all") == ("baseline", "restricted")
    assert [d.level for d in level_diffs(parse_version("v1.33"), parse_version("v1.34"), "all")] == [
        "baseline",
        "restricted",
    ]
    with pytest.raises(VersionError):
        level_diff(parse_version("v1.0"), LATEST, "all")
    with pytest.raises(VersionError):
        levels_for("strict")


def test_json_is_serialisable_and_matches_the_data() -> None:
    d = diff("v1.18", "latest")
    payload = diff_json(d)
    assert json.loads(json.dumps(payload)) == payload
    assert payload["from"] == {"version": "v1.18", "resolved": "v1.18"}
    assert payload["to"] == {"version": "latest", "resolved": f"v1.{NEWEST_MINOR}"}
    assert [a["check"] for a in payload["added"]] == ids(d.added)
    assert [r["check"] for r in payload["removed"]] == ids(d.removed)
    seccomp = next(a for a in payload["added"] if a["check"] == "seccompProfile_restricted")
    assert seccomp["allowed"] == {"types": list(BY_ID["seccompProfile_restricted"].versions[-1].allowed["types"])}
    assert seccomp["exempt_windows"] is True
    assert {"check": "seccompProfile_baseline", "by": "seccompProfile_restricted", "since": "v1.19"} in payload[
        "now_overridden"
    ]


def test_text_is_stable() -> None:
    a = diff_text(diff("v1.0", "latest"))
    assert a == diff_text(diff("v1.0", "latest"))
    assert all(line == line.rstrip() for line in a.splitlines())
