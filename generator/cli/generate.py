"""``pssgen generate``: render the bundle into out/, or say which committed files are stale."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.cli.options import EXIT_DENIED
from generator.render import render_all
from generator.render.outdir import check_replaceable, default_out_dir, stale_files, write_tree


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the bundle (default: out/ in a checkout, else ./out).")  # fmt: skip
@click.option("--check", "check_only", is_flag=True, help="Exit 1 and name stale files instead of writing.")
def generate(out_dir: Path | None, check_only: bool) -> None:
    """Render the Rego, Gatekeeper bundle and docs into out/.

    The whole folder is replaced, so one holding files pssgen did not write is
    refused. Run from a checkout, out/ is the checkout's committed tree;
    installed, it is ./out of the current directory.

    \b
    pssgen generate
    pssgen generate --check     # in CI: fails when the committed out/ is stale
    pssgen generate --out policy/
    """
    target = out_dir or default_out_dir()
    if not check_only:
        check_replaceable(target)  # before rendering: a refusal should not wait for it
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
