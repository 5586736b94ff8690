"""restrictedVolumes: only nine inline volume sources are allowed at restricted, at every version."""

from __future__ import annotations

import pytest

from generator.policy.checks.restrictedVolumes import CHECK, restrictedVolumes_1_0
from generator.policy.model import Forbidden
from generator.policy.pod import VOLUME_SOURCES, PodView, pod_view

REASON = "restricted volume types"
ALLOWED = CHECK.versions[0].allowed
VOLUME_TYPES = ALLOWED["volume_types"]
REPORTED_TYPES = ALLOWED["reported_types"]

# A pod that passes restricted at every version from v1.22 on.
RESTRICTED_SPEC = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "x",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}


def view(volumes):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"volumes": volumes}})


def raw_view(volumes):
    """A PodView whose volumes have not been through API defaulting."""
    return PodView(
        annotations={},
        spec={},
        security_context=None,
        containers=(),
        volumes=tuple(volumes),
        container_contexts=(),
        context_fields=frozenset(),
    )


def evaluated(spec, level, version):
    from generator.policy.evaluate import evaluate

    return evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, level, version)


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "Volume Types"
    (only,) = CHECK.versions
    assert (only.minimum_minor, only.name, only.evaluate, only.rego) == (
        0,
        "restrictedVolumes_1_0",
        restrictedVolumes_1_0,
        "restrictedVolumes_1_0",
    )
    assert only.overrides == ("hostPathVolumes",)
    assert only.relaxations == ()
    assert only.change
    assert set(only.allowed) == {"volume_types", "reported_types"}
    # The restricted fields the docs list are the reported sources, in upstream's order.
    assert CHECK.fields == tuple(f"spec.volumes[*].{source}" for source in REPORTED_TYPES)


def test_allowed_data():
    assert VOLUME_TYPES == (
        "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
        "projected", "secret",
    )  # fmt: skip
    assert list(VOLUME_TYPES) == sorted(VOLUME_TYPES)
    assert REPORTED_TYPES[:4] == ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo")
    assert REPORTED_TYPES.index("photonPersistentDisk") < REPORTED_TYPES.index("portworxVolume")
    assert len(REPORTED_TYPES) == len(set(REPORTED_TYPES)) == 21
    # Every VolumeSource field is either allowed or reported by name.
    assert set(VOLUME_TYPES) | set(REPORTED_TYPES) == set(VOLUME_SOURCES)
    assert not set(VOLUME_TYPES) & set(REPORTED_TYPES)


@pytest.mark.parametrize("source", VOLUME_TYPES)
def test_each_allowed_type_passes(source):
    assert restrictedVolumes_1_0(view([{"name": "v", source: {}}]), ALLOWED) is None


@pytest.mark.parametrize("source", REPORTED_TYPES)
def test_each_restricted_type_is_reported_by_name(source):
    assert restrictedVolumes_1_0(view([{"name": "v", source: {}}]), ALLOWED) == Forbidden(
        REASON, f'volume "v" uses restricted volume type "{source}"'
    )


@pytest.mark.parametrize(
    ("volumes", "detail"),
    [
        pytest.param([], None, id="no-volumes"),
        pytest.param(
            [{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "hostPath": {"path": "/x"}}],
            'volumes "a", "b" use restricted volume type "hostPath"',
            id="plural-volumes-singular-type",
        ),
        pytest.param(
            [{"name": "z", "nfs": {}}, {"name": "ok", "secret": {}}, {"name": "a", "hostPath": {}}],
            'volumes "z", "a" use restricted volume types "hostPath", "nfs"',
            id="names-in-spec-order-types-sorted",
        ),
        pytest.param(
            [{"name": "a", "hostPath": {}, "configMap": {}}],
            None,
            id="allowed-source-wins",
        ),
        pytest.param(
            [{"name": "a", "nfs": {}, "hostPath": {}}],
            'volume "a" uses restricted volume type "hostPath"',
            id="first-match-in-upstream-order",
        ),
        pytest.param(
            [{"name": "a", "storageos": {}, "portworxVolume": {}, "photonPersistentDisk": {}}],
            'volume "a" uses restricted volume type "photonPersistentDisk"',
            id="photon-before-portworx",
        ),
        pytest.param(
            [{"name": "a", "emptyDir": None, "hostPath": {}}],
            'volume "a" uses restricted volume type "hostPath"',
            id="null-allowed-source-is-nil",
        ),
        pytest.param(
            [{"name": "a", "hostPath": None, "emptyDir": {}}],
            None,
            id="null-restricted-source-is-nil",
        ),
        pytest.param([{"name": "a"}], None, id="sourceless-defaults-to-emptyDir"),
        pytest.param(
            [{"hostPath": {}}],
            'volume "" uses restricted volume type "hostPath"',
            id="missing-name",
        ),
    ],
)
def test_restrictedVolumes_1_0(volumes, detail):
    expected = None if detail is None else Forbidden(REASON, detail)
    assert restrictedVolumes_1_0(view(volumes), ALLOWED) == expected


def test_undefaulted_sourceless_volume_is_unknown():
    assert restrictedVolumes_1_0(raw_view([{"name": "a"}, {"name": "b", "hostPath": None}]), ALLOWED) == Forbidden(
        REASON, 'volumes "a", "b" use restricted volume type "unknown"'
    )


def test_every_type_at_once():
    volumes = [{"name": f"a{i}", source: {}} for i, source in enumerate(VOLUME_TYPES, 1)]
    volumes += [{"name": f"b{i}", source: {}} for i, source in enumerate(REPORTED_TYPES, 1)]
    volumes.append({"name": "c1"})
    names = ", ".join(f'"b{i}"' for i in range(1, 22))
    assert restrictedVolumes_1_0(raw_view(volumes), ALLOWED) == Forbidden(
        REASON,
        f'volumes {names}, "c1" use restricted volume types '
        '"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "fc", "flexVolume", '
        '"flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath", "iscsi", "nfs", '
        '"photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "unknown", '
        '"vsphereVolume"',
    )


@pytest.mark.parametrize("version", ["v1.0", "v1.22", "latest"])
def test_hostPath_at_restricted_is_reported_only_by_restrictedVolumes(version):
    spec = {**RESTRICTED_SPEC, "volumes": [{"name": "volume-hostpath", "hostPath": {"path": "/a"}}]}
    result = evaluated(spec, "restricted", version)
    assert [v.check for v in result.violations if v.check in ("hostPathVolumes", CHECK.id)] == [CHECK.id]
    (violation,) = [v for v in result.violations if v.check == CHECK.id]
    assert (violation.reason, violation.detail) == (
        REASON,
        'volume "volume-hostpath" uses restricted volume type "hostPath"',
    )
    if version != "v1.0":  # the v1.22+ base pod satisfies every other restricted check
        assert len(result.violations) == 1
    assert [v.check for v in evaluated(spec, "baseline", version).violations] == ["hostPathVolumes"]


@pytest.mark.parametrize("version", ["v1.0", "latest"])
def test_image_and_sourceless_volumes_pass_at_every_version(version):
    spec = {**RESTRICTED_SPEC, "volumes": [{"name": "a", "image": {"reference": "r"}}, {"name": "b"}]}
    assert not [v for v in evaluated(spec, "restricted", version).violations if v.check == CHECK.id]


def test_windows_pods_are_not_exempt():
    spec = {**RESTRICTED_SPEC, "os": {"name": "windows"}, "volumes": [{"name": "a", "nfs": {}}]}
    assert [v.check for v in evaluated(spec, "restricted", "latest").violations] == [CHECK.id]
