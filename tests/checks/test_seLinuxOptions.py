"""seLinuxOptions: type limited to the container types (container_engine_t from v1.31); no user or role."""

from __future__ import annotations

import pytest

from generator.policy.checks.seLinuxOptions import CHECK, seLinuxOptions
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "seLinuxOptions"
PREFIX = "set forbidden securityContext.seLinuxOptions: "


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


V1_0, V1_31 = CHECK.versions


def run(version, spec):
    """The version's implementation, run with the version's own allowed types."""
    return version.evaluate(view(spec), version.allowed)


def opts(**options):
    return {"seLinuxOptions": options}


def c(name, **options):
    return {"name": name, "securityContext": opts(**options)}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("seLinuxOptions", "baseline", "SELinux")
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [(0, "seLinuxOptions1_0"), (31, "seLinuxOptions1_31")]
    assert [dict(v.allowed) for v in CHECK.versions] == [
        {"types": ("", "container_t", "container_init_t", "container_kvm_t")},
        {"types": ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")},
    ]
    assert len(CHECK.fields) == 12
    assert "spec.securityContext.seLinuxOptions.role" in CHECK.fields
    assert "spec.ephemeralContainers[*].securityContext.seLinuxOptions.user" in CHECK.fields
    assert not any(f.endswith(".level") for f in CHECK.fields)
    # One implementation, upstream's shared seLinuxOptions, in Python and in Rego; only the data differs.
    assert all(v.evaluate is seLinuxOptions and v.rego == "seLinuxOptions" for v in CHECK.versions)


@pytest.mark.parametrize("version", CHECK.versions, ids=lambda v: v.name)
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"securityContext": {}}, id="empty-pod-securityContext"),
        pytest.param({"securityContext": opts()}, id="empty-options"),
        pytest.param({"securityContext": {"seLinuxOptions": None}}, id="null-options"),
        pytest.param({"securityContext": opts(type="", user="", role="")}, id="empty-strings"),
        pytest.param({"securityContext": opts(level="s0:c123,c456")}, id="level-ignored"),
        pytest.param(
            {
                "initContainers": [c("i", type="container_init_t")],
                "containers": [c("a", type="container_t"), c("b", type="container_kvm_t"), {"name": "d"}],
                "ephemeralContainers": [c("e", level="anything")],
            },
            id="allowed-types",
        ),
    ],
)
def test_allowed(version, spec):
    assert run(version, spec) is None


UPSTREAM_CONTAINERS = [
    c("a", type="container_t"),
    c("b", type="container_init_t"),
    c("c", type="container_kvm_t"),
    c("d", type="container_engine_t"),
]
BAD_CONTAINERS = [c("e", type="bar"), c("f", user="bar"), c("g", role="baz")]


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {
                "securityContext": opts(type="foo", user="bar", role="baz"),
                "containers": UPSTREAM_CONTAINERS + BAD_CONTAINERS,
            },
            'pod and containers "e", "f", "g" '
            + PREFIX
            + 'types "bar", "foo"; user may not be set; role may not be set',
            id="pod-and-containers",
        ),
        pytest.param(
            {"securityContext": opts(type="foo", user="bar", role="baz"), "containers": UPSTREAM_CONTAINERS},
            "pod " + PREFIX + 'type "foo"; user may not be set; role may not be set',
            id="pod",
        ),
        pytest.param(
            {"securityContext": opts(), "containers": UPSTREAM_CONTAINERS + BAD_CONTAINERS},
            'containers "e", "f", "g" ' + PREFIX + 'type "bar"; user may not be set; role may not be set',
            id="containers",
        ),
        pytest.param({"securityContext": opts(type="bad")}, "pod " + PREFIX + 'type "bad"', id="type"),
        pytest.param({"securityContext": opts(user="bad")}, "pod " + PREFIX + "user may not be set", id="user"),
        pytest.param({"securityContext": opts(role="bad")}, "pod " + PREFIX + "role may not be set", id="role"),
        pytest.param(
            {"containers": [c("a", user="u", level="s0")]},
            'container "a" ' + PREFIX + "user may not be set",
            id="one-container",
        ),
        pytest.param(
            {
                "ephemeralContainers": [c("e", type="b")],
                "containers": [c("c", type="a", role="r")],
                "initContainers": [c("i", type="b")],
            },
            'containers "i", "c", "e" ' + PREFIX + 'types "a", "b"; role may not be set',
            id="visit-order-types-sorted-deduped",
        ),
        pytest.param(
            {"containers": [c("a", type="Container_t"), {"securityContext": opts(type="spc_t")}]},
            'containers "a", "" ' + PREFIX + 'types "Container_t", "spc_t"',
            id="case-sensitive-and-missing-name",
        ),
    ],
)
def test_forbidden_v1_31(spec, detail):
    assert run(V1_31, spec) == Forbidden(REASON, detail)


def test_upstream_pod_case_at_v1_0_also_reports_container_engine_t():
    spec = {"securityContext": opts(type="foo", user="bar", role="baz"), "containers": UPSTREAM_CONTAINERS}
    assert run(V1_0, spec) == Forbidden(
        REASON,
        'pod and container "d" '
        + PREFIX
        + 'types "container_engine_t", "foo"; user may not be set; role may not be set',
    )


@pytest.mark.parametrize(
    ("version", "allowed"),
    [("v1.0", False), ("v1.30", False), ("v1.31", True), ("latest", True)],
)
@pytest.mark.parametrize("where", ["pod", "container"])
def test_container_engine_t_from_v1_31(version, allowed, where):
    if where == "pod":
        spec = {"securityContext": opts(type="container_engine_t"), "containers": [{"name": "a"}]}
        detail = "pod " + PREFIX + 'type "container_engine_t"'
    else:
        spec = {"containers": [c("a", type="container_engine_t")]}
        detail = 'container "a" ' + PREFIX + 'type "container_engine_t"'
    result = evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, "baseline", version)
    found = [(v.check, v.reason, v.detail) for v in result.violations]
    assert found == ([] if allowed else [("seLinuxOptions", REASON, detail)])
