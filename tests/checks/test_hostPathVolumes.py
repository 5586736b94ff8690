"""hostPathVolumes: no volume may have a hostPath source; only at baseline."""

from __future__ import annotations

import pytest

from generator.policy.checks.hostPathVolumes import CHECK, hostPathVolumes_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "hostPath volumes"


def check(volumes):
    return hostPathVolumes_1_0(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"volumes": volumes}}), {})


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("hostPathVolumes", "baseline", "HostPath Volumes")
    assert CHECK.fields == ("spec.volumes[*].hostPath",)
    assert [(v.minimum_minor, v.name, dict(v.allowed)) for v in CHECK.versions] == [(0, "hostPathVolumes_1_0", {})]


@pytest.mark.parametrize(
    "volumes",
    [
        pytest.param(None, id="no-volumes"),
        pytest.param([{"name": "a", "emptyDir": {}}], id="emptyDir"),
        pytest.param([{"name": "a"}], id="no-source-defaults-to-emptyDir"),
        pytest.param([{"name": "a", "hostPath": None}], id="null-hostPath"),
        pytest.param([{"name": "a", "configMap": {"name": "c"}}, {"name": "b", "gitRepo": {}}], id="others"),
    ],
)
def test_allowed(volumes):
    assert check(volumes) is None


@pytest.mark.parametrize(
    ("volumes", "detail"),
    [
        pytest.param([{"name": "h", "hostPath": {"path": "/"}}], 'volume "h"', id="one"),
        pytest.param([{"name": "h", "hostPath": {}}], 'volume "h"', id="empty-hostPath-is-set"),
        pytest.param(
            [
                {"name": "b", "hostPath": {"path": "/b"}},
                {"name": "ok", "emptyDir": {}},
                {"name": "a", "hostPath": {"path": "/a"}},
                {"name": "a", "hostPath": {"path": "/a"}},
            ],
            'volumes "b", "a", "a"',
            id="spec-order-not-deduped",
        ),
        pytest.param([{"hostPath": {"path": "/"}}], 'volume ""', id="missing-name"),
    ],
)
def test_forbidden(volumes, detail):
    assert check(volumes) == Forbidden(REASON, detail)


def test_through_evaluator_baseline_only():
    obj = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}
    for version in ("v1.0", "latest"):
        found = [(v.reason, v.detail) for v in evaluate(obj, "baseline", version).violations]
        assert found == [(REASON, 'volume "h"')]
        assert "hostPathVolumes" not in [v.check for v in evaluate(obj, "restricted", version).violations]
