"""The ``pssgen`` command line: a thin layer over the library that decides what the user sees."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.catalogue import catalogue, catalogue_table
from generator.engines import ENGINE_NAMES, open_engine
from generator.manifests import Document, ReadError, read_paths
from generator.model import Result
from generator.pod import EVALUATED_KINDS
from generator.versions import LEVELS, Version, VersionError, parse_version

EXIT_OK, EXIT_DENIED, EXIT_ERROR = 0, 1, 2

# The resource PSA's messages name for each evaluated kind (apierrors.NewForbidden's qualified resource).
RESOURCES: dict[str, str] = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "PodTemplate": "podtemplates",
    "ReplicaSet": "replicasets.apps",
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "DaemonSet": "daemonsets.apps",
    "Job": "jobs.batch",
    "CronJob": "cronjobs.batch",
}


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


@dataclass
class _Outcome:
    doc: Document
    result: Result | None  # None: skipped (not a kind PSA evaluates)

    def as_json(self) -> dict[str, Any]:
        meta = self.doc.obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        entry: dict[str, Any] = {
            "source": self.doc.source,
            "document": self.doc.document,
            "kind": self.doc.obj.get("kind"),
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
        }
        if self.doc.item is not None:
            entry["item"] = self.doc.item
        if self.result is None:
            entry.update(allowed=True, skipped=True, violations=[])
        else:
            entry.update(allowed=self.result.allowed, violations=[v.as_dict() for v in self.result.violations])
        return entry

    def text(self) -> str:
        assert self.result is not None
        meta = self.doc.obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        kind = str(self.doc.obj.get("kind"))
        resource = RESOURCES.get(kind, kind.lower())
        subject = f'{resource} "{name}"' if name else resource
        if kind == "Pod":
            return f"{self.doc.where}: {subject} is forbidden: {self.result.message}"
        return f"{self.doc.where}: {subject}: {self.result.warning}"


def _is_evaluated(obj: dict[str, Any]) -> bool:
    return obj.get("kind") in EVALUATED_KINDS


def run_check(
    paths: Sequence[str], level: str, version: Version, engine_name: str
) -> tuple[list[_Outcome], list[ReadError]]:
    """Read every document, evaluate the Pods and workloads, skip the rest; errors never stop the run."""
    docs: list[Document] = []
    errors: list[ReadError] = []
    for entry in read_paths(list(paths)):
        (errors if isinstance(entry, ReadError) else docs).append(entry)  # type: ignore[arg-type]
    evaluated = [d for d in docs if _is_evaluated(d.obj)]  # type: ignore[arg-type]
    results: dict[int, Result] = {}
    if evaluated:
        with open_engine(engine_name) as engine:
            for doc, result in zip(
                evaluated, engine.evaluate_many([(d.obj, level, version) for d in evaluated]), strict=True
            ):
                results[id(doc)] = result
    outcomes = [_Outcome(d, results.get(id(d))) for d in docs]
    return outcomes, errors


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@level_option
@version_option
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="python", show_default=True)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(paths: tuple[str, ...], level: str, version: Version, engine: str, output: str) -> None:
    """Evaluate manifests as Pod Security Admission would.

    PATHS are files, directories (walked for *.yaml, *.yml, *.json) or - for
    stdin. Exit 0 when every object is allowed, 1 when any is denied, 2 when
    any document could not be read (the rest are still evaluated).

    \b
    pssgen check pod.yaml
    helm template ./chart | pssgen check - --level baseline --version v1.29
    pssgen check manifests/ --output json
    """
    outcomes, errors = run_check(paths, level, version, engine)
    denied = [o for o in outcomes if o.result is not None and not o.result.allowed]
    if output == "json":
        payload = {
            "level": level,
            "version": str(version),
            "results": [o.as_json() for o in outcomes],
            "errors": [{"source": e.source, "document": e.document, "message": e.message} for e in errors],
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        for outcome in denied:
            click.echo(outcome.text())
        for error in errors:
            click.echo(f"error: {error}", err=True)
        skipped = sum(1 for o in outcomes if o.result is None)
        allowed = len(outcomes) - len(denied) - skipped
        click.echo(
            f"{len(outcomes)} objects: {allowed} allowed, {len(denied)} denied, {skipped} skipped, "
            f"{len(errors)} errors ({level}:{version}, engine {engine})"
        )
    sys.exit(EXIT_ERROR if errors else EXIT_DENIED if denied else EXIT_OK)


# ---------------------------------------------------------------- controls


@cli.command()
@level_option
@version_option
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def controls(level: str, version: Version, output: str) -> None:
    """List the PSS controls and the checks in force at a level and version.

    \b
    pssgen controls
    pssgen controls --level baseline --version v1.25 --output json
    """
    entries = catalogue(level, version)
    if output == "json":
        click.echo(json.dumps({"level": level, "version": str(version), "checks": entries}, indent=2))
    else:
        click.echo(catalogue_table(level, version, entries))


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
