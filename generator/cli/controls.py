"""``pssgen controls``: the PSS controls and the checks in force at a level and version."""

from __future__ import annotations

import json

import click

from generator.cli.options import level_option, version_option
from generator.policy.catalogue import catalogue, catalogue_markdown, catalogue_table
from generator.policy.versions import Version


@click.command()
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
