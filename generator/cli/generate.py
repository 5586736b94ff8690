"""``pssgen generate``: render the bundle into out/, or say which committed files are stale."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.cli.options import EXIT_DENIED, EXIT_ERROR
from generator.manifests.psa_config import read_psa_config
from generator.manifests.pssgen_config import read_pssgen_config
from generator.policy.exclusions import Exclusion, ExclusionError
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfigError
from generator.render import render_all
from generator.render.outdir import check_replaceable, default_out_dir, stale_files, write_tree


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the bundle (default: out/ in a checkout, else ./out).")  # fmt: skip
@click.option("--check", "check_only", is_flag=True, help="Exit 1 and name stale files instead of writing.")
@click.option("--psa-config", "psa_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="PSA's configuration (the API server's AdmissionConfiguration, or a bare "
              "PodSecurityConfiguration): its defaults and exemptions become the Gatekeeper bundle's.")  # fmt: skip
@click.option("--config", "pssgen_config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="pssgen's configuration (a PssgenConfiguration): per-check exclusions, which the "
              "Constraints apply as `pssgen check --config FILE` does.")  # fmt: skip
@click.option("--deny-workloads", is_flag=True,
              help="Enforce on workloads (Deployment, CronJob, ...) too; PSA only warns and audits them.")  # fmt: skip
def generate(out_dir: Path | None, check_only: bool, psa_config: Path | None, pssgen_config: Path | None,
             deny_workloads: bool) -> None:  # fmt: skip
    """Render the Rego, Gatekeeper bundle and docs into out/.

    The Gatekeeper bundle judges each request as PSA would in a cluster
    configured with --psa-config (without one, PSA's defaults: privileged
    everywhere, so only namespaces with pod-security.kubernetes.io labels are
    judged), and out/gatekeeper/admission-configuration.yaml is that
    configuration, written back for the API server.

    The whole folder is replaced, so one holding files pssgen did not write is
    refused. Run from a checkout, out/ is the checkout's committed tree;
    installed, it is ./out of the current directory.

    \b
    pssgen generate
    pssgen generate --check     # in CI: fails when the committed out/ is stale
    pssgen generate --out policy/ --psa-config /etc/kubernetes/admission.yaml
    pssgen generate --out policy/ --config pssgen.yaml    # with per-check exclusions
    """
    target = out_dir or default_out_dir()
    config, source = PSA_DEFAULTS, "PSA's defaults (no file)"
    exclusions: tuple[Exclusion, ...] = ()
    try:
        if psa_config is not None:
            config, source = read_psa_config(psa_config), str(psa_config)
        if pssgen_config is not None:
            exclusions = read_pssgen_config(pssgen_config)
    except (PsaConfigError, ExclusionError) as exc:
        click.echo(f"pssgen: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if not check_only:
        check_replaceable(target)  # before rendering: a refusal should not wait for it
    files = render_all(config, deny_workloads=deny_workloads, source=source, exclusions=exclusions)
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
