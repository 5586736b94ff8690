"""seccompProfile_baseline: the alpha annotations up to v1.18, the seccompProfile.type fields from v1.19."""

from __future__ import annotations

import pytest

from generator.policy.checks.seccompProfile_baseline import (
    CHECK,
    seccompProfileBaseline_1_0,
    seccompProfileBaseline_1_19,
)
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

REASON = "seccompProfile"
POD_KEY = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_KEY = "container.seccomp.security.alpha.kubernetes.io/"


def obj(spec=None, annotations=None):
    metadata = {"name": "p"} if annotations is None else {"name": "p", "annotations": annotations}
    return {"kind": "Pod", "metadata": metadata, "spec": spec or {}}


def reported(o, version):
    result = evaluate(o, "baseline", version)
    return next(((v.reason, v.detail) for v in result.violations if v.check == CHECK.id), None)


def seccomp(profile_type):
    return {"seccompProfile": {"type": profile_type}}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("seccompProfile_baseline", "baseline", "Seccomp")
    v1_0, v1_19 = CHECK.versions
    assert (v1_0.minimum_minor, v1_0.name) == (0, "seccompProfileBaseline_1_0")
    assert (v1_19.minimum_minor, v1_19.name) == (19, "seccompProfileBaseline_1_19")
    assert dict(v1_0.allowed) == {
        "annotation_values": ("docker/default", "runtime/default"),
        "annotation_prefixes": ("localhost/",),
    }
    assert dict(v1_19.allowed) == {"types": ("Localhost", "RuntimeDefault")}
    assert [(v.evaluate, v.rego) for v in CHECK.versions] == [
        (seccompProfileBaseline_1_0, "seccompProfileBaseline_1_0"),
        (seccompProfileBaseline_1_19, "seccompProfileBaseline_1_19"),
    ]
    assert not any(v.overrides or v.relaxations for v in CHECK.versions)
    assert "spec.ephemeralContainers[*].securityContext.seccompProfile.type" in CHECK.fields
    assert f"metadata.annotations['{POD_KEY}']" in CHECK.fields


# v1.0: annotations


def annotations_check(annotations, spec=None):
    return seccompProfileBaseline_1_0(pod_view(obj(spec, annotations)), CHECK.versions[0].allowed)


THREE = {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}


@pytest.mark.parametrize("value", ["runtime/default", "docker/default", "localhost/", "localhost/profile.json"])
def test_annotation_allowed_values(value):
    annotations = {POD_KEY: value, CONTAINER_KEY + "a": value}
    assert annotations_check(annotations, THREE) is None


@pytest.mark.parametrize(
    ("annotations", "spec"),
    [
        pytest.param(None, None, id="no-annotations"),
        pytest.param({"other": "unconfined"}, None, id="unrelated"),
        pytest.param({CONTAINER_KEY + "ghost": "unconfined"}, THREE, id="no-such-container"),
        pytest.param({CONTAINER_KEY + "a": "unconfined"}, None, id="no-containers-at-all"),
        pytest.param({"seccomp.security.alpha.kubernetes.io/Pod": "unconfined"}, None, id="key-case-sensitive"),
    ],
)
def test_annotations_allowed(annotations, spec):
    assert annotations_check(annotations, spec) is None


@pytest.mark.parametrize(
    ("annotations", "spec", "detail"),
    [
        pytest.param(
            {POD_KEY: "unconfined"},
            None,
            f'forbidden annotation {POD_KEY}="unconfined"',
            id="pod",
        ),
        pytest.param(
            {CONTAINER_KEY + "a": "unconfined", CONTAINER_KEY + "b": "unknown"},
            THREE,
            f'forbidden annotations {CONTAINER_KEY}a="unconfined", {CONTAINER_KEY}b="unknown"',
            id="containers",
        ),
        pytest.param(
            {POD_KEY: "unconfined", CONTAINER_KEY + "b": "unknown", CONTAINER_KEY + "a": "unconfined"},
            THREE,
            f'forbidden annotations {CONTAINER_KEY}a="unconfined", {CONTAINER_KEY}b="unknown", {POD_KEY}="unconfined"',
            id="pod-and-containers-sorted",
        ),
        pytest.param(
            {POD_KEY: ""},
            None,
            f'forbidden annotation {POD_KEY}=""',
            id="empty-value-forbidden",
        ),
        pytest.param(
            {POD_KEY: None},
            None,
            f'forbidden annotation {POD_KEY}=""',
            id="null-value-is-empty",
        ),
        pytest.param(
            {CONTAINER_KEY + "e": "unconfined", CONTAINER_KEY + "i": "x", CONTAINER_KEY + "c": "y"},
            {
                "initContainers": [{"name": "i"}],
                "containers": [{"name": "c"}],
                "ephemeralContainers": [{"name": "e"}],
            },
            f'forbidden annotations {CONTAINER_KEY}c="y", {CONTAINER_KEY}e="unconfined", {CONTAINER_KEY}i="x"',
            id="init-and-ephemeral-checked",
        ),
        pytest.param(
            {CONTAINER_KEY + "a": "unconfined"},
            {"initContainers": [{"name": "a"}], "containers": [{"name": "a"}]},
            f'forbidden annotation {CONTAINER_KEY}a="unconfined"',
            id="duplicate-names-deduped",
        ),
        pytest.param(
            {CONTAINER_KEY: "unconfined"},
            {"containers": [{"image": "x"}]},
            f'forbidden annotation {CONTAINER_KEY}="unconfined"',
            id="nameless-container-uses-bare-prefix",
        ),
        pytest.param(
            {POD_KEY: 'a"b\n\x01\\'},
            None,
            f'forbidden annotation {POD_KEY}="a\\"b\\n\\x01\\\\"',
            id="go-quoted",
        ),
    ],
)
def test_annotations_forbidden(annotations, spec, detail):
    assert annotations_check(annotations, spec) == Forbidden(REASON, detail)


# v1.19: fields


def fields_check(spec):
    return seccompProfileBaseline_1_19(pod_view(obj(spec)), CHECK.versions[1].allowed)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"securityContext": {}}, id="empty-securityContext"),
        pytest.param({"securityContext": {"seccompProfile": None}}, id="null-profile"),
        pytest.param({"securityContext": seccomp("RuntimeDefault")}, id="pod-runtime-default"),
        pytest.param(
            {
                "securityContext": seccomp("Localhost"),
                "initContainers": [{"name": "i", "securityContext": seccomp("RuntimeDefault")}],
                "containers": [{"name": "a"}, {"name": "b", "securityContext": {}}],
                "ephemeralContainers": [{"name": "e", "securityContext": seccomp("Localhost")}],
            },
            id="all-valid",
        ),
    ],
)
def test_fields_allowed(spec):
    assert fields_check(spec) is None


MIXED = [
    {"name": "a", "securityContext": None},
    {"name": "b", "securityContext": {}},
    {"name": "c", "securityContext": seccomp("Unconfined")},
    {"name": "d", "securityContext": seccomp("Unconfined")},
    {"name": "e", "securityContext": seccomp("RuntimeDefault")},
    {"name": "f", "securityContext": seccomp("RuntimeDefault")},
]


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {"securityContext": seccomp("Unconfined"), "containers": [{"name": "a"}]},
            'pod must not set securityContext.seccompProfile.type to "Unconfined"',
            id="pod",
        ),
        pytest.param(
            {"securityContext": seccomp("RuntimeDefault"), "containers": MIXED},
            'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
            id="containers",
        ),
        pytest.param(
            {"securityContext": seccomp("Unconfined"), "containers": MIXED},
            'pod and containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"',
            id="pod-and-containers",
        ),
        pytest.param(
            {"securityContext": seccomp("Unconfined"), "containers": [MIXED[4]]},
            'pod must not set securityContext.seccompProfile.type to "Unconfined"',
            id="valid-container-does-not-rescue-pod",
        ),
        pytest.param(
            {"securityContext": {"seccompProfile": {}}},
            'pod must not set securityContext.seccompProfile.type to ""',
            id="empty-profile-is-bad-empty-type",
        ),
        pytest.param(
            {
                "securityContext": {"seccompProfile": {"localhostProfile": "x"}},
                "ephemeralContainers": [{"name": "e", "securityContext": seccomp("bogus")}],
                "containers": [{"name": "c", "securityContext": seccomp("Unconfined")}],
                "initContainers": [{"name": "i", "securityContext": seccomp("bogus")}],
            },
            'pod and containers "i", "c", "e" must not set securityContext.seccompProfile.type to'
            ' "", "Unconfined", "bogus"',
            id="visit-order-values-sorted-deduped",
        ),
        pytest.param(
            {"containers": [{"securityContext": seccomp("runtimedefault")}]},
            'container "" must not set securityContext.seccompProfile.type to "runtimedefault"',
            id="case-sensitive-missing-name",
        ),
    ],
)
def test_fields_forbidden(spec, detail):
    assert fields_check(spec) == Forbidden(REASON, detail)


# the switch at v1.19

ANNOTATED = obj({"containers": [{"name": "a"}]}, {POD_KEY: "unconfined"})
FIELDS = obj({"containers": [{"name": "a", "securityContext": seccomp("Unconfined")}]})
ANNOTATION_DETAIL = f'forbidden annotation {POD_KEY}="unconfined"'
FIELD_DETAIL = 'container "a" must not set securityContext.seccompProfile.type to "Unconfined"'


@pytest.mark.parametrize(
    ("version", "annotation_detail", "field_detail"),
    [
        ("v1.0", ANNOTATION_DETAIL, None),
        ("v1.18", ANNOTATION_DETAIL, None),
        ("v1.19", None, FIELD_DETAIL),
        ("latest", None, FIELD_DETAIL),
    ],
)
def test_annotations_until_v1_18_fields_from_v1_19(version, annotation_detail, field_detail):
    assert reported(ANNOTATED, version) == (None if annotation_detail is None else (REASON, annotation_detail))
    assert reported(FIELDS, version) == (None if field_detail is None else (REASON, field_detail))
