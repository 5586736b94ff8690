"""``pssgen conformance``: every engine against upstream PSA, outside pytest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from generator.cli.options import EXIT_DENIED, EXIT_OK, context_option, kubeconfig_option
from generator.engines import ALL_ENGINE_NAMES, ENGINE_NAMES, open_engine
from generator.parity.compare import (
    compare,
    conformance_table,
    fixture_cases,
    fixture_expectation_problem,
    oracle_verdicts,
)
from generator.parity.corpus import load_corpus, upstream_corpus
from generator.parity.oracle import Oracle


@click.command()
@click.option("--engine", "engines", multiple=True, type=click.Choice(ALL_ENGINE_NAMES),
              help="Engine to check (repeatable; default: every offline one). cluster: a live API server's own "
                   "Pod Security admission (see --kubeconfig), checked against the pinned PSA.")  # fmt: skip
@kubeconfig_option
@context_option
@click.option("--corpus", default="upstream", show_default=True,
              help='"upstream" (the pinned PSA module\'s fixtures) or a directory laid out like it.')  # fmt: skip
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def conformance(engines: tuple[str, ...], kubeconfig: str | None, context: str | None, corpus: str,
                output: str) -> None:  # fmt: skip
    """Prove the engines agree with upstream Pod Security Admission.

    Every fixture is evaluated at its own level and version by upstream PSA (a
    Go program on the pinned k8s.io/pod-security-admission module) and by each
    engine; verdicts, reasons and details must be identical. Exit 1 on any
    disagreement, or a fixture whose place in the tree PSA itself contradicts,
    listing each.

    \b
    pssgen conformance
    pssgen conformance --engine opa --output json
    pssgen conformance --corpus my-fixtures/     # {baseline,restricted}/v1.N/{pass,fail}/*.yaml
    pssgen conformance --engine cluster --context staging   # that cluster's PSA against the pinned one
    """
    fixtures = upstream_corpus() if corpus == "upstream" else load_corpus(Path(corpus))
    cases = fixture_cases(fixtures)
    chosen = engines or ENGINE_NAMES
    with Oracle() as oracle:
        verdicts = oracle_verdicts(oracle, cases)
    expectation = [
        f"{f.id}: {problem}"
        for f, v in zip(fixtures, verdicts, strict=True)
        if (problem := fixture_expectation_problem(f, v)) is not None
    ]
    reports = []
    show_progress = output == "text" and sys.stderr.isatty()
    for name in chosen:
        with open_engine(name, kubeconfig=kubeconfig, context=context) as running:
            if show_progress:
                with click.progressbar(length=len(cases), label=f"{name:<10}", file=sys.stderr) as bar:
                    reports.append(compare(running, cases, verdicts, progress=bar.update))
            else:
                reports.append(compare(running, cases, verdicts))
    failed = bool(expectation) or any(r.disagreements for r in reports)
    if output == "json":
        click.echo(json.dumps({
            "corpus": corpus,
            "cases": len(cases),
            "fixture_expectations": {"violations": expectation},
            "engines": {
                r.engine: {
                    "agreed": sum(r.agreed.values()),
                    "total": sum(r.total.values()),
                    "by_level_version": {f"{k[0]}:{k[1]}": [r.agreed[k], r.total[k]] for k in sorted(r.total)},
                    "disagreements": r.disagreements,
                }
                for r in reports
            },
        }, indent=2))  # fmt: skip
    else:
        click.echo(conformance_table(reports))
        for report in reports:
            for line in report.disagreements:
                click.echo(line)
        for line in expectation:
            click.echo(f"fixture expectation not met by PSA itself: {line}")
        verdict = "DISAGREE" if failed else "agree"
        click.echo(f"{len(cases)} cases ({corpus}): engines {', '.join(chosen)} {verdict} with upstream PSA")
    sys.exit(EXIT_DENIED if failed else EXIT_OK)
