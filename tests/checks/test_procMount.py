"""procMount: only Default; from v1.35 any value in pods with an explicit hostUsers: false."""

from __future__ import annotations

import pytest

from generator.policy.checks.procMount import CHECK, procMount_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view
from generator.policy.relaxations import USER_NAMESPACES

REASON = "procMount"


def check(spec):
    return procMount_1_0(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), CHECK.versions[0].allowed)


def mount(name, value):
    return {"name": name, "securityContext": {"procMount": value}}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("procMount", "baseline", "/proc Mount Type")
    assert "spec.ephemeralContainers[*].securityContext.procMount" in CHECK.fields
    v1_0, v1_35 = CHECK.versions
    assert (v1_0.minimum_minor, v1_0.name, v1_35.minimum_minor, v1_35.name) == (
        0,
        "procMount_1_0",
        35,
        "procMount1_35baseline",
    )
    assert v1_0.evaluate is v1_35.evaluate is procMount_1_0
    assert v1_0.rego == v1_35.rego == "procMount_1_0"
    assert [v.relaxations for v in CHECK.versions] == [(), (USER_NAMESPACES,)]
    assert not any(v.overrides for v in CHECK.versions)
    assert dict(v1_0.allowed) == dict(v1_35.allowed) == {"proc_mount_types": ("Default",)}
    assert v1_0.change and v1_35.change


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"containers": [{"name": "a"}]}, id="nil-securityContext"),
        pytest.param({"containers": [{"name": "a", "securityContext": {}}]}, id="unset"),
        pytest.param({"containers": [mount("a", None)]}, id="null"),
        pytest.param({"containers": [mount("a", "Default")]}, id="default"),
    ],
)
def test_allowed(spec):
    assert check(spec) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    mount("c", "Default"),
                    mount("d", "Unmasked"),
                    mount("e", "other"),
                ]
            },
            'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"',
            id="plural",
        ),
        pytest.param(
            {"containers": [mount("a", "Unmasked")]},
            'container "a" must not set securityContext.procMount to "Unmasked"',
            id="singular",
        ),
        pytest.param(
            {"containers": [mount("a", "")]},
            'container "a" must not set securityContext.procMount to ""',
            id="explicit-empty",
        ),
        pytest.param(
            {"containers": [mount("a", "default")]},
            'container "a" must not set securityContext.procMount to "default"',
            id="case-sensitive",
        ),
        pytest.param(
            {
                "ephemeralContainers": [mount("e", "Unmasked")],
                "containers": [mount("c", "b")],
                "initContainers": [mount("i", "Unmasked")],
            },
            'containers "i", "c", "e" must not set securityContext.procMount to "Unmasked", "b"',
            id="visit-order-values-sorted-deduped",
        ),
    ],
)
def test_forbidden(spec, detail):
    assert check(spec) == Forbidden(REASON, detail)


UNMASKED = 'container "a" must not set securityContext.procMount to "Unmasked"'


@pytest.mark.parametrize(
    ("host_users", "version", "relaxed"),
    [
        (False, "v1.0", False),
        (False, "v1.34", False),
        (False, "v1.35", True),
        (False, "latest", True),
        (True, "v1.35", False),
        (None, "v1.35", False),
        ("absent", "v1.35", False),
        ("absent", "latest", False),
    ],
)
def test_user_namespace_relaxation(host_users, version, relaxed):
    spec = {"containers": [mount("a", "Unmasked")]}
    if host_users != "absent":
        spec["hostUsers"] = host_users
    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, "baseline", version)
    found = [(v.check, v.reason, v.detail) for v in result.violations]
    assert found == ([] if relaxed else [("procMount", REASON, UNMASKED)])
