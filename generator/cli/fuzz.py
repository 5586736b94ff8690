"""``pssgen fuzz``: seeded random objects through every engine and upstream PSA; disagreements become fixtures."""

from __future__ import annotations

import random
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from generator.cli.options import EXIT_DENIED, EXIT_INTERRUPTED, EXIT_OK
from generator.engines import ENGINE_NAMES, open_engine
from generator.parity import fuzz as fuzzing
from generator.parity.oracle import Oracle


@click.command()
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True, help="Objects to generate.")
@click.option("--seed", type=int, default=None, help="Seed of the run (default: a random one, printed).")
@click.option("--engine", "engines", multiple=True, type=click.Choice(ENGINE_NAMES),
              help="Engine to check (repeatable; default: all).")  # fmt: skip
@click.option("--corpus", "--write", "corpus", type=click.Path(file_okay=False, path_type=Path),
              default=fuzzing.DEFAULT_CORPUS, show_default=True,
              help="Where disagreements go as fixtures: {level}/v1.N/{pass,fail}/<check><n>.yaml.")  # fmt: skip
@click.option("--batch", type=click.IntRange(min=1), default=fuzzing.BATCH, show_default=True,
              help="Objects per round trip to the oracle and the engines.")  # fmt: skip
@click.option("--shrink", "shrink_limit", type=click.IntRange(min=0), default=10, show_default=True,
              help="Kinds of disagreement shrunk and written per engine (the rest are counted).")  # fmt: skip
def fuzz(count: int, seed: int | None, engines: tuple[str, ...], corpus: Path, batch: int, shrink_limit: int) -> None:
    """Hold every engine against upstream PSA on generated objects.

    Each object (pods and workloads biased towards what the checks read: every
    field, allowed values and near misses, version boundaries, nulls, odd
    characters, many containers) is judged at a spread of levels and versions
    by upstream PSA and by each engine; verdicts and messages must be
    identical. Each kind of disagreement is shrunk to a minimal object and
    written under --corpus as a fixture `pssgen conformance --corpus` runs.
    Exit 1 on any disagreement. Object i of seed S is always the same object.

    \b
    pssgen fuzz --count 5000 --seed 1
    pssgen fuzz --count 100000 --engine opa --corpus found/
    """
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    try:
        report, written = _fuzz(count, seed, engines or ENGINE_NAMES, corpus, batch, shrink_limit)
    except KeyboardInterrupt:
        click.echo(f"pssgen: interrupted (SIGINT); stopped (seed {seed})", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(summary(report, written))
    sys.exit(EXIT_DENIED if report.failed else EXIT_OK)


def _fuzz(count: int, seed: int, engines: tuple[str, ...], corpus: Path, batch: int,
          shrink_limit: int) -> tuple[fuzzing.FuzzReport, list[str]]:  # fmt: skip
    """The run, with the oracle and every engine closed on the way out, whatever ends it."""
    with ExitStack() as stack:
        oracle = stack.enter_context(Oracle())
        running = [stack.enter_context(open_engine(name)) for name in engines]
        report = fuzzing.run(running, oracle, count, seed, batch=batch, shrink_limit=shrink_limit, progress=_progress)
        written: list[str] = []
        for found in (d for ds in report.disagreements.values() for d in ds if d.shrunk is not None):
            path = fuzzing.write_fixture(corpus, found, oracle, seed)
            found.fixture = path
            written.append(str(path) if path is not None else f"(not written: the corpus has no {found.level} level)")
        return report, written


def _progress(report: fuzzing.FuzzReport) -> None:
    found = sum(len(d) for d in report.disagreements.values())
    click.echo(
        f"pssgen fuzz: {report.objects} objects, {report.cases} cases, {found} disagreements, {report.seconds:.1f}s",
        err=True,
    )


def summary(report: fuzzing.FuzzReport, written: list[str]) -> str:
    """What the run did, then each shrunk disagreement and where its fixture went."""
    levels = sorted({level for level, _ in report.by_level_version})
    pairs = len(report.by_level_version)
    per_level = ", ".join(
        f"{level} {sum(n for (lv, _), n in report.by_level_version.items() if lv == level)}" for level in levels
    )
    lines = [
        f"seed {report.seed}: {report.objects} objects, {report.cases} cases ({per_level}; {pairs} level:version "
        f"pairs) in {report.seconds:.1f}s",
        f"{'engine':<12}{'cases':>10}{'disagreements':>15}",
    ]
    lines += [f"{name:<12}{report.cases:>10}{len(report.disagreements[name]):>15}" for name in report.engines]
    for problem in (*report.refused, *report.oracle_errors)[:20]:
        lines.append(f"not judged: {problem}")
    shrunk = [d for ds in report.disagreements.values() for d in ds if d.shrunk is not None]
    for found, where in zip(shrunk, written, strict=True):
        lines.append(
            f"{found.description}\n  shrunk to {fuzzing.one_line(found.shrunk)}:\n  {found.shrunk_description}"
        )
        lines.append(f"  fixture: {where}")
    for name in report.engines:
        rest = [d for d in report.disagreements[name] if d.shrunk is None]
        for found in rest[:5]:
            lines.append(found.description)
        if len(rest) > 5:
            lines.append(f"... and {len(rest) - 5} more disagreements of {name}")
    verdict = "DISAGREE" if report.failed else "agree"
    lines.append(f"engines {', '.join(report.engines)} {verdict} with upstream PSA (seed {report.seed})")
    return "\n".join(lines)
