"""capabilities_restricted: drop "ALL", add only NET_BIND_SERVICE (v1.22+; Windows exempt v1.25+)."""

from __future__ import annotations

import pytest

from generator.policy.checks.capabilities_restricted import CHECK, capabilitiesRestricted_1_22
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view
from generator.policy.relaxations import WINDOWS

REASON = "unrestricted capabilities"
DROP_ALL = {"capabilities": {"drop": ["ALL"]}}


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def evaluated(spec, level, version):
    from generator.policy.evaluate import evaluate

    return evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, level, version)


def reported(spec, version, check_id=CHECK.id, level="restricted"):
    found = [(v.reason, v.detail) for v in evaluated(spec, level, version).violations if v.check == check_id]
    return found[0] if found else None


def caps(name, add=None, drop=None):
    capabilities = {}
    if add is not None:
        capabilities["add"] = add
    if drop is not None:
        capabilities["drop"] = drop
    return {"name": name, "securityContext": {"capabilities": capabilities}}


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "Capabilities"
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [
        (22, "capabilitiesRestricted_1_22"),
        (25, "capabilitiesRestricted_1_25"),
    ]
    v1_22, v1_25 = CHECK.versions
    assert v1_22.evaluate is v1_25.evaluate is capabilitiesRestricted_1_22
    assert [v.relaxations for v in CHECK.versions] == [(), (WINDOWS,)]
    for v in CHECK.versions:
        assert v.rego == "capabilitiesRestricted_1_22"
        assert v.overrides == ("capabilities_baseline",)
        assert v.allowed == {"drop": ("ALL",), "add": ("NET_BIND_SERVICE",)}
        assert v.change
    assert CHECK.version_at(21) is None
    assert CHECK.version_at(22) is v1_22


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param({"containers": [{"name": "a", "securityContext": DROP_ALL}]}, None, id="drop-all"),
        pytest.param(
            {"containers": [caps("a", add=["NET_BIND_SERVICE"], drop=["NET_RAW", "ALL"])]},
            None,
            id="drop-all-among-others-and-add-net-bind-service",
        ),
        pytest.param(
            {"containers": [{"name": "a"}]},
            'container "a" must set securityContext.capabilities.drop=["ALL"]',
            id="nil-securityContext",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {}}]},
            'container "a" must set securityContext.capabilities.drop=["ALL"]',
            id="nil-capabilities",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"capabilities": None}}]},
            'container "a" must set securityContext.capabilities.drop=["ALL"]',
            id="null-capabilities",
        ),
        pytest.param(
            {"containers": [caps("a")]},
            'container "a" must set securityContext.capabilities.drop=["ALL"]',
            id="empty-capabilities",
        ),
        pytest.param(
            {"containers": [caps("a", drop=["all"]), caps("b", drop=["CAP_ALL"])]},
            'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]',
            id="drop-all-is-case-sensitive",
        ),
        pytest.param(
            {"containers": [caps("a", drop=["CHOWN", "NET_RAW", "SYS_ADMIN"])]},
            'container "a" must set securityContext.capabilities.drop=["ALL"]',
            id="dropping-individually-is-not-all",
        ),
        pytest.param(
            {"containers": [caps("a", add=["CHOWN"], drop=["ALL"])]},
            'container "a" must not include "CHOWN" in securityContext.capabilities.add',
            id="baseline-capability-forbidden-at-restricted",
        ),
        pytest.param(
            {"containers": [caps("a", add=["net_bind_service", "CAP_NET_BIND_SERVICE"], drop=["ALL"])]},
            'container "a" must not include "CAP_NET_BIND_SERVICE", "net_bind_service" '
            "in securityContext.capabilities.add",
            id="add-is-case-sensitive",
        ),
        pytest.param(
            {"containers": [caps("a", add=["ALL"], drop=["ALL"])]},
            'container "a" must not include "ALL" in securityContext.capabilities.add',
            id="add-all",
        ),
        pytest.param(
            {
                "containers": [
                    caps("a", add=["FOO", "BAR"]),
                    caps("b", add=["BAR", "BAZ"]),
                    caps("c", add=["NET_BIND_SERVICE", "CHOWN"], drop=["ALL", "FOO"]),
                ]
            },
            'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; '
            'containers "a", "b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" '
            "in securityContext.capabilities.add",
            id="both-messages-sorted-unique-capabilities",
        ),
        pytest.param(
            {"containers": [caps("a", add=["SYS_ADMIN", "SYS_ADMIN"])]},
            'container "a" must set securityContext.capabilities.drop=["ALL"]; '
            'container "a" must not include "SYS_ADMIN" in securityContext.capabilities.add',
            id="both-messages-singular",
        ),
        pytest.param(
            {
                "initContainers": [caps("i", add=["NET_RAW"], drop=["ALL"])],
                "containers": [{"name": "c"}, {"name": "ok", "securityContext": DROP_ALL}],
                "ephemeralContainers": [caps("e", add=["SYS_PTRACE"])],
            },
            'containers "c", "e" must set securityContext.capabilities.drop=["ALL"]; '
            'containers "i", "e" must not include "NET_RAW", "SYS_PTRACE" '
            "in securityContext.capabilities.add",
            id="init-regular-ephemeral-in-visit-order",
        ),
    ],
)
def test_capabilitiesRestricted_1_22(spec, detail):
    expected = None if detail is None else Forbidden(REASON, detail)
    assert capabilitiesRestricted_1_22(view(spec), CHECK.versions[0].allowed) == expected


NO_DROP = {"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": False}}]}


@pytest.mark.parametrize(
    ("version", "present"),
    [("v1.0", False), ("v1.21", False), ("v1.22", True), ("latest", True)],
)
def test_absent_before_v1_22(version, present):
    assert (reported(NO_DROP, version) is not None) is present


def test_baseline_capabilities_run_at_restricted_before_v1_22():
    spec = {"containers": [caps("a", add=["NET_RAW"])]}
    assert reported(spec, "v1.21", "capabilities_baseline") == (
        "non-default capabilities",
        'container "a" must not include "NET_RAW" in securityContext.capabilities.add',
    )
    assert reported(spec, "v1.22", "capabilities_baseline") is None
    assert reported(spec, "v1.22") == (
        REASON,
        'container "a" must set securityContext.capabilities.drop=["ALL"]; '
        'container "a" must not include "NET_RAW" in securityContext.capabilities.add',
    )


@pytest.mark.parametrize(
    ("os_name", "version", "exempt"),
    [
        ("windows", "v1.22", False),
        ("windows", "v1.24", False),
        ("windows", "v1.25", True),
        ("windows", "latest", True),
        ("Windows", "latest", False),
        ("linux", "latest", False),
    ],
)
def test_windows_exemption(os_name, version, exempt):
    assert (reported({**NO_DROP, "os": {"name": os_name}}, version) is None) is exempt


def test_windows_pod_adding_net_raw_allowed_at_restricted_but_denied_at_baseline():
    # R14: the Windows exemption also switches off the overridden capabilities_baseline.
    spec = {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True},
        "containers": [caps("a", add=["NET_RAW"])],
    }
    assert evaluated(spec, "restricted", "v1.25").allowed
    assert evaluated(spec, "restricted", "latest").allowed
    baseline = evaluated(spec, "baseline", "latest")
    assert not baseline.allowed
    assert [(v.check, v.detail) for v in baseline.violations] == [
        (
            "capabilities_baseline",
            'container "a" must not include "NET_RAW" in securityContext.capabilities.add',
        ),
    ]
    assert not evaluated(spec, "restricted", "v1.24").allowed
