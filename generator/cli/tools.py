"""``pssgen tools``: build the pinned tools (OPA, gator, conftest, Regal, the PSA oracle), or print where one is."""

from __future__ import annotations

import click

from generator.parity.oracle import build_oracle
from generator.tools import CONFTEST, GATOR, IN_CHECKOUT, OPA, REGAL, Tool, install, psa_module_dir, require

TOOLS: dict[str, Tool] = {"opa": OPA, "gator": GATOR, "conftest": CONFTEST, "regal": REGAL}


@click.group()
def tools() -> None:
    """The pinned external tools: built with `go install` into .tools/ (a checkout) or the user cache.

    \b
    pssgen tools install            # everything missing
    pssgen tools install opa oracle
    pssgen tools path opa
    """


@tools.command("install")
@click.argument("names", nargs=-1, type=click.Choice([*TOOLS, "oracle"]))
def install_command(names: tuple[str, ...]) -> None:
    """Build each named tool unless a usable one is already there.

    Default: all of them; an installed pssgen leaves Regal out (it lints the committed out/rego of a checkout).
    """
    everything = (*TOOLS, "oracle") if IN_CHECKOUT else ("opa", "gator", "conftest", "oracle")
    for name in names or everything:
        if name == "oracle":
            click.echo(f"psa-oracle: {build_oracle()}", err=True)
        else:
            install(TOOLS[name])


@tools.command("path")
@click.argument("name", type=click.Choice([*TOOLS, "psa"]))
def path_command(name: str) -> None:
    """Print the binary that would be used (or the pinned PSA module's source folder, for `psa`)."""
    click.echo(psa_module_dir() if name == "psa" else require(TOOLS[name]))
