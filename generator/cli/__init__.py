"""The ``pssgen`` command line: a thin layer over the library that decides what the user sees."""

from __future__ import annotations

import gc
import os
import sys

import click

from generator import __version__
from generator.cli.check import check
from generator.cli.cluster import cluster
from generator.cli.conformance import conformance
from generator.cli.controls import controls
from generator.cli.diff import diff
from generator.cli.fuzz import fuzz
from generator.cli.generate import generate
from generator.cli.migrate_psp import migrate_psp
from generator.cli.options import EXIT_ERROR
from generator.cli.tools import tools
from generator.errors import PssgenError
from generator.scan.reports import safe_text


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="pssgen")
def cli() -> None:
    """Kubernetes Pod Security Standards as code.

    \b
    pssgen check deploy/ --level restricted
    pssgen controls --level baseline --version v1.29
    pssgen generate --check
    pssgen migrate-psp psp/
    """


for _command in (check, cluster, controls, diff, conformance, fuzz, generate, migrate_psp, tools):
    cli.add_command(_command)


# Reading a manifest makes millions of short-lived dicts and lists. At Python's default (a young
# collection every 700 allocations) the cyclic collector took a third of a large scan; a larger young
# generation removed that with no change in peak memory (measured on bench/scan.py's export).
GC_THRESHOLDS = (50_000, 20, 20)


def main(argv: list[str] | None = None) -> None:
    """Entry point: click's usage errors exit 2; a ``PssgenError`` is one line (its traceback with
    ``PSSGEN_DEBUG`` set); anything else is a bug in pssgen and keeps its traceback."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        cli.main(args=argv, prog_name="pssgen", standalone_mode=True)
    except PssgenError as exc:
        if os.environ.get("PSSGEN_DEBUG"):
            raise
        click.echo(f"pssgen: error: {safe_text(str(exc).strip())}", err=True)  # one line, whatever a tool said
        sys.exit(EXIT_ERROR)
