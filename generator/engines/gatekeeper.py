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
import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, cast

import yaml

from generator.engines.base import EngineBase, EngineError, EngineUnavailable, Request, json_default
from generator.engines.children import Children
from generator.engines.lines import LinesProcess
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
STDERR_TAIL = 4000  # of gator's output, in its errors


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
        self._reviewer: LinesProcess | None = None
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
        return dict(self._reviewer.greeting.get("modules") or {}) if self._reviewer is not None else {}

    def _engine(self) -> LinesProcess:
        if self._reviewer is None:
            templates = [yaml.safe_load(self._bundle[TEMPLATE_PATH])]
            setup = {"templates": templates, "constraints": {"enforce": self._shipped}}
            self._reviewer = LinesProcess("gatekeeper-engine", [str(self._binary)], GatorError,
                                          setup=json.dumps(setup, separators=(",", ":")).encode() + b"\n",
                                          ready=True)  # fmt: skip
        return self._reviewer

    def _via_engine(self, items: Sequence[_Item]) -> dict[int, list[Mapping[str, Any]]]:
        """Each object's violations (the template's ``details``), from the one engine process."""
        reviewer = self._engine()
        found: dict[int, list[Mapping[str, Any]]] = {}
        for start in range(0, len(items), ENGINE_CHUNK):
            chunk = items[start : start + ENGINE_CHUNK]
            answers = reviewer.ask([_request_line(item) for item in chunk])
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
        body = json.dumps(request, default=json_default, separators=(",", ":"))
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
