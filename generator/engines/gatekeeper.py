"""The ``gatekeeper`` engine: objects judged by the generated ConstraintTemplate, as Gatekeeper judges them.

An object is judged at (level, version) by the bundle's enforce Constraint with that
level and version as its defaults, in a namespace without PSA labels, with workloads
enforced and nothing exempt: the template's own reading of PSA's admission, asked for
exactly what PSA's EvaluatePod answers. Two paths run Gatekeeper's own code on the
rendered bundle (``out/gatekeeper``, as ``gatekeeper_bundle`` renders it):

* **engine** (the default): ``gatekeeper-engine`` (``conformance/gatekeeper``), one
  long-lived Go program on the constraint framework gator wraps, with Gatekeeper's
  admission target and gator's drivers, at the pinned Gatekeeper's versions. It
  loads the template and the shipped enforce Constraint once, then reviews objects
  streamed as JSON lines, each against the Constraint of its (level, version)
  (created when first seen), with the namespace as ``input.review.namespaceObject``,
  as Gatekeeper's webhook gives it. JSON both ways:
  no character can break a run, and an object is decoded once per review, not
  once per Constraint of the run.
* **gator** (``PSSGEN_GATEKEEPER_MODE=gator``, for debugging and for checking the
  engine against the tool users run): ``gator test -o json`` on a YAML stream of
  the template, one Constraint per (level, version) matching its objects through
  a label, the namespace (gator's inventory, where the template then finds it) and
  the objects, moved into that namespace. gator's YAML reader refuses or folds some characters,
  which are escaped for it (``_YAML_UNSAFE``), and its matcher decodes every object
  once per Constraint, so a batch spanning many pairs is slow.

(The former ``opa`` path, the template Rego in an OPA server behind a copy of
Gatekeeper's hook module, is gone: it existed because gator was slow, and the Go
engine is Gatekeeper's own code at OPA's speed.)

Both paths review with the shipped Constraint's ``match``. The privileged level
allows everything, so its objects are allowed without a review.

Nothing is written to disk, and every child dies with pssgen, also on SIGKILL
(``generator.engines.children``): the engine process is tracked until closed; an
interrupted gator batch kills the gators still running before the exception goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, cast

import yaml

from generator.engines.base import EngineBase, EngineError, EngineUnavailable, Request
from generator.engines.children import Children, dies_with_us, kill_group, track, untrack
from generator.policy.model import Result, Violation
from generator.policy.pod import API_GROUPS
from generator.policy.registry import active_checks
from generator.policy.versions import Version
from generator.render.gatekeeper import TEMPLATE_PATH, constraint_path, gatekeeper_bundle

# The template judges at a Constraint's defaults in a namespace without PSA labels: a request's level and version
# are the enforce defaults, every workload is enforced, and nothing is exempt.
JUDGED_LEVELS: tuple[str, ...] = ("baseline", "restricted")
NAMESPACE = "pssgen-judged"
_NAMESPACE_OBJECT: Mapping[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}

Mode = Literal["engine", "gator"]

MODE_ENV = "PSSGEN_GATEKEEPER_MODE"  # engine (default) or gator
GROUP_LABEL = "pssgen.dev/gator-group"
REQUEST_LABEL = "pssgen.dev/gator-request"
GATOR_TIMEOUT = 600.0
ENGINE_CHUNK = 2000  # requests serialised and in flight at a time: bounds memory on a big export
STOP_GRACE = 5.0
STDERR_TAIL = 4000


class GatorError(EngineError):
    """Gatekeeper's code failed, or answered something that is not a judgement of the objects it was given."""


@dataclass(frozen=True)
class _Item:
    index: int  # position in the caller's requests
    obj: Mapping[str, Any]
    level: str
    version: Version


def _kind(obj: Mapping[str, Any]) -> dict[str, str]:
    """The AdmissionRequest ``kind`` (group, version, kind) of an object, from its apiVersion."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    return {"group": group, "version": version, "kind": str(obj.get("kind", ""))}


def gatekeeper_review(obj: Mapping[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    """``input.review`` as Gatekeeper's webhook builds it from an AdmissionRequest for ``obj``."""
    metadata = obj.get("metadata") or {}
    return {
        "kind": _kind(obj),
        "object": obj,
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "namespaceObject": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        "operation": operation,
        "userInfo": {"username": "pssgen"},
    }


def _json_default(value: object) -> str:
    """YAML timestamps become RFC 3339 strings, as they would in the API server's JSON."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _Reviewer:
    """One ``gatekeeper-engine`` process: set up once, then JSON lines in, answers in the same order out.

    Started from the thread that uses it (``PR_SET_PDEATHSIG`` follows that thread),
    in its own session, tracked so that exit and SIGTERM stop it. A batch is written
    by a separate thread while this one reads, so neither side blocks on a full pipe.
    Anything that leaves the pipes out of step (a dead process, a wrong id, an
    interruption) kills the process; the next batch starts a new one.
    """

    def __init__(self, binary: Path, setup: Mapping[str, Any]) -> None:
        self.binary = binary
        self.modules: dict[str, str] = {}
        self._setup = json.dumps(setup, separators=(",", ":")).encode() + b"\n"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._next_id = 0
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._stderr is not None:  # the last process's, kept for the error that ended it
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        try:
            proc = subprocess.Popen(
                dies_with_us([str(self.binary)]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self._stderr, start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            self.stop()
            raise EngineUnavailable(f"cannot start {self.binary}: {exc}") from exc
        self._proc = proc
        track(self)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(self._setup)
            proc.stdin.flush()
        except OSError:
            pass  # the process is gone: the missing ready line says why
        ready = proc.stdout.readline()
        try:
            answer = json.loads(ready) if ready else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("ready") is not True:
            self._broken(proc)
            answered = f" (it answered {ready[:200]!r})" if ready else ""
            raise GatorError(f"gatekeeper-engine did not start: {self._stderr_text()}{answered}")
        self.modules = dict(answer.get("modules") or {})
        return proc

    def review(self, lines: Sequence[bytes]) -> list[dict[str, Any]]:
        """The answers to ``lines`` (requests without ids: they are numbered here), in order."""
        with self._lock:
            proc = self._proc or self._start()
            first = self._next_id
            self._next_id += len(lines)
            payload = b"".join(b'{"id":%d,%s' % (first + n, line) for n, line in enumerate(lines))
            failed: list[OSError] = []
            writer = threading.Thread(target=self._write, args=(proc, payload, failed), daemon=True)
            writer.start()
            try:
                answers = self._read(proc, first, len(lines))
            except BaseException:
                self._broken(proc, writer)
                raise
            writer.join()
            if failed:
                self._broken(proc, writer)
                raise GatorError(f"writing to gatekeeper-engine failed: {failed[0]}")
            return answers

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], payload: bytes, failed: list[OSError]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.flush()
        except OSError as exc:  # the reader reports the dead process
            failed.append(exc)

    def _read(self, proc: subprocess.Popen[bytes], first: int, count: int) -> list[dict[str, Any]]:
        assert proc.stdout is not None
        answers: list[dict[str, Any]] = []
        for n in range(count):
            line = proc.stdout.readline()
            if not line:
                status = proc.wait()
                raise GatorError(
                    f"gatekeeper-engine exited (status {status}) after {n} of {count} answers: {self._stderr_text()}"
                )
            try:
                answer = json.loads(line)
            except ValueError as exc:
                raise GatorError(f"gatekeeper-engine answered a line that is not JSON: {line[:200]!r}") from exc
            if not isinstance(answer, dict) or answer.get("id") != first + n:
                raise GatorError(f"gatekeeper-engine answered {line[:200]!r}, expected id {first + n}")
            answers.append(answer)
        return answers

    def _broken(self, proc: subprocess.Popen[bytes], writer: threading.Thread | None = None) -> None:
        """Kill a process whose pipes may be out of step (which ends a blocked writer), and forget it; its
        stderr is kept for the error being raised."""
        kill_group(proc)
        if writer is not None:
            writer.join()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._proc = None
        untrack(self)

    def stop(self) -> None:
        """Close stdin so the process ends; kill its group if it does not. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                kill_group(proc)
            except BaseException:
                kill_group(proc)
                raise
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
        untrack(self)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return _tail(self._stderr.read().decode("utf-8", "replace").strip()) or "(no stderr)"


class GatekeeperEngine(EngineBase):
    """The generated ConstraintTemplates, through gatekeeper-engine or through gator (see the module doc)."""

    name = "gatekeeper"

    def __init__(self, mode: Mode | None = None, *, workers: int | None = None) -> None:
        from generator.tools import GATEKEEPER_ENGINE, GATOR, ToolError, require

        chosen = mode or os.environ.get(MODE_ENV) or "engine"
        if chosen not in ("engine", "gator"):
            raise EngineUnavailable(f"unknown gatekeeper mode {chosen!r} (from {MODE_ENV}?): use engine or gator")
        self.mode = cast(Mode, chosen)
        self.workers = max(1, workers or os.cpu_count() or 1)  # gator runs at a time
        self.used: dict[str, int] = {"engine": 0, "gator": 0}  # objects judged per path, for reports
        self._bundle = gatekeeper_bundle()
        self._shipped = cast(dict[str, Any], yaml.safe_load(self._bundle[constraint_path("enforce")]))
        self._children = Children()  # the gators running
        self._reviewer: _Reviewer | None = None
        try:
            tool = GATOR if self.mode == "gator" else GATEKEEPER_ENGINE
            self._binary = require(tool)
        except ToolError as exc:
            raise EngineUnavailable(str(exc)) from exc

    # -- the engine interface --------------------------------------------------------------------

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        results: list[Result | None] = [None] * len(requests)
        items: list[_Item] = []
        for index, (obj, level, version) in enumerate(requests):
            if level == "privileged":
                results[index] = Result(True, (), level, str(version))
            elif level in JUDGED_LEVELS:
                _require_matched_kind(obj)
                items.append(_Item(index, obj, level, version))
            else:
                raise ValueError(f"invalid level {level!r}")
        if items:
            found = self._via_gator(items) if self.mode == "gator" else self._via_engine(items)
            self.used[self.mode] += len(items)
            for item in items:
                results[item.index] = _result(item, found.get(item.index, []))
        return [r for r in results if r is not None]

    def close(self) -> None:
        if self._reviewer is not None:
            self._reviewer.stop()
            self._reviewer = None
        self._children.cancel()

    def _match(self) -> dict[str, Any]:
        """The shipped enforce Constraint's ``match``."""
        return dict(self._shipped["spec"]["match"])

    # -- gatekeeper-engine -----------------------------------------------------------------------

    @property
    def modules(self) -> dict[str, str]:
        """The Go modules (Gatekeeper, the constraint framework, OPA) and versions the engine process runs."""
        return dict(self._reviewer.modules) if self._reviewer is not None else {}

    def _engine(self) -> _Reviewer:
        if self._reviewer is None:
            templates = [yaml.safe_load(self._bundle[TEMPLATE_PATH])]
            self._reviewer = _Reviewer(
                self._binary, {"templates": templates, "constraints": {"enforce": self._shipped}}
            )
        return self._reviewer

    def _via_engine(self, items: Sequence[_Item]) -> dict[int, list[Mapping[str, Any]]]:
        """Each object's violations (the template's ``details``), from the one engine process."""
        reviewer = self._engine()
        found: dict[int, list[Mapping[str, Any]]] = {}
        for start in range(0, len(items), ENGINE_CHUNK):
            chunk = items[start : start + ENGINE_CHUNK]
            answers = reviewer.review([_request_line(item) for item in chunk])
            errors = [(item, a["error"]) for item, a in zip(chunk, answers, strict=True) if "error" in a]
            if errors:
                item, error = errors[0]
                raise GatorError(f"{_describe(item)}: Gatekeeper could not review it: {error}")
            for item, answer in zip(chunk, answers, strict=True):
                version = str(item.version)
                found[item.index] = _violations(answer.get("results") or [], item.level, version)
        return found

    # -- gator -----------------------------------------------------------------------------------

    def _via_gator(self, items: Sequence[_Item]) -> dict[int, list[Mapping[str, Any]]]:
        """Each object's violations (gator's ``metadata.details``), from one gator run per worker."""
        by_group: dict[tuple[str, str], list[_Item]] = {}
        for item in items:
            by_group.setdefault((item.level, str(item.version)), []).append(item)
        # Balance the objects over the workers; a group never spans two runs (one Constraint each).
        bins: list[list[tuple[tuple[str, str], list[_Item]]]] = [[] for _ in range(min(self.workers, len(by_group)))]
        loads = [0] * len(bins)
        for key, members in sorted(by_group.items(), key=lambda kv: -len(kv[1])):
            target = loads.index(min(loads))
            bins[target].append((key, members))
            loads[target] += len(members)
        self._children.reset()
        with ThreadPoolExecutor(max_workers=len(bins)) as pool:
            try:
                answers = list(pool.map(self._gator_run, bins))
            except BaseException:  # Ctrl-C, SIGTERM, one run's failure: the others are not waited for
                self._children.cancel()
                raise
        responses: dict[int, list[Mapping[str, Any]]] = {}
        levels = {item.index: (item.level, str(item.version)) for item in items}
        for answer in answers:
            for index, response in answer:
                responses.setdefault(index, []).append(response)
        return {index: _violations(found, *levels[index]) for index, found in responses.items()}

    def _gator_run(self, groups: Sequence[tuple[tuple[str, str], Sequence[_Item]]]) -> list[tuple[int, Any]]:
        group_of: dict[str, tuple[str, str]] = {}
        constraints: list[dict[str, Any]] = []
        objects: list[dict[str, Any]] = [dict(_NAMESPACE_OBJECT)]  # gator's inventory: where the labels are read
        for number, ((level, version), members) in enumerate(groups):
            group = f"g{number}"
            group_of[f"pssgen-{group}"] = (level, version)
            constraints.append(self._constraint(level, version, f"pssgen-{group}", group))
            objects.extend(_labelled(item, group) for item in members)
        template = f"---\n{self._bundle[TEMPLATE_PATH]}\n"
        answer = self._gator_test(template + _documents(constraints) + _documents(objects))
        expected = {item.index: (level, version) for (level, version), members in groups for item in members}
        return [_gator_violation(entry, group_of, expected) for entry in answer]

    def _constraint(self, level: str, version: str, name: str, group: str) -> dict[str, Any]:
        """The shipped Constraint at ``version``, matching only this group's objects.

        It warns instead of denying so that gator's exit status reports errors only.
        """
        shipped = self._shipped
        match = {**self._match(), "labelSelector": {"matchLabels": {GROUP_LABEL: group}}}
        parameters = {**shipped["spec"]["parameters"], **_parameters(level, version)}
        return {
            "apiVersion": shipped["apiVersion"],
            "kind": shipped["kind"],
            "metadata": {"name": name},
            "spec": {"enforcementAction": "warn", "match": match, "parameters": parameters},
        }

    def _gator_test(self, stream: str) -> list[Mapping[str, Any]]:
        """gator's results for one YAML stream of templates, Constraints and objects, given on its stdin."""
        command = [str(self._binary), "test", "--output", "json"]
        try:
            done = self._children.run(command, stream.encode("utf-8"), GATOR_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GatorError(f"gator test could not run: {exc}") from exc
        proc = subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
        )
        if proc.returncode != 0:
            raise GatorError(f"gator test exited with {proc.returncode}:\n{_tail(proc.stderr or proc.stdout)}")
        text = proc.stdout.strip()
        if text in ("", "null"):
            return []
        try:
            answer = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GatorError(f"gator test printed something other than JSON: {exc}\n{_tail(text)}") from exc
        if not isinstance(answer, list):
            raise GatorError(f"gator test answered {type(answer).__name__}, expected a list of results")
        return answer


def _parameters(level: str, version: str) -> dict[str, Any]:
    """The Constraint parameters judging every object at ``level``:``version``, as PSA enforces on a Pod."""
    privileged = {"audit": "privileged", "audit-version": "latest", "warn": "privileged", "warn-version": "latest"}
    return {
        "mode": "enforce",
        "defaults": {"enforce": level, "enforce-version": version, **privileged},
        "exemptions": {},
        "denyWorkloads": True,
    }


def _request_line(item: _Item) -> bytes:
    """One request for gatekeeper-engine, without its leading ``{"id":N,`` (the reviewer numbers it)."""
    request = {"constraint": "enforce", "parameters": _parameters(item.level, str(item.version)),
               "namespace": _NAMESPACE_OBJECT, "object": item.obj}  # fmt: skip
    try:
        body = json.dumps(request, default=_json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise GatorError(f"{_describe(item)} cannot be sent to Gatekeeper as JSON: {exc}") from exc
    return body[1:].encode() + b"\n"


def _describe(item: _Item) -> str:
    metadata = item.obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"request {item.index} ({item.obj.get('kind')} {name!r}) at {item.level}:{item.version}"


# --- answers to Results --------------------------------------------------------------------------


def _require_matched_kind(obj: Mapping[str, Any]) -> None:
    """Refuse an object the Constraints' ``match.kinds`` would not select: Gatekeeper would let it
    through unjudged, and reporting that as "allowed" would hide it."""
    kind, group = obj.get("kind"), _kind(obj)["group"]
    if not isinstance(kind, str) or API_GROUPS.get(kind) != group:
        matched = ", ".join(f"{g or 'core'}/{k}" for k, g in API_GROUPS.items())
        raise GatorError(
            f"apiVersion {obj.get('apiVersion')!r} kind {kind!r} is not a kind the Constraints match ({matched})"
        )


def _labelled(item: _Item, group: str) -> dict[str, Any]:
    """The object with the labels that route it to its group's Constraint and back to its request, in the namespace
    whose labels the template reads (no check reads an object's own namespace)."""
    metadata = dict(item.obj.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), GROUP_LABEL: group, REQUEST_LABEL: str(item.index)}
    metadata["namespace"] = NAMESPACE
    return {**item.obj, "metadata": metadata}


_SIMPLE_KEY_LIMIT = 1024  # YAML's limit on a simple (implicit) key; JSON's keys are all simple keys to gator's reader


def _has_long_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(len(k) >= _SIMPLE_KEY_LIMIT // 4 or _has_long_key(v) for k, v in value.items())
    return isinstance(value, list) and any(_has_long_key(v) for v in value)


def _document(obj: Mapping[str, Any]) -> str:
    """One object as gator's YAML reader takes it: JSON, or block YAML (``? key``) where a key is too long for JSON.

    gator reads its stdin as YAML, where a key of 1024 characters or more cannot
    be written as JSON writes it; such a key (a label key, say) would lose the
    whole run. (A quarter of the limit is checked, in characters: UTF-8 may
    take four bytes each.)
    """
    if _has_long_key(obj):
        return yaml.dump(obj, Dumper=_DUMPER, default_flow_style=False, allow_unicode=True, width=1 << 30)
    return _YAML_UNSAFE.sub(_escaped, json.dumps(obj, ensure_ascii=False)) + "\n"


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# What a YAML reader refuses or folds in JSON text (DEL, C1 controls, NEL, line and paragraph separators, BOM,
# non-characters): written as JSON escapes, which YAML reads back as the same character. Astral characters stay
# as they are: go-yaml cannot join an escaped surrogate pair.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _escaped(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def _documents(objects: Iterable[Mapping[str, Any]]) -> str:
    """A YAML stream of JSON documents: gator reads it, and JSON needs no YAML quoting care."""
    return "".join(f"---\n{_document(o)}" for o in objects)


def _gator_violation(
    entry: Mapping[str, Any], groups: Mapping[str, tuple[str, str]], expected: Mapping[int, tuple[str, str]]
) -> tuple[int, Mapping[str, Any]]:
    """One gator result as (request index, details), refusing anything that is not one of ours."""
    constraint = (entry.get("constraint") or {}).get("metadata", {}).get("name")
    labels = ((entry.get("violatingObject") or {}).get("metadata") or {}).get("labels") or {}
    if constraint not in groups or REQUEST_LABEL not in labels:
        raise GatorError(f"gator reported a result for something it was not given: {_short(entry)}")
    index = int(labels[REQUEST_LABEL])
    level, version = groups[constraint]
    if expected.get(index) != (level, version):
        raise GatorError(f"constraint {constraint} matched request {index} of another group: {_short(entry)}")
    details = (entry.get("metadata") or {}).get("details")
    return index, {"msg": entry.get("msg"), "details": details}


def _violations(responses: Sequence[Mapping[str, Any]], level: str, version: str) -> list[Mapping[str, Any]]:
    """The failed checks of the template's one response for an object, checked: a Rego error, a second response,
    a verdict at another level or version, or a message that is not PSA's raises."""
    if not responses:
        return []
    if len(responses) > 1:
        raise GatorError(f"{len(responses)} responses for one object at {level}:{version}: {responses}")
    response = responses[0]
    details = response.get("details")
    if not isinstance(details, Mapping) or not isinstance(details.get("violations"), list):
        raise GatorError(f"the template did not judge the object at {level}:{version}: {response.get('msg')}")
    if (details.get("mode"), details.get("level"), details.get("version")) != ("enforce", level, version):
        raise GatorError(f"a verdict for {details.get('mode')} {details.get('level')}:{details.get('version')} "
                         f"at {level}:{version}")  # fmt: skip
    found: list[Mapping[str, Any]] = details["violations"]
    shown = Result(False, tuple(Violation(d["check"], d["reason"], d["detail"]) for d in found), level, version)
    if response.get("msg") != shown.message:
        raise GatorError(f"msg {response.get('msg')!r} is not PSA's {shown.message!r}")
    return found


def _result(item: _Item, found: Sequence[Mapping[str, Any]]) -> Result:
    """A Result with the violations in PSA's order (Gatekeeper returns them as a set)."""
    order = {check.id: n for n, (check, _) in enumerate(active_checks(item.level, item.version.resolved_minor))}
    unknown = [d["check"] for d in found if d["check"] not in order]
    if unknown:
        raise GatorError(f"checks {unknown} are not active at {item.level}:{item.version}")
    violations = tuple(
        Violation(d["check"], d["reason"], d["detail"]) for d in sorted(found, key=lambda d: order[d["check"]])
    )
    if len({v.check for v in violations}) != len(violations):
        raise GatorError(f"a check reported twice at {item.level}:{item.version}: {[v.check for v in violations]}")
    return Result(not violations, violations, item.level, str(item.version))


def _tail(text: str) -> str:
    return text if len(text) <= STDERR_TAIL else "[...]\n" + text[-STDERR_TAIL:]


def _short(entry: Mapping[str, Any]) -> str:
    with contextlib.suppress(TypeError, ValueError):
        return json.dumps({k: entry.get(k) for k in ("msg", "constraint")})[:500]
    return repr(entry)[:500]
