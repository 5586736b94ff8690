"""``pssgen migrate-psp``: which PSS level and version each PodSecurityPolicy amounts to, and what it leaves behind."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from generator.cli.options import EXIT_DENIED, EXIT_ERROR, EXIT_OK
from generator.manifests import Document, ReadError, read_paths
from generator.migrate.proof import DEFAULT_PODS, DEFAULT_SEED
from generator.migrate.rbac import RBAC_KINDS, grants
from generator.migrate.report import PspReport, build, markdown, namespace_lines, namespace_suggestions, text_lines
from generator.policy.psp import PSP_API_VERSIONS, PSP_KIND, PspError, read_psp
from generator.scan.reports import safe_text, shown_path


def _where(source: str, document: int | None, item: int | None = None) -> str:
    if document is None:
        return shown_path(source)
    return f"{shown_path(source)}: document {document}" + ("" if item is None else f" item {item}")


@click.command("migrate-psp")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option(
    "--pods",
    type=click.IntRange(0, 100_000),
    default=DEFAULT_PODS,
    show_default=True,
    help="Fuzzed pods per PSP in the proof (besides the base pod and a witness per open field).",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="The proof's fuzzing seed.")
def migrate_psp(paths: tuple[str, ...], output: str, pods: int, seed: int) -> None:
    """Map PodSecurityPolicies to the Pod Security Standards, with proof.

    For each PodSecurityPolicy (policy/v1beta1 or extensions/v1beta1): the
    strictest PSS level every pod it admits meets, per version; the PSP field
    and value that keeps it from the next level; its defaults PSA will not
    apply, with the pod-spec change to make; what PSS cannot express. Every
    claim is proven on the reference evaluator with the base pod, one witness
    per open field and --pods fuzzed pods the PSP admits. With Roles,
    ClusterRoles and their bindings in the input, also the enforce label per
    namespace. Exit 0 when all is read and proven, 1 when a proof fails, 2 when
    a document cannot be read or is not a valid PSP (the rest still judged).

    \b
    pssgen migrate-psp psp/
    kubectl get psp,clusterroles,clusterrolebindings,roles,rolebindings -A -o yaml | pssgen migrate-psp -
    pssgen migrate-psp psp/ --output markdown > migration.md
    """
    errors: list[str] = []
    found: list[tuple[Document, Any]] = []
    rbac: list[Any] = []
    skipped = 0
    for entry in read_paths(list(paths)):
        if isinstance(entry, ReadError):
            errors.append(f"{_where(entry.source, entry.document, entry.item)}: {entry.message}")
            continue
        kind = entry.obj.get("kind")
        if kind == PSP_KIND:
            where = _where(entry.source, entry.document, entry.item)
            if entry.obj.get("apiVersion") not in PSP_API_VERSIONS:
                errors.append(
                    f"{where}: apiVersion: a PodSecurityPolicy is {' or '.join(PSP_API_VERSIONS)}, "
                    f"got {json.dumps(entry.obj.get('apiVersion'))}"
                )
                continue
            try:
                found.append((entry, read_psp(entry.obj)))
            except PspError as exc:
                errors.append(f"{where}: {exc}")
        elif kind in RBAC_KINDS:
            rbac.append(entry.obj)
        else:
            skipped += 1
    for line in errors:
        click.echo(f"error: {safe_text(line)}", err=True)
    if not found:
        click.echo("pssgen: error: no PodSecurityPolicy in the input", err=True)
        sys.exit(EXIT_ERROR)
    reports: list[PspReport] = [
        build(psp, _where(d.source, d.document, d.item), d.source, d.document, d.item, pods=pods, seed=seed)
        for d, psp in found
    ]
    granted = grants(rbac, [r.psp.name for r in reports])
    suggestions = namespace_suggestions(granted, reports) if rbac else []
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "psps": [r.as_dict() for r in reports],
                    "namespaces": [s.as_dict() for s in suggestions],
                    "notes": granted.notes,
                    "errors": errors,
                },
                indent=2,
            )
        )
    elif output == "markdown":
        click.echo(markdown(reports, suggestions, granted.notes), nl=False)
    else:
        for report in reports:
            click.echo("\n".join(safe_text(line) for line in text_lines(report)))
        for line in namespace_lines(suggestions, granted.notes):
            click.echo(safe_text(line))
        failed = sum(not r.proof.ok for r in reports)
        click.echo(
            f"{len(reports)} PodSecurityPolicies: {len(reports) - failed} proven, {failed} failed; "
            f"{len(rbac)} RBAC objects, {skipped} other objects skipped, {len(errors)} errors"
        )
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_DENIED if any(not r.proof.ok for r in reports) else EXIT_OK)
