"""``pssgen tools``: build the pinned tools (OPA, gator, the gatekeeper and vap engines, conftest, Regal, the PSA
oracle, the local cluster's kube-apiserver, kubectl, etcd and Gatekeeper), or print where one is."""

from __future__ import annotations

import click

from generator.parity.oracle import build_oracle
from generator.tools import (
    CONFTEST,
    ETCD,
    GATEKEEPER,
    GATEKEEPER_ENGINE,
    GATOR,
    IN_CHECKOUT,
    KUBE_APISERVER,
    KUBECTL,
    OPA,
    REGAL,
    VAP_ENGINE,
    Tool,
    install,
    psa_module_dir,
    require,
)

TOOLS: dict[str, Tool] = {
    "opa": OPA, "gator": GATOR, "gatekeeper-engine": GATEKEEPER_ENGINE, "vap-engine": VAP_ENGINE, "conftest": CONFTEST,
    "regal": REGAL,
}  # fmt: skip
# Built only when named (`make cluster-tools`): about 10 minutes cold on 2 cores and several hundred MB, and no test
# in `make test` starts a cluster yet. They join the default set when the in-cluster suite does.
CLUSTER_TOOLS: dict[str, Tool] = {
    "kube-apiserver": KUBE_APISERVER, "kubectl": KUBECTL, "etcd": ETCD, "gatekeeper": GATEKEEPER,
}  # fmt: skip


@click.group()
def tools() -> None:
    """The pinned external tools: built with `go install` into .tools/ (a checkout) or the user cache.

    \b
    pssgen tools install            # everything missing (the cluster's tools only when named)
    pssgen tools install opa oracle
    pssgen tools install kube-apiserver kubectl etcd gatekeeper
    pssgen tools path opa
    """


@tools.command("install")
@click.argument("names", nargs=-1, type=click.Choice([*TOOLS, "oracle", *CLUSTER_TOOLS]))
def install_command(names: tuple[str, ...]) -> None:
    """Build each named tool unless a usable one is already there.

    Default: all but the local cluster's; an installed pssgen leaves Regal out (it lints the committed out/rego of
    a checkout), and builds kube-apiserver, kubectl and etcd only in a checkout (from its conformance/ modules).
    """
    everything = (
        (*TOOLS, "oracle") if IN_CHECKOUT else ("opa", "gator", "gatekeeper-engine", "vap-engine", "conftest", "oracle")
    )
    for name in names or everything:
        if name == "oracle":
            click.echo(f"psa-oracle: {build_oracle()}", err=True)
        else:
            install(TOOLS.get(name) or CLUSTER_TOOLS[name])


@tools.command("path")
@click.argument("name", type=click.Choice([*TOOLS, *CLUSTER_TOOLS, "psa"]))
def path_command(name: str) -> None:
    """Print the binary that would be used (or the pinned PSA module's source folder, for `psa`)."""
    click.echo(psa_module_dir() if name == "psa" else require(TOOLS.get(name) or CLUSTER_TOOLS[name]))
