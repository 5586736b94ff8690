"""hostProbesAndHostLifecycle (v1.34+): no host in probe or lifecycle httpGet/tcpSocket handlers."""

from __future__ import annotations

import pytest

from generator.policy.checks.hostProbesAndHostLifecycle import CHECK, hostProbesAndHostLifecycleV1Dot34
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "probe or lifecycle host"


def check(spec):
    return hostProbesAndHostLifecycleV1Dot34(pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), {})


def probe(kind, action, host, name="a"):
    return {"name": name, kind: {action: {"port": 80, "host": host}}}


def hook(kind, action, host, name="a"):
    return {"name": name, "lifecycle": {kind: {action: {"port": 80, "host": host}}}}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == (
        "hostProbesAndHostLifecycle",
        "baseline",
        "Host Probes / Lifecycle Hooks",
    )
    assert [(v.minimum_minor, v.name, dict(v.allowed)) for v in CHECK.versions] == [
        (34, "hostProbesAndHostLifecycleV1Dot34", {})
    ]
    assert len(CHECK.fields) == 30
    assert "spec.initContainers[*].lifecycle.preStop.tcpSocket.host" in CHECK.fields
    assert "spec.ephemeralContainers[*].startupProbe.httpGet.host" in CHECK.fields
    assert CHECK.version_at(33) is None
    assert CHECK.version_at(34) is CHECK.versions[0]


LOCATIONS = [
    *((probe, kind, action) for kind in ("livenessProbe", "readinessProbe", "startupProbe")
      for action in ("httpGet", "tcpSocket")),
    *((hook, kind, action) for kind in ("postStart", "preStop") for action in ("httpGet", "tcpSocket")),
]  # fmt: skip


@pytest.mark.parametrize(("make", "kind", "action"), LOCATIONS, ids=[f"{k}.{a}" for _, k, a in LOCATIONS])
def test_every_location(make, kind, action):
    assert check({"containers": [make(kind, action, "h.example")]}) == Forbidden(
        REASON, 'container "a" uses probe or lifecycle host "h.example"'
    )
    assert check({"containers": [make(kind, action, "")]}) is None
    assert check({"containers": [make(kind, action, None)]}) is None


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"containers": [{"name": "a"}]}, id="nothing"),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "a",
                        "livenessProbe": {"httpGet": {"port": 80}},
                        "readinessProbe": {"tcpSocket": {"port": 80}},
                        "startupProbe": {"grpc": {"port": 80, "service": "x"}},
                        "lifecycle": {"postStart": {"httpGet": {"port": 80}}, "preStop": {"sleep": {"seconds": 1}}},
                    }
                ]
            },
            id="unset-hosts-grpc-sleep",
        ),
        pytest.param(
            {"containers": [{"name": "a", "livenessProbe": {"exec": {"command": ["true"]}}, "lifecycle": {}}]},
            id="exec-and-empty-lifecycle",
        ),
        pytest.param(
            {"containers": [{"name": "a", "livenessProbe": None, "lifecycle": {"preStop": None}}]},
            id="nulls",
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
                "containers": [
                    {
                        "name": "a",
                        "livenessProbe": {"httpGet": {"host": "127.0.0.1"}},
                        "readinessProbe": {"tcpSocket": {"host": "::1"}},
                        "startupProbe": {"httpGet": {"host": "localhost"}},
                    }
                ]
            },
            'container "a" uses probe or lifecycle hosts "127.0.0.1", "::1", "localhost"',
            id="loopback-hosts-forbidden-and-sorted",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "valid"},
                    probe("livenessProbe", "httpGet", "a.com", name="invalid1"),
                    {
                        "name": "invalid2",
                        "lifecycle": {"preStop": {"tcpSocket": {"host": "b.com"}}},
                        "startupProbe": {"httpGet": {"host": "a.com"}},
                    },
                ]
            },
            'containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com"',
            id="plural",
        ),
        pytest.param(
            {"containers": [probe("livenessProbe", "httpGet", "x", name="a"), hook("preStop", "httpGet", "x", "b")]},
            'containers "a", "b" use probe or lifecycle host "x"',
            id="two-containers-one-host",
        ),
        pytest.param(
            {
                "containers": [probe("livenessProbe", "httpGet", "h2", name="z")],
                "initContainers": [probe("startupProbe", "tcpSocket", "h1", name="m")],
                "ephemeralContainers": [hook("postStart", "tcpSocket", "h3", name="b")],
            },
            'containers "b", "m", "z" use probe or lifecycle hosts "h1", "h2", "h3"',
            id="containers-sorted-not-visit-order",
        ),
        pytest.param(
            {
                "initContainers": [probe("readinessProbe", "httpGet", "x", name="a")],
                "containers": [probe("livenessProbe", "tcpSocket", "y", name="a")],
            },
            'container "a" uses probe or lifecycle hosts "x", "y"',
            id="same-name-deduped-to-singular",
        ),
        pytest.param(
            {"containers": [{"livenessProbe": {"httpGet": {"host": "B"}, "tcpSocket": {"host": "a"}}}]},
            'container "" uses probe or lifecycle hosts "B", "a"',
            id="missing-name-bytewise-sort",
        ),
        pytest.param(
            {"initContainers": [{**probe("livenessProbe", "httpGet", "i", name="init"), "restartPolicy": "Always"}]},
            'container "init" uses probe or lifecycle host "i"',
            id="sidecar-init-container",
        ),
    ],
)
def test_forbidden(spec, detail):
    assert check(spec) == Forbidden(REASON, detail)


@pytest.mark.parametrize(
    ("version", "applies"),
    [("v1.0", False), ("v1.33", False), ("v1.34", True), ("v1.35", True), ("latest", True), ("v1.99", True)],
)
def test_introduced_in_v1_34(version, applies):
    obj = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [probe("startupProbe", "httpGet", "localhost")]},
    }
    result = evaluate(obj, "baseline", version)
    expected = [("hostProbesAndHostLifecycle", REASON, 'container "a" uses probe or lifecycle host "localhost"')]
    assert [(v.check, v.reason, v.detail) for v in result.violations] == (expected if applies else [])
