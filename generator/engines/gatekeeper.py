"""The ``gatekeeper`` engine: objects judged by the generated ConstraintTemplates, as Gatekeeper judges them.

Two paths run the same template Rego (the ``rego`` and ``libs`` of
``out/gatekeeper/templates/*.yaml``, taken from the rendered YAML, not from
the Rego sources):

* **gator** (``gator test -o json``): Gatekeeper's own code parses the
  templates, rewrites and compiles their Rego with Gatekeeper's OPA, creates
  the Constraint kinds, validates the parameters against the schema, matches
  Constraints to objects and reviews each object. Each (level, version) pair
  is one Constraint, built from the shipped Constraint (same ``match.kinds``),
  matching only its objects through a label.
* **opa** (a real ``opa run --server``): the template's entry module and libs,
  queried with Gatekeeper's input, ``{"review": {...}, "parameters": {...}}``,
  through a wrapper that does what Gatekeeper's hook module does, for many
  objects per request.

Why two: gator costs about 0.4 ms per object plus, for every Constraint in the
run, one decoding of the object to match it (Gatekeeper's matcher unmarshals the
object per Constraint), so a batch spanning dozens of (level, version) pairs
costs several milliseconds per object. ``auto`` sends a batch through gator
when it spans at most ``GATOR_MAX_GROUPS`` pairs (a manifest check, or the
upstream corpus at each fixture's own level and version) and through OPA
otherwise (every object at every level and version).

The privileged level has no template: a namespace at privileged is one no
Constraint matches, so its objects are allowed without a review.

Nothing is written to disk: gator reads the templates, Constraints and
objects of a run on its stdin, and every gator (and the OPA server) is
started through ``generator.engines.children``, so it dies with pssgen, also
on SIGKILL; an interrupted batch kills the gators still running before the
exception goes on.
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
from typing import TYPE_CHECKING, Any, Literal, cast

import yaml

from generator.engines.base import EngineBase, EngineError, EngineUnavailable, Request
from generator.engines.children import Children
from generator.policy.model import Result, Violation
from generator.policy.pod import API_GROUPS
from generator.policy.registry import active_checks
from generator.policy.versions import Version
from generator.render.gatekeeper import (
    TEMPLATE_LEVELS,
    constraint_path,
    gatekeeper_bundle,
    template_name,
    template_path,
)

if TYPE_CHECKING:
    from generator.engines.opa_server import OpaServer

Mode = Literal["auto", "gator", "opa"]

MODE_ENV = "PSSGEN_GATEKEEPER_MODE"  # auto (default), gator or opa: forces one path, e.g. a full gator run
GROUP_LABEL = "pssgen.dev/gator-group"
REQUEST_LABEL = "pssgen.dev/gator-request"
GATOR_MAX_GROUPS = 32  # (level, version) pairs per batch up to which gator is worth its matching cost
GATOR_TIMEOUT = 600.0
OPA_CHUNK = 2000
BATCH_PACKAGE = "pssgen.gatekeeper_batch"
STDERR_TAIL = 4000


class GatorError(EngineError):
    """gator failed, or answered something that is not a judgement of the objects it was given."""


@dataclass(frozen=True)
class _Item:
    index: int  # position in the caller's requests
    obj: Mapping[str, Any]
    level: str
    version: Version


def _template_code(template_yaml: str) -> tuple[str, tuple[str, ...]]:
    """The Rego entry module and libs of a rendered ConstraintTemplate, as Gatekeeper reads them."""
    template = yaml.safe_load(template_yaml)
    (target,) = template["spec"]["targets"]
    (code,) = [c for c in target["code"] if c["engine"] == "Rego"]
    source = code["source"]
    if source.get("version") != "v1":
        raise GatorError(f"{template['metadata']['name']}: Rego source is not version v1")
    return source["rego"], tuple(source.get("libs") or ())


def _batch_module(levels: Iterable[str]) -> str:
    """Gatekeeper's hook module (frameworks drivers/rego/rego.go), over many inputs in one query."""
    rules = "\n".join(
        f"_violations(item) := [_response(r) |\n"
        f"\tdata.{template_name(level)}.violation[r] with input as _input(item)\n"
        f'] if item.level == "{level}"\n'
        for level in levels
    )
    return (
        f"package {BATCH_PACKAGE}\n\n"
        "# Each item: {level, review, parameters}; the answer: per item, the template's violations as\n"
        "# Gatekeeper's hook returns them ({msg, details}), in the items' order.\n"
        "batch := [_violations(item) | some item in input.items]\n\n"
        f"{rules}\n"
        '_input(item) := {"review": item.review, "parameters": item.parameters}\n\n'
        '_response(r) := {"msg": r.msg, "details": object.get(r, "details", {})}\n'
    )


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
        "operation": operation,
        "userInfo": {"username": "pssgen"},
    }


class GatekeeperEngine(EngineBase):
    """The generated ConstraintTemplates, through gator or through OPA with Gatekeeper's input (see module doc)."""

    name = "gatekeeper"

    def __init__(self, mode: Mode | None = None, *, workers: int | None = None) -> None:
        from generator.tools import GATOR, ToolError, require

        chosen = mode or os.environ.get(MODE_ENV) or "auto"
        if chosen not in ("auto", "gator", "opa"):
            raise EngineUnavailable(f"unknown gatekeeper mode {chosen!r} (from {MODE_ENV}?): use auto, gator or opa")
        self.mode = cast(Mode, chosen)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.used: dict[str, int] = {"gator": 0, "opa": 0}  # objects judged per path, for reports
        try:
            self._gator = require(GATOR) if self.mode != "opa" else None
        except ToolError as exc:
            raise EngineUnavailable(str(exc)) from exc
        self._bundle = gatekeeper_bundle()
        self._constraints = {level: yaml.safe_load(self._bundle[constraint_path(level)]) for level in TEMPLATE_LEVELS}
        self._children = Children()  # the gators running
        self._opa: OpaServer | None = None  # started on first use

    # -- the engine interface --------------------------------------------------------------------

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        results: list[Result | None] = [None] * len(requests)
        items: list[_Item] = []
        for index, (obj, level, version) in enumerate(requests):
            if level == "privileged":
                results[index] = Result(True, (), level, str(version))
            elif level in TEMPLATE_LEVELS:
                _require_matched_kind(obj)
                items.append(_Item(index, obj, level, version))
            else:
                raise ValueError(f"invalid level {level!r}")
        if items:
            groups = {(i.level, str(i.version)) for i in items}
            use_gator = self.mode == "gator" or (self.mode == "auto" and len(groups) <= GATOR_MAX_GROUPS)
            found = self._via_gator(items) if use_gator else self._via_opa(items)
            self.used["gator" if use_gator else "opa"] += len(items)
            for item in items:
                results[item.index] = _result(item, found.get(item.index, []))
        return [r for r in results if r is not None]

    def close(self) -> None:
        if self._opa is not None:
            self._opa.stop()
            self._opa = None
        self._children.cancel()

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
        found: dict[int, list[Mapping[str, Any]]] = {}
        for answer in answers:
            for index, details in answer:
                found.setdefault(index, []).append(details)
        return found

    def _gator_run(self, groups: Sequence[tuple[tuple[str, str], Sequence[_Item]]]) -> list[tuple[int, Any]]:
        group_of: dict[str, tuple[str, str]] = {}
        levels = sorted({level for (level, _), _ in groups})
        constraints: list[dict[str, Any]] = []
        objects: list[dict[str, Any]] = []
        for number, ((level, version), members) in enumerate(groups):
            group = f"g{number}"
            group_of[f"pssgen-{group}"] = (level, version)
            constraints.append(self._constraint(level, version, f"pssgen-{group}", group))
            objects.extend(_labelled(item, group) for item in members)
        templates = "".join(f"---\n{self._bundle[template_path(level)]}\n" for level in levels)
        answer = self._gator_test(templates + _documents(constraints) + _documents(objects))
        expected = {item.index: (level, version) for (level, version), members in groups for item in members}
        return [_gator_violation(entry, group_of, expected) for entry in answer]

    def _constraint(self, level: str, version: str, name: str, group: str) -> dict[str, Any]:
        """The shipped Constraint (its match.kinds), at ``version``, matching only this group's objects.

        Its namespace exclusions are dropped (the engine judges objects, not namespaces), and it
        warns instead of denying so that gator's exit status reports errors only.
        """
        shipped = self._constraints[level]
        match = {k: v for k, v in shipped["spec"]["match"].items() if k != "excludedNamespaces"}
        match["labelSelector"] = {"matchLabels": {GROUP_LABEL: group}}
        return {
            "apiVersion": shipped["apiVersion"],
            "kind": shipped["kind"],
            "metadata": {"name": name},
            "spec": {"enforcementAction": "warn", "match": match, "parameters": {"version": version}},
        }

    def _gator_test(self, stream: str) -> list[Mapping[str, Any]]:
        """gator's results for one YAML stream of templates, Constraints and objects, given on its stdin."""
        assert self._gator is not None
        command = [str(self._gator), "test", "--output", "json"]
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

    # -- OPA with Gatekeeper's input -------------------------------------------------------------

    def _server(self) -> OpaServer:
        if self._opa is None:
            from generator.engines.opa_server import OpaServer
            from generator.tools import ToolError

            modules: dict[str, str] = {}
            libs: tuple[str, ...] | None = None
            for level in TEMPLATE_LEVELS:
                rego, level_libs = _template_code(self._bundle[template_path(level)])
                if libs is not None and level_libs != libs:
                    raise GatorError("the templates embed different libs; they must share one rendering")
                libs = level_libs
                modules[f"gatekeeper/{level}.rego"] = rego
            modules.update({f"gatekeeper/lib/{n}.rego": text for n, text in enumerate(libs or ())})
            modules["gatekeeper/batch.rego"] = _batch_module(TEMPLATE_LEVELS)
            try:
                server = OpaServer()
                server.start()
            except ToolError as exc:
                raise EngineUnavailable(str(exc)) from exc
            try:
                server.load_policies(modules)
            except BaseException:
                server.stop()
                raise
            self._opa = server
        return self._opa

    def _via_opa(self, items: Sequence[_Item]) -> dict[int, list[Mapping[str, Any]]]:
        server = self._server()
        found: dict[int, list[Mapping[str, Any]]] = {}
        for start in range(0, len(items), OPA_CHUNK):
            chunk = items[start : start + OPA_CHUNK]
            batch = [
                {"level": i.level, "review": gatekeeper_review(i.obj), "parameters": {"version": str(i.version)}}
                for i in chunk
            ]
            answers = server.query(BATCH_PACKAGE.replace(".", "/") + "/batch", {"items": batch})
            if not isinstance(answers, list) or len(answers) != len(chunk):
                raise GatorError(f"opa: the batch answered {type(answers).__name__} for {len(chunk)} objects")
            for item, responses in zip(chunk, answers, strict=True):
                found[item.index] = [_details(r, item.level, str(item.version)) for r in responses]
        return found


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
    """The object with the labels that route it to its group's Constraint and back to its request."""
    metadata = dict(item.obj.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), GROUP_LABEL: group, REQUEST_LABEL: str(item.index)}
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
    return index, _details({"msg": entry.get("msg"), "details": details}, level, version)


def _details(response: Mapping[str, Any], level: str, version: str) -> Mapping[str, Any]:
    """A template response's details, checked: a Rego error or a foreign violation raises."""
    details = response.get("details")
    if not isinstance(details, Mapping) or "check" not in details:
        raise GatorError(f"the template did not judge the object at {level}:{version}: {response.get('msg')}")
    if details.get("level") != level or details.get("version") != version:
        raise GatorError(f"a violation for {details.get('level')}:{details.get('version')} at {level}:{version}")
    want = f"{details['reason']} ({details['detail']})" if details["detail"] else details["reason"]
    if response.get("msg") != want:
        raise GatorError(f"msg {response.get('msg')!r} is not PSA's reason (detail) {want!r}")
    return details


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
