"""``pssgen diff``: what changes in a level between two versions."""

from __future__ import annotations

import json

import click

from generator.cli.options import parse_version_option
from generator.policy.diff import diff_json, diff_text, level_diffs
from generator.policy.versions import LEVELS, Version


@click.command()
@click.argument("from_version", metavar="FROM", callback=parse_version_option)
@click.argument("to_version", metavar="TO", callback=parse_version_option)
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
    diffs = level_diffs(from_version, to_version, level)
    if output == "json":
        click.echo(json.dumps([diff_json(d) for d in diffs], indent=2))
    else:
        click.echo("\n\n".join(diff_text(d) for d in diffs))
