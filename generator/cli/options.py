"""Options, exit codes and parameter types shared by the commands."""

from __future__ import annotations

import click

from generator.policy.versions import LEVELS, Version, VersionError, parse_version

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2
# Stopped by SIGINT or SIGTERM, after cleaning up: 128 + the signal's number, as shells report such an end.
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


def parse_version_option(_ctx: click.Context, _param: click.Parameter, value: str) -> Version:
    try:
        return parse_version(value)
    except VersionError as exc:
        raise click.BadParameter(str(exc)) from None


level_option = click.option(
    "--level", type=click.Choice(LEVELS), default="restricted", show_default=True, help="PSS level."
)
version_option = click.option(
    "--version", "version", default="latest", show_default=True, callback=parse_version_option,
    help='PSS version: "latest" or v1.N (as in the enforce-version label).',
)  # fmt: skip
kubeconfig_option = click.option(
    "--kubeconfig", default=None, metavar="FILE",
    help="Engine cluster: the kubeconfig to use (default: $KUBECONFIG or ~/.kube/config, as kubectl).",
)  # fmt: skip
context_option = click.option(
    "--context", default=None, metavar="NAME", help="Engine cluster: the kubeconfig context (default: its current one)."
)
