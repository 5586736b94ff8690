"""``pssgen check``: judge manifests as Pod Security Admission would, and report."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any, BinaryIO

import click
from click.core import ParameterSource

from generator.cli.options import (
    EXIT_DENIED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    context_option,
    kubeconfig_option,
    level_option,
    version_option,
)
from generator.engines import ALL_ENGINE_NAMES, open_engine
from generator.manifests import ReadError, read_paths, source_names
from generator.manifests.psa_config import read_psa_config
from generator.manifests.pssgen_config import read_pssgen_config
from generator.policy.exclusions import Exclusion, rules_data
from generator.policy.namespaces import default_policy
from generator.policy.psa_config import PsaConfiguration
from generator.policy.versions import Version
from generator.scan import Outcome, Policies, scan, scan_parallel
from generator.scan.reports import json_source, junit_report, quote_text, safe_text, sarif_report, shown_path
from generator.scan.stream import RESOURCES

FROM_INPUT = "\0input"  # --namespace-labels given without a FILE (no path can hold a NUL)
SPOOL_IN_MEMORY = 16 << 20  # stdin read twice is kept in memory up to this size, then in a temporary file


class _Progress:
    """A live count of objects read, on stderr, for long runs on a terminal only (never in pipes or CI logs)."""

    def __init__(self, enabled: bool, label: str = "") -> None:
        self.enabled = enabled
        self.label = label
        self.count = 0
        self.started = self.drawn_at = time.monotonic()
        self.width = 0  # of the line drawn, while one is

    def tick(self) -> None:
        self.count += 1
        if not self.enabled or self.count % 256:
            return
        now = time.monotonic()
        if now - self.started >= 2.0 and now - self.drawn_at >= 0.5:  # only runs long enough to wonder about
            rate = self.count / (now - self.started)
            line = f"{self.label}{self.count:,} objects, {rate:,.0f} objects/s "
            click.echo("\r" + line.ljust(self.width), err=True, nl=False)
            self.drawn_at, self.width = now, len(line)

    @property
    def shown(self) -> bool:
        return self.width > 0

    def clear(self) -> None:
        """Wipe the line before anything else is printed (it is redrawn at the next update)."""
        if self.width:
            click.echo("\r" + " " * self.width + "\r", err=True, nl=False)
            self.width = 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt, so that every ``finally`` and context exit
    (engines, their gator and OPA processes, stdin's spool) runs before pssgen exits 143."""


def _stopping(signum: int, _frame: FrameType | None) -> None:
    """The first SIGINT or SIGTERM stops the run; further ones are ignored while it cleans up (bounded: children
    are SIGKILLed), so a second Ctrl-C cannot cut the cleanup short and leave a child behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt if signum == signal.SIGINT else _Terminated


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM as exceptions for the command's duration (main thread only: Python allows no other)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _where(source: str, document: int | None, item: int | None = None) -> str:
    """``file: document N[ item M]`` for a text line, the file name quoted when it is not plain."""
    if document is None:
        return shown_path(source)
    return f"{shown_path(source)}: document {document}" + ("" if item is None else f" item {item}")


def _subject(entry: Outcome) -> str:
    """``pods "web"``, the name quoted as the API server quotes it (Go's %q), so a name cannot forge a line."""
    kind = entry.kind or "object"
    resource = RESOURCES.get(kind, kind.lower())
    return f"{resource} {quote_text(entry.name)}" if entry.name else resource


def _denial_line(entry: Outcome) -> str:
    assert entry.result is not None
    if entry.kind == "Pod":
        return f"{_where(entry.source, entry.document, entry.item)}: {_subject(entry)} is forbidden: " + safe_text(
            entry.result.message
        )
    return f"{_where(entry.source, entry.document, entry.item)}: {_subject(entry)}: {safe_text(entry.result.warning)}"


def _warning_line(entry: Outcome) -> str:
    assert entry.warn is not None
    return f"warning: {_where(entry.source, entry.document, entry.item)}: {_subject(entry)}: " + safe_text(
        entry.warn.warning
    )


def _error_line(entry: ReadError) -> str:
    return f"error: {_where(entry.source, entry.document, entry.item)}: {safe_text(entry.message)}"


def _spool_stdin() -> BinaryIO:
    """Standard input read once, to be read again: in memory while small, then in a temporary file."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (the caller closes it)
    shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
    spool.seek(0)
    return spool  # type: ignore[return-value]


_json_string = json.encoder.encode_basestring_ascii  # the C escaper json.dumps itself uses


def _json_indented(value: Any, level: int) -> str:
    """``json.dumps(value, indent=2)``, its lines indented ``level`` times more: the same bytes, a few times faster.

    With ``indent``, ``json`` encodes in pure Python; reports write one entry
    per object, so for a whole-cluster export this is the main process's job.
    """
    cls = value.__class__
    if cls is str:
        return str(_json_string(value))
    if value is None or cls is bool:
        return "null" if value is None else "true" if value else "false"
    if cls is int:
        return int.__repr__(value)
    inner = "\n" + "  " * (level + 1)
    if cls is dict:
        if not value:
            return "{}"
        body = ("," + inner).join(f"{_json_key(k)}: {_json_indented(v, level + 1)}" for k, v in value.items())
        return "{" + inner + body + "\n" + "  " * level + "}"
    if cls is list:
        if not value:
            return "[]"
        return "[" + inner + ("," + inner).join(_json_indented(v, level + 1) for v in value) + "\n" + "  " * level + "]"
    return json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)


def _json_key(key: Any) -> str:
    return _json_string(key) if key.__class__ is str else json.dumps({key: 0})[1:-4]


class _JsonReport:
    """The ``--output json`` object, written as results arrive: the same bytes as one ``json.dumps(..., indent=2)``."""

    def __init__(self, head: dict[str, Any]) -> None:
        self.count = 0
        click.echo("{\n" + "".join(f"  {json.dumps(k)}: {_json_indented(v, 1)},\n" for k, v in head.items())
                   + '  "results": [', nl=False)  # fmt: skip

    def add(self, entry: dict[str, Any]) -> None:
        entry = json_source(entry)
        click.echo(("\n    " if self.count == 0 else ",\n    ") + _json_indented(entry, 2), nl=False)
        self.count += 1

    def close(self, errors: list[ReadError]) -> None:
        end = "\n  ]" if self.count else "]"
        entries = [json_source(e.as_dict()) for e in errors]
        click.echo(f'{end},\n  "errors": {_json_indented(entries, 1)}\n}}')


def _read_namespaces(policies: Policies, paths: list[str], namespace_labels: str, jobs: int,
                     stdin: BinaryIO | None) -> list[ReadError]:  # fmt: skip
    """Namespaces from FILE (its read and label errors returned), or from the input itself (a first reading).

    The first reading of the input wants Namespaces only: text that cannot hold
    one is not even parsed, and its errors are the second reading's to report.
    """
    if namespace_labels != FROM_INPUT:  # the cluster's Namespaces: they stand from the start
        return policies.read(read_paths([namespace_labels], kinds={"Namespace"}), base=True)
    policies.order_sources(source_names(paths))  # each Namespace takes effect where it is, as kubectl applies files
    policy = policies.defaults.enforce
    policies.read(scan_parallel(paths, jobs, None, policy.level, policy.version, kinds={"Namespace"}, stdin=stdin,
                                skim=True))  # fmt: skip
    if stdin is not None:
        stdin.seek(0)
    return []


@click.command()
@click.argument("paths", nargs=-1, required=True)
@level_option
@version_option
@click.option("--engine", type=click.Choice(ALL_ENGINE_NAMES), default="python", show_default=True,
              help="cluster: a live API server's own Pod Security admission judges each object (server-side dry "
                   "run in temporary namespaces; see --kubeconfig).")  # fmt: skip
@kubeconfig_option
@context_option
@click.option("--output", type=click.Choice(["text", "json", "junit", "sarif"]), default="text", show_default=True)
@click.option("--namespace-labels", "namespace_labels", is_flag=False, flag_value=FROM_INPUT, default=None,
              metavar="[FILE]",
              help="Judge each object as PSA would in its namespace, by its Namespace's pod-security.kubernetes.io "
                   "labels: read from the input itself (no FILE), or from FILE (a file or directory, e.g. `kubectl "
                   "get ns -o yaml > ns.yaml`). Put it after PATHS, or write --namespace-labels=FILE.")  # fmt: skip
@click.option("--psa-config", "psa_config", default=None, metavar="FILE",
              help="PSA's own configuration (the API server's AdmissionConfiguration, or a PodSecurityConfiguration): "
                   "its defaults judge objects in unlabelled namespaces (instead of --level/--version) and its "
                   "exemptions are PSA's. Validated as the API server validates it.")  # fmt: skip
@click.option(
    "--username",
    default=None,
    metavar="NAME",
    help="With --psa-config: the user making the requests, for its usernames exemption.",
)
@click.option("--config", "pssgen_config", default=None, metavar="FILE",
              help="pssgen's configuration (a PssgenConfiguration): per-check exclusions PSA cannot express, "
                   "applied as in the bundle `pssgen generate --config FILE` renders.")  # fmt: skip
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes reading and evaluating (python engine; 0: one per CPU). Files and big "
                   "kubectl Lists are cut into pieces; stdin and pipes are read by the main process.")  # fmt: skip
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...], level: str, version: Version, engine: str,
          kubeconfig: str | None, context: str | None, output: str, namespace_labels: str | None,
          psa_config: str | None, username: str | None, pssgen_config: str | None, jobs: int) -> None:  # fmt: skip
    """Evaluate manifests as Pod Security Admission would.

    PATHS are files, directories (walked for *.yaml, *.yml, *.json) or - for
    stdin. A `kind: List` (a `kubectl get -A -o yaml` export) is read one item
    at a time. Exit 0 when every object is allowed, 1 when any is denied, 2
    when any document could not be read (the rest are still evaluated).

    With --namespace-labels, an object in a namespace (metadata.namespace)
    whose Namespace was read is judged at the enforce level and version its
    labels give, resolved as PSA resolves them; any other object at --level
    and --version. Warn and audit are evaluated too (defaulting to
    privileged:latest, as in PSA's configuration): warnings print as
    `warning:` lines, and JSON results gain "policy", "enforce", "audit" and
    "warn". The exit code follows enforce only. PSA never enforces on
    workloads (it only warns and audits them); pssgen judges a workload by the
    enforce level of its namespace, as the pods it creates will be. A
    Namespace whose labels PSA cannot parse is one error line (the API server
    refuses such a Namespace); its objects are judged as PSA would, with an
    invalid enforce level as restricted, an invalid audit or warn level as
    privileged, an invalid version as latest. Without FILE, the input is read
    twice (stdin is kept for the second reading).

    \b
    pssgen check pod.yaml
    helm template ./chart | pssgen check - --level baseline --version v1.29
    pssgen check manifests/ --output json
    pssgen check manifests/ --output sarif > pss.sarif    # GitHub code scanning
    pssgen check manifests/ --output junit > pss.xml      # CI test reports
    kubectl get -A -o yaml pods,deploy,ns | pssgen check - --namespace-labels
    pssgen check manifests/ --namespace-labels=cluster-namespaces.yaml
    pssgen check manifests/ --engine cluster --context staging   # ask that cluster's PSA
    pssgen check manifests/ --psa-config admission.yaml --namespace-labels=ns.yaml   # as that cluster judges
    pssgen check manifests/ --config pssgen.yaml    # with the exclusions the bundle has
    """
    config: PsaConfiguration | None = None
    if psa_config is not None:
        explicit = [
            f"--{p}" for p in ("level", "version") if ctx.get_parameter_source(p) is ParameterSource.COMMANDLINE
        ]
        if explicit:
            raise click.BadParameter(f"{' and '.join(explicit)} cannot be used with it: the file's defaults decide",
                                     param_hint="--psa-config")  # fmt: skip
        config = read_psa_config(psa_config)
        level, version = config.defaults.enforce.level, config.defaults.enforce.version
    elif username is not None:
        raise click.BadParameter("needs --psa-config (the exemptions it is checked against)", param_hint="--username")
    exclusions = read_pssgen_config(pssgen_config) if pssgen_config is not None else ()
    with _stop_on_signals():
        try:
            _check(paths, level, version, engine, output, namespace_labels, jobs, (kubeconfig, context),
                   (config, username), exclusions)  # fmt: skip
        except KeyboardInterrupt:
            click.echo("pssgen: interrupted (SIGINT); stopped", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except _Terminated:
            click.echo("pssgen: terminated (SIGTERM); stopped", err=True)
            sys.exit(EXIT_TERMINATED)


def _check(paths: tuple[str, ...], level: str, version: Version, engine: str, output: str,
           namespace_labels: str | None, jobs: int, cluster: tuple[str | None, str | None],
           psa: tuple[PsaConfiguration | None, str | None] = (None, None),
           exclusions: tuple[Exclusion, ...] = ()) -> None:  # fmt: skip
    """The command's body: everything it starts is released in its ``finally`` and context exits."""
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and engine != "python":
        raise click.BadParameter("more than one job needs the python engine (other engines batch in one process)",
                                 param_hint="--jobs")  # fmt: skip
    policies: Policies | None = None
    errors: list[ReadError] = []
    outcomes: list[Outcome] = []
    counts = {"objects": 0, "denied": 0, "skipped": 0, "warnings": 0}
    progress = _Progress(sys.stderr.isatty())

    def error(entry: ReadError) -> None:
        errors.append(entry)
        if output == "text":
            progress.clear()
            click.echo(_error_line(entry), err=True)

    if namespace_labels == "-" and "-" in paths:
        raise click.BadParameter("stdin cannot be both the input and the Namespaces", param_hint="--namespace-labels")
    stdin: BinaryIO | None = None
    try:
        if namespace_labels == FROM_INPUT and "-" in paths:
            stdin = _spool_stdin()  # read twice
        if psa[0] is not None:
            policies = Policies(psa[0].defaults, psa[0], psa[1])
        elif namespace_labels is not None:
            policies = Policies(default_policy(level, version))
        if namespace_labels is not None and policies is not None:
            for problem in _read_namespaces(policies, list(paths), namespace_labels, jobs, stdin):
                error(problem)
        json_report = None
        if output == "json":
            head: dict[str, Any] = {"level": level, "version": str(version)}
            if psa[0] is not None:
                head["psa_config"] = {
                    "defaults": {m: str(getattr(psa[0].defaults, m)) for m in ("enforce", "audit", "warn")},
                    "exemptions": psa[0].exemptions_data(),
                }  # fmt: skip
            if policies is not None and namespace_labels is not None:
                head["namespace_labels"] = json_source({
                    "source": "input" if namespace_labels == FROM_INPUT else namespace_labels,
                    "namespaces": {name: p.as_json() for name, p in sorted(policies.namespaces.items())},
                })  # fmt: skip
            if exclusions:
                head["exclusions"] = rules_data(exclusions)
            json_report = _JsonReport(head)
        label_errors = namespace_labels == FROM_INPUT
        with contextlib.ExitStack() as stack:
            if jobs == 1:
                running = stack.enter_context(open_engine(engine, kubeconfig=cluster[0], context=cluster[1]))
                found = scan(read_paths(list(paths), stdin=stdin), running, level, version, policies=policies,
                             label_errors=label_errors, exclusions=exclusions)  # fmt: skip
            else:
                found = scan_parallel(list(paths), jobs, engine, level, version, policies=policies,
                                      label_errors=label_errors, stdin=stdin, exclusions=exclusions)  # fmt: skip
            for entry in found:
                if isinstance(entry, ReadError):
                    error(entry)
                    continue
                progress.tick()
                if output == "text":
                    for note in entry.read_warnings:  # read as kubectl reads it, but worth a word (stderr, as errors)
                        progress.clear()
                        where = _where(entry.source, entry.document, entry.item)
                        click.echo(f"warning: {where}: {safe_text(note)}", err=True)
                counts["objects"] += 1
                counts["denied"] += entry.denied
                counts["skipped"] += entry.skipped
                counts["warnings"] += entry.warned
                if json_report is not None:
                    json_report.add(entry.as_json())
                elif output != "text":
                    outcomes.append(entry)
                elif entry.denied or entry.warned:
                    progress.clear()
                    if entry.denied:
                        click.echo(_denial_line(entry))
                    if entry.warned and not (entry.denied and entry.warning == entry.message):  # said just above
                        click.echo(_warning_line(entry))
    finally:
        progress.clear()
        if stdin is not None:
            stdin.close()
    denied = counts["denied"]
    if json_report is not None:
        json_report.close(errors)
    elif output in ("junit", "sarif"):
        report = junit_report if output == "junit" else sarif_report
        click.echo(report(outcomes, errors, level, str(version)), nl=False)
    else:
        allowed = counts["objects"] - denied - counts["skipped"]
        summary = (f"{counts['objects']} objects: {allowed} allowed, {denied} denied, {counts['skipped']} skipped, "
                   f"{len(errors)} errors")  # fmt: skip
        if policies is None:
            click.echo(f"{summary} ({level}:{version}, engine {engine})")
        else:
            source = "the input" if namespace_labels == FROM_INPUT else shown_path(namespace_labels or "")
            read = f"{len(policies.namespaces)} Namespaces read from {source}; " if namespace_labels is not None else ""
            where = "elsewhere" if namespace_labels is not None else "everywhere"
            defaults = f"{policies.defaults.enforce}" + (" from --psa-config" if psa[0] is not None else "")
            click.echo(f"{summary}, {counts['warnings']} warnings ({read}{where} {defaults}; engine {engine})")
    sys.exit(EXIT_ERROR if errors else EXIT_DENIED if denied else EXIT_OK)
