"""The fuzzer's generator and shrinker (generator/parity/fuzz.py), without the oracle or any tool."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.engines import EngineBase, EngineError, PythonEngine, Request
from generator.manifests.shape import conform
from generator.parity import fuzz
from generator.parity.corpus import load_corpus
from generator.parity.oracle import OracleVerdict
from generator.policy.evaluate import evaluate
from generator.policy.model import Result
from generator.policy.pod import TEMPLATE_PATHS, pod_template
from generator.policy.registry import CHECKS
from generator.policy.versions import LEVELS, parse_version

SEED = 20261202
COUNT = 3000


@pytest.fixture(scope="module")
def objects() -> list[fuzz.Generated]:
    return [fuzz.generate(SEED, i) for i in range(COUNT)]


def test_an_object_depends_only_on_seed_and_index() -> None:
    forward = [fuzz.generate(7, i).object for i in range(50)]
    backward = [fuzz.generate(7, i).object for i in reversed(range(50))][::-1]
    assert forward == backward
    assert forward != [fuzz.generate(8, i).object for i in range(50)]
    assert len({json.dumps(o, sort_keys=True) for o in forward}) == 50


def test_every_object_is_json_the_reader_accepts(objects: list[fuzz.Generated]) -> None:
    for item in objects:
        json.dumps(item.object)  # JSON-representable as it is: no default needed
        _, problems = conform(item.object)
        assert problems == [], (item.index, problems)
        assert 1 <= len(item.cases) <= fuzz.CASES_PER_OBJECT


def test_every_field_of_every_check_is_set(objects: list[fuzz.Generated]) -> None:
    missing = [f.text for f in fuzz.CHECK_FIELDS if not any(fuzz.values_at(o.object, f) for o in objects)]
    assert missing == []
    assert {f.text for f in fuzz.CHECK_FIELDS} == {f for c in CHECKS for f in c.fields}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_every_allowed_value_of_every_check_version_is_used_where_the_check_reads(
    objects: list[fuzz.Generated],
) -> None:
    """Values on the allowed side of every list (and, by the version boundaries, of every version)."""
    missing = []
    for check in CHECKS:
        found: set[str] = set()
        for item in objects:
            for where in map(fuzz.parse_field, check.fields):
                found.update(s for v in fuzz.values_at(item.object, where) for s in _strings(v))
            spec = (pod_template(item.object) or {}).get("spec") or {}
            found.update(k for v in spec.get("volumes") or () if isinstance(v, dict) for k in v)
        for version in check.versions:
            for key, values in version.allowed.items():
                for value in values:
                    hit = value in found or (value.endswith("/") and any(s.startswith(value) for s in found))
                    if not hit:
                        missing.append(f"{check.id} {version.name} {key}: {value!r}")
    assert missing == []


def test_odd_characters_nulls_names_and_sizes_all_occur(objects: list[fuzz.Generated]) -> None:
    text = "".join(s for item in objects for s in _strings(item.object))
    assert [c for c in fuzz.ODD_CHARACTERS if c not in text] == []
    dumped = [json.dumps(item.object) for item in objects]
    assert any(": null" in d for d in dumped) and any(": []" in d for d in dumped)
    kinds = {item.object["kind"] for item in objects}
    assert kinds == {"Pod", *TEMPLATE_PATHS}
    sizes, duplicates, nameless, ephemeral = set(), 0, 0, 0
    for item in objects:
        spec = (pod_template(item.object) or {}).get("spec") or {}
        containers = [c for k in fuzz.CONTAINER_KINDS for c in spec.get(k) or () if isinstance(c, dict)]
        names = [c.get("name") for c in containers]
        sizes.add(len(containers))
        duplicates += len(names) != len(set(names))
        nameless += any("name" not in c for c in containers)
        ephemeral += bool(spec.get("ephemeralContainers"))
    assert {0, 1, 2, 3, fuzz.MAX_CONTAINERS} <= sizes and max(sizes) == fuzz.MAX_CONTAINERS
    assert duplicates > 10 and nameless > 10 and ephemeral > 100
    specs = [(pod_template(i.object) or {}).get("spec") or {} for i in objects]
    assert {(s.get("os") or {}).get("name") for s in specs} >= {"windows", "Windows", "linux"}
    assert {s.get("hostUsers", "absent") for s in specs} >= {True, False, None, "absent"}


def test_annotations_name_containers_that_exist_and_that_do_not(objects: list[fuzz.Generated]) -> None:
    existing = missing = 0
    for item in objects:
        template = pod_template(item.object) or {}
        spec = template.get("spec") or {}
        names = {c.get("name") for k in fuzz.CONTAINER_KINDS for c in spec.get(k) or () if isinstance(c, dict)}
        for key in (template.get("metadata") or {}).get("annotations") or {}:
            for where in fuzz.ANNOTATION_FIELDS:
                if where.prefix and where.annotation and key.startswith(where.annotation):
                    if key[len(where.annotation) :] in names:
                        existing += 1
                    else:
                        missing += 1
    assert existing > 100 and missing > 100


def test_cases_meet_every_level_and_both_sides_of_every_version_boundary(objects: list[fuzz.Generated]) -> None:
    pairs = {pair for item in objects for pair in item.cases}
    assert {level for level, _ in pairs} == set(LEVELS)
    versions = {version for _, version in pairs}
    assert {"latest", "v1.0", *fuzz.VERSIONS} <= versions
    for check in CHECKS:
        for version in check.versions:
            m = version.minimum_minor
            for level in ("baseline", "restricted"):
                assert (level, f"v1.{m}") in pairs and (m == 0 or (level, f"v1.{m - 1}") in pairs)


# ---- the shrinker, on planted disagreements -----------------------------------------------------------------------


def _has_proc_mount(obj: Any) -> bool:
    spec = (pod_template(obj) or {}).get("spec") or {}
    return any(
        "procMount" in (c.get("securityContext") or {})
        for k in fuzz.CONTAINER_KINDS
        for c in spec.get(k) or ()
        if isinstance(c, dict)
    )


class ProcMountBlind(EngineBase):
    """Disagrees with the Python evaluator (flips the verdict) on any pod with a procMount field."""

    name = "procmount-blind"

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        out = []
        for obj, level, version in requests:
            result = evaluate(obj, level, version)
            out.append(Result(not result.allowed, (), level, str(version)) if _has_proc_mount(obj) else result)
        return out


class NelKeyFails(PythonEngine):
    """Raises for a whole batch when any object has an annotation key with U+0085 in it."""

    name = "nel-key"

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        for obj, _, _ in requests:
            annotations = ((pod_template(obj) or {}).get("metadata") or {}).get("annotations") or {}
            if any("\x85" in key for key in annotations):
                raise EngineError("yaml: control characters are not allowed")
        return super().evaluate_many(requests)


def _disagrees(engine: EngineBase, level: str = "baseline", version: str = "latest") -> Any:
    """The shrinker's test against the Python evaluator, as ``still_disagrees`` tests against the oracle."""

    def test(objects: Sequence[dict[str, Any]]) -> list[bool]:
        shaped = [dict(conform(o)[0]) for o in objects]
        answers = fuzz.engine_answers(engine, [(o, level, parse_version(version)) for o in shaped])
        return [
            isinstance(a, Exception) or a != evaluate(o, level, version) for o, a in zip(shaped, answers, strict=True)
        ]

    return test


def _first(predicate: Any, seed: int = SEED) -> dict[str, Any]:
    return next(g.object for i in range(5000) if predicate((g := fuzz.generate(seed, i)).object))


def test_shrinks_a_planted_verdict_difference_to_the_one_field() -> None:
    big = _first(lambda o: _has_proc_mount(o) and o["kind"] != "Pod" and len(json.dumps(o)) > 1500)
    test = _disagrees(ProcMountBlind())
    assert test([big]) == [True]
    shrunk = fuzz.shrink(big, test)
    [(kind, [container])] = shrunk["spec"].items()
    assert shrunk == {"apiVersion": "v1", "kind": "Pod", "spec": {kind: [container]}}
    assert container == {"securityContext": {"procMount": ""}}
    assert fuzz.shrink(big, test) == shrunk  # deterministic


def test_shrinks_a_planted_engine_failure_to_the_one_annotation_key() -> None:
    engine = NelKeyFails()
    big = _first(lambda o: o["kind"] == "Pod" and len(json.dumps(o)) > 1500)
    big["metadata"]["annotations"] = {"keep\x85me": "x", **big["metadata"].get("annotations", {})}
    batch = [fuzz.generate(SEED, i).object for i in range(40)] + [big]
    answers = fuzz.engine_answers(engine, [(conform(o)[0], "restricted", parse_version("v1.30")) for o in batch])
    assert [isinstance(a, Exception) for a in answers] == [False] * 40 + [True]  # isolated by halving
    shrunk = fuzz.shrink(big, _disagrees(engine))
    assert shrunk == {"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": {"\x85": ""}}}


# ---- fixtures ---------------------------------------------------------------------------------------------------


class StubOracle:
    """Answers with the Python evaluator, enough for ``write_fixture`` to place a file."""

    def evaluate(self, obj: Any, level: str, version: str) -> OracleVerdict:
        result = evaluate(obj, level, version)
        return OracleVerdict(level, version, result.allowed, result.violations)


def test_fixtures_are_written_in_the_corpus_layout_and_read_back_exactly(tmp_path: Path) -> None:
    odd = "".join(fuzz.ODD_CHARACTERS)
    denied = {"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": {f"k{odd}": odd}},
              "spec": {"containers": [{"name": odd, "securityContext": {"privileged": True}}]}}  # fmt: skip
    allowed = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "c"}]}}
    written = []
    for obj, checks in ((denied, frozenset({"privileged"})), (denied, frozenset()), (allowed, frozenset({"x"}))):
        found = fuzz.Disagreement("opa", 3, "baseline", "latest", obj, "d\n\x85", False, checks, shrunk=obj)
        written.append(fuzz.write_fixture(tmp_path, found, StubOracle(), SEED))  # type: ignore[arg-type]
    rel = [p.relative_to(tmp_path).as_posix() for p in written if p is not None]
    assert rel == ["baseline/v1.37/fail/privileged0.yaml", "baseline/v1.37/fail/privileged1.yaml",
                   "baseline/v1.37/pass/x0.yaml"]  # fmt: skip
    loaded = load_corpus(tmp_path, strict=True)
    assert [(f.expect, f.object) for f in loaded] == [("pass", allowed), ("fail", denied), ("fail", denied)]
    assert loaded[1].substring == "privileged"
    text = written[0].read_text(encoding="utf-8") if written[0] else ""
    assert text.startswith(f"# found by `pssgen fuzz --seed {SEED}` (object 3)")
    assert yaml.safe_load(text) == denied
    privileged = fuzz.Disagreement("opa", 3, "privileged", "latest", denied, "d", False, shrunk=denied)
    assert fuzz.write_fixture(tmp_path, privileged, StubOracle(), SEED) is None  # type: ignore[arg-type]
