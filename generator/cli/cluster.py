"""``pssgen cluster``: a throw-away API server with Gatekeeper and the bundle, to try things against the real thing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from generator.cli.check import _stop_on_signals, _Terminated
from generator.cli.options import EXIT_OK
from generator.engines.cluster import LocalCluster
from generator.tools import GATEKEEPER, KUBERNETES_VERSION, ROOT

ALIVE_POLL = 1.0


@click.command()
@click.option("--bundle", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The Gatekeeper bundle to apply (default: this checkout's out/gatekeeper).")  # fmt: skip
@click.option("--no-gatekeeper", is_flag=True, help="Only etcd and kube-apiserver: built-in PSA is the only judge.")
def cluster(bundle: Path | None, no_gatekeeper: bool) -> None:
    """Start a local Kubernetes control plane and keep it up until Ctrl-C.

    The pinned etcd and kube-apiserver on 127.0.0.1 (built-in Pod Security
    admission on, as in every cluster), the pinned Gatekeeper controller out of
    cluster, and the bundle applied with kubectl as the README says. It prints
    the KUBECONFIG to export. No scheduler, kubelet or controller-manager runs:
    Pods are admitted or denied and then stay Pending, and a namespace you
    create has no ServiceAccount until you create one (kubectl create
    serviceaccount default -n NS; namespace default has it). Ctrl-C (or
    SIGTERM) stops every process it started and removes its folder.

    \b
    pssgen cluster                      # then, in another shell:
    export KUBECONFIG=/tmp/pssgen-cluster-.../kubeconfig
    kubectl apply -f pod.yaml           # judged by Gatekeeper (the bundle) and PSA (namespace labels)
    pssgen check pod.yaml --engine cluster   # PSA of this API server as an engine
    """
    bundle = bundle or ROOT / "out" / "gatekeeper"
    with _stop_on_signals():
        try:
            with LocalCluster() as running:
                running.ensure_service_account("default")  # so `kubectl apply` of a Pod works in namespace default
                if not no_gatekeeper:
                    click.echo(f"pssgen: starting Gatekeeper {GATEKEEPER.version} and applying {bundle}", err=True)
                    running.start_gatekeeper()
                    running.apply_bundle(bundle)
                judges = "built-in PSA" if no_gatekeeper else f"built-in PSA and Gatekeeper ({bundle.name} applied)"
                click.echo(f"pssgen: a local cluster is up: kube-apiserver {KUBERNETES_VERSION} at {running.server}, "
                           f"judged by {judges}. Ctrl-C stops it.", err=True)  # fmt: skip
                click.echo(f"export KUBECONFIG={running.kubeconfig}")
                sys.stdout.flush()
                while True:
                    running.check_alive()
                    time.sleep(ALIVE_POLL)
        except (KeyboardInterrupt, _Terminated):
            click.echo("pssgen: stopped the local cluster", err=True)
            sys.exit(EXIT_OK)
