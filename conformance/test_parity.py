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

from generator.engines import EngineBase, open_engine
from generator.engines.base import Worded
from generator.parity.compare import Case, compare, fixture_cases, fixture_expectation_problem, oracle_verdicts
from generator.parity.corpus import Fixture
from generator.parity.fixtures import entries_from, minimal_pod
from generator.parity.oracle import Oracle
from generator.policy.versions import LATEST, NEWEST_MINOR
from generator.render import vap

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


def test_the_vap_bundles_message_differences_are_the_listed_ones(oracle: Oracle) -> None:
    """Each of MESSAGE_DIFFERENCES that a manifest can show offline, shown by the vap engine and named by it; what
    the API server refuses to store (these annotation values) only reaches the policy offline."""
    pod = minimal_pod("baseline", NEWEST_MINOR)
    name = pod["spec"]["containers"][0]["name"]
    quoted = {**pod, "metadata": {"name": "quoted", "annotations": {
        f"container.apparmor.security.beta.kubernetes.io/{name}": "x\u2028\x01\x85\\u2028\ty"}}}  # fmt: skip
    long = {**pod, "spec": {**pod["spec"], "containers": [
        {**pod["spec"]["containers"][0], "name": f"{'c' * 60}-{i:02}", "securityContext": {"privileged": True}}
        for i in range(80)]}}  # fmt: skip
    adds = [f"CAP_{i:03}" for i in reversed(range(300))]  # more than SORT_LIMIT, the smallest last
    many = {**pod, "spec": {**pod["spec"], "containers": [
        {**pod["spec"]["containers"][0], "securityContext": {"capabilities": {"add": adds}}}]}}  # fmt: skip
    with open_engine("vap") as engine:
        got = engine.evaluate_many(
            [(quoted, "baseline", LATEST), (long, "baseline", LATEST), (many, "baseline", LATEST)]
        )
        want = oracle.evaluate_many([(o, "baseline", "latest") for o in (quoted, long, many)])
        assert "\\u2028" in want[0].message and "\\x01" in want[0].message and "\\u0085" in want[0].message
        assert engine.listed_difference(got[0], want[0].message) == ("non-printable-quoted",)
        assert isinstance(got[0], Worded) and got[0].text == want[0].message.replace("\\u2028", "\u2028", 1)
        assert engine.listed_difference(got[1], want[1].message) == ("over-5-KiB",)
        assert isinstance(got[1], Worded) and got[1].text == vap.vap_message(want[1].message) != want[1].message
        # long-lists: the first SORT_LIMIT values, sorted, then the mark, where PSA sorts all 300.
        shown = [*sorted(adds[: vap.SORT_LIMIT]), vap.CUT_ITEM]
        assert isinstance(got[2], Worded) and len(want[2].message.encode()) < vap.MAX_MESSAGE_BYTES
        assert got[2].text == want[2].message.replace('", "'.join(sorted(adds)), '", "'.join(shown))
        assert (
            [v.check for v in got[2].violations] == [v.check for v in want[2].violations] == ["capabilities_baseline"]
        )
