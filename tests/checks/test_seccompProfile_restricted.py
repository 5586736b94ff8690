"""seccompProfile_restricted: RuntimeDefault or Localhost on the pod or every container (v1.19+)."""

from __future__ import annotations

import pytest

from generator.policy.checks.seccompProfile_restricted import CHECK, seccompProfileRestricted_1_19
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view
from generator.policy.relaxations import WINDOWS

REASON = "seccompProfile"
RUNTIME_DEFAULT = {"seccompProfile": {"type": "RuntimeDefault"}}
LOCALHOST = {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}
UNCONFINED = {"seccompProfile": {"type": "Unconfined"}}
MUST_SET = 'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def evaluated(spec, level, version, annotations=None):
    from generator.policy.evaluate import evaluate

    metadata = {"name": "p", "annotations": annotations or {}}
    return evaluate({"kind": "Pod", "metadata": metadata, "spec": spec}, level, version)


def reported(spec, version, check_id=CHECK.id, level="restricted", annotations=None):
    result = evaluated(spec, level, version, annotations)
    found = [(v.reason, v.detail) for v in result.violations if v.check == check_id]
    return found[0] if found else None


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "Seccomp"
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [
        (19, "seccompProfileRestricted_1_19"),
        (25, "seccompProfileRestricted_1_25"),
    ]
    v1_19, v1_25 = CHECK.versions
    assert v1_19.evaluate is v1_25.evaluate is seccompProfileRestricted_1_19
    assert [v.relaxations for v in CHECK.versions] == [(), (WINDOWS,)]
    for v in CHECK.versions:
        assert v.rego == "seccompProfileRestricted_1_19"
        assert v.overrides == ("seccompProfile_baseline",)
        assert v.allowed == {"types": ("Localhost", "RuntimeDefault")}
        assert v.change
    assert CHECK.version_at(18) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param({"securityContext": RUNTIME_DEFAULT, "containers": [{"name": "a"}]}, None, id="pod"),
        pytest.param({"securityContext": LOCALHOST, "containers": [{"name": "a"}]}, None, id="pod-localhost"),
        pytest.param(
            {
                "initContainers": [{"name": "i", "securityContext": LOCALHOST}],
                "containers": [{"name": "a", "securityContext": RUNTIME_DEFAULT}],
            },
            None,
            id="every-container",
        ),
        pytest.param(
            {"containers": [{"name": "a"}]},
            f'pod or container "a" {MUST_SET}',
            id="implicit-singular",
        ),
        pytest.param(
            {
                "securityContext": {"seccompProfile": None},
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": {"seccompProfile": None}},
                    {"name": "d", "securityContext": RUNTIME_DEFAULT},
                ],
            },
            f'pod or containers "a", "b", "c" {MUST_SET}',
            id="implicit-plural",
        ),
        pytest.param(
            {"securityContext": UNCONFINED, "containers": [{"name": "a"}]},
            'pod must not set securityContext.seccompProfile.type to "Unconfined"',
            id="pod-bad",
        ),
        pytest.param(
            {
                "securityContext": UNCONFINED,
                "containers": [{"name": "a", "securityContext": RUNTIME_DEFAULT}],
            },
            'pod must not set securityContext.seccompProfile.type to "Unconfined"',
            id="pod-bad-not-rescued-by-container",
        ),
        pytest.param(
            {"securityContext": {"seccompProfile": {}}, "containers": [{"name": "a"}]},
            'pod must not set securityContext.seccompProfile.type to ""',
            id="empty-profile-is-explicit-empty-type",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": None}}}]},
            'container "a" must not set securityContext.seccompProfile.type to ""',
            id="null-type-is-empty-type",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "runtimedefault"}}}]},
            'container "a" must not set securityContext.seccompProfile.type to "runtimedefault"',
            id="case-sensitive",
        ),
        pytest.param(
            {
                "securityContext": RUNTIME_DEFAULT,
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": UNCONFINED},
                    {"name": "d", "securityContext": UNCONFINED},
                    {"name": "e", "securityContext": RUNTIME_DEFAULT},
                ],
            },
            'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
            id="containers-bad",
        ),
        pytest.param(
            {
                "securityContext": {"seccompProfile": {"type": "Unconfined"}},
                "containers": [
                    {"name": "c", "securityContext": {"seccompProfile": {"type": "Other"}}},
                    {"name": "d", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                    {"name": "e", "securityContext": {"seccompProfile": {}}},
                ],
            },
            'pod and containers "c", "d", "e" must not set securityContext.seccompProfile.type to '
            '"", "Other", "Unconfined"',
            id="pod-and-containers-sorted-unique-values",
        ),
        pytest.param(
            {"containers": [{"name": "implicit"}, {"name": "c", "securityContext": UNCONFINED}]},
            'container "c" must not set securityContext.seccompProfile.type to "Unconfined"',
            id="explicit-wins-over-implicit",
        ),
        pytest.param(
            {
                "initContainers": [{"name": "i"}],
                "containers": [{"name": "c"}, {"name": "ok", "securityContext": LOCALHOST}],
                "ephemeralContainers": [{"name": "e"}],
            },
            f'pod or containers "i", "c", "e" {MUST_SET}',
            id="init-regular-ephemeral-implicit",
        ),
        pytest.param(
            {
                "initContainers": [{"name": "i", "securityContext": UNCONFINED}],
                "containers": [{"name": "c", "securityContext": UNCONFINED}],
                "ephemeralContainers": [{"name": "e", "securityContext": UNCONFINED}],
            },
            'containers "i", "c", "e" must not set securityContext.seccompProfile.type to "Unconfined"',
            id="init-regular-ephemeral-explicit",
        ),
        pytest.param(
            {"containers": [{}]},
            f'pod or container "" {MUST_SET}',
            id="missing-name",
        ),
        pytest.param({"containers": []}, None, id="no-containers"),
    ],
)
def test_seccompProfileRestricted_1_19(spec, detail):
    expected = None if detail is None else Forbidden(REASON, detail)
    assert seccompProfileRestricted_1_19(view(spec), CHECK.versions[0].allowed) == expected


UNSET = {"containers": [{"name": "a"}]}


@pytest.mark.parametrize(
    ("version", "present"),
    [("v1.0", False), ("v1.18", False), ("v1.19", True), ("latest", True)],
)
def test_absent_before_v1_19(version, present):
    assert (reported(UNSET, version) is not None) is present


def test_fields_ignored_and_annotations_checked_before_v1_19():
    spec = {"securityContext": UNCONFINED, "containers": [{"name": "a"}]}
    assert reported(spec, "v1.18") is None
    assert reported(spec, "v1.18", "seccompProfile_baseline") is None
    annotations = {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    assert reported(UNSET, "v1.18", "seccompProfile_baseline", annotations=annotations) == (
        REASON,
        'forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined"',
    )
    # From v1.19 annotations are ignored, and the baseline check no longer runs at restricted.
    spec = {"securityContext": RUNTIME_DEFAULT, "containers": [{"name": "a"}]}
    assert reported(spec, "v1.19", annotations=annotations) is None
    assert reported(spec, "v1.19", "seccompProfile_baseline", annotations=annotations) is None


@pytest.mark.parametrize(
    ("os_name", "version", "exempt"),
    [
        ("windows", "v1.19", False),
        ("windows", "v1.24", False),
        ("windows", "v1.25", True),
        ("windows", "latest", True),
        ("WINDOWS", "latest", False),
        ("linux", "latest", False),
    ],
)
def test_windows_exemption(os_name, version, exempt):
    assert (reported({**UNSET, "os": {"name": os_name}}, version) is None) is exempt


def test_windows_unconfined_allowed_at_restricted_but_denied_at_baseline():
    # R14: the Windows exemption also switches off the overridden seccompProfile_baseline.
    spec = {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}},
        "containers": [{"name": "a", "image": "x"}],
    }
    assert evaluated(spec, "restricted", "latest").allowed
    baseline = evaluated(spec, "baseline", "latest")
    assert [(v.check, v.detail) for v in baseline.violations] == [
        ("seccompProfile_baseline", 'pod must not set securityContext.seccompProfile.type to "Unconfined"'),
    ]
    assert reported(spec, "v1.24") == (
        REASON,
        'pod must not set securityContext.seccompProfile.type to "Unconfined"',
    )
