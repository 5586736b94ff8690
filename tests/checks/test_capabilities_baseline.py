"""capabilities_baseline: only the 13 default capabilities may be added; drop is ignored."""

from __future__ import annotations

import pytest

from generator.policy.checks.capabilities_baseline import CHECK, capabilitiesBaseline_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "non-default capabilities"
DEFAULT_SET = (
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)  # fmt: skip


def check(spec):
    return capabilitiesBaseline_1_0(
        pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}), CHECK.versions[0].allowed
    )


def adds(name, *caps):
    return {"name": name, "securityContext": {"capabilities": {"add": list(caps)}}}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("capabilities_baseline", "baseline", "Capabilities")
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [(0, "capabilitiesBaseline_1_0")]
    assert dict(CHECK.versions[0].allowed) == {"capabilities": DEFAULT_SET}
    assert tuple(sorted(DEFAULT_SET)) == DEFAULT_SET
    assert "spec.ephemeralContainers[*].securityContext.capabilities.add" in CHECK.fields


@pytest.mark.parametrize("capability", DEFAULT_SET)
def test_each_default_capability_is_allowed(capability):
    assert check({"containers": [adds("a", capability)]}) is None


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="no-containers"),
        pytest.param({"containers": [{"name": "a"}]}, id="nil-securityContext"),
        pytest.param({"containers": [{"name": "a", "securityContext": {}}]}, id="nil-capabilities"),
        pytest.param({"containers": [{"name": "a", "securityContext": {"capabilities": {}}}]}, id="empty"),
        pytest.param({"containers": [adds("a")]}, id="empty-add"),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"capabilities": {"drop": ["ALL", "NET_RAW"]}}}]},
            id="drop-not-examined",
        ),
        pytest.param({"containers": [adds("a", *DEFAULT_SET)]}, id="all-defaults-at-once"),
    ],
)
def test_allowed(spec):
    assert check(spec) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {"containers": [adds("a", "FOO", "BAR"), adds("b", "BAR", "BAZ")]},
            'containers "a", "b" must not include "BAR", "BAZ", "FOO" in securityContext.capabilities.add',
            id="sorted-and-deduped",
        ),
        pytest.param(
            {"containers": [adds("a", "CHOWN", "NET_RAW"), adds("b", "KILL")]},
            'container "a" must not include "NET_RAW" in securityContext.capabilities.add',
            id="only-non-default-listed",
        ),
        pytest.param(
            {
                "containers": [adds("c", "SYS_ADMIN")],
                "initContainers": [adds("i", "NET_RAW")],
                "ephemeralContainers": [adds("e", "NET_ADMIN")],
            },
            'containers "i", "c", "e" must not include "NET_ADMIN", "NET_RAW", "SYS_ADMIN"'
            " in securityContext.capabilities.add",
            id="init-regular-ephemeral",
        ),
        pytest.param(
            {"containers": [adds("a", "chown", "CAP_CHOWN", "all", "ALL")]},
            'container "a" must not include "ALL", "CAP_CHOWN", "all", "chown" in securityContext.capabilities.add',
            id="case-sensitive-exact",
        ),
        pytest.param(
            {"containers": [adds("a", "NET_RAW"), adds("a", "NET_RAW")]},
            'containers "a", "a" must not include "NET_RAW" in securityContext.capabilities.add',
            id="container-names-not-deduped",
        ),
        pytest.param(
            {"containers": [{"securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]},
            'container "" must not include "NET_RAW" in securityContext.capabilities.add',
            id="missing-name",
        ),
    ],
)
def test_forbidden(spec, detail):
    assert check(spec) == Forbidden(REASON, detail)


@pytest.mark.parametrize("version", ["v1.0", "v1.21", "v1.22", "latest"])
def test_through_evaluator(version):
    obj = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [adds("a", "NET_RAW")]}}
    result = evaluate(obj, "baseline", version)
    assert [(v.check, v.reason, v.detail) for v in result.violations] == [
        (
            "capabilities_baseline",
            REASON,
            'container "a" must not include "NET_RAW" in securityContext.capabilities.add',
        )
    ]
