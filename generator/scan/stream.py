"""Scanning inputs: documents in, one Outcome per object (or a ReadError) out, in input order.

Streams: documents are read lazily and evaluated in batches, and an Outcome
keeps only what reports need (never the object), so memory stays bounded on
whole-cluster exports.

With ``Policies`` (``pssgen check --namespace-labels``), each object is judged
as Pod Security Admission would judge it in its namespace: the enforce, audit
and warn level/version come from its Namespace's ``pod-security.kubernetes.io``
labels (``generator.namespaces``), or from the defaults when its namespace was
not read. Every evaluation, whatever its mode, is a request to the engine's
``evaluate_many``; an object asks once per distinct level/version among its
three modes (PSA caches results per LevelVersion the same way).
"""

from __future__ import annotations

import bisect
import contextlib
import importlib.machinery
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import traceback
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import IO, Any, TypeAlias

from generator.engines import EngineBase, Refused, Request, open_engine
from generator.errors import PssgenError
from generator.manifests import Document, Piece, Pieces, ReadError, json_items, read_piece
from generator.manifests.shape import conform
from generator.policy.exclusions import Exclusion, Plan, compose
from generator.policy.exclusions import plan as plan_exclusions
from generator.policy.model import Result
from generator.policy.namespaces import LevelVersion, NamespacePolicy, namespace_labels, policy_from_labels
from generator.policy.pod import EVALUATED_KINDS
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration
from generator.policy.versions import Version

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

BATCH = 500  # objects per engine call: large enough to amortise a request, small enough to stream


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------- namespace policies


@dataclass(frozen=True, slots=True)
class AppliedPolicy:
    """The policy an object is judged by, and where it came from: its Namespace's labels, or the defaults."""

    source: str  # "namespace" | "default" | "exempt (namespace|user|runtimeClass)"
    policy: NamespacePolicy
    labels: Mapping[str, Any] | None = None  # the Namespace's labels, when read (for exclusions' selectors)

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "source": self.source,
            "enforce": str(self.policy.enforce),
            "audit": str(self.policy.audit),
            "warn": str(self.policy.warn),
        }
        if self.policy.errors:  # PSA records them on each request as the `error` audit annotation
            entry["errors"] = list(self.policy.errors)
        return entry


# (source's place in the input, line, document, item or -1). The line leads: a first reading that skims
# (leaves text that cannot hold a Namespace unread) numbers documents on from what it read, but every piece
# knows its lines; the document and item keep apart what shares a line.
Position: TypeAlias = tuple[int, int, int, int]


class Policies:
    """Namespace policies, as they stand at each point of the input, and the defaults for every other namespace.

    The defaults enforce pssgen's ``--level``/``--version`` and audit and warn
    at privileged:latest, as PSA's v1 configuration defaults do. Namespaces
    from a FILE (the cluster's, ``base``) stand from the start. Namespaces read
    from the input take effect where they are, as ``kubectl apply -f`` applies
    them in order: an object is judged by its Namespace's last reading before
    it, so relabelling a Namespace after its Pods cannot change their verdict.
    An object before any reading of its Namespace is judged by the FILE's, or
    else by the first reading after it: the Namespace must exist before the
    object can be created, and in a cluster export (``kubectl get pods,ns``)
    Namespaces come last. ``namespaces`` holds each Namespace's last reading.
    """

    def __init__(
        self, defaults: NamespacePolicy, exemptions: PsaConfiguration | None = None, username: str | None = None
    ) -> None:
        self.defaults = defaults
        self.exemptions = exemptions  # PSA's configured exemptions (namespaces, runtime classes, usernames)
        self.username = username  # who makes the requests, for the usernames exemption
        self.namespaces: dict[str, AppliedPolicy] = {}
        self._default = AppliedPolicy("default", defaults)
        self._base: dict[str, AppliedPolicy] = {}
        self._history: dict[str, tuple[list[Position], list[AppliedPolicy]]] = {}
        self._order: dict[str, int] = {}  # source -> its place in the input (first reading wins)

    def exempted(self, applied: AppliedPolicy, namespace: str | None, obj: Mapping[str, Any]) -> AppliedPolicy:
        """``applied``, or nothing to judge when PSA's configuration exempts the request (PSA does not evaluate it)."""
        if self.exemptions is None:
            return applied
        why = self.exemptions.exempt_request(namespace=namespace, username=self.username, obj=obj)
        return applied if why is None else AppliedPolicy(f"exempt ({why})", PSA_DEFAULTS.defaults)

    def order_sources(self, sources: Iterable[str]) -> None:
        """The input's sources in reading order, so that positions in different files compare."""
        for source in sources:
            self._order.setdefault(source, len(self._order))

    def position(self, entry: Document) -> Position:
        """Where ``entry`` is in the input; a source never ordered counts as after all others."""
        rank = self._order.setdefault(entry.source, len(self._order))
        item = entry.item if entry.item is not None else -1
        return rank, entry.line if entry.line is not None else -1, entry.document, item

    def add(self, doc: Document, *, base: bool = False) -> ReadError | None:
        """Record a Namespace's policy where it stands; returns its label error (PSA's words), if any."""
        found = namespace_labels(doc.obj)
        if found is None:
            return None
        name, labels = found
        policy = policy_from_labels(labels, self.defaults)
        applied = AppliedPolicy("namespace", policy, labels)
        self.namespaces[name] = applied
        if base:
            self._base[name] = applied
        else:
            positions, policies = self._history.setdefault(name, ([], []))
            at = self.position(doc)
            where = bisect.bisect_right(positions, at)
            positions.insert(where, at)
            policies.insert(where, applied)
        return label_error(doc, name, policy)

    def read(self, entries: Iterable[Document | ReadError], *, base: bool = False) -> list[ReadError]:
        """Add every Namespace among ``entries``; returns what could not be read and the label errors, in order."""
        errors: list[ReadError] = []
        for entry in entries:
            problem = entry if isinstance(entry, ReadError) else self.add(entry, base=base)
            if problem is not None:
                errors.append(problem)
        return errors

    def lookup(self, namespace: str | None, at: Document | None = None) -> AppliedPolicy:
        """The policy for an object in ``namespace``: as it stands just before ``at`` (after all, without it)."""
        if namespace is None:
            return self._default
        found = self._history.get(namespace)
        if found is None:
            return self._base.get(namespace, self._default)
        positions, policies = found
        before = len(positions) if at is None else bisect.bisect_left(positions, self.position(at))
        if before:
            return policies[before - 1]
        return self._base.get(namespace, policies[0])


def label_error(doc: Document, name: str, policy: NamespacePolicy) -> ReadError | None:
    """One line for a Namespace whose labels PSA cannot parse (the API server refuses to create it).

    Its objects are still judged, by the policy PSA falls back to, which the line names.
    """
    if not policy.errors:
        return None
    fallback = f"enforce={policy.enforce}, audit={policy.audit}, warn={policy.warn}"
    message = (f"Namespace {json.dumps(name, ensure_ascii=False)}: {'; '.join(policy.errors)} "
               f"(its objects are judged as PSA would: {fallback})")  # fmt: skip
    return ReadError(doc.source, doc.document, message, doc.item)


# ---------------------------------------------------------------- outcomes


def _mode_json(result: Result, message: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "level": result.level,
        "version": result.version,
        "allowed": result.allowed,
        "violations": [v.as_dict() for v in result.violations],
    }
    if message is not None and not result.allowed:
        entry["message"] = message
    return entry


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict for one object and where it came from; ``result`` is None when the kind is skipped.

    ``result`` is the enforce verdict. With namespace policies, ``policy`` says
    which applied, ``audit`` is the audit verdict and ``warn`` the warn verdict
    (None for a Pod enforce denies: PSA adds no warning to a rejected request).
    """

    source: str
    document: int
    item: int | None
    line: int | None
    kind: str | None
    namespace: str | None
    name: str | None
    result: Result | None
    policy: AppliedPolicy | None = None
    audit: Result | None = None
    warn: Result | None = None
    read_warnings: tuple[str, ...] = ()  # what reading noted (a key written twice with the same value)

    @classmethod
    def of(
        cls, doc: Document, result: Result | None, policy: AppliedPolicy | None = None,
        audit: Result | None = None, warn: Result | None = None,
    ) -> Outcome:  # fmt: skip
        meta = doc.obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        return cls(
            doc.source, doc.document, doc.item, doc.line, _str_or_none(doc.obj.get("kind")),
            _str_or_none(meta.get("namespace")), _str_or_none(meta.get("name")), result, policy, audit, warn,
            doc.warnings,
        )  # fmt: skip

    @property
    def skipped(self) -> bool:
        return self.result is None

    @property
    def denied(self) -> bool:
        return self.result is not None and not self.result.allowed

    @property
    def warned(self) -> bool:
        return self.warn is not None and not self.warn.allowed

    @property
    def audited(self) -> bool:
        """Whether PSA would record ``audit-violations`` for it."""
        return self.audit is not None and not self.audit.allowed

    @property
    def where(self) -> str:
        item = "" if self.item is None else f" item {self.item}"
        return f"{self.source}: document {self.document}{item}"

    @property
    def subject(self) -> str:
        """How PSA names the object: ``pods "web"``, ``deployments.apps "api"``."""
        kind = self.kind or "object"
        resource = RESOURCES.get(kind, kind.lower())
        return f'{resource} "{self.name}"' if self.name else resource

    @property
    def message(self) -> str:
        """PSA's words: the enforce denial for a Pod, the warning for a workload (PSA never enforces those)."""
        if self.result is None:
            return "skipped: not a Pod or a pod-template workload"
        if self.result.allowed:
            return "allowed"
        if self.kind == "Pod":
            return f"{self.subject} is forbidden: {self.result.message}"
        return f"{self.subject}: {self.result.warning}"

    @property
    def warning(self) -> str | None:
        """PSA's warning for the request, ``would violate PodSecurity "L:V": ...``, when warn would add one."""
        if self.warn is None or self.warn.allowed:
            return None
        return f"{self.subject}: {self.warn.warning}"

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "source": self.source,
            "document": self.document,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
        if self.item is not None:
            entry["item"] = self.item
        if self.read_warnings:
            entry["read_warnings"] = list(self.read_warnings)
        if self.result is None:
            entry.update(allowed=True, skipped=True, violations=[])
        else:
            entry.update(
                allowed=self.result.allowed,
                level=self.result.level,  # per object: namespace labels may choose another than the default
                version=self.result.version,
                violations=[v.as_dict() for v in self.result.violations],
            )
            if self.policy is not None:
                entry["policy"] = self.policy.as_json()
                entry["enforce"] = _mode_json(self.result, self.message)
                entry["audit"] = None if self.audit is None else _mode_json(self.audit, self.audit.warning)
                entry["warn"] = None if self.warn is None else _mode_json(self.warn, self.warn.warning)
        return entry


# ---------------------------------------------------------------- scanning


def is_evaluated(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") in EVALUATED_KINDS


def _subject(doc: Document) -> str:
    """``Kind "name"`` (or just the kind), as an error line names an object."""
    meta = doc.obj.get("metadata")
    name = _str_or_none(meta.get("name")) if isinstance(meta, Mapping) else None
    return f"{doc.obj['kind']} {json.dumps(name, ensure_ascii=False)}" if name else str(doc.obj["kind"])


def shape_error(doc: Document, problems: list[str]) -> ReadError:
    """A Pod or workload whose field types the API would reject: reported, never evaluated."""
    return ReadError(doc.source, doc.document, f"{_subject(doc)}: {'; '.join(problems)}", doc.item)


def refusal_error(doc: Document, refusal: str) -> ReadError:
    """An object an engine could not judge because something refused it first (a live API server's validation)."""
    return ReadError(doc.source, doc.document, f"{_subject(doc)}: not judged: {refusal}", doc.item)


def _modes(policy: NamespacePolicy) -> tuple[list[LevelVersion], tuple[int, int, int]]:
    """The distinct level/versions to ask for, and which of them enforce, audit and warn use."""
    distinct: list[LevelVersion] = []
    where: list[int] = []
    for lv in (policy.enforce, policy.audit, policy.warn):
        # Identical LevelVersions share one evaluation; "latest" and "v1.37" differ (PSA prints what was asked).
        found = next((i for i, seen in enumerate(distinct) if seen == lv), None)
        if found is None:
            found = len(distinct)
            distinct.append(lv)
        where.append(found)
    return distinct, (where[0], where[1], where[2])


def scan(
    entries: Iterable[Document | ReadError],
    engine: EngineBase,
    level: str,
    version: Version,
    batch: int = BATCH,
    policies: Policies | None = None,
    label_errors: bool = False,
    exclusions: Sequence[Exclusion] = (),
) -> Iterator[Outcome | ReadError]:
    """Evaluate every Pod and workload; everything else passes through in order.

    Without ``policies``, at ``level``/``version``. With them, at the enforce,
    audit and warn level/version of each object's namespace; ``label_errors``
    also reports, where each Namespace is met, labels PSA could not parse
    (when the Namespaces were read from the same entries).

    Every engine is sent only objects of the shape the API would accept, as its
    decoder would leave them (``generator.manifests.shape.conform``). With
    ``exclusions`` (``generator.policy.exclusions``), an object they apply to
    is judged once more per narrowed check, and the verdicts composed.
    """
    pending: list[Document | ReadError] = []
    requests: list[Request] = []  # for pending's evaluated documents, in order
    # (policy, first request, modes, exclusions' plan): each distinct mode takes len(plan.objects) requests
    plans: list[tuple[AppliedPolicy | None, int, tuple[int, int, int], Plan | None]] = []
    evaluated = 0

    def flush() -> Iterator[Outcome | ReadError]:
        results = engine.evaluate_many(requests) if requests else []
        plan = iter(plans)
        for entry in pending:
            if isinstance(entry, ReadError):
                yield entry
            elif not is_evaluated(entry.obj):
                yield Outcome.of(entry, None)
            else:
                applied, first, (enforce, audit, warn), waiving = next(plan)
                width = 1 if waiving is None else len(waiving.objects)
                mine = results[first : first + width * (1 + max(enforce, audit, warn))]
                refused = [r for r in mine if isinstance(r, Refused)]
                if refused:  # no verdict at all: an error for this object (never an allow)
                    yield refusal_error(entry, refused[0].refusal)
                    continue
                if waiving is not None:
                    mine = [compose(waiving, mine[k : k + width]) for k in range(0, len(mine), width)]
                result = mine[enforce]
                if applied is None:
                    yield Outcome.of(entry, result)
                    continue
                warned: Result | None = mine[warn]
                if entry.obj.get("kind") == "Pod" and not result.allowed:
                    warned = None  # PSA adds no warnings to a request it rejects
                yield Outcome.of(entry, result, applied, mine[audit], warned)
        pending.clear()
        requests.clear()
        plans.clear()

    for entry in entries:
        if isinstance(entry, Document) and is_evaluated(entry.obj):
            obj, problems = conform(entry.obj)
            if problems:
                pending.append(shape_error(entry, problems))
                continue
            meta = entry.obj.get("metadata")
            namespace = _str_or_none(meta.get("namespace")) if isinstance(meta, Mapping) else None
            applied = None
            if policies is None:
                distinct, modes = [LevelVersion(level, version)], (0, 0, 0)
            else:
                applied = policies.exempted(policies.lookup(namespace, entry), namespace, entry.obj)
                distinct, modes = _modes(applied.policy)
            labels = applied.labels if applied is not None else None
            applying = [e for e in exclusions if e.applies(namespace, labels)]
            waiving = plan_exclusions(obj, applying) if applying else None
            plans.append((applied, len(requests), modes, waiving))
            objects = (obj,) if waiving is None else waiving.objects
            requests.extend((o, lv.level, lv.version) for lv in distinct for o in objects)
            pending.append(entry)
            evaluated += 1
            if evaluated == batch:
                evaluated = 0
                yield from flush()
            continue
        pending.append(entry)
        if label_errors and policies is not None and isinstance(entry, Document):
            found = namespace_labels(entry.obj)
            if found is not None:
                problem = label_error(entry, found[0], policy_from_labels(found[1], policies.defaults))
                if problem is not None:
                    pending.append(problem)
    yield from flush()


# ---------------------------------------------------------------- in parallel (--jobs)

IN_FLIGHT = 2  # pieces queued per worker: enough to keep workers busy, few enough to bound memory


@dataclass
class _Reading:
    """What a process reading pieces needs: an engine (None: only read), the scan's settings, the kinds wanted."""

    engine: EngineBase | None
    level: str
    version: Version
    policies: Policies | None
    label_errors: bool
    kinds: frozenset[str] | None
    skim: bool
    exclusions: tuple[Exclusion, ...] = ()

    def read(self, piece: Piece) -> tuple[list[Any], int, bool]:
        """A piece read (and scanned, given an engine): its entries from 0, documents, and whether they stand."""
        if self.skim and piece.kind != "rest" and not might_hold(piece.data, self.kinds):
            if piece.first_item < 0:  # a JSON List's run: how many items it holds numbers the next
                count = json_items(piece)
                return [], count or 0, count is not None
            return [], 0, True
        read, documents, stands = read_piece(piece, self.kinds)
        if not stands:
            return [], documents, False
        if self.engine is None:
            return read, documents, True
        found = scan(read, self.engine, self.level, self.version, policies=self.policies,
                     label_errors=self.label_errors, exclusions=self.exclusions)  # fmt: skip
        return list(found), documents, True


_Answer: TypeAlias = tuple[list[Any], int, bool]


class WorkerError(PssgenError):
    """A ``--jobs`` worker died (killed: SIGKILL, the out-of-memory killer) or could not read: the scan cannot end."""


# What the fork server imports once, so that each worker it forks starts with it: this module, which imports the
# engines, the reader and the checks (half a second a worker otherwise).
PRELOAD = [__name__]


def _preload() -> list[str]:
    """``PRELOAD``, unless the fork server would import another pssgen than this process runs.

    Up to Python 3.12.7 the fork server imports its preloads with the
    current directory first on ``sys.path``, not with this process's
    ``sys.path`` (CPython gh-117378); a ``generator`` package there would
    shadow this one. Without preloads, each worker imports pssgen itself,
    after it has been given this process's ``sys.path``.
    """
    package = sys.modules[__name__.partition(".")[0]]
    found = importlib.machinery.PathFinder.find_spec(package.__name__, [os.getcwd()])
    if found is not None and found.origin != package.__file__:
        return []
    return PRELOAD


def _pool_context() -> BaseContext:
    """Where workers come from: a fork server (or a fresh interpreter each), never a fork of this process.

    A fork copies only the forking thread, with every lock as it was at that
    instant: a worker forked while another thread of this process held a
    lock (an HTTP client's, a logging handler's) can block on it forever.
    The fork server is a single-threaded process started once (by fork and
    exec); the workers it forks inherit nothing of ours but what is pickled.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_preload())  # taken into account when the server first starts
        return context
    return multiprocessing.get_context("spawn")


def _serve(conn: Connection, origin: str, engine: str | None, settings: tuple[Any, ...]) -> None:
    """A worker: reads each piece its pipe brings and sends back the reading, until the pipe closes.

    Ctrl-C is left to the parent: the terminal's SIGINT reaches the whole
    process group, and the parent answers it by closing the pipes. A
    failure is sent back as ``(False, (is_pssgen_error, text))`` and ends
    the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if os.path.realpath(__file__) != origin:
            raise WorkerError(f"a --jobs worker runs pssgen from {__file__}, not from {origin} as its parent does; "
                              "run pssgen from another directory, or with --jobs 1")  # fmt: skip
        running = None if engine is None else open_engine(engine)
    except BaseException as exc:
        _send_failure(conn, exc)
        return
    reading = _Reading(running, *settings)
    try:
        while True:
            try:
                piece = conn.recv()
            except EOFError:  # the parent closed the pipe: the run is over
                return
            try:
                answer: tuple[bool, Any] = (True, reading.read(piece))
                conn.send(answer)
            except (BrokenPipeError, ConnectionResetError):
                return
            except BaseException as exc:
                _send_failure(conn, exc)
                return
    finally:
        if running is not None:
            running.close()


def _send_failure(conn: Connection, exc: BaseException) -> None:
    text = str(exc) if isinstance(exc, PssgenError) else traceback.format_exc()
    with contextlib.suppress(OSError):
        conn.send((False, (isinstance(exc, PssgenError), text)))


def _raised(failure: tuple[bool, str]) -> Exception:
    """A worker's failure, raised here: a PssgenError as its one line, anything else (a bug) with its traceback."""
    known, text = failure
    return WorkerError(text) if known else RuntimeError(f"a --jobs worker failed:\n{text}")


class _Handle:
    """A piece sent (or to be sent) to a worker, and then its reading."""

    def __init__(self, pool: _Pool, piece: Piece) -> None:
        self.pool = pool
        self.piece: Piece | None = piece  # until it is sent
        self.answer: _Answer | None = None

    def result(self) -> _Answer:
        return self.pool.wait_for(self)


class _Worker:
    """One worker process and this end of its pipe, with the piece it is reading (one at most)."""

    def __init__(self, context: BaseContext, *args: Any) -> None:
        self.conn, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(theirs, *args), name="pssgen-jobs", daemon=True
        )
        try:
            self.process.start()
        finally:
            theirs.close()  # the worker holds it now: when it exits, this end reads EOF
        self.busy: _Handle | None = None

    def failure(self) -> Exception:
        """Why it stopped answering: its last word if it sent one, else how it died."""
        with contextlib.suppress(EOFError, OSError):
            ok, answer = self.conn.recv()  # the pipe is at its end: this does not wait
            if not ok:
                return _raised(answer)
        self.process.join()  # its pipe is closed: it is gone, or going
        code = self.process.exitcode
        if code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
            how += "; out of memory?" if code == -signal.SIGKILL else ""
        else:
            how = f"exited {code} (its error output, if any, is above)"
        return WorkerError(f"a --jobs worker (pid {self.process.pid}) {how}")


class _Pool:
    """``jobs`` worker processes, each fed one piece at a time through a pipe of its own.

    Nothing is shared between workers, so one that dies cannot block the
    others: ``ProcessPoolExecutor``'s workers share one queue and its lock,
    and one killed while it waited for work (holding that lock) makes
    ``shutdown(wait=True)`` wait forever (seen on CPython 3.11). A worker
    is sent a piece only when it has none, so neither side of a pipe ever
    waits on the other to read. A dead worker shows as its pipe at EOF.
    Closing the pipes is the workers' signal to exit, after the piece they
    may be reading; ``close`` then waits for each.
    """

    def __init__(self, jobs: int, *args: Any) -> None:
        context = _pool_context()
        self.workers: list[_Worker] = []
        self.waiting: deque[_Handle] = deque()  # submitted, not sent yet
        try:
            for _ in range(jobs):
                self.workers.append(_Worker(context, *args))
        except BaseException:
            self.close()
            raise

    def submit(self, piece: Piece) -> _Handle:
        handle = _Handle(self, piece)
        self.waiting.append(handle)
        self._collect(0)
        self._dispatch()
        return handle

    def wait_for(self, handle: _Handle) -> _Answer:
        while handle.answer is None:
            self._collect(None)
            self._dispatch()
        return handle.answer

    def _dispatch(self) -> None:
        for worker in self.workers:
            if not self.waiting:
                return
            if worker.busy is None:
                handle = self.waiting.popleft()
                try:
                    worker.conn.send(handle.piece)  # it waits for it: a big piece cannot block both sides
                except OSError:
                    raise worker.failure() from None
                handle.piece = None
                worker.busy = handle

    def _collect(self, timeout: float | None) -> None:
        """Take in the readings that are ready (waiting up to ``timeout`` for one, None: as long as it takes)."""
        busy = {worker.conn: worker for worker in self.workers if worker.busy is not None}
        if not busy:
            return
        for conn in multiprocessing.connection.wait(list(busy), timeout):
            worker = busy[conn]  # type: ignore[index]
            try:
                ok, answer = worker.conn.recv()
            except (EOFError, OSError):
                raise worker.failure() from None
            if not ok:
                raise _raised(answer)
            assert worker.busy is not None
            worker.busy.answer, worker.busy = answer, None

    def close(self) -> None:
        """Every worker told to stop (its pipe closed), then waited for: none outlives the pool."""
        for worker in self.workers:
            worker.conn.close()
        for worker in self.workers:
            worker.process.join()
            worker.process.close()
        self.workers.clear()
        self.waiting.clear()


class _Now:
    """A result computed on the spot, for reading pieces in this process (one job)."""

    def __init__(self, value: _Answer) -> None:
        self.value = value

    def result(self) -> _Answer:
        return self.value


# What could spell a kind without writing it out: a hex escape or an escaped line break (double-quoted scalars), a
# tag (`!!binary`), an alias (to an anchor elsewhere; libyaml's anchor names are alphanumeric, `_` or `-`). Quoted
# text such as '*/15 * * * *' does not look like them. (Searched for by hand: a regular expression that does not
# start with a literal scans every position, a hundred times slower on a whole export.)
_ESCAPE = re.compile(rb"\\[xuU\r\n]")
_BEFORE_TOKEN = frozenset(b" \t\r\n[{,:")


def _token(data: bytes, mark: bytes, follows: bytes) -> bool:
    """Whether ``mark`` starts a YAML token somewhere in ``data``: after a blank or flow indicator, before a name."""
    at = data.find(mark)
    while at >= 0:
        after = data[at + 1 : at + 2]
        if (at == 0 or data[at - 1] in _BEFORE_TOKEN) and after and (after.isalnum() or after in follows):
            return True
        at = data.find(mark, at + 1)
    return False


def might_hold(data: bytes, kinds: Collection[str] | None) -> bool:
    """Whether YAML text can hold an object of one of ``kinds``: its name written out, or written otherwise.

    Text that cannot is not worth parsing for them.
    """
    if kinds is None or any(kind.encode() in data for kind in kinds):
        return True
    return _ESCAPE.search(data) is not None or _token(data, b"*", b"_-") or _token(data, b"!", b"_-!<")


def _item_numbered(entry: Any, first: int) -> Any:
    """``entry`` of a JSON List's run of items (numbered from 0), numbered from ``first``: an Outcome or a ReadError
    built anew (``dataclasses.replace`` costs more than the rest of the main process's work for an object)."""
    item = entry.item
    if item is None:
        return entry
    if entry.__class__ is Outcome:
        e: Outcome = entry
        return Outcome(e.source, e.document, item + first, e.line, e.kind, e.namespace, e.name, e.result, e.policy,
                       e.audit, e.warn, e.read_warnings)  # fmt: skip
    if entry.__class__ is ReadError:
        return ReadError(entry.source, entry.document, entry.message, item + first)
    return replace(entry, item=item + first)


def _numbered(entry: Any, base: int) -> Any:
    return entry if entry.document is None or base == 0 else replace(entry, document=entry.document + base)


class _Returned:
    """Keeps what a generator returns when something else iterates it."""

    def __init__(self, gen: Generator[Any, None, int], keep: Callable[[Any], bool] | None = None) -> None:
        self.gen, self.keep, self.value = gen, keep, 0

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                entry = next(self.gen)
            except StopIteration as stop:
                self.value = stop.value
                return
            if self.keep is None or self.keep(entry):
                yield entry


def scan_parallel(
    paths: list[str], jobs: int, engine: str | None, level: str, version: Version, *,
    policies: Policies | None = None, label_errors: bool = False, kinds: Collection[str] | None = None,
    stdin: IO[bytes] | None = None, skim: bool = False, exclusions: Sequence[Exclusion] = (),
) -> Generator[Any, None, None]:  # fmt: skip
    """``scan(read_paths(paths))`` by ``jobs`` worker processes: the same entries, in the same order.

    The input is cut into pieces (``generator.manifests.pieces.Pieces``: whole
    documents, or runs of a big List's items) that workers read and evaluate;
    results are merged in input order and renumbered. A List whose pieces do
    not read as the whole would (anchors across items, a quoted scalar over an
    item's first line, a broken tail) is read again whole, here. Stdin and
    pipes are read here too. With ``engine`` None, entries are only read
    (Documents of ``kinds``), for the Namespace pass; ``skim`` then skips,
    unread, pieces whose text cannot hold one of ``kinds`` (their errors, and
    the numbering of documents after them, are not to be relied on). With one
    job, pieces are read in this process.

    Workers come from a fork server (``_pool_context``): they build their
    engine from its name, get the settings pickled, and see nothing else of
    this process (a test's monkeypatch included; pieces are cut here). As with
    any ``multiprocessing`` start method but fork, a script that calls this
    must guard its top level with ``if __name__ == "__main__":``. However the
    run ends (read to the end, an error, a worker killed, or the consumer
    closing the generator early), pieces not yet sent are dropped and every
    worker is stopped and waited for (``_Pool.close``): none outlives the
    generator. A worker that dies raises ``WorkerError``.
    """
    frozen_kinds = None if kinds is None else frozenset(kinds)
    pieces = Pieces(paths, stdin)
    here = None if engine is None else open_engine(engine)
    queue: deque[tuple[Piece, _Handle | _Now]] = deque()
    index = 0
    abandoned: set[int] = set()
    held: dict[int, tuple[Piece, list[Any]]] = {}  # per List, its last run of items, until its "rest" is read
    numbered: dict[int, int] = {}  # per JSON List, the items of its runs settled so far

    def here_read(entries: Iterable[Any]) -> Iterator[Any]:
        if here is None:
            return iter(entries)
        return scan(entries, here, level, version, policies=policies, label_errors=label_errors,
                    exclusions=exclusions)  # fmt: skip

    def settle(piece: Piece, pending: _Handle | _Now) -> Iterator[Any]:
        """One piece's entries, in order. A List's last run of items waits for its "rest": the line that ends
        the items can be what breaks the last of them."""
        nonlocal index
        entries, documents, stands = pending.result()
        if piece.starts_source:
            index = 0
        if piece.list_id in abandoned:
            return
        if piece.first_item < 0:  # a JSON List's run of items, numbered from 0, and how many: numbered on here
            first = numbered.get(piece.list_id, 0)
            numbered[piece.list_id] = first + documents
            piece, documents = replace(piece, first_item=first), 0
            entries = [_item_numbered(entry, first) for entry in entries] if first else entries
        before = held.pop(piece.list_id, None)
        if before is not None and (stands or piece.kind == "items"):
            yield from (_numbered(entry, index) for entry in before[1])
            before = None
        if not stands:  # read the List whole, here, past the items already given
            abandoned.add(piece.list_id)
            pieces.abandon(piece.list_id)
            first = (before or (piece, []))[0].first_item
            at = index
            whole = _Returned(pieces.reread(piece.list_id, at, frozen_kinds),
                              lambda e: not (e.document == at and e.item is not None and e.item < first))  # fmt: skip
            yield from here_read(whole)
            index = whole.value
            return
        if piece.kind == "items":
            held[piece.list_id] = (piece, entries)
            return
        yield from (_numbered(entry, index) for entry in entries)
        index += documents

    settings = (level, version, policies, label_errors, frozen_kinds, skim, tuple(exclusions))
    reading = _Reading(here, *settings)
    pool: _Pool | None = None
    try:
        if jobs > 1:
            pool = _Pool(jobs, os.path.realpath(__file__), engine, settings)
        for found in pieces:
            if isinstance(found, Piece):
                done = _Now(reading.read(found)) if pool is None else pool.submit(found)
                queue.append((found, done))
                while len(queue) > IN_FLIGHT * jobs:
                    yield from settle(*queue.popleft())
                continue
            while queue:
                yield from settle(*queue.popleft())
            if isinstance(found, ReadError):
                yield found
                continue
            if found.starts_source:
                index = 0
            local = _Returned(found.entries(index, frozen_kinds))
            yield from here_read(local)
            index = local.value
        while queue:
            yield from settle(*queue.popleft())
    finally:
        try:
            if pool is not None:  # pieces not sent are dropped; workers end after the piece they are reading
                pool.close()
        finally:
            if here is not None:
                here.close()
