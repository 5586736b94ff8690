"""hostNamespaces: hostNetwork, hostPID and hostIPC must be false or unset."""

from __future__ import annotations

import pytest

from generator.policy.checks.hostNamespaces import CHECK, hostNamespaces_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "host namespaces"


def check(spec):
    return hostNamespaces_1_0(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), {})


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("hostNamespaces", "baseline", "Host Namespaces")
    assert CHECK.fields == ("spec.hostNetwork", "spec.hostPID", "spec.hostIPC")
    assert [(v.minimum_minor, v.name, dict(v.allowed)) for v in CHECK.versions] == [(0, "hostNamespaces_1_0", {})]


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"hostNetwork": False, "hostPID": False, "hostIPC": False},
        {"hostNetwork": None, "hostPID": None, "hostIPC": None},
    ],
)
def test_allowed(spec):
    assert check(spec) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ({"hostNetwork": True}, "hostNetwork=true"),
        ({"hostPID": True}, "hostPID=true"),
        ({"hostIPC": True}, "hostIPC=true"),
        ({"hostIPC": True, "hostPID": True}, "hostPID=true, hostIPC=true"),
        ({"hostIPC": True, "hostPID": True, "hostNetwork": True}, "hostNetwork=true, hostPID=true, hostIPC=true"),
        ({"hostIPC": True, "hostPID": False, "hostNetwork": True}, "hostNetwork=true, hostIPC=true"),
    ],
)
def test_forbidden_in_fixed_order(spec, detail):
    assert check(spec) == Forbidden(REASON, detail)


@pytest.mark.parametrize("version", ["v1.0", "latest"])
def test_through_evaluator(version):
    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostPID": True}}, "baseline", version)
    assert [(v.check, v.reason, v.detail) for v in result.violations] == [("hostNamespaces", REASON, "hostPID=true")]
