"""The oracle against the whole upstream PSA corpus: proves the harness before any engine is judged by it.

Every fixture is evaluated at its own level and version, as upstream's own
test does: pass fixtures are allowed, fail fixtures are denied with the
expected substring in PSA's full denial message.
"""

from __future__ import annotations

import time

import pytest

from generator.parity.compare import fixture_expectation_problem
from generator.parity.corpus import Fixture
from generator.parity.oracle import Oracle

# The pinned module has 4537 fixtures; a loader that finds far fewer is broken, not passing.
MIN_FIXTURES = 4500


@pytest.mark.slow
def test_oracle_agrees_with_every_upstream_fixture(oracle: Oracle, upstream_fixtures: list[Fixture]) -> None:
    started = time.perf_counter()
    verdicts = oracle.evaluate_many((f.object, f.level, f.version) for f in upstream_fixtures)
    elapsed = time.perf_counter() - started
    print(f"psa-oracle: {len(upstream_fixtures)} upstream fixtures evaluated in {elapsed:.2f}s")

    assert len(upstream_fixtures) >= MIN_FIXTURES, f"only {len(upstream_fixtures)} upstream fixtures loaded"
    assert len(verdicts) == len(upstream_fixtures)
    problems = [
        f"{fixture.id}: {problem}"
        for fixture, verdict in zip(upstream_fixtures, verdicts, strict=True)
        if (problem := fixture_expectation_problem(fixture, verdict)) is not None
    ]
    assert not problems, f"{len(problems)} of {len(upstream_fixtures)} fixtures disagree:\n" + "\n".join(problems)
