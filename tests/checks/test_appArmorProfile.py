"""appArmorProfile: profile types in fields and the beta annotations, both at every version."""

from __future__ import annotations

import pytest

from generator.policy.checks.appArmorProfile import CHECK, appArmorProfile_1_0
from generator.policy.evaluate import evaluate
from generator.policy.model import Forbidden
from generator.policy.pod import pod_view

PREFIX = "container.apparmor.security.beta.kubernetes.io/"
ONE = "forbidden AppArmor profile"
MANY = "forbidden AppArmor profiles"


def pod(spec=None, annotations=None):
    metadata = {"name": "p"} if annotations is None else {"name": "p", "annotations": annotations}
    return {"kind": "Pod", "metadata": metadata, "spec": spec or {}}


def check(spec=None, annotations=None):
    return appArmorProfile_1_0(pod_view(pod(spec, annotations)), CHECK.versions[0].allowed)


def reported(obj, version):
    result = evaluate(obj, "baseline", version)
    return next(((v.reason, v.detail) for v in result.violations if v.check == CHECK.id), None)


def profile(profile_type):
    return {"appArmorProfile": {"type": profile_type}}


def test_check_data():
    assert (CHECK.id, CHECK.level, CHECK.control) == ("appArmorProfile", "baseline", "AppArmor")
    assert [(v.minimum_minor, v.name) for v in CHECK.versions] == [(0, "appArmorProfile_1_0")]
    assert dict(CHECK.versions[0].allowed) == {
        "field_types": ("Localhost", "RuntimeDefault"),
        "annotation_values": ("", "runtime/default"),
        "annotation_prefixes": ("localhost/",),
    }
    assert "spec.ephemeralContainers[*].securityContext.appArmorProfile.type" in CHECK.fields
    assert CHECK.versions[0].change
    assert (CHECK.versions[0].evaluate, CHECK.versions[0].rego) == (appArmorProfile_1_0, "appArmorProfile_1_0")
    assert CHECK.doc.startswith("AppArmor.")


@pytest.mark.parametrize(
    ("spec", "annotations"),
    [
        pytest.param(None, None, id="nothing"),
        pytest.param(None, {"env": "prod", "other/x": "unconfined"}, id="unrelated-annotations"),
        pytest.param(None, {PREFIX + "a": "runtime/default"}, id="runtime-default"),
        pytest.param(None, {PREFIX + "a": "localhost/sec-profile01"}, id="localhost-profile"),
        pytest.param(None, {PREFIX + "a": "localhost/"}, id="bare-localhost-prefix"),
        pytest.param(None, {PREFIX + "a": ""}, id="empty-annotation"),
        pytest.param(None, {PREFIX + "a": None}, id="null-annotation-is-empty"),
        pytest.param({"securityContext": profile("RuntimeDefault")}, None, id="pod-runtime-default"),
        pytest.param({"securityContext": profile("Localhost")}, None, id="pod-localhost"),
        pytest.param({"securityContext": {"appArmorProfile": None}}, None, id="pod-null-profile"),
        pytest.param({"securityContext": {}}, None, id="pod-empty-securityContext"),
        pytest.param(
            {
                "initContainers": [{"name": "i", "securityContext": profile("Localhost")}],
                "containers": [{"name": "a"}, {"name": "b", "securityContext": {}}],
                "ephemeralContainers": [{"name": "e", "securityContext": profile("RuntimeDefault")}],
            },
            None,
            id="containers-allowed",
        ),
    ],
)
def test_allowed(spec, annotations):
    assert check(spec, annotations) is None


@pytest.mark.parametrize(
    ("spec", "annotations", "reason", "detail"),
    [
        pytest.param(
            {"securityContext": profile("Unconfined")},
            None,
            ONE,
            'pod must not set AppArmor profile type to "Unconfined"',
            id="pod-unconfined",
        ),
        pytest.param(
            {"securityContext": {"appArmorProfile": {}}},
            None,
            ONE,
            'pod must not set AppArmor profile type to ""',
            id="pod-empty-profile-is-bad-empty-type",
        ),
        pytest.param(
            {
                "securityContext": profile("RuntimeDefault"),
                "containers": [{"name": "foo", "securityContext": profile("Unconfined")}],
            },
            None,
            ONE,
            'container "foo" must not set AppArmor profile type to "Unconfined"',
            id="container",
        ),
        pytest.param(
            {
                "containers": [{"name": "a", "securityContext": profile("Unconfined")}, {"name": "b"}],
                "initContainers": [{"name": "i", "securityContext": profile("Unconfined")}],
            },
            None,
            ONE,
            'containers "i", "a" must not set AppArmor profile type to "Unconfined"',
            id="same-value-twice-is-one-profile-init-first",
        ),
        pytest.param(
            {
                "initContainers": [{"name": "i", "securityContext": profile("bogus")}],
                "containers": [
                    {"name": "a", "securityContext": profile("Localhost")},
                    {"name": "b", "securityContext": profile("Unconfined")},
                ],
                "ephemeralContainers": [{"name": "e", "securityContext": profile("bogus")}],
            },
            None,
            MANY,
            'containers "i", "b", "e" must not set AppArmor profile type to "Unconfined", "bogus"',
            id="values-sorted-bytewise-and-deduped",
        ),
        pytest.param(
            {"containers": [{"securityContext": profile("Unconfined")}]},
            None,
            ONE,
            'container "" must not set AppArmor profile type to "Unconfined"',
            id="missing-name",
        ),
        pytest.param(
            None,
            {PREFIX + "a": "unconfined"},
            ONE,
            f'annotation must not set AppArmor profile type to "{PREFIX}a="unconfined""',
            id="one-annotation-double-quoted",
        ),
        pytest.param(
            None,
            {PREFIX + "a": "docker/default"},
            ONE,
            f'annotation must not set AppArmor profile type to "{PREFIX}a="docker/default""',
            id="docker-default-is-not-allowed",
        ),
        pytest.param(
            None,
            {
                PREFIX + "f": "unknown",
                PREFIX: "bogus",
                PREFIX + "a": "",
                PREFIX + "b": "runtime/default",
                PREFIX + "c": "localhost/",
                PREFIX + "d": "localhost/foo",
                PREFIX + "e": "unconfined",
            },
            MANY,
            "annotations must not set AppArmor profile type to "
            f'"{PREFIX}="bogus"", "{PREFIX}e="unconfined"", "{PREFIX}f="unknown""',
            id="annotations-sorted-bare-prefix-and-any-name",
        ),
        pytest.param(
            {
                "securityContext": profile("Unconfined"),
                "containers": [{"name": "a", "securityContext": profile("Unconfined")}],
            },
            {PREFIX + "a": "unconfined"},
            MANY,
            'pod and container "a" and annotation must not set AppArmor profile type to '
            f'"Unconfined", "{PREFIX}a="unconfined""',
            id="pod-and-container-and-annotation",
        ),
        pytest.param(
            {"securityContext": profile("Unconfined")},
            {PREFIX + "x": "x", PREFIX + "y": "y"},
            MANY,
            f'pod and annotations must not set AppArmor profile type to "Unconfined", "{PREFIX}x="x"", "{PREFIX}y="y""',
            id="pod-and-annotations",
        ),
    ],
)
def test_forbidden(spec, annotations, reason, detail):
    assert check(spec, annotations) == Forbidden(reason, detail)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        pytest.param('a"b', r'"a\"b"', id="quote"),
        pytest.param("a\nb", r'"a\nb"', id="newline"),
        pytest.param("a\x01b", r'"a\x01b"', id="control"),
        pytest.param("a\\b", r'"a\\b"', id="backslash"),
        pytest.param("caf\u00e9", '"caf\u00e9"', id="printable-non-ascii"),
        pytest.param("a\u200bb", r'"a\u200bb"', id="non-printable-non-ascii"),
    ],
)
def test_annotation_value_is_go_quoted_then_join_quoted(value, quoted):
    assert check(None, {PREFIX + "c": value}) == Forbidden(
        ONE, f'annotation must not set AppArmor profile type to "{PREFIX}c={quoted}"'
    )


@pytest.mark.parametrize("version", ["v1.0", "v1.18", "v1.30", "latest"])
def test_fields_and_annotations_at_every_version(version):
    obj = pod({"securityContext": profile("Unconfined")}, {PREFIX + "a": "unconfined"})
    assert reported(obj, version) == (
        MANY,
        f'pod and annotation must not set AppArmor profile type to "Unconfined", "{PREFIX}a="unconfined""',
    )
    assert reported(pod({"securityContext": profile("RuntimeDefault")}), version) is None
