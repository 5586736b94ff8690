"""Generated objects through each engine and upstream PSA (generator/parity/fuzz.py): a fixed seed, 5,000 objects.

Each object is judged at its spread of levels and versions (every version where a
check changes, both sides, latest and one above the newest); the engine must
agree with PSA on every verdict, reason and detail. A failure lists each
disagreement with its object shrunk to a minimal one; ``pssgen fuzz --seed``
with the same seed writes them as fixtures.
"""

from __future__ import annotations

import time

import pytest

from generator.engines import EngineBase
from generator.parity import fuzz
from generator.parity.oracle import Oracle
from generator.policy.versions import LEVELS

SEED = 20261202
COUNT = 5000


@pytest.mark.slow
def test_generated_objects_agree_with_psa(engine: EngineBase, oracle: Oracle) -> None:
    started = time.perf_counter()
    report = fuzz.run([engine], oracle, COUNT, SEED, shrink_limit=3)
    print(f"{engine.name}: {report.objects} objects, {report.cases} cases in {time.perf_counter() - started:.1f}s")
    assert report.refused == [] and report.oracle_errors == []
    assert report.objects == COUNT and report.cases >= 3 * COUNT
    assert {level for level, _ in report.by_level_version} == set(LEVELS)
    assert set(fuzz.VERSIONS) <= {version for _, version in report.by_level_version}
    found = report.disagreements[engine.name]
    shown = [
        f"{d.description}\n  shrunk to {fuzz.one_line(d.shrunk)}:\n  {d.shrunk_description}"
        if d.shrunk is not None
        else d.description
        for d in found[:20]
    ]
    assert not found, f"{len(found)} of {report.cases} cases disagree with PSA (seed {SEED}):\n" + "\n".join(shown)
