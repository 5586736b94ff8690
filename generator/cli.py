"""The ``pssgen`` command line: a thin layer over the library that decides what the user sees."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.catalogue import catalogue, catalogue_markdown, catalogue_table
from generator.engines import ENGINE_NAMES, open_engine
from generator.manifests import ReadError, read_paths
from generator.scan import Outcome, scan
from generator.versions import LEVELS, Version, VersionError, parse_version

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2



def _version(_ctx: click.Context, _param: click.Parameter, value: str) -> Version:
    try:
        return parse_version(value)
    except VersionError as exc:
        raise click.BadParameter(str(exc)) from None


level_option = click.option(
    "--level", type=click.Choice(LEVELS), default="restricted", show_default=True, help="PSS level."
)
version_option = click.option(
    "--version", "version", default="latest", show_default=True, callback=_version,
    help='PSS version: "latest" or v1.N (as in the enforce-version label).',
)  # fmt: skip


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="pssgen")
def cli() -> None:
    """Kubernetes Pod Security Standards as code.

    \b
    pssgen check deploy/ --level restricted
    pssgen controls --level baseline --version v1.29
    pssgen generate --check
    """


# ---------------------------------------------------------------- check


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@level_option
@version_option
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="python", show_default=True)
@click.option("--output", type=click.Choice(["text", "json", "junit", "sarif"]), default="text", show_default=True)
def check(paths: tuple[str, ...], level: str, version: Version, engine: str, output: str) -> None:
    """Evaluate manifests as Pod Security Admission would.

    PATHS are files, directories (walked for *.yaml, *.yml, *.json) or - for
    stdin. Exit 0 when every object is allowed, 1 when any is denied, 2 when
    any document could not be read (the rest are still evaluated).

    \b
    pssgen check pod.yaml
    helm template ./chart | pssgen check - --level baseline --version v1.29
    pssgen check manifests/ --output json
    pssgen check manifests/ --output sarif > pss.sarif    # GitHub code scanning
    pssgen check manifests/ --output junit > pss.xml      # CI test reports
    """
    outcomes: list[Outcome] = []
    errors: list[ReadError] = []
    counts = {"objects": 0, "denied": 0, "skipped": 0}
    with open_engine(engine) as running:
        for entry in scan(read_paths(list(paths)), running, level, version):
            if isinstance(entry, ReadError):
                errors.append(entry)
                if output == "text":
                    click.echo(f"error: {entry}", err=True)
                continue
            counts["objects"] += 1
            counts["denied"] += entry.denied
            counts["skipped"] += entry.skipped
            if output != "text":
                outcomes.append(entry)
            elif entry.denied:
                click.echo(f"{entry.where}: {entry.message}")
    denied = counts["denied"]
    if output == "json":
        payload = {
            "level": level,
            "version": str(version),
            "results": [o.as_json() for o in outcomes],
            "errors": [e.as_dict() for e in errors],
        }
        click.echo(json.dumps(payload, indent=2))
    elif output in ("junit", "sarif"):
        from generator.reports import junit_report, sarif_report

        report = junit_report if output == "junit" else sarif_report
        click.echo(report(outcomes, errors, level, str(version)), nl=False)
    else:
        allowed = counts["objects"] - denied - counts["skipped"]
        click.echo(
            f"{counts['objects']} objects: {allowed} allowed, {denied} denied, {counts['skipped']} skipped, "
            f"{len(errors)} errors ({level}:{version}, engine {engine})"
        )
    sys.exit(EXIT_ERROR if errors else EXIT_DENIED if denied else EXIT_OK)


# ---------------------------------------------------------------- controls


@cli.command()
@level_option
@version_option
@click.option("--output", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
def controls(level: str, version: Version, output: str) -> None:
    """List the PSS controls and the checks in force at a level and version.

    `--output markdown` prints the full reference page (every control, check,
    field and allowed value per version; level and version do not apply), the
    same page `pssgen generate` writes to out/docs/.

    \b
    pssgen controls
    pssgen controls --level baseline --version v1.25 --output json
    pssgen controls --output markdown > pss-reference.md
    """
    if output == "markdown":
        click.echo(catalogue_markdown(), nl=False)
        return
    entries = catalogue(level, version)
    if output == "json":
        click.echo(json.dumps({"level": level, "version": str(version), "checks": entries}, indent=2))
    else:
        click.echo(catalogue_table(level, version, entries))


# ---------------------------------------------------------------- diff


@cli.command()
@click.argument("from_version", metavar="FROM", callback=_version)
@click.argument("to_version", metavar="TO", callback=_version)
@click.option("--level", type=click.Choice([*LEVELS, "all"]), default="all", show_default=True)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff(from_version: Version, to_version: Version, level: str, output: str) -> None:
    """Show what changes in a level between two Kubernetes versions.

    Checks added, removed or overridden, implementations that change, allowed
    values that grow or shrink: what to read before bumping enforce-version.

    \b
    pssgen diff v1.29 latest
    pssgen diff v1.24 v1.25 --level restricted
    pssgen diff v1.30 v1.35 --output json
    """
    from generator.diff import diff_json, diff_text, level_diffs

    diffs = level_diffs(from_version, to_version, level)
    if output == "json":
        click.echo(json.dumps([diff_json(d) for d in diffs], indent=2))
    else:
        click.echo("\n\n".join(diff_text(d) for d in diffs))


# ---------------------------------------------------------------- conformance


@cli.command()
@click.option("--engine", "engines", multiple=True, type=click.Choice(ENGINE_NAMES),
              help="Engine to check (repeatable; default: all).")  # fmt: skip
@click.option("--corpus", default="upstream", show_default=True,
              help='"upstream" (the pinned PSA module\'s fixtures) or a directory laid out like it.')  # fmt: skip
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def conformance(engines: tuple[str, ...], corpus: str, output: str) -> None:
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
    """
    from generator.conformance import (
        compare,
        conformance_table,
        fixture_cases,
        fixture_expectation_problem,
        oracle_verdicts,
    )
    from generator.corpus import load_corpus, upstream_corpus
    from generator.oracle import Oracle

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
        with open_engine(name) as running:
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


# ---------------------------------------------------------------- generate


@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the bundle (default: out/ in the project).")  # fmt: skip
@click.option("--check", "check_only", is_flag=True, help="Exit 1 and name stale files instead of writing.")
def generate(out_dir: Path | None, check_only: bool) -> None:
    """Render the Rego, Gatekeeper bundle and docs into out/.

    \b
    pssgen generate
    pssgen generate --check     # in CI: fails when the committed out/ is stale
    """
    from generator.outdir import default_out_dir, stale_files, write_tree
    from generator.render import render_all

    target = out_dir or default_out_dir()
    files = render_all()
    if check_only:
        stale = stale_files(target, files)
        if stale:
            for path in stale:
                click.echo(f"stale: {path}", err=True)
            click.echo(f"{len(stale)} files in {target} differ from a fresh render; run `pssgen generate`", err=True)
            sys.exit(EXIT_DENIED)
        click.echo(f"{target}: {len(files)} files up to date")
        return
    write_tree(target, files)
    click.echo(f"{target}: wrote {len(files)} files")


def main(argv: list[str] | None = None) -> None:
    """Entry point: click's usage errors exit 2; any other failure is one line, never a traceback."""
    handler: Callable[..., Any] = cli.main
    try:
        handler(args=argv, prog_name="pssgen", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("PSSGEN_DEBUG"):
            raise
        click.echo(f"pssgen: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
