"""Every engine against the upstream PSA oracle: same verdicts, byte-identical reasons and details.

One test body per corpus (upstream's fixtures, the project's own in
conformance/corpus, generated pods), parametrised by engine (conftest.py). A
mismatch names the case, the engine, and the checks where they part.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from generator.engines import EngineBase
from generator.parity.compare import Case, compare, fixture_cases, fixture_expectation_problem, oracle_verdicts
from generator.parity.corpus import Fixture
from generator.parity.fixtures import entries_from
from generator.parity.oracle import Oracle
from generator.policy.versions import NEWEST_MINOR

sys.path.insert(0, str(Path(__file__).parent))
from generated import LEVELS, VERSIONS, generated_objects


def _assert_parity(engine: EngineBase, oracle: Oracle, cases: Sequence[Case]) -> None:
    verdicts = oracle_verdicts(oracle, cases)
    started = time.perf_counter()
    report = compare(engine, cases, verdicts)
    print(f"{engine.name}: {len(cases)} evaluations in {time.perf_counter() - started:.2f}s")
    mismatches = report.disagreements
    shown = "\n".join(mismatches[:50])
    more = f"\n... and {len(mismatches) - 50} more" if len(mismatches) > 50 else ""
    assert not mismatches, f"{len(mismatches)} of {len(cases)} evaluations disagree with PSA:\n{shown}{more}"
    assert sum(report.agreed.values()) == len(cases)


@pytest.mark.slow
def test_upstream_fixtures_at_their_own_level_and_version(
    engine: EngineBase, oracle: Oracle, upstream_fixtures: list[Fixture]
) -> None:
    cases = fixture_cases(upstream_fixtures)
    assert len(cases) >= 4500
    _assert_parity(engine, oracle, cases)


@pytest.mark.slow
def test_project_fixtures_where_psa_puts_them(oracle: Oracle, project_fixtures: list[Fixture]) -> None:
    """PSA itself agrees with each project fixture's place: pass allowed, fail denied by the check it names."""
    verdicts = oracle_verdicts(oracle, fixture_cases(project_fixtures))
    problems = [
        f"{fixture.id}: {problem}"
        for fixture, verdict in zip(project_fixtures, verdicts, strict=True)
        if (problem := fixture_expectation_problem(fixture, verdict)) is not None
    ]
    for entry, verdict in zip(entries_from(project_fixtures), verdicts, strict=True):
        if entry.expect == "fail" and entry.check not in {v.check for v in verdict.violations}:
            problems.append(f"{entry.path}: denied, but not by {entry.check}: {verdict.violations}")
    assert len(project_fixtures) >= 1000, f"only {len(project_fixtures)} project fixtures loaded"
    assert not problems, f"{len(problems)} of {len(project_fixtures)} fixtures misplaced:\n" + "\n".join(problems)


@pytest.mark.slow
def test_project_fixtures_at_their_own_level_and_version(
    engine: EngineBase, oracle: Oracle, project_fixtures: list[Fixture]
) -> None:
    _assert_parity(engine, oracle, fixture_cases(project_fixtures))


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
        Case(f"{f.id}@{level}:{version}", f.object, level, version)
        for f in distinct.values()
        for level in ("privileged", *LEVELS)
        for version in versions
    ]
    assert len(distinct) >= 100
    _assert_parity(engine, oracle, cases)


@pytest.mark.slow
def test_generated_pods_at_every_boundary(engine: EngineBase, oracle: Oracle) -> None:
    cases = [
        Case(f"{name}@{level}:{version}", obj, level, version)
        for name, obj in generated_objects()
        for level in LEVELS
        for version in VERSIONS
    ]
    denied = sum(1 for v in oracle_verdicts(oracle, cases) if not v.allowed)
    # A corpus that is all-allowed or all-denied would prove little.
    assert 0.2 * len(cases) < denied < 0.95 * len(cases), f"{denied} of {len(cases)} denied"
    _assert_parity(engine, oracle, cases)
