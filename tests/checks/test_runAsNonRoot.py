"""runAsNonRoot: true on the pod or every container, never an explicit false; userns relaxation from v1.35."""

from __future__ import annotations

import pytest

from generator.policy.checks.runAsNonRoot import CHECK, runAsNonRoot1_0
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view
from generator.policy.relaxations import USER_NAMESPACES

REASON = "runAsNonRoot != true"
TRUE = {"runAsNonRoot": True}
FALSE = {"runAsNonRoot": False}


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def reported(spec, version):
    from generator.policy.evaluate import evaluate

    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, "restricted", version)
    found = [(v.reason, v.detail) for v in result.violations if v.check == CHECK.id]
    return found[0] if found else None


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "Running as Non-root"
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [
        (0, "runAsNonRoot1_0"),
        (35, "runAsNonRoot1_35"),
    ]
    v1_0, v1_35 = CHECK.versions
    assert v1_0.evaluate is v1_35.evaluate is runAsNonRoot1_0
    assert [v.relaxations for v in CHECK.versions] == [(), (USER_NAMESPACES,)]
    assert all(v.rego == "runAsNonRoot1_0" for v in CHECK.versions)
    assert all(v.allowed == {} and v.overrides == () and v.change for v in CHECK.versions)


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param({"securityContext": TRUE, "containers": [{"name": "a"}]}, None, id="pod-true"),
        pytest.param({"containers": [{"name": "a", "securityContext": TRUE}]}, None, id="container-true-pod-unset"),
        pytest.param(
            {"securityContext": {}, "containers": [{"name": "a", "securityContext": TRUE}]},
            None,
            id="container-true-pod-empty",
        ),
        pytest.param(
            {"containers": [{"name": "a"}]},
            'pod or container "a" must set securityContext.runAsNonRoot=true',
            id="implicit-singular",
        ),
        pytest.param(
            {
                "securityContext": {"runAsNonRoot": None},
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": {"runAsNonRoot": None}},
                    {"name": "d", "securityContext": TRUE},
                ],
            },
            'pod or containers "a", "b", "c" must set securityContext.runAsNonRoot=true',
            id="implicit-plural",
        ),
        pytest.param(
            {"securityContext": FALSE, "containers": [{"name": "a"}]},
            "pod must not set securityContext.runAsNonRoot=false",
            id="pod-false",
        ),
        pytest.param(
            {"securityContext": FALSE, "containers": [{"name": "a", "securityContext": TRUE}]},
            "pod must not set securityContext.runAsNonRoot=false",
            id="pod-false-not-rescued-by-containers",
        ),
        pytest.param(
            {
                "securityContext": TRUE,
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": FALSE},
                    {"name": "d", "securityContext": FALSE},
                    {"name": "e", "securityContext": TRUE},
                ],
            },
            'containers "c", "d" must not set securityContext.runAsNonRoot=false',
            id="containers-false",
        ),
        pytest.param(
            {"securityContext": FALSE, "containers": [{"name": "a", "securityContext": FALSE}]},
            'pod and container "a" must not set securityContext.runAsNonRoot=false',
            id="pod-and-container",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "implicit"},
                    {"name": "c", "securityContext": FALSE},
                ],
            },
            'container "c" must not set securityContext.runAsNonRoot=false',
            id="explicit-wins-over-implicit",
        ),
        pytest.param(
            {
                "securityContext": FALSE,
                "initContainers": [{"name": "i", "securityContext": FALSE}],
                "containers": [{"name": "c", "securityContext": FALSE}],
                "ephemeralContainers": [{"name": "e", "securityContext": FALSE}],
            },
            'pod and containers "i", "c", "e" must not set securityContext.runAsNonRoot=false',
            id="init-regular-ephemeral-explicit",
        ),
        pytest.param(
            {
                "initContainers": [{"name": "i"}],
                "containers": [{"name": "c"}, {"name": "ok", "securityContext": TRUE}],
                "ephemeralContainers": [{"name": "e"}],
            },
            'pod or containers "i", "c", "e" must set securityContext.runAsNonRoot=true',
            id="init-regular-ephemeral-implicit",
        ),
        pytest.param(
            {"containers": [{"securityContext": FALSE}]},
            'container "" must not set securityContext.runAsNonRoot=false',
            id="missing-name",
        ),
        pytest.param({"containers": []}, None, id="no-containers"),
        pytest.param({"securityContext": FALSE}, "pod must not set securityContext.runAsNonRoot=false", id="pod-only"),
    ],
)
def test_runAsNonRoot1_0(spec, detail):
    expected = None if detail is None else Forbidden(REASON, detail)
    assert runAsNonRoot1_0(view(spec), {}) == expected


BAD = {"securityContext": FALSE, "containers": [{"name": "a", "securityContext": FALSE}]}


def test_applies_from_v1_0():
    assert reported({"containers": [{"name": "a"}]}, "v1.0") == (
        REASON,
        'pod or container "a" must set securityContext.runAsNonRoot=true',
    )


@pytest.mark.parametrize(
    ("host_users", "version", "relaxed"),
    [
        (False, "v1.34", False),
        (False, "v1.35", True),
        (False, "latest", True),
        (True, "v1.35", False),
        (None, "v1.35", False),
        ("absent", "latest", False),
    ],
)
def test_user_namespace_relaxation(host_users, version, relaxed):
    spec = BAD if host_users == "absent" else {**BAD, "hostUsers": host_users}
    assert (reported(spec, version) is None) is relaxed


def test_windows_pods_are_not_exempt():
    assert reported({**BAD, "os": {"name": "windows"}}, "latest") is not None
