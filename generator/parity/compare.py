"""Parity between an engine and upstream PSA, shared by the pytest suite and `pssgen conformance`.

A case is an object with a level and version. The oracle (upstream PSA's own
evaluator) says what is right; an engine agrees when its verdict and its
violations — check, reason and detail, in order — are identical.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator.engines import EngineBase, EngineError, Refused
from generator.parity.corpus import Fixture
from generator.parity.oracle import Oracle, OracleVerdict
from generator.policy.model import Result
from generator.policy.versions import parse_version

CHUNK = 1000  # cases per engine call, so progress can be shown


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    object: Mapping[str, Any]
    level: str
    version: str


def fixture_cases(fixtures: Iterable[Fixture]) -> list[Case]:
    """Each fixture at its own level and version, as upstream's own test uses it."""
    return [Case(f.id, f.object, f.level, f.version) for f in fixtures]


def fixture_expectation_problem(fixture: Fixture, verdict: OracleVerdict) -> str | None:
    """Why PSA's verdict contradicts what the fixture's place in the tree asserts, or None."""
    if verdict.error is not None:
        return f"error: {verdict.error}"
    if fixture.expect == "pass":
        return None if verdict.allowed else f"denied: {verdict.message}"
    if verdict.allowed:
        return "allowed, expected denial"
    if fixture.substring is not None and fixture.substring not in verdict.message:
        return f"{fixture.substring!r} not in: {verdict.message}"
    return None


def describe_difference(case: Case, engine: str, got: Result, want: OracleVerdict) -> str | None:
    """None when they agree; else which checks part and both sides, for a readable failure."""
    if want.error is not None:
        return f"{case.id} [{engine}]: the oracle could not evaluate it: {want.error}"
    if isinstance(got, Refused):
        return f"{case.id} [{engine}] at {case.level}:{case.version}: not judged: {got.refusal}"
    got_v = [(v.check, v.reason, v.detail) for v in got.violations]
    want_v = [(v.check, v.reason, v.detail) for v in want.violations]
    if got.allowed == want.allowed and got_v == want_v:
        return None
    checks = sorted({c for c, *_ in got_v} ^ {c for c, *_ in want_v}) or sorted(
        {g[0] for g, w in zip(got_v, want_v, strict=False) if g != w}
    )
    return (
        f"{case.id} [{engine}] at {case.level}:{case.version}, checks {checks or 'in a different order'}:\n"
        f"    {engine}: allowed={got.allowed} {got_v}\n"
        f"    psa: allowed={want.allowed} {want_v}"
    )


@dataclass
class EngineReport:
    """Agreements per (level, version) for one engine, and every disagreement spelled out."""

    engine: str
    total: Counter[tuple[str, str]] = field(default_factory=Counter)
    agreed: Counter[tuple[str, str]] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    # Agreements whose text differs from PSA's only in the engine's listed ways, by difference (one case can count
    # under several): the verdict and failed checks are PSA's.
    listed: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.disagreements and sum(self.total.values()) > 0


def compare(
    engine: EngineBase,
    cases: Sequence[Case],
    verdicts: Sequence[OracleVerdict],
    progress: Callable[[int], None] | None = None,
) -> EngineReport:
    """Run ``cases`` through ``engine`` and hold each answer against PSA's ``verdicts``."""
    report = EngineReport(engine.name)
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start : start + CHUNK]
        results = engine.evaluate_many([(c.object, c.level, parse_version(c.version)) for c in chunk])
        if len(results) != len(chunk):
            raise EngineError(f"{engine.name} answered {len(results)} of {len(chunk)} requests")
        for case, got, want in zip(chunk, results, verdicts[start : start + CHUNK], strict=True):
            key = (case.level, case.version)
            report.total[key] += 1
            difference = describe_difference(case, engine.name, got, want)
            listed_as = None if difference is None else listed(engine, got, want)
            if difference is None or listed_as is not None:
                report.agreed[key] += 1
                report.listed.update(listed_as or ())
            else:
                report.disagreements.append(difference)
        if progress is not None:
            progress(len(chunk))
    return report


def listed(engine: EngineBase, got: Result, want: OracleVerdict) -> tuple[str, ...] | None:
    """The engine's listed message differences that turn PSA's denial into ``got``'s text, byte for byte (so the
    verdict and the failed checks, as far as the text shows them, are PSA's), or None."""
    if want.error is not None or got.allowed or want.allowed:
        return None
    return engine.listed_difference(got, want.message) or None


def oracle_verdicts(oracle: Oracle, cases: Sequence[Case]) -> list[OracleVerdict]:
    return oracle.evaluate_many((c.object, c.level, c.version) for c in cases)


def conformance_table(reports: Sequence[EngineReport]) -> str:
    """Agreements per level and version (rows) and engine (columns)."""
    keys = sorted({k for r in reports for k in r.total}, key=lambda k: (k[0], parse_version(k[1])))
    header = f"{'level':<11}{'version':<9}" + "".join(f"{r.engine:>14}" for r in reports)
    lines = [header]
    for level, version in keys:
        cells = "".join(f"{f'{r.agreed[(level, version)]}/{r.total[(level, version)]}':>14}" for r in reports)
        lines.append(f"{level:<11}{version:<9}{cells}")
    totals = "".join(f"{f'{sum(r.agreed.values())}/{sum(r.total.values())}':>14}" for r in reports)
    lines.append(f"{'total':<20}{totals}")
    for r in reports:
        if r.listed:
            listed = ", ".join(f"{key} x{n}" for key, n in sorted(r.listed.items()))
            lines.append(f"{r.engine}: agreed with a listed message difference: {listed}")
    return "\n".join(lines)
