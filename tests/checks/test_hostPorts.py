"""hostPorts: every container port's hostPort must be 0 or unset."""

from __future__ import annotations

import pytest

from generator.policy.checks.hostPorts import CHECK, hostPorts_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "hostPort"


def check(spec):
    return hostPorts_1_0(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), {})


def ports(name, *host_ports):
    return {"name": name, "ports": [{"containerPort": 80, "hostPort": p} for p in host_ports]}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("hostPorts", "baseline", "Host Ports")
    assert "spec.ephemeralContainers[*].ports[*].hostPort" in CHECK.fields
    assert [(v.minimum_minor, v.name, dict(v.allowed)) for v in CHECK.versions] == [(0, "hostPorts_1_0", {})]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="no-containers"),
        pytest.param({"containers": [{"name": "a"}]}, id="no-ports"),
        pytest.param({"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}, id="unset"),
        pytest.param({"containers": [ports("a", 0, None)]}, id="zero-and-null"),
    ],
)
def test_allowed(spec):
    assert check(spec) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {"containers": [ports("a", 0), ports("b", 0, 20)]},
            'container "b" uses hostPort 20',
            id="one-container-one-port",
        ),
        pytest.param(
            {"containers": [ports("a", 0), ports("b", 0, 10, 20), ports("c", 0, 10, 30)]},
            'containers "b", "c" use hostPorts 10, 20, 30',
            id="deduped",
        ),
        pytest.param(
            {"containers": [ports("a", 1, 2)]},
            'container "a" uses hostPorts 1, 2',
            id="one-container-two-ports",
        ),
        pytest.param(
            {"containers": [ports("a", 80), ports("b", 80)]},
            'containers "a", "b" use hostPort 80',
            id="two-containers-one-port",
        ),
        pytest.param(
            {"containers": [ports("a", 9, 100), ports("b", 10)]},
            'containers "a", "b" use hostPorts 10, 100, 9',
            id="sorted-as-strings",
        ),
        pytest.param(
            {
                "ephemeralContainers": [ports("e", 3)],
                "containers": [ports("c", 2)],
                "initContainers": [ports("i", 1)],
            },
            'containers "i", "c", "e" use hostPorts 1, 2, 3',
            id="init-regular-ephemeral",
        ),
        pytest.param({"containers": [{"ports": [{"hostPort": 5}]}]}, 'container "" uses hostPort 5', id="no-name"),
    ],
)
def test_forbidden(spec, detail):
    assert check(spec) == Forbidden(REASON, detail)


def reported(obj, version="latest"):
    result = evaluate(obj, "baseline", version)
    return next(((v.reason, v.detail) for v in result.violations if v.check == CHECK.id), None)


def test_through_evaluator():
    obj = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [ports("a", 8080)]}}
    assert reported(obj, "v1.0") == reported(obj) == (REASON, 'container "a" uses hostPort 8080')


def test_host_network_pod_defaults_host_port_to_container_port():
    spec = {"hostNetwork": True, "containers": [{"name": "a", "ports": [{"containerPort": 8080}]}]}
    assert reported({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}) == (
        REASON,
        'container "a" uses hostPort 8080',
    )
