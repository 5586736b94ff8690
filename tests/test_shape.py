"""Object shapes as the Kubernetes API decoder sees them, cross-checked with the upstream PSA oracle.

The oracle decodes every object into the ``k8s.io/api`` types with the API
server's own decoder (``sigs.k8s.io/json``), so it says exactly which types the
API rejects. ``validate_shape`` must agree with it on every field a check
reads, and what ``conform`` hands an engine must get PSA's own verdict.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from generator.manifests.shape import (
    MAX_PROBLEMS,
    ROOTS,
    APITypesError,
    NotJSONError,
    as_api_json,
    compile_types,
    conform,
    field_path,
    validate_shape,
)
from generator.parity.corpus import upstream_corpus
from generator.parity.oracle import Oracle
from generator.policy.evaluate import evaluate
from generator.policy.pod import API_GROUPS, TEMPLATE_PATHS


def full_container(name: str) -> dict[str, Any]:
    """A container setting every field a check reads (and a few it does not)."""
    return {
        "name": name,
        "image": "nginx",
        "securityContext": {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "procMount": "Default",
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seLinuxOptions": {"type": "container_t", "user": "", "role": "", "level": "s0"},
            "seccompProfile": {"type": "RuntimeDefault"},
            "appArmorProfile": {"type": "RuntimeDefault"},
            "windowsOptions": {"hostProcess": False},
        },
        "ports": [{"containerPort": 8080, "hostPort": 0, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"host": "", "port": 8080}, "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"host": "", "port": 8080}},
        "startupProbe": {"httpGet": {"path": "/", "port": "http"}},
        "lifecycle": {"postStart": {"httpGet": {"port": 8080}}, "preStop": {"tcpSocket": {"port": 8080}}},
    }


def full_pod_spec() -> dict[str, Any]:
    return {
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "hostUsers": True,
        "os": {"name": "linux"},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seLinuxOptions": {"type": "container_t"},
            "seccompProfile": {"type": "RuntimeDefault"},
            "appArmorProfile": {"type": "RuntimeDefault"},
            "windowsOptions": {"hostProcess": False},
            "sysctls": [{"name": "kernel.shm_rmid_forced", "value": "0"}],
        },
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}}],
        "containers": [full_container("app")],
        "initContainers": [full_container("init")],
        "ephemeralContainers": [full_container("debug")],
    }


POD_ANNOTATIONS = {"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}


def full_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "annotations": dict(POD_ANNOTATIONS)},
        "spec": full_pod_spec(),
    }


def full_workload(kind: str) -> dict[str, Any]:
    template: dict[str, Any] = {"metadata": {"annotations": dict(POD_ANNOTATIONS)}, "spec": full_pod_spec()}
    for key in reversed(TEMPLATE_PATHS[kind]):
        template = {key: template}
    api_version = f"{API_GROUPS[kind]}/v1".lstrip("/")
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w", "namespace": "shop"}, **template}


def with_value(obj: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` (plain JSON) with ``value`` at ``path``."""
    out = json.loads(json.dumps(obj))
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


C0 = ("spec", "containers", 0)
SC0 = (*C0, "securityContext")

# (id, path in a full Pod, wrong value, the problem validate_shape reports)
WRONG: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("containers-as-map", ("spec", "containers"), {"app": {"image": "nginx"}},
     "spec.containers: expected an array, got object"),
    ("container-as-string", C0, "nginx", "spec.containers[0]: expected an object, got string \"nginx\""),
    ("privileged-string", (*SC0, "privileged"), "true",
     'spec.containers[0].securityContext.privileged: expected a boolean, got string "true"'),
    ("privileged-number", (*SC0, "privileged"), 1,
     "spec.containers[0].securityContext.privileged: expected a boolean, got integer 1"),
    ("allowPrivilegeEscalation-string", (*SC0, "allowPrivilegeEscalation"), "false",
     'spec.containers[0].securityContext.allowPrivilegeEscalation: expected a boolean, got string "false"'),
    ("hostPort-string", (*C0, "ports", 0, "hostPort"), "80",
     'spec.containers[0].ports[0].hostPort: expected an integer, got string "80"'),
    ("hostPort-fraction", (*C0, "ports", 0, "hostPort"), 80.5,
     "spec.containers[0].ports[0].hostPort: expected an integer, got number 80.5"),
    ("hostPort-float", (*C0, "ports", 0, "hostPort"), 80.0,
     "spec.containers[0].ports[0].hostPort: expected an integer, got number 80.0"),
    ("hostPort-over-int32", (*C0, "ports", 0, "hostPort"), 2**31,
     "spec.containers[0].ports[0].hostPort: expected an int32, got 2147483648 (out of range)"),
    ("hostPort-under-int32", (*C0, "ports", 0, "hostPort"), -(2**31) - 1,
     "spec.containers[0].ports[0].hostPort: expected an int32, got -2147483649 (out of range)"),
    ("hostPort-bool", (*C0, "ports", 0, "hostPort"), True,
     "spec.containers[0].ports[0].hostPort: expected an integer, got boolean true"),
    ("containerPort-string", (*C0, "ports", 0, "containerPort"), "8080",
     'spec.containers[0].ports[0].containerPort: expected an integer, got string "8080"'),
    ("ports-as-map", (*C0, "ports"), {"containerPort": 80}, "spec.containers[0].ports: expected an array, got object"),
    ("runAsUser-string", (*SC0, "runAsUser"), "0",
     'spec.containers[0].securityContext.runAsUser: expected an integer, got string "0"'),
    ("runAsUser-over-int64", (*SC0, "runAsUser"), 2**63,
     "spec.containers[0].securityContext.runAsUser: expected an int64, got 9223372036854775808 (out of range)"),
    ("pod-runAsNonRoot-string", ("spec", "securityContext", "runAsNonRoot"), "true",
     'spec.securityContext.runAsNonRoot: expected a boolean, got string "true"'),
    ("pod-runAsUser-bool", ("spec", "securityContext", "runAsUser"), False,
     "spec.securityContext.runAsUser: expected an integer, got boolean false"),
    ("container-name-int", (*C0, "name"), 123, "spec.containers[0].name: expected a string, got integer 123"),
    ("annotation-int", ("metadata", "annotations", "container.apparmor.security.beta.kubernetes.io/app"), 1,
     "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]: expected a string, got integer 1"),
    ("annotations-as-list", ("metadata", "annotations"), ["a"], "metadata.annotations: expected an object, got array"),
    ("metadata-as-string", ("metadata",), "web", 'metadata: expected an object, got string "web"'),
    ("metadata-name-int", ("metadata", "name"), 7, "metadata.name: expected a string, got integer 7"),
    ("spec-as-list", ("spec",), [], "spec: expected an object, got array"),
    ("securityContext-as-list", (*SC0,), [], "spec.containers[0].securityContext: expected an object, got array"),
    ("capabilities-add-string", (*SC0, "capabilities", "add"), "SYS_ADMIN",
     'spec.containers[0].securityContext.capabilities.add: expected an array, got string "SYS_ADMIN"'),
    ("capabilities-drop-int", (*SC0, "capabilities", "drop"), [1],
     "spec.containers[0].securityContext.capabilities.drop[0]: expected a string, got integer 1"),
    ("procMount-int", (*SC0, "procMount"), 1, "spec.containers[0].securityContext.procMount: expected a string, "
     "got integer 1"),
    ("seccompProfile-as-string", (*SC0, "seccompProfile"), "RuntimeDefault",
     'spec.containers[0].securityContext.seccompProfile: expected an object, got string "RuntimeDefault"'),
    ("seccomp-type-int", ("spec", "securityContext", "seccompProfile", "type"), 0,
     "spec.securityContext.seccompProfile.type: expected a string, got integer 0"),
    ("apparmor-type-list", (*SC0, "appArmorProfile", "type"), [],
     "spec.containers[0].securityContext.appArmorProfile.type: expected a string, got array"),
    ("selinux-user-bool", (*SC0, "seLinuxOptions", "user"), True,
     "spec.containers[0].securityContext.seLinuxOptions.user: expected a string, got boolean true"),
    ("hostProcess-string", ("spec", "securityContext", "windowsOptions", "hostProcess"), "true",
     'spec.securityContext.windowsOptions.hostProcess: expected a boolean, got string "true"'),
    ("sysctls-as-map", ("spec", "securityContext", "sysctls"), {"name": "x"},
     "spec.securityContext.sysctls: expected an array, got object"),
    ("sysctl-name-int", ("spec", "securityContext", "sysctls", 0, "name"), 5,
     "spec.securityContext.sysctls[0].name: expected a string, got integer 5"),
    ("hostNetwork-string", ("spec", "hostNetwork"), "true", 'spec.hostNetwork: expected a boolean, got string "true"'),
    ("hostPID-number", ("spec", "hostPID"), 1, "spec.hostPID: expected a boolean, got integer 1"),
    ("hostIPC-float", ("spec", "hostIPC"), 0.0, "spec.hostIPC: expected a boolean, got number 0.0"),
    ("hostUsers-string", ("spec", "hostUsers"), "false", 'spec.hostUsers: expected a boolean, got string "false"'),
    ("os-as-string", ("spec", "os"), "windows", 'spec.os: expected an object, got string "windows"'),
    ("os-name-int", ("spec", "os", "name"), 1, "spec.os.name: expected a string, got integer 1"),
    ("hostPath-as-string", ("spec", "volumes", 0, "hostPath"), "/etc",
     'spec.volumes[0].hostPath: expected an object, got string "/etc"'),
    ("volumes-as-map", ("spec", "volumes"), {}, "spec.volumes: expected an array, got object"),
    ("probe-as-string", (*C0, "livenessProbe"), "x", 'spec.containers[0].livenessProbe: expected an object, '
     'got string "x"'),
    ("httpGet-host-int", (*C0, "livenessProbe", "httpGet", "host"), 1,
     "spec.containers[0].livenessProbe.httpGet.host: expected a string, got integer 1"),
    ("lifecycle-tcp-host-list", (*C0, "lifecycle", "preStop", "tcpSocket", "host"), ["h"],
     "spec.containers[0].lifecycle.preStop.tcpSocket.host: expected a string, got array"),
    ("lifecycle-as-list", (*C0, "lifecycle"), [], "spec.containers[0].lifecycle: expected an object, got array"),
    ("initContainers-as-map", ("spec", "initContainers"), {}, "spec.initContainers: expected an array, got object"),
    ("ephemeral-privileged-string", ("spec", "ephemeralContainers", 0, "securityContext", "privileged"), "yes",
     'spec.ephemeralContainers[0].securityContext.privileged: expected a boolean, got string "yes"'),
]  # fmt: skip

# (id, workload kind, path, value, problem): the wrappers around a template, and a field inside one
WRONG_WORKLOADS: list[tuple[str, str, tuple[str | int, ...], Any, str]] = [
    ("deployment-template-string", "Deployment", ("spec", "template"), "x",
     'spec.template: expected an object, got string "x"'),
    ("deployment-spec-list", "Deployment", ("spec",), [], "spec: expected an object, got array"),
    ("cronjob-jobtemplate-list", "CronJob", ("spec", "jobTemplate"), [],
     "spec.jobTemplate: expected an object, got array"),
    ("cronjob-privileged-string", "CronJob",
     ("spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "securityContext", "privileged"), "true",
     'spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged: expected a boolean, '
     'got string "true"'),
    ("podtemplate-annotations-string", "PodTemplate", ("template", "metadata", "annotations"), "x",
     'template.metadata.annotations: expected an object, got string "x"'),
    ("rc-hostpid-string", "ReplicationController", ("spec", "template", "spec", "hostPID"), "true",
     'spec.template.spec.hostPID: expected a boolean, got string "true"'),
    ("statefulset-name-int", "StatefulSet", ("metadata", "name"), 1, "metadata.name: expected a string, got integer 1"),
]  # fmt: skip


def wrong_objects() -> Iterator[tuple[str, dict[str, Any], str]]:
    for case_id, path, value, problem in WRONG:
        yield case_id, with_value(full_pod(), path, value), problem
    for case_id, kind, path, value, problem in WRONG_WORKLOADS:
        yield case_id, with_value(full_workload(kind), path, value), problem


WRONG_OBJECTS = list(wrong_objects())

# Objects the API decoder accepts however odd they look: nulls anywhere, unknown (or wrongly cased) fields,
# integers at the edge of their range, workloads without a template.
VALID_OBJECTS: list[tuple[str, dict[str, Any]]] = [
    ("full-pod", full_pod()),
    *((f"full-{kind}", full_workload(kind)) for kind in TEMPLATE_PATHS),
    ("null-container", with_value(full_pod(), C0, None)),
    ("null-port", with_value(full_pod(), (*C0, "ports", 0), None)),
    ("null-hostPort", with_value(full_pod(), (*C0, "ports", 0, "hostPort"), None)),
    ("null-sysctl", with_value(full_pod(), ("spec", "securityContext", "sysctls", 0), None)),
    ("null-volume", with_value(full_pod(), ("spec", "volumes", 0), None)),
    ("null-capability", with_value(full_pod(), (*SC0, "capabilities", "add"), [None, "SYS_ADMIN"])),
    ("null-annotation", with_value(full_pod(), ("metadata", "annotations", "container.apparmor.security.beta."
                                                "kubernetes.io/app"), None)),
    ("null-hostNetwork", with_value(full_pod(), ("spec", "hostNetwork"), None)),
    ("null-spec", with_value(full_pod(), ("spec",), None)),
    ("null-securityContext", with_value(full_pod(), (*SC0,), None)),
    ("null-metadata", with_value(full_pod(), ("metadata",), None)),
    ("null-name", with_value(full_pod(), (*C0, "name"), None)),
    ("wrong-case-field", with_value(full_pod(), (*SC0, "Privileged"), "true")),
    ("unknown-field", with_value(full_pod(), (*SC0, "x-custom"), [1, {"a": None}])),
    ("hostPort-max", with_value(full_pod(), (*C0, "ports", 0, "hostPort"), 2**31 - 1)),
    ("hostPort-min", with_value(full_pod(), (*C0, "ports", 0, "hostPort"), -(2**31))),
    ("runAsUser-max", with_value(full_pod(), (*SC0, "runAsUser"), 2**63 - 1)),
    ("runAsUser-zero", with_value(full_pod(), ("spec", "securityContext", "runAsUser"), 0)),
    ("deployment-without-spec", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
    ("cronjob-null-jobTemplate", {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": None}}),
    ("privileged-container", with_value(full_pod(), (*SC0, "privileged"), True)),
]  # fmt: skip


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


# ---------------------------------------------------------------- validate_shape


@pytest.mark.parametrize(
    ("obj", "problem"), [(o, p) for _, o, p in WRONG_OBJECTS], ids=[i for i, _, _ in WRONG_OBJECTS]
)
def test_wrong_type_is_one_clear_problem(obj: dict[str, Any], problem: str) -> None:
    assert validate_shape(obj) == [problem]
    conformed, problems = conform(obj)
    assert problems == [problem] and conformed is obj


@pytest.mark.parametrize("obj", [o for _, o in VALID_OBJECTS], ids=[i for i, _ in VALID_OBJECTS])
def test_valid_objects_have_no_problems(obj: dict[str, Any]) -> None:
    assert validate_shape(obj) == []


def test_the_api_decoder_rejects_every_wrong_type(oracle: Oracle) -> None:
    verdicts = oracle.evaluate_many([(obj, "restricted", "latest") for _, obj, _ in WRONG_OBJECTS])
    accepted = [case_id for (case_id, _, _), v in zip(WRONG_OBJECTS, verdicts, strict=True) if v.error is None]
    assert accepted == []
    assert all("cannot unmarshal" in (v.error or "") for v in verdicts)


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_valid_objects_decode_and_get_psas_verdict(oracle: Oracle, level: str) -> None:
    """The API decoder accepts them, and what ``conform`` hands the engine gets PSA's own verdict."""
    verdicts = oracle.evaluate_many([(obj, level, "latest") for _, obj in VALID_OBJECTS])
    for (case_id, obj), verdict in zip(VALID_OBJECTS, verdicts, strict=True):
        assert verdict.error is None, (case_id, verdict.error)
        conformed, problems = conform(obj)
        assert problems == []
        result = evaluate(conformed, level, "latest")
        assert (result.allowed, result.violations) == (verdict.allowed, verdict.violations), case_id


def test_upstream_fixtures_validate_clean() -> None:
    fixtures = upstream_corpus()
    assert len(fixtures) > 1000
    problems = {f.id: validate_shape(f.object) for f in fixtures}
    assert {k: v for k, v in problems.items() if v} == {}
    # Upstream writes nil pointers as null (scaleIO.secretRef: null); the decoder leaves them as absent.
    changed = [f.id for f in fixtures if f.object.get("kind") == "Pod" and conform(f.object)[0] != f.object]
    assert changed and all(
        conform(f.object)[0] == _null_fields_dropped(f.object) for f in fixtures if f.object.get("kind") == "Pod"
    )


def _null_fields_dropped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _null_fields_dropped(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_null_fields_dropped(v) for v in value]
    return value


# ---------------------------------------------------------------- every checked field, every kind of value

ODD_VALUES: list[Any] = [
    None, "", "true", "80", "Default", 0, 1, -1, 2**31, -(2**31) - 1, 2**63, True, False, 80.0, 0.5,
    [], [None], ["ALL"], [1], [{}], {}, {"name": "x"}, {"type": "Unconfined"},
]  # fmt: skip


def _schema_paths(t: Any, value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Every path in ``value`` (a fully populated object) that the compiled API type ``t`` describes."""
    if path:
        yield path
    if t.fields and isinstance(value, dict):
        for key, sub in t.fields.items():
            if key in value:
                yield from _schema_paths(sub, value[key], (*path, key))
    elif t.name.startswith("[]") and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _schema_paths(t.elem, item, (*path, i))
    elif t.name.startswith("map[]") and isinstance(value, dict):
        for key, item in value.items():
            yield from _schema_paths(t.elem, item, (*path, key))


def _mutants() -> list[tuple[str, dict[str, Any]]]:
    """A full Pod mutated everywhere; two workloads around (and just inside) their template."""
    bases = [full_pod(), full_workload("CronJob"), full_workload("ReplicationController")]
    out = []
    for base in bases:
        depth = 99 if base["kind"] == "Pod" else len(TEMPLATE_PATHS[base["kind"]]) + 2
        for path in _schema_paths(ROOTS[base["kind"]], base, ()):
            if len(path) > depth or path[0] in ("apiVersion", "kind"):  # routing, not decoding: tested apart
                continue
            for value in ODD_VALUES:
                out.append((f"{base['kind']}:{'.'.join(map(str, path))}={value!r}", with_value(base, path, value)))
    return out


def test_every_checked_field_agrees_with_the_api_decoder(oracle: Oracle) -> None:
    """Each checked field of a Pod and of two workloads, set to each of a range of odd values: validate_shape
    reports a problem exactly when the API decoder rejects the object, and otherwise the engine, given the
    conformed object, reaches PSA's verdict."""
    mutants = _mutants()
    assert len(mutants) > 3000
    for level in ("baseline", "restricted"):
        verdicts = oracle.evaluate_many([(obj, level, "latest") for _, obj in mutants])
        disagreements = []
        for (case_id, obj), verdict in zip(mutants, verdicts, strict=True):
            conformed, problems = conform(obj)
            if verdict.error == "no pod template":  # a nil *PodTemplateSpec: PSA skips it, pssgen sees {} (allowed)
                assert problems == [] and evaluate(conformed, level).allowed, case_id
                continue
            if bool(problems) != (verdict.error is not None):
                disagreements.append((case_id, problems, verdict.error))
            elif not problems:
                result = evaluate(conformed, level, "latest")
                if (result.allowed, result.violations) != (verdict.allowed, verdict.violations):
                    disagreements.append((case_id, result.violations, verdict.violations))
        assert disagreements == []


# ---------------------------------------------------------------- conform


def test_conform_shares_what_it_does_not_change() -> None:
    pod = full_pod()
    conformed, problems = conform(pod)
    assert problems == [] and conformed is pod


def test_conform_leaves_nulls_as_the_decoder_does_without_touching_the_input() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"annotations": {"a": None}},
        "spec": {
            "hostNetwork": None,
            "containers": [None, {"name": None, "ports": [None], "securityContext": {"capabilities": {"add": [None]}}}],
            "volumes": [None],
            "x-unchecked": [None],
        },
    }
    before = copy.deepcopy(pod)
    conformed, problems = conform(pod)
    assert problems == []
    assert conformed == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"annotations": {"a": ""}},
        "spec": {
            "containers": [{}, {"ports": [{}], "securityContext": {"capabilities": {"add": [""]}}}],
            "volumes": [{}],
            "x-unchecked": [None],
        },
    }
    assert pod == before


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
def test_conform_gives_every_workload_a_template(kind: str) -> None:
    conformed, problems = conform({"kind": kind, "spec": None})
    assert problems == []
    node: Any = conformed
    for key in TEMPLATE_PATHS[kind]:
        node = node[key]
    assert node == {}
    assert evaluate(conformed, "restricted").allowed


def test_other_kinds_are_not_examined() -> None:
    weird = {"kind": "ConfigMap", "spec": {"containers": "x"}, "data": [1]}
    assert validate_shape(weird) == [] and conform(weird) == (weird, [])
    assert validate_shape({"kind": 5}) == [] and validate_shape({}) == []


def test_problems_are_capped() -> None:
    pod = full_pod()
    pod["spec"]["containers"] = [{"name": i, "securityContext": {"privileged": "x"}} for i in range(10)]
    problems = validate_shape(pod)
    assert len(problems) == MAX_PROBLEMS
    assert problems[0] == "spec.containers[0].name: expected a string, got integer 0"


def test_map_keys_must_be_strings() -> None:
    pod = with_value(full_pod(), ("metadata", "annotations"), {1: "x"})
    assert validate_shape(pod) == ["metadata.annotations: key integer 1 is not a string"]


def test_long_strings_are_shortened_in_problems() -> None:
    pod = with_value(full_pod(), (*SC0, "privileged"), "x" * 100)
    (problem,) = validate_shape(pod)
    assert problem.endswith('got string "' + "x" * 37 + '..."')


def test_compile_types_refuses_a_type_it_has_no_rule_for() -> None:
    data = {"kinds": {"Pod": "core/v1.Pod"}, "types": {"core/v1.Pod": {"spec": "[]complex128"}}}
    with pytest.raises(APITypesError, match=r"type 'complex128' has no rule"):
        compile_types(data)


def test_compile_types_builds_recursive_and_shared_types_once() -> None:
    types = {"a.T": {"self": "[]a.T", "n": "uint8"}, "a.U": {"t": "a.T"}}
    data = {"kinds": {"Pod": "a.T", "Job": "a.U"}, "types": types}
    roots = compile_types(data)
    assert roots["Pod"].fields["self"].elem is roots["Pod"] and roots["Job"].fields["t"] is roots["Pod"]
    assert (roots["Pod"].fields["n"].low, roots["Pod"].fields["n"].high) == (0, 255)


def test_field_path_renders_kubernetes_style() -> None:
    path = ((((None, "metadata"), "annotations"), "[a/b]"),)[0]
    assert field_path(path) == "metadata.annotations[a/b]"
    assert field_path((((None, "spec"), "containers"), 2)) == "spec.containers[2]"
    assert field_path(None) == ""


# ---------------------------------------------------------------- as_api_json


def test_integral_floats_become_integers_as_go_prints_them() -> None:
    """sigs.k8s.io/yaml marshals float64(80) as 80, which the int decoder accepts; 80.5 stays 80.5 and is rejected."""
    out = as_api_json({"a": [80.0, -0.0, 80.5, 1e20, 1e21, 2.5e-7]})
    assert out == {"a": [80, 0, 80.5, 10**20, 1e21, 2.5e-7]}
    assert [type(v) for v in out["a"]] == [int, int, float, int, float, float]


def test_values_json_has_no_form_for_are_rejected_with_their_path() -> None:
    for bad, problem in [
        (float("nan"), "nan is not a number JSON can carry"),
        (float("inf"), "inf is not a number JSON can carry"),
        (b"\xff", "a !!binary value that is not UTF-8 text"),
        ({1, 2}, "a YAML set has no JSON form"),
    ]:
        with pytest.raises(NotJSONError) as info:
            as_api_json({"spec": {"containers": [{"x": bad}]}})
        assert str(info.value) == f"spec.containers[0].x: {problem}"


def test_yaml_only_scalars_become_what_the_api_receives() -> None:
    out = as_api_json({"b": b"hello", "t": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "d": dt.date(2024, 1, 2),
                       "pairs": (("a", 1),)})  # fmt: skip
    assert out == {"b": "hello", "t": "2024-01-02T03:04:05+00:00", "d": "2024-01-02", "pairs": [["a", 1]]}


def test_keys_become_strings_and_clashes_are_errors() -> None:
    assert as_api_json({1: "a", False: "b"}) == {"1": "a", "false": "b"}
    with pytest.raises(
        NotJSONError, match=r'^metadata\.labels: mapping keys integer 1 and string "1" both become "1"$'
    ):
        as_api_json({"metadata": {"labels": {1: "x", "1": "y"}}})
    with pytest.raises(NotJSONError, match="mapping key null is not a string"):
        as_api_json({None: 1})
    with pytest.raises(NotJSONError, match=r"mapping key 1\.5 is not a string"):
        as_api_json({1.5: 1})


def test_unchanged_values_are_shared_not_copied() -> None:
    pod = full_pod()
    assert as_api_json(pod) is pod
    pod["spec"]["containers"][0]["ports"][0]["hostPort"] = 80.0
    out = as_api_json(pod)
    assert out is not pod and out["spec"]["containers"][0]["ports"][0]["hostPort"] == 80
    assert out["spec"]["volumes"] is pod["spec"]["volumes"]
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 80.0  # the input is not modified


def test_nesting_is_bounded() -> None:
    deep: Any = 1
    for _ in range(150):
        deep = [deep]
    with pytest.raises(NotJSONError, match="nests deeper than 100 levels"):
        as_api_json(deep)
    assert as_api_json(deep, max_depth=200) is deep


def test_lone_surrogates_become_what_go_decodes() -> None:
    assert as_api_json({"a\ud800": ["\ud83d\ude00", "x\udc00"]}, surrogates=True) == {"a\ufffd": ["😀", "x\ufffd"]}
    assert as_api_json("\ud800", surrogates=True) == "\ufffd"


def test_problems_never_break_a_line() -> None:
    pod = with_value(full_pod(), ("metadata", "annotations"), {"a\nb": 1})
    assert validate_shape(pod) == ['metadata.annotations["a\\nb"]: expected a string, got integer 1']
    with pytest.raises(NotJSONError) as info:
        as_api_json({"data": {"a\nb": float("nan")}})
    assert str(info.value) == 'data["a\\nb"]: nan is not a number JSON can carry'


def test_shared_containers_are_counted_per_reference() -> None:
    """An alias bomb that reached this far (shared lists) is stopped by the container budget, not walked."""
    bomb: Any = ["lol"] * 9
    for _ in range(30):
        bomb = [bomb] * 9
    with pytest.raises(NotJSONError, match="holds too many objects and arrays"):
        as_api_json({"spec": bomb}, max_depth=1000, max_containers=100_000)


@pytest.mark.parametrize(
    ("api_version", "ok"),
    [
        ("apps/v1", True),
        ("apps/v1beta2", True),
        (None, True),
        ("v1", False),
        ("batch/v1", False),
        ("", False),
        (3, False),
    ],
)
def test_api_version_must_name_the_group_serving_the_kind(api_version: Any, ok: bool) -> None:
    obj = {"apiVersion": api_version, "kind": "Deployment", "metadata": {"name": "d"}}
    problems = validate_shape(obj)
    assert (problems == []) is ok, problems
    if not ok:
        assert problems[0].startswith("apiVersion: a Deployment is served at 'apps/v1', got ")
    if api_version is None:
        assert conform(obj)[0]["apiVersion"] == "apps/v1"
