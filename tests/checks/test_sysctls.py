"""sysctls: pod sysctl names from a safe list that grows at v1.27, v1.29, v1.32 and v1.37."""

from __future__ import annotations

import pytest

from generator.policy.checks.sysctls import CHECK, V1_0, V1_37, sysctls
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "forbidden sysctls"

# (name, first minor at which it is allowed), in upstream's order.
SAFE = [
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
    ("net.ipv4.tcp_slow_start_after_idle", 37),
    ("net.ipv4.tcp_notsent_lowat", 37),
]


def obj(*names, value="1"):
    sysctls = [{"name": n, "value": value} for n in names]
    return {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"securityContext": {"sysctls": sysctls}}}


def reported(o, version):
    result = evaluate(o, "baseline", version)
    return next(((v.reason, v.detail) for v in result.violations if v.check == CHECK.id), None)


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("sysctls", "baseline", "Sysctls")
    assert CHECK.fields == ("spec.securityContext.sysctls[*].name",)
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [
        (0, "sysctlsV1Dot0"),
        (27, "sysctlsV1Dot27"),
        (29, "sysctlsV1Dot29"),
        (32, "sysctlsV1Dot32"),
        (37, "sysctlsV1Dot37"),
    ]
    for version in CHECK.versions:
        expected = tuple(name for name, minor in SAFE if minor <= version.minimum_minor)
        assert dict(version.allowed) == {"sysctls": expected}
        assert version.change
    assert all(name in CHECK.versions[-1].change for name, minor in SAFE if minor == 37)
    # One implementation, upstream's shared sysctls, in Python and in Rego; only the data differs.
    assert all(v.evaluate is sysctls and v.rego == "sysctls" for v in CHECK.versions)


@pytest.mark.parametrize(("name", "minor"), SAFE, ids=[n for n, _ in SAFE])
def test_allowed_from_its_version(name, minor):
    if minor > 0:
        assert reported(obj(name), f"v1.{minor - 1}") == (REASON, name)
    assert reported(obj(name), f"v1.{minor}") is None
    assert reported(obj(name), "latest") is None


@pytest.mark.parametrize(
    ("version", "detail"),
    [
        ("v1.26", "net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_rmem,"
                  " net.ipv4.tcp_notsent_lowat"),
        ("v1.27", "net.ipv4.tcp_keepalive_time, net.ipv4.tcp_rmem, net.ipv4.tcp_notsent_lowat"),
        ("v1.28", "net.ipv4.tcp_keepalive_time, net.ipv4.tcp_rmem, net.ipv4.tcp_notsent_lowat"),
        ("v1.29", "net.ipv4.tcp_rmem, net.ipv4.tcp_notsent_lowat"),
        ("v1.31", "net.ipv4.tcp_rmem, net.ipv4.tcp_notsent_lowat"),
        ("v1.32", "net.ipv4.tcp_notsent_lowat"),
        ("v1.36", "net.ipv4.tcp_notsent_lowat"),
        ("v1.37", None),
        ("v1.99", None),
    ],
)  # fmt: skip
def test_version_boundaries(version, detail):
    o = obj(
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_notsent_lowat",
    )
    assert reported(o, version) == (None if detail is None else (REASON, detail))


def check(version, spec):
    """The version's implementation, run with the version's own allowed names."""
    return version.evaluate(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), version.allowed)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="no-securityContext"),
        pytest.param({"securityContext": {}}, id="no-sysctls"),
        pytest.param({"securityContext": {"sysctls": []}}, id="empty"),
        pytest.param({"securityContext": {"sysctls": None}}, id="null"),
        pytest.param(
            {"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "anything at all"}]}},
            id="value-ignored",
        ),
    ],
)
def test_allowed(spec):
    assert check(V1_0, spec) is None


@pytest.mark.parametrize(
    ("names", "detail"),
    [
        pytest.param(["a", "b"], "a, b", id="upstream"),
        pytest.param(["b", "a", "kernel.shm_rmid_forced", "b"], "b, a, b", id="spec-order-duplicates-kept"),
        pytest.param(["kernel.shm_rmid_forced.x", "net.ipv4"], "kernel.shm_rmid_forced.x, net.ipv4", id="no-prefix"),
        pytest.param(["Kernel.Shm_rmid_forced"], "Kernel.Shm_rmid_forced", id="case-sensitive"),
        pytest.param(["net/ipv4/tcp_syncookies"], "net/ipv4/tcp_syncookies", id="slash-form-not-matched"),
        pytest.param(['x"y'], 'x"y', id="unquoted"),
    ],
)
def test_forbidden(names, detail):
    spec = {"securityContext": {"sysctls": [{"name": n, "value": "1"} for n in names]}}
    assert check(V1_37, spec) == Forbidden(REASON, detail)


def test_missing_name_is_empty():
    spec = {"securityContext": {"sysctls": [{"value": "1"}, {"name": "a"}]}}
    assert check(V1_37, spec) == Forbidden(REASON, ", a")
