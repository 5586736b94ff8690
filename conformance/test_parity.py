"""Every engine against the upstream PSA oracle: same verdicts, byte-identical reasons and details.

One test body per corpus, parametrised by engine (conftest.py). A mismatch
names the case, the engine, and the checks where they part.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from generator.corpus import Fixture
from generator.engines import EngineBase
from generator.model import Result
from generator.oracle import Oracle, OracleVerdict
from generator.versions import NEWEST_MINOR, parse_version

sys.path.insert(0, str(Path(__file__).parent))
from generated import LEVELS, VERSIONS, generated_objects

Case = tuple[str, Mapping[str, Any], str, str]  # (id, object, level, version)


def _diff(case_id: str, engine: str, got: Result, want: OracleVerdict) -> str | None:
    if want.error is not None:
        return f"{case_id}: the oracle could not evaluate it: {want.error}"
    got_v = [(v.check, v.reason, v.detail) for v in got.violations]
    want_v = [(v.check, v.reason, v.detail) for v in want.violations]
    if got.allowed == want.allowed and got_v == want_v:
        return None
    checks = sorted({c for c, *_ in got_v} ^ {c for c, *_ in want_v}) or sorted(
        {g[0] for g, w in zip(got_v, want_v, strict=False) if g != w}
    )
    return (
        f"{case_id} [{engine}] checks {checks or 'order'}:\n"
        f"    {engine}: allowed={got.allowed} {got_v}\n"
        f"    psa:    allowed={want.allowed} {want_v}"
    )


def _compare(engine: EngineBase, oracle: Oracle, cases: Sequence[Case]) -> list[str]:
    started = time.perf_counter()
    got = engine.evaluate_many([(obj, level, parse_version(version)) for _, obj, level, version in cases])
    elapsed = time.perf_counter() - started
    want = oracle.evaluate_many([(obj, level, version) for _, obj, level, version in cases])
    print(f"{engine.name}: {len(cases)} evaluations in {elapsed:.2f}s")
    assert len(got) == len(want) == len(cases)
    return [
        d
        for (case_id, *_), g, w in zip(cases, got, want, strict=True)
        if (d := _diff(case_id, engine.name, g, w)) is not None
    ]


def _fail_on(mismatches: list[str], total: int) -> None:
    shown = "\n".join(mismatches[:50])
    more = f"\n... and {len(mismatches) - 50} more" if len(mismatches) > 50 else ""
    assert not mismatches, f"{len(mismatches)} of {total} evaluations disagree with PSA:\n{shown}{more}"


@pytest.mark.slow
def test_upstream_fixtures_at_their_own_level_and_version(
    engine: EngineBase, oracle: Oracle, upstream_fixtures: list[Fixture]
) -> None:
    cases = [(f.id, f.object, f.level, f.version) for f in upstream_fixtures]
    assert len(cases) >= 4500
    _fail_on(_compare(engine, oracle, cases), len(cases))


@pytest.mark.slow
def test_distinct_upstream_objects_at_every_level_and_version(
    engine: EngineBase, oracle: Oracle, upstream_fixtures: list[Fixture]
) -> None:
    """Fixtures are guaranteed only for their own version; PSA itself says what they do at the others."""
    distinct: dict[str, Fixture] = {}
    for fixture in upstream_fixtures:
        distinct.setdefault(json.dumps(fixture.object, sort_keys=True), fixture)
    versions = [f"v1.{m}" for m in range(NEWEST_MINOR + 1)] + ["latest"]
    cases = [
        (f"{f.id}@{level}:{version}", f.object, level, version)
        for f in distinct.values()
        for level in ("privileged", *LEVELS)
        for version in versions
    ]
    assert len(distinct) >= 100
    _fail_on(_compare(engine, oracle, cases), len(cases))


@pytest.mark.slow
def test_generated_pods_at_every_boundary(engine: EngineBase, oracle: Oracle) -> None:
    objects = generated_objects()
    cases = [
        (f"{name}@{level}:{version}", obj, level, version)
        for name, obj in objects
        for level in LEVELS
        for version in VERSIONS
    ]
    denied = sum(1 for r in oracle.evaluate_many([(o, lv, v) for _, o, lv, v in cases]) if not r.allowed)
    # A corpus that is all-allowed or all-denied would prove little.
    assert 0.2 * len(cases) < denied < 0.95 * len(cases), f"{denied} of {len(cases)} denied"
    _fail_on(_compare(engine, oracle, cases), len(cases))
