"""windowsHostProcess: hostProcess must be false or unset on the pod and every container."""

from __future__ import annotations

import pytest

from generator.policy.checks.windowsHostProcess import CHECK, windowsHostProcess_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "hostProcess"
SUFFIX = " must not set securityContext.windowsOptions.hostProcess=true"


def check(spec):
    return windowsHostProcess_1_0(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), {})


def host_process(value):
    return {"windowsOptions": {"hostProcess": value}}


def c(name, value):
    return {"name": name, "securityContext": host_process(value)}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("windowsHostProcess", "baseline", "HostProcess")
    assert "spec.securityContext.windowsOptions.hostProcess" in CHECK.fields
    assert "spec.ephemeralContainers[*].securityContext.windowsOptions.hostProcess" in CHECK.fields
    assert [(v.minimum_minor, v.name, dict(v.allowed)) for v in CHECK.versions] == [(0, "windowsHostProcess_1_0", {})]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"securityContext": {"windowsOptions": {}}}, id="pod-unset"),
        pytest.param({"securityContext": host_process(False)}, id="pod-false"),
        pytest.param({"securityContext": host_process(None)}, id="pod-null"),
        pytest.param(
            {"containers": [{"name": "a"}, {"name": "b", "securityContext": {}}, c("c", False), c("d", None)]},
            id="containers-not-set",
        ),
    ],
)
def test_allowed(spec):
    assert check(spec) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {
                "securityContext": host_process(True),
                "containers": [
                    {"name": "a", "securityContext": None},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": {"windowsOptions": {}}},
                    c("d", False),
                    c("e", True),
                    c("f", True),
                ],
            },
            'pod and containers "e", "f"' + SUFFIX,
            id="pod-and-containers",
        ),
        pytest.param({"securityContext": host_process(True)}, "pod" + SUFFIX, id="pod"),
        pytest.param({"containers": [c("a", True)]}, 'container "a"' + SUFFIX, id="container"),
        pytest.param(
            {"securityContext": host_process(True), "containers": [c("a", True)]},
            'pod and container "a"' + SUFFIX,
            id="pod-and-container",
        ),
        pytest.param(
            {
                "ephemeralContainers": [c("e", True)],
                "containers": [c("c", True)],
                "initContainers": [c("i", True)],
                "securityContext": host_process(False),
            },
            'containers "i", "c", "e"' + SUFFIX,
            id="visit-order",
        ),
        pytest.param({"containers": [{"securityContext": host_process(True)}]}, 'container ""' + SUFFIX, id="no-name"),
    ],
)
def test_forbidden(spec, detail):
    assert check(spec) == Forbidden(REASON, detail)


@pytest.mark.parametrize("level", ["baseline", "restricted"])
@pytest.mark.parametrize("version", ["v1.0", "v1.25", "latest"])
def test_through_evaluator_windows_pods_included(level, version):
    spec = {"os": {"name": "windows"}, "securityContext": host_process(True), "containers": [{"name": "a"}]}
    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, level, version)
    assert ("windowsHostProcess", REASON, "pod" + SUFFIX) in [(v.check, v.reason, v.detail) for v in result.violations]
