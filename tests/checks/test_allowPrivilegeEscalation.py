"""allowPrivilegeEscalation: explicit false required on every container; Windows exempt from v1.25."""

from __future__ import annotations

import pytest

from generator.policy.checks.allowPrivilegeEscalation import CHECK, allowPrivilegeEscalation_1_8
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view
from generator.policy.relaxations import WINDOWS

REASON = "allowPrivilegeEscalation != false"
OK = {"allowPrivilegeEscalation": False}


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def reported(spec, version):
    """This check's (reason, detail) when the whole evaluator runs at restricted:version, else None."""
    from generator.policy.evaluate import evaluate

    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, "restricted", version)
    found = [(v.reason, v.detail) for v in result.violations if v.check == CHECK.id]
    return found[0] if found else None


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "Privilege Escalation"
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [
        (8, "allowPrivilegeEscalation_1_8"),
        (25, "allowPrivilegeEscalation_1_25"),
    ]
    v1_8, v1_25 = CHECK.versions
    assert v1_8.evaluate is v1_25.evaluate is allowPrivilegeEscalation_1_8
    assert [v.relaxations for v in CHECK.versions] == [(), (WINDOWS,)]
    assert all(v.rego == "allowPrivilegeEscalation_1_8" for v in CHECK.versions)
    assert all(v.allowed == {} and v.overrides == () and v.change for v in CHECK.versions)
    assert CHECK.version_at(7) is None
    assert CHECK.version_at(8) is v1_8
    assert CHECK.version_at(24) is v1_8
    assert CHECK.version_at(37) is v1_25


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param({"containers": [{"name": "a", "securityContext": OK}]}, None, id="explicit-false"),
        pytest.param(
            {"containers": [{"name": "a"}]},
            'container "a" must set securityContext.allowPrivilegeEscalation=false',
            id="nil-securityContext",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {}}]},
            'container "a" must set securityContext.allowPrivilegeEscalation=false',
            id="empty-securityContext",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": None}}]},
            'container "a" must set securityContext.allowPrivilegeEscalation=false',
            id="null-field",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {"allowPrivilegeEscalation": None}},
                    {"name": "c", "securityContext": {"allowPrivilegeEscalation": True}},
                    {"name": "d", "securityContext": OK},
                ]
            },
            'containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false',
            id="plural",
        ),
        pytest.param(
            {
                "initContainers": [{"name": "i"}],
                "containers": [{"name": "c"}, {"name": "ok", "securityContext": OK}],
                "ephemeralContainers": [{"name": "e", "securityContext": {"allowPrivilegeEscalation": True}}],
            },
            'containers "i", "c", "e" must set securityContext.allowPrivilegeEscalation=false',
            id="init-regular-ephemeral-in-visit-order",
        ),
        pytest.param(
            {"containers": [{"image": "x"}]},
            'container "" must set securityContext.allowPrivilegeEscalation=false',
            id="missing-name",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"privileged": False}}]},
            'container "a" must set securityContext.allowPrivilegeEscalation=false',
            id="other-fields-only",
        ),
        pytest.param({"containers": []}, None, id="no-containers"),
    ],
)
def test_allowPrivilegeEscalation_1_8(spec, detail):
    expected = None if detail is None else Forbidden(REASON, detail)
    assert allowPrivilegeEscalation_1_8(view(spec), {}) == expected


BAD = {"containers": [{"name": "a"}]}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v1.0", None),
        ("v1.7", None),
        ("v1.8", (REASON, 'container "a" must set securityContext.allowPrivilegeEscalation=false')),
        ("latest", (REASON, 'container "a" must set securityContext.allowPrivilegeEscalation=false')),
    ],
)
def test_absent_before_v1_8(version, expected):
    assert reported(BAD, version) == expected


@pytest.mark.parametrize(
    ("os_name", "version", "exempt"),
    [
        ("windows", "v1.24", False),
        ("windows", "v1.25", True),
        ("windows", "latest", True),
        ("Windows", "v1.25", False),
        ("linux", "v1.25", False),
        (None, "v1.25", False),
    ],
)
def test_windows_exemption(os_name, version, exempt):
    spec = {**BAD, "os": {"name": os_name}} if os_name is not None else BAD
    assert (reported(spec, version) is None) is exempt


def test_windows_options_do_not_mark_a_windows_pod():
    spec = {"securityContext": {"windowsOptions": {"runAsUserName": "x"}}, **BAD}
    assert reported(spec, "latest") is not None
