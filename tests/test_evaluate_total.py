"""``evaluate()`` is total over what the API accepts: JSON nulls anywhere, workloads without a pod template.

The API's decoder makes a null list element or map value its type's zero
value and a missing template the zero template; PSA then evaluates (or
allows). The CLI conforms every object before it judges it; the library call
must give the same verdict and message on the raw object. The oracle (PSA
itself) is the reference; the pure tests put a null at every place
``generator.policy.fields`` describes and hold ``evaluate`` to the
zero-valued object and to the CLI's conformed one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from generator.manifests.shape import conform
from generator.policy.evaluate import NotEvaluated, decoded, evaluate
from generator.policy.fields import SCHEMAS, MapOf, Scalar

C = {"name": "c", "image": "i"}
SECCOMP_POD_KEY = "seccomp.security.alpha.kubernetes.io/pod"
APPARMOR_KEY = "container.apparmor.security.beta.kubernetes.io/c"
LEVELS = ("baseline", "restricted")
VERSIONS = ("v1.0", "v1.18", "latest")


def pod(spec: Any, metadata: Any = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata or {"name": "p"}, "spec": spec}


def with_context(**context: Any) -> dict[str, Any]:
    return pod({"containers": [{**C, "securityContext": context}]})


# The issue's four, and every other place a null element can sit or a template can be missing.
OBJECTS: dict[str, dict[str, Any]] = {
    "containers-null": pod({"containers": [None]}),
    "volumes-null": pod({"containers": [C], "volumes": [None]}),
    "capabilities-add-a-null": with_context(capabilities={"add": ["a", None]}),
    "cronjob-without-template": {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"schedule": "* * * * *"},
    },
    "containers-c-null": pod({"containers": [C, None]}),
    "init-containers-null": pod({"initContainers": [None], "containers": [C]}),
    "ephemeral-containers-null": pod({"ephemeralContainers": [None], "containers": [C]}),
    "capabilities-drop-null": with_context(capabilities={"drop": [None, "ALL"]}),
    "ports-null-host-network": pod({"hostNetwork": True, "containers": [{**C, "ports": [None]}]}),
    "sysctls-null": pod({"securityContext": {"sysctls": [None]}, "containers": [C]}),
    "seccomp-annotation-null": pod({"containers": [C]}, {"name": "p", "annotations": {SECCOMP_POD_KEY: None}}),
    "apparmor-annotation-null": pod({"containers": [C]}, {"name": "p", "annotations": {APPARMOR_KEY: None}}),
    "cronjob-template-null": {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": None}}},
    },
    "cronjob-template-null-containers": {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [None]}}}}},
    },
    "deployment-spec-null": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": None},
    "podtemplate-without-template": {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}},
    "pod-spec-null": pod(None),
    "null-fields": pod(
        {
            "hostNetwork": None,
            "hostUsers": None,
            "os": None,
            "securityContext": {"runAsUser": None, "seccompProfile": {"type": None}, "sysctls": None},
            "containers": [{**C, "ports": [{"containerPort": 80, "hostPort": None}], "securityContext": None}],
            "volumes": [{"name": "v", "hostPath": None}],
        }
    ),
}


@pytest.fixture(scope="module")
def oracle() -> Iterator[Any]:
    from generator.parity.oracle import Oracle

    with Oracle() as running:
        yield running


@pytest.mark.tools
def test_evaluate_gives_psas_verdict_and_message_on_raw_objects(oracle: Any) -> None:
    cases = [(name, obj, level, version) for name, obj in OBJECTS.items() for level in LEVELS for version in VERSIONS]
    verdicts = oracle.evaluate_many([(obj, level, version) for _, obj, level, version in cases])
    wrong = []
    for (name, obj, level, version), verdict in zip(cases, verdicts, strict=True):
        assert verdict.error is None, f"{name}: the oracle could not evaluate it: {verdict.error}"
        ours = evaluate(obj, level, version)
        if (ours.allowed, ours.violations) != (verdict.allowed, verdict.violations):
            wrong.append(f"{name} {level}:{version}\n  PSA:     {verdict.message}\n  pssgen:  {ours.message}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_evaluate_on_the_raw_object_is_evaluate_on_the_conformed_one(name: str) -> None:
    """The library call and the CLI (which conforms first) agree, and the caller's object is left as it was."""
    obj = OBJECTS[name]
    before = copy.deepcopy(obj)
    conformed, problems = conform(obj)
    assert problems == []
    for level in LEVELS:
        for version in VERSIONS:
            assert evaluate(obj, level, version) == evaluate(conformed, level, version)
    assert obj == before


def _null_places(schema: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every list and map in ``schema``: its path (names, ``[]`` for a list element, ``{}`` for a map value) and
    its element type."""
    if isinstance(schema, dict):
        for name, sub in schema.items():
            yield from _null_places(sub, (*path, name))
    elif isinstance(schema, list):
        yield path, schema[0]
        yield from _null_places(schema[0], (*path, "[]"))
    elif isinstance(schema, MapOf):
        yield path, schema.value
        yield from _null_places(schema.value, (*path, "{}"))


def _built(path: tuple[Any, ...], leaf: Any) -> Any:
    """The object holding ``leaf`` at ``path``, one element per list, key ``SECCOMP_POD_KEY`` in every map."""
    for step in reversed(path):
        leaf = [leaf] if step == "[]" else {SECCOMP_POD_KEY: leaf} if step == "{}" else {step: leaf}
    return leaf


def _zero(elem: Any) -> Any:
    if isinstance(elem, dict):
        return {}
    assert elem == Scalar("string"), f"no zero value written here for {elem}: add it"
    return ""


def _is_map(schema: Any, path: tuple[Any, ...]) -> bool:
    for step in path:
        schema = schema[0] if step == "[]" else schema.value if step == "{}" else schema[step]
    return isinstance(schema, MapOf)


def _places() -> Iterator[Any]:
    for kind, schema in SCHEMAS.items():
        for path, elem in _null_places(schema):
            is_map = _is_map(schema, path)
            null, zero = (
                ({SECCOMP_POD_KEY: None}, {SECCOMP_POD_KEY: _zero(elem)}) if is_map else ([None], [_zero(elem)])
            )
            shell = {"apiVersion": "v1", "kind": kind}
            yield pytest.param(
                {**shell, **_built(path, null)}, {**shell, **_built(path, zero)}, id=f"{kind}:{'.'.join(path)}"
            )


@pytest.mark.parametrize(("with_null", "with_zero"), list(_places()))
def test_a_null_anywhere_is_its_zero_value(with_null: dict[str, Any], with_zero: dict[str, Any]) -> None:
    """Every list and map of every evaluated kind, from the same type description the Rego type gate is built on."""
    assert decoded(with_null) == with_zero
    for level in LEVELS:
        assert evaluate(with_null, level, "latest") == evaluate(with_zero, level, "latest")


def test_the_places_include_the_issues_four() -> None:
    ids = {p.id for p in _places()}
    assert {"Pod:spec.containers", "Pod:spec.volumes", "Pod:spec.containers.[].securityContext.capabilities.add"} <= ids
    assert "CronJob:spec.jobTemplate.spec.template.spec.containers" in ids


def test_a_typical_pod_is_not_copied() -> None:
    obj = pod(
        {"containers": [{**C, "ports": [{"containerPort": 1}], "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}
    )
    assert decoded(obj) is obj


def test_kinds_psa_does_not_evaluate_still_raise() -> None:
    with pytest.raises(NotEvaluated, match="'Service'"):
        evaluate({"apiVersion": "v1", "kind": "Service"}, "baseline")


def _fields(schema: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every struct field in ``schema`` (``[]`` for a list element, ``{}`` for a map value)."""
    if isinstance(schema, dict):
        for name, sub in schema.items():
            yield (*path, name)
            yield from _fields(sub, (*path, name))
    elif isinstance(schema, list):
        yield from _fields(schema[0], (*path, "[]"))
    elif isinstance(schema, MapOf):
        yield from _fields(schema.value, (*path, "{}"))


def _null_fields() -> Iterator[Any]:
    for kind, schema in SCHEMAS.items():
        for path in _fields(schema):
            shell = {"apiVersion": "v1", "kind": kind}
            yield pytest.param(
                {**shell, **_built(path, None)}, {**shell, **_built(path[:-1], {})}, id=f"{kind}:{'.'.join(path)}"
            )


@pytest.mark.parametrize(("with_null", "without"), list(_null_fields()))
def test_a_null_field_is_an_absent_one(with_null: dict[str, Any], without: dict[str, Any]) -> None:
    """What the module docstring promises needs no mending: a nil pointer, slice or map, or a zero scalar."""
    for level in LEVELS:
        for version in ("v1.0", "latest"):
            assert evaluate(with_null, level, version) == evaluate(without, level, version)
