"""The generated Rego: deterministic, marked as generated, Gatekeeper-safe, clean under OPA's own
tools, and holding exactly the allowed values of the checks' data."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

from generator.manifests.shape import validate_shape
from generator.policy.evaluate import evaluate
from generator.policy.fields import SCHEMAS, MapOf, Scalar
from generator.policy.model import Check
from generator.policy.pod import API_GROUPS, pod_view
from generator.policy.registry import CHECKS, active_checks
from generator.policy.relaxations import RELAXATIONS, WINDOWS, Relaxation
from generator.policy.versions import LEVELS, NEWEST_MINOR
from generator.render import render_all
from generator.render.literals import HEADER, rego_literal
from generator.render.rego import rego_modules


@pytest.fixture(scope="module")
def modules() -> dict[str, str]:
    return rego_modules()


@pytest.fixture(scope="module")
def rendered_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh render on disk, so OPA judges what render_all produces now (not what is committed)."""
    root = tmp_path_factory.mktemp("out")
    for rel, text in render_all().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "rego"


def test_rendering_is_deterministic():
    assert render_all() == render_all()


def test_layout(modules):
    expected = {"lib/pss.rego", "lib/pss/admission.rego", "lib/pss/levels.rego", "lib/pss/types.rego"}
    expected |= {"pss.rego", "main.rego"}
    expected |= {f"lib/pss/checks/{c.id}.rego" for c in CHECKS}
    assert set(modules) == expected
    assert {path.split("/")[0] for path in render_all()} == {"rego", "gatekeeper", "vap", "docs"}


def test_every_module_starts_with_the_header(modules):
    for path, text in modules.items():
        assert text.startswith(HEADER + "\n"), path
        assert text.endswith("\n") and not text.endswith("\n\n"), path


def test_no_rego_v1_import(modules):
    # Gatekeeper rejects `import rego.v1`; the modules are Rego v1 syntax without it.
    for path, text in modules.items():
        assert "rego.v1" not in text, path


def test_lib_modules_reference_only_data_lib(modules):
    # Gatekeeper libs must be `package lib.…` and may only reference data.lib.*.
    for path, text in modules.items():
        if not path.startswith("lib/"):
            continue
        package = re.search(r"^package (\S+)$", text, re.MULTILINE)
        assert package is not None and package.group(1).startswith("lib."), path
        for ref in re.findall(r"\bdata\.[A-Za-z_][A-Za-z0-9_.]*", text):
            assert ref.startswith("data.lib."), f"{path}: {ref}"


def _plan_bodies(levels_rego: str) -> dict[tuple[str, int], str]:
    """Each plan's violations function body in levels.rego, by (level, plan index)."""
    found = re.finditer(r'^violations\((?:pod|_), "(\w+)", (\d+)\) := (.*?)(?=^\n|^# |\Z)', levels_rego, re.M | re.S)
    return {(m.group(1), int(m.group(2))): m.group(3) for m in found}


# One check's call in a plan: its ID, its guards, the implementation called, and the allowed values it is fed.
CALL = re.compile(r'\[\{"check": "(\w+)".*? \| ((?:[^|;\n]*; )*)f := ([\w.]+)\(pod, (.*)\)\],$', re.M)


def _function(check: Check, rego: str) -> str:
    """Where a version's ``rego`` data points: its own check's package, or the one it names."""
    return f"pss.checks.{rego}" if "." in rego else f"pss.checks.{check.id}.{rego}"


def test_each_plan_runs_psa_checks_in_order_with_their_data(modules):
    # For every level and minor version, the plan the Rego picks calls exactly the versions PSA runs,
    # in PSA's order, each the Rego function its data names, fed its own allowed values, under the
    # guards of its own relaxations.
    text = modules["lib/pss/levels.rego"]
    plan = re.search(r"^plan := (\{.*?^\})", text, re.M | re.S)
    assert plan
    indices = json.loads(re.sub(r",(\s*[\]}])", r"\1", plan.group(1)))
    bodies = _plan_bodies(text)
    for level in LEVELS:
        assert len(indices[level]) == NEWEST_MINOR + 1
        for minor, index in enumerate(indices[level]):
            calls = CALL.findall(bodies[(level, index)])
            expected = active_checks(level, minor)
            assert [c for c, _, _, _ in calls] == [c.id for c, _ in expected], (level, minor)
            for (_, guards, function, allowed), (check, version) in zip(calls, expected, strict=True):
                assert function == _function(check, version.rego), (level, minor, check.id)
                assert allowed == rego_literal(dict(version.allowed), inline_from=0), (level, minor, check.id)
                assert guards == "".join(f"{r.rego_guard}; " for r in version.relaxations), (level, minor, check.id)


def test_python_and_rego_implementations_share_their_names():
    # A version's Rego function is named (and placed) after the Python function it evaluates with,
    # so a reader finds either from the other; procMount_restricted runs procMount's in both.
    for check in CHECKS:
        for version in check.versions:
            owner = version.evaluate.__module__.rsplit(".", 1)[-1]
            assert _function(check, version.rego) == f"pss.checks.{owner}.{version.evaluate.__name__}", version.name


def _with_sentinels(check: Check) -> Check:
    versions = tuple(
        dataclasses.replace(
            v,
            allowed={key: (*values, f"sentinel-{check.id}-{v.name}-{key}") for key, values in v.allowed.items()},
        )
        for v in check.versions
    )
    return dataclasses.replace(check, versions=versions)


def test_allowed_values_come_from_the_data():
    # What the plans feed each implementation follows the data, value for value.
    altered = tuple(_with_sentinels(c) for c in CHECKS)
    text = rego_modules(altered)["lib/pss/levels.rego"]
    for check in altered:
        for version in check.versions:
            for key in version.allowed:
                assert f'"sentinel-{check.id}-{version.name}-{key}"' in text, (check.id, version.name, key)


def test_relaxation_guards_come_from_the_table():
    # The guard a relaxed version runs under, and the comment naming it, are the relaxation's Rego test.
    odd = Relaxation("x", WINDOWS.applies, 'pod.spec.os.name == "sentinel"', "f", "c", "label", "pods")
    altered = tuple(
        dataclasses.replace(
            c, versions=tuple(dataclasses.replace(v, relaxations=(odd,) if v.relaxations else ()) for v in c.versions)
        )
        for c in CHECKS
    )
    modules = rego_modules(altered)
    levels = modules["lib/pss/levels.rego"]
    assert 'not pod.spec.os.name == "sentinel"; f := ' in levels
    assert '"windows"' not in levels and "hostUsers" not in levels
    for check_id in {c.id for c in CHECKS for v in c.versions if v.relaxations}:
        assert 'unless pod.spec.os.name == "sentinel".' in modules[f"lib/pss/checks/{check_id}.rego"], check_id


def _code_only(source: str) -> str:
    """Template source without comments and raw (backtick) strings, where upstream's message text lives."""
    source = re.sub(r"`[^`]*`", "``", source)
    return re.sub(r"#.*", "", source)


def test_templates_do_not_restate_allowed_values():
    # Implementations read `allowed`; a value spelled out in a template's code is a list restated by
    # hand. (Message text such as `drop=["ALL"]` is upstream's wording, in raw strings.)
    root = files("generator.templates") / "rego"
    templates = [*(root / "checks").iterdir(), root / "check.rego.j2", root / "levels.rego.j2"]
    sources = {p.name: _code_only(p.read_text(encoding="utf-8")) for p in templates}
    values = {value for c in CHECKS for v in c.versions for vals in v.allowed.values() for value in vals if value}
    for name, code in sources.items():
        for value in values:
            assert json.dumps(value) not in code, f"{name} restates the allowed value {value!r}"


def test_opa_check_strict(opa_bin, rendered_tree):
    proc = subprocess.run([opa_bin, "check", "--strict", rendered_tree], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_opa_fmt_has_nothing_to_change(opa_bin, rendered_tree):
    proc = subprocess.run([opa_bin, "fmt", "--list", rendered_tree], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", f"opa fmt would rewrite:\n{proc.stdout}"


RELAXATION_PODS = [
    {"os": {"name": "windows"}},
    {"os": {"name": "Windows"}},
    {"os": {"name": "linux"}},
    {"os": None},
    {"hostUsers": False},
    {"hostUsers": True},
    {"hostUsers": None},
    {},
]


def test_library_relaxation_tests_agree_with_python(opa_bin, rendered_tree, tmp_path):
    # The library's named form of each relaxation decides as the Python predicate of the same table row.
    pods = [{"kind": "Pod", "metadata": {"name": "p"}, "spec": spec} for spec in RELAXATION_PODS]
    (tmp_path / "input.json").write_text(json.dumps({"pods": pods}))
    # A set comprehension is empty where the test is undefined, so each pod gets a boolean.
    tests = {r.key: f"count({{1 | data.lib.pss.{r.rego_function}(data.lib.pss.pod(o))}}) == 1" for r in RELAXATIONS}
    query = "{" + ", ".join(f'"{key}": [b | some o in input.pods; b := {test}]' for key, test in tests.items()) + "}"
    proc = subprocess.run(
        [opa_bin, "eval", "--format", "json", "-d", rendered_tree, "-i", tmp_path / "input.json", query],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    views = [pod_view(p) for p in pods]
    assert got == {r.key: [r.applies(v) for v in views] for r in RELAXATIONS}


def _pod(**security_context):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "initContainers": [{"name": "init", "image": "x"}],
            "containers": [{"name": "app", "image": "x", "securityContext": security_context}],
        },
    }


def test_batch_entry_point_matches_python(opa_bin, rendered_tree, tmp_path):
    # A smoke test of data.pss.batch's shape and order; the conformance suite covers the corpus.
    items = [
        {"object": _pod(privileged=True), "level": "baseline", "version": "latest"},
        {"object": _pod(privileged=True), "level": "restricted", "version": "v1.22"},
        {"object": _pod(), "level": "privileged", "version": "v1.0"},
        {"object": _pod(allowPrivilegeEscalation=False), "level": "restricted", "version": "v1.99"},
        {"object": {"kind": "ConfigMap", "metadata": {"name": "c"}}, "level": "baseline", "version": "latest"},
        {"object": _pod(), "level": "baseline", "version": "v1.05"},
    ]
    (tmp_path / "input.json").write_text(json.dumps({"items": items}))
    proc = subprocess.run(
        [opa_bin, "eval", "--format", "json", "-d", rendered_tree, "-i", tmp_path / "input.json", "data.pss.batch"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    expected = []
    for item in items[:4]:
        result = evaluate(item["object"], item["level"], item["version"])
        expected.append({"allowed": result.allowed, "violations": [v.as_dict() for v in result.violations]})
    assert got[:4] == expected
    assert got[4] == {"allowed": True, "violations": [], "skipped": True}
    assert got[5]["allowed"] is False and got[5]["violations"] == [] and "v1.05" in got[5]["error"]


# --- the type gate (lib/pss/types.rego) against the field data and generator.manifests.shape ------------------

_WRONG = {"boolean": ["true", 1], "string": [1, True], "int32": ["1", 1.5, 2**31], "int64": ["0", 0.5]}
_RIGHT = {"boolean": [True, False], "string": ["s", ""], "int32": [80, 8.0], "int64": [0, 1000]}


def _field_paths(schema, path=()):
    """Every (path, kind of value) of the field data: arrays at index 0, maps at key "k"."""
    if isinstance(schema, Scalar):
        yield path, schema.name
    elif isinstance(schema, dict):
        yield path, "struct"
        for field, sub in schema.items():
            yield from _field_paths(sub, (*path, field))
    elif isinstance(schema, list):
        yield path, "array"
        yield from _field_paths(schema[0], (*path, 0))
    elif isinstance(schema, MapOf):
        yield path, "map"
        yield from _field_paths(schema.value, (*path, "k"))


def _with(obj, path, value):
    """A deep copy of ``obj`` with ``value`` at ``path``, creating objects and one-element arrays on the way."""
    obj = json.loads(json.dumps(obj))
    node = obj
    for here, nxt in itertools.pairwise(path):
        empty = [{}] if isinstance(nxt, int) else {}
        if not isinstance(here, int) and node.get(here) is None:
            node[here] = empty
        node = node[here]
    if isinstance(path[-1], int):
        node[:] = [value]
    else:
        node[path[-1]] = value
    return obj


def _shown(path):
    """generator.manifests.shape's field path: ``spec.containers[0].name``, map keys as ``[k]``."""
    text = ""
    for i, seg in enumerate(path):
        text += f"[{seg}]" if isinstance(seg, int) or (i and path[i - 1] == "annotations") else f".{seg}"
    return text.lstrip(".")


def _gate_cases():
    """(object, field path or None): every field of every kind set to wrong values (the path must be named) and
    to right ones and null (no error)."""
    wrong_container = {"struct": ["x", []], "array": [{}, "x"], "map": [[], "x"]}
    right_container = {"struct": [{}], "array": [[]], "map": [{}]}
    cases = []
    for kind, schema in SCHEMAS.items():
        group = API_GROUPS[kind]
        base = {"apiVersion": f"{group}/v1" if group else "v1", "kind": kind, "metadata": {"name": "p"}}
        for path, what in _field_paths(schema):
            if not path:
                continue
            wrong = _WRONG.get(what) or wrong_container[what]
            right = _RIGHT.get(what) or right_container[what]
            cases += [(_with(base, path, v), _shown(path)) for v in wrong]
            cases += [(_with(base, path, v), None) for v in [*right, None]]
    return cases


def test_type_gate_refuses_every_wrong_type_of_the_field_data_and_only_those(opa_bin, rendered_tree, tmp_path):
    cases = _gate_cases()
    assert len(cases) > 1000  # every field of every kind: the walk reached the data
    items = [{"object": obj, "level": "privileged", "version": "latest"} for obj, _ in cases]
    (tmp_path / "input.json").write_text(json.dumps({"items": items}))
    proc = subprocess.run(
        [opa_bin, "eval", "--format", "json", "-d", rendered_tree, "-i", tmp_path / "input.json", "data.pss.batch"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    results = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
    for (obj, path), result in zip(cases, results, strict=True):
        shown = json.dumps(obj)[:300]
        if path is None:
            assert "error" not in result, f"the gate refuses a well-typed object: {result['error']}\n{shown}"
            assert result["allowed"] or result.get("skipped"), shown
        else:
            assert result["allowed"] is False and result["violations"] == [], shown
            assert result["error"].startswith(f"{path}: expected "), f"{result['error']!r} should name {path}\n{shown}"
            # The Python reader refuses what the gate refuses: both stand for the API's decoder.
            assert validate_shape(obj), f"generator.manifests.shape accepts what the Rego gate refuses: {shown}"


def test_type_gate_message_names_at_most_five_fields_sorted(opa_bin, rendered_tree, tmp_path):
    containers = [{"name": i, "securityContext": {"privileged": "yes"}} for i in range(7)]
    obj = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers, "hostPID": "on"}}
    (tmp_path / "input.json").write_text(json.dumps({"object": obj, "level": "baseline"}))
    proc = subprocess.run(
        [opa_bin, "eval", "--format", "json", "-d", rendered_tree, "-i", tmp_path / "input.json", "data.pss.result"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    error = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]["error"]
    problems = error.split("; ")
    assert len(problems) == 5
    assert problems == sorted(problems)
    assert problems[0] == "spec.containers[0].name: expected a string, got number 0"
    assert problems[1] == 'spec.containers[0].securityContext.privileged: expected a boolean, got string "yes"'
