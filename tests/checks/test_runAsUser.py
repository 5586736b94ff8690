"""runAsUser: no explicit 0 on the pod or any container (v1.23+); userns relaxation from v1.35."""

from __future__ import annotations

import pytest

from generator.policy.checks.runAsUser import CHECK, runAsUser1_23
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view
from generator.policy.relaxations import USER_NAMESPACES

REASON = "runAsUser=0"
ROOT = {"runAsUser": 0}


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def reported(spec, version):
    from generator.policy.evaluate import evaluate

    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, "restricted", version)
    found = [(v.reason, v.detail) for v in result.violations if v.check == CHECK.id]
    return found[0] if found else None


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "Running as Non-root user"
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [
        (23, "runAsUser1_23"),
        (35, "runAsUser1_35"),
    ]
    v1_23, v1_35 = CHECK.versions
    assert v1_23.evaluate is v1_35.evaluate is runAsUser1_23
    assert [v.relaxations for v in CHECK.versions] == [(), (USER_NAMESPACES,)]
    assert all(v.rego == "runAsUser1_23" for v in CHECK.versions)
    assert all(v.allowed == {} and v.overrides == () and v.change for v in CHECK.versions)
    assert CHECK.version_at(22) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {"securityContext": ROOT, "containers": [{"name": "a"}]},
            "pod must not set runAsUser=0",
            id="pod-zero",
        ),
        pytest.param(
            {
                "securityContext": ROOT,
                "containers": [{"name": "a", "securityContext": {"runAsUser": 1000}}],
            },
            "pod must not set runAsUser=0",
            id="pod-zero-not-rescued-by-containers",
        ),
        pytest.param({"securityContext": {"runAsUser": 1000}, "containers": [{"name": "a"}]}, None, id="pod-non-zero"),
        pytest.param({"securityContext": {}, "containers": [{"name": "a"}]}, None, id="unset-is-fine"),
        pytest.param({"containers": [{"name": "a"}]}, None, id="nil-everything"),
        pytest.param(
            {"securityContext": {"runAsUser": None}, "containers": [{"name": "a", "securityContext": {}}]},
            None,
            id="null-is-unset",
        ),
        pytest.param(
            {
                "securityContext": {"runAsUser": 1000},
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": ROOT},
                    {"name": "d", "securityContext": ROOT},
                    {"name": "e", "securityContext": {"runAsUser": 1}},
                ],
            },
            'containers "c", "d" must not set runAsUser=0',
            id="containers-zero",
        ),
        pytest.param(
            {"securityContext": ROOT, "containers": [{"name": "c", "securityContext": ROOT}]},
            'pod and container "c" must not set runAsUser=0',
            id="pod-and-container",
        ),
        pytest.param(
            {
                "securityContext": ROOT,
                "initContainers": [{"name": "i", "securityContext": ROOT}],
                "containers": [{"name": "c", "securityContext": ROOT}, {"name": "ok"}],
                "ephemeralContainers": [{"name": "e", "securityContext": ROOT}],
            },
            'pod and containers "i", "c", "e" must not set runAsUser=0',
            id="init-regular-ephemeral",
        ),
        pytest.param(
            {"containers": [{"securityContext": ROOT}]},
            'container "" must not set runAsUser=0',
            id="missing-name",
        ),
    ],
)
def test_runAsUser1_23(spec, detail):
    expected = None if detail is None else Forbidden(REASON, detail)
    assert runAsUser1_23(view(spec), {}) == expected


BAD = {"securityContext": ROOT, "containers": [{"name": "a", "securityContext": ROOT}]}


@pytest.mark.parametrize(
    ("version", "present"),
    [("v1.0", False), ("v1.22", False), ("v1.23", True), ("latest", True)],
)
def test_absent_before_v1_23(version, present):
    assert (reported(BAD, version) is not None) is present


@pytest.mark.parametrize(
    ("host_users", "version", "relaxed"),
    [
        (False, "v1.23", False),
        (False, "v1.34", False),
        (False, "v1.35", True),
        (False, "latest", True),
        (True, "latest", False),
        (None, "latest", False),
    ],
)
def test_user_namespace_relaxation(host_users, version, relaxed):
    assert (reported({**BAD, "hostUsers": host_users}, version) is None) is relaxed


def test_windows_pods_are_not_exempt():
    assert reported({**BAD, "os": {"name": "windows"}}, "latest") == (
        REASON,
        'pod and container "a" must not set runAsUser=0',
    )
