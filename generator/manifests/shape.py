"""What the Kubernetes API would accept, checked before any engine sees an object.

Two steps, both run by pssgen on every object it reads:

``as_api_json`` (every document, from ``generator.manifests``) turns what YAML
can say but JSON cannot into what the API server would receive from kubectl,
whose ``sigs.k8s.io/yaml`` converts YAML to JSON with go-yaml v2: integral
floats become integers (Go prints ``float64(80)`` as ``80``), int and bool
mapping keys become strings, ``!!binary`` becomes its decoded text. What the API
cannot receive at all (NaN and infinities, float or null keys, keys that clash
once converted, binary that is not UTF-8) is rejected.

``validate_shape`` / ``conform`` (Pods and pod-template workloads, from
``generator.scan``) check the type of every field on the path from the object's
root to every field a check reads, as the API server's case-sensitive JSON
decoder (``sigs.k8s.io/json``) would into the ``k8s.io/api`` types: a type the
decoder rejects is an error, not something an engine should guess about
(``privileged: "true"`` must not be read as "not true", nor as true). Fields no
check reads are not examined; the decoder drops unknown fields, and field names
are case-sensitive, so ``Privileged: true`` is simply an unknown field.

JSON ``null`` is accepted wherever Go accepts it, which is everywhere: a nil
pointer, slice or map, or the zero value of a non-pointer. ``conform`` returns
the object the way the decoder leaves it, so engines never meet a null on a
checked path: a null field is dropped (nil or zero, the same as absent), a null
array element or map value becomes its type's zero value (``{}`` or ``""``), and
a missing or null pod template becomes ``{}`` (the zero ``PodTemplateSpec``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from generator.errors import PssgenError
from generator.policy.pod import API_GROUPS, TEMPLATE_PATHS, VOLUME_SOURCES

MAX_PROBLEMS: Final = 5  # per object: enough to fix several at once, short enough for one line

# ---------------------------------------------------------------- the type DSL
#
# A type is written as a plain Python value:
#   BOOL, STRING, INT32, INT64   a Go scalar of that type
#   {"field": type, ...}         a Go struct (or pointer to one): the named fields are checked, others ignored
#   [type]                       a Go slice of that type
#   MapOf(type)                  a Go map[string]type
# ``{}`` is "any object": a struct none of whose fields are read (a volume source).


@dataclass(frozen=True, slots=True)
class Scalar:
    """A Go scalar type, with the range of an integer type."""

    name: str
    low: int = 0
    high: int = 0


@dataclass(frozen=True, slots=True)
class MapOf:
    """A Go ``map[string]<value>``."""

    value: Any


BOOL: Final = Scalar("boolean")
STRING: Final = Scalar("string")
INT32: Final = Scalar("int32", -(2**31), 2**31 - 1)
INT64: Final = Scalar("int64", -(2**63), 2**63 - 1)

# ---------------------------------------------------------------- core/v1, the fields the checks read

SECCOMP_PROFILE = {"type": STRING}
APPARMOR_PROFILE = {"type": STRING}
SELINUX_OPTIONS = {"type": STRING, "user": STRING, "role": STRING}
WINDOWS_OPTIONS = {"hostProcess": BOOL}
_SECURITY_CONTEXT_COMMON = {
    "runAsNonRoot": BOOL,
    "runAsUser": INT64,
    "seLinuxOptions": SELINUX_OPTIONS,
    "seccompProfile": SECCOMP_PROFILE,
    "appArmorProfile": APPARMOR_PROFILE,
    "windowsOptions": WINDOWS_OPTIONS,
}
SECURITY_CONTEXT = {
    **_SECURITY_CONTEXT_COMMON,
    "privileged": BOOL,
    "allowPrivilegeEscalation": BOOL,
    "capabilities": {"add": [STRING], "drop": [STRING]},
    "procMount": STRING,
}
POD_SECURITY_CONTEXT = {**_SECURITY_CONTEXT_COMMON, "sysctls": [{"name": STRING}]}
HANDLER = {"httpGet": {"host": STRING}, "tcpSocket": {"host": STRING}}  # ProbeHandler, LifecycleHandler
CONTAINER = {  # Container and EphemeralContainer alike
    "name": STRING,
    "securityContext": SECURITY_CONTEXT,
    "ports": [{"hostPort": INT32, "containerPort": INT32}],
    "livenessProbe": HANDLER,  # Probe inlines ProbeHandler
    "readinessProbe": HANDLER,
    "startupProbe": HANDLER,
    "lifecycle": {"postStart": HANDLER, "preStop": HANDLER},
}
VOLUME = {"name": STRING, **{source: {} for source in VOLUME_SOURCES}}
POD_SPEC = {
    "hostNetwork": BOOL,
    "hostPID": BOOL,
    "hostIPC": BOOL,
    "hostUsers": BOOL,
    "os": {"name": STRING},
    "securityContext": POD_SECURITY_CONTEXT,
    "volumes": [VOLUME],
    "containers": [CONTAINER],
    "initContainers": [CONTAINER],
    "ephemeralContainers": [CONTAINER],
}
OBJECT_META = {"name": STRING, "namespace": STRING}  # what reports print
POD_META = {**OBJECT_META, "annotations": MapOf(STRING)}
POD_TEMPLATE_SPEC = {"metadata": {"annotations": MapOf(STRING)}, "spec": POD_SPEC}


def _wrapped(path: tuple[str, ...], inner: dict[str, Any]) -> dict[str, Any]:
    for key in reversed(path):
        inner = {key: inner}
    return inner


# The root type of every evaluated kind: Pods directly, workloads around their template.
SCHEMAS: Mapping[str, Any] = {
    "Pod": {"metadata": POD_META, "spec": POD_SPEC},
    **{kind: {"metadata": OBJECT_META, **_wrapped(path, POD_TEMPLATE_SPEC)} for kind, path in TEMPLATE_PATHS.items()},
}

# ---------------------------------------------------------------- compiled form

_BOOL, _STRING, _INT, _STRUCT, _LIST, _MAP = range(6)
_ZERO: dict[int, Any] = {_BOOL: False, _STRING: "", _INT: 0}


class _Type:
    """A DSL type compiled for the walk: a code, and what it holds."""

    __slots__ = ("code", "elem", "fields", "high", "low", "name")

    def __init__(self, code: int, name: str) -> None:
        self.code = code
        self.name = name
        self.fields: dict[str, _Type] = {}
        self.elem: _Type | None = None
        self.low = self.high = 0

    def zero(self) -> Any:
        """Go's zero value, for a null array element or map value."""
        if self.code in (_STRUCT, _MAP):
            return {}
        return [] if self.code == _LIST else _ZERO[self.code]


def compile_type(spec: Any) -> _Type:
    """The DSL value ``spec`` as a ``_Type`` tree (shared sub-types compile once)."""
    memo: dict[int, _Type] = {}

    def build(spec: Any) -> _Type:
        if id(spec) in memo:
            return memo[id(spec)]
        if isinstance(spec, Scalar):
            code = {"boolean": _BOOL, "string": _STRING}.get(spec.name, _INT)
            node = _Type(code, spec.name)
            node.low, node.high = spec.low, spec.high
        elif isinstance(spec, dict):
            node = _Type(_STRUCT, "object")
            node.fields = {key: build(sub) for key, sub in spec.items()}
        elif isinstance(spec, list) and len(spec) == 1:
            node = _Type(_LIST, "array")
            node.elem = build(spec[0])
        elif isinstance(spec, MapOf):
            node = _Type(_MAP, "object")
            node.elem = build(spec.value)
        else:
            raise TypeError(f"not a shape type: {spec!r}")
        memo[id(spec)] = node
        return node

    return build(spec)


_ROOTS: dict[str, _Type] = {kind: compile_type(schema) for kind, schema in SCHEMAS.items()}

# ---------------------------------------------------------------- the walk

_Path = tuple[Any, str | int] | None  # (parent, segment): built as the walk descends, rendered only on error


def field_path(path: _Path) -> str:
    """Kubernetes field-path style: ``spec.containers[1].securityContext``, map keys as ``[key]``."""
    parts: list[str] = []
    while path is not None:
        path, segment = path
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif segment.startswith("["):
            parts.append(segment if segment.isprintable() else f"[{printable(segment[1:-1])}]")
        else:
            parts.append("." + segment)
    return "".join(reversed(parts)).lstrip(".")


def printable(text: str) -> str:
    """``text`` as is when it prints on one line, else JSON-quoted: input never breaks a report's lines."""
    return text if text.isprintable() else json.dumps(text)


def describe(value: Any) -> str:
    """A value as the problem names it: ``string "true"``, ``number 80.5``, ``array``."""
    if isinstance(value, str):
        text = json.dumps(value if len(value) <= 40 else value[:37] + "...", ensure_ascii=False)
        return f"string {text}"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


_ARTICLE = {"boolean": "a boolean", "string": "a string", "int32": "an int32", "int64": "an int64",
            "object": "an object", "array": "an array"}  # fmt: skip


def _problem(t: _Type, value: Any, path: _Path, out: list[str]) -> None:
    if len(out) >= MAX_PROBLEMS:
        return
    if t.code == _INT and value.__class__ is int:
        out.append(f"{field_path(path)}: expected {_ARTICLE[t.name]}, got {value} (out of range)")
    else:
        expected = "an integer" if t.code == _INT else _ARTICLE[t.name]
        out.append(f"{field_path(path)}: expected {expected}, got {describe(value)}")


def _scalar_ok(t: _Type, value: Any) -> bool:
    code = t.code
    if code == _STRING:
        return value.__class__ is str
    if code == _BOOL:
        return value.__class__ is bool
    return value.__class__ is int and t.low <= value <= t.high


def _walk(t: _Type, value: Any, path: _Path, out: list[str]) -> Any:
    """Check ``value`` (never None) against ``t``; return it, or a copy with its nulls as the decoder leaves them.

    One interpreter for every DSL type; scalars are tested inline because they
    are most of what it visits.
    """
    code = t.code
    if code == _STRUCT:
        if value.__class__ is not dict:
            _problem(t, value, path, out)
            return value
        fields = t.fields
        copy: dict[str, Any] | None = None
        for key, sub in value.items():
            ft = fields.get(key)
            if ft is None:
                continue
            if sub is None:  # nil pointer or zero value: the same as absent
                if copy is None:
                    copy = dict(value)
                del copy[key]
                continue
            fcode = ft.code
            if fcode == _STRING:
                if sub.__class__ is not str:
                    _problem(ft, sub, (path, key), out)
            elif fcode == _BOOL:
                if sub.__class__ is not bool:
                    _problem(ft, sub, (path, key), out)
            elif fcode == _INT:
                if sub.__class__ is not int or not ft.low <= sub <= ft.high:
                    _problem(ft, sub, (path, key), out)
            else:
                new = _walk(ft, sub, (path, key), out)
                if new is not sub:
                    if copy is None:
                        copy = dict(value)
                    copy[key] = new
        return value if copy is None else copy
    if code == _LIST:
        if value.__class__ is not list:
            _problem(t, value, path, out)
            return value
        elem = t.elem
        assert elem is not None
        items: list[Any] | None = None
        nested = elem.code >= _STRUCT
        for i, sub in enumerate(value):
            if sub is None:
                new = elem.zero()
            elif nested:
                new = _walk(elem, sub, (path, i), out)
                if new is sub:
                    continue
            else:
                if not _scalar_ok(elem, sub):
                    _problem(elem, sub, (path, i), out)
                continue
            if items is None:
                items = list(value)
            items[i] = new
        return value if items is None else items
    # _MAP
    if value.__class__ is not dict:
        _problem(t, value, path, out)
        return value
    elem = t.elem
    assert elem is not None
    entries: dict[Any, Any] | None = None
    nested = elem.code >= _STRUCT
    for key, sub in value.items():
        if key.__class__ is not str:
            if len(out) < MAX_PROBLEMS:
                out.append(f"{field_path(path)}: key {describe(key)} is not a string")  # describe() quotes
            continue
        if sub is None:
            new = elem.zero()
        elif nested:
            new = _walk(elem, sub, (path, f"[{key}]"), out)
            if new is sub:
                continue
        else:
            if not _scalar_ok(elem, sub):
                _problem(elem, sub, (path, f"[{key}]"), out)
            continue
        if entries is None:
            entries = dict(value)
        entries[key] = new
    return value if entries is None else entries


def _with_template(obj: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any]:
    """``obj`` with every missing (or dropped-null) wrapper on ``path`` as ``{}``, Go's zero struct."""
    inner = obj.get(path[0])
    filled = _with_template(inner if isinstance(inner, Mapping) else {}, path[1:]) if len(path) > 1 else inner
    if filled is None:
        filled = {}
    return obj if filled is inner else {**obj, path[0]: filled}


def _api_version_problems(kind: str, obj: Mapping[str, Any]) -> list[str]:
    """The API server routes by group: an object whose apiVersion names no group serving its kind is refused."""
    group = API_GROUPS[kind]
    api_version = obj.get("apiVersion")
    if api_version is None:  # left out of a hand-written manifest: conform() fills in the served one
        return []
    if isinstance(api_version, str) and api_version:
        got = api_version.rpartition("/")[0]
        if got == group:
            return []
    want = f"{group}/v1" if group else "v1"
    return [f"apiVersion: a {kind} is served at {want!r}, got {json.dumps(api_version)}"]


def conform(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[str]]:
    """``(object as the API decoder would leave it, problems)`` for an evaluated kind; others pass unchanged.

    The object is shared, not copied, wherever nothing changes. With problems,
    the object is returned as given and must not be evaluated.
    """
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in _ROOTS:
        return obj, []
    root = _ROOTS[kind]
    problems = _api_version_problems(kind, obj)
    conformed = _walk(root, obj, None, problems)
    if problems:
        return obj, problems
    if obj.get("apiVersion") is None:
        group = API_GROUPS[kind]
        conformed = {**conformed, "apiVersion": f"{group}/v1" if group else "v1"}
    path = TEMPLATE_PATHS.get(kind)
    return (conformed if path is None else _with_template(conformed, path)), []


def validate_shape(obj: Mapping[str, Any]) -> list[str]:
    """Type problems on the fields the checks read, as the API's decoder would report them; empty when fine."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in _ROOTS:
        return []
    root = _ROOTS[kind]
    problems = _api_version_problems(kind, obj)
    _walk(root, obj, None, problems)
    return problems


# ---------------------------------------------------------------- YAML values as the API would receive them


class NotJSONError(PssgenError, ValueError):
    """A value the API server could not receive as JSON, and where it is."""

    def __init__(self, path: list[str | int], problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        where = _segments(self.path)
        return f"{where}: {self.problem}" if where else self.problem


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _segments(path: list[str | int]) -> str:
    parts = []
    for segment in path:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _IDENTIFIER.match(segment):
            parts.append("." + segment)
        else:
            parts.append(f"[{printable(segment)}]")
    return "".join(parts).lstrip(".")


_GO_INTEGRAL_LIMIT = 1e21  # below it Go's encoder prints an integral float64 without a fraction or exponent


def json_key(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml's YAMLToJSON names it: ints and bools become their text.

    Float keys (which Go spells with float32 precision) and null or composite
    keys (which it rejects) are refused.
    """
    if isinstance(key, str):
        return str(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, dict | list | tuple | set | frozenset):
        raise NotJSONError([], "mapping key is not a scalar")
    raise NotJSONError([], f"mapping key {_yaml_text(key)} is not a string, an integer or a boolean")


def _string_keys(mapping: dict[Any, Any]) -> dict[str, Any]:
    """The mapping with its keys as JSON names them; two keys that become one are an error, not last-wins."""
    out: dict[str, Any] = {}
    original: dict[str, Any] = {}
    for key, sub in mapping.items():
        name = json_key(key)
        if name in out:
            raise NotJSONError(
                [], f"mapping keys {_yaml_text(original[name])} and {_yaml_text(key)} both become {json.dumps(name)}"
            )
        out[name] = sub
        original[name] = key
    return out


def _yaml_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return describe(value)


def _scalar(value: Any) -> Any:
    """A non-JSON scalar as the API would receive it (JSON scalars never get here)."""
    if value.__class__ is float:
        if not math.isfinite(value):
            raise NotJSONError([], f"{value!r} is not a number JSON can carry")
        if value.is_integer() and abs(value) < _GO_INTEGRAL_LIMIT:
            return int(value)
        return value
    if isinstance(value, bytes):  # !!binary: go-yaml gives the decoded bytes as a string
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise NotJSONError([], "a !!binary value that is not UTF-8 text") from None
    if isinstance(value, dt.date):  # a timestamp from a loader that resolves them: its ISO text
        return value.isoformat()
    if isinstance(value, str):  # a str subclass
        return str(value)
    if isinstance(value, bool | int):  # an int subclass, bool last so True stays True
        return value if value.__class__ is bool else int(value)
    raise NotJSONError([], f"a YAML {type(value).__name__} has no JSON form")


def _convert(value: Any, depth: int, limit: int, budget: list[int]) -> Any:
    """``value`` (a container) converted; scalars are tested inline, being most of what it visits.

    ``budget`` counts down the containers still allowed: shared containers are
    walked once per reference, so it is what stops an alias bomb that reached here.
    """
    if depth >= limit:
        raise NotJSONError([], f"nests deeper than {limit} levels")
    budget[0] -= 1
    if budget[0] < 0:
        raise NotJSONError([], "holds too many objects and arrays")
    if value.__class__ is not dict and value.__class__ is not list:
        if isinstance(value, Mapping):  # dict subclasses and other mappings: as plain dicts
            value = dict(value)
        elif isinstance(value, list | tuple):
            value = list(value)
        else:
            return _scalar(value)
    if value.__class__ is dict:
        copy: dict[Any, Any] | None = None
        for key, sub in value.items():
            if key.__class__ is not str:
                return _convert(_string_keys(value), depth, limit, budget)
            cls = sub.__class__
            if cls is str or cls is int or cls is bool or sub is None:
                continue
            try:
                new = (
                    _convert(sub, depth + 1, limit, budget)
                    if cls is dict or cls is list
                    else _scalar_or(sub, depth, limit, budget)
                )
            except NotJSONError as exc:
                exc.path.insert(0, key)
                raise
            if new is not sub:
                if copy is None:
                    copy = dict(value)
                copy[key] = new
        return value if copy is None else copy
    items: list[Any] | None = None
    for i, sub in enumerate(value):
        cls = sub.__class__
        if cls is str or cls is int or cls is bool or sub is None:
            continue
        try:
            new = (
                _convert(sub, depth + 1, limit, budget)
                if cls is dict or cls is list
                else _scalar_or(sub, depth, limit, budget)
            )
        except NotJSONError as exc:
            exc.path.insert(0, i)
            raise
        if new is not sub:
            if items is None:
                items = list(value)
            items[i] = new
    return value if items is None else items


def _scalar_or(value: Any, depth: int, limit: int, budget: list[int]) -> Any:
    """A value of another class: a non-JSON scalar, or a container subclass (walked as a plain one)."""
    if isinstance(value, Mapping | list | tuple):
        return _convert(value, depth + 1, limit, budget)
    return _scalar(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """Escaped surrogates as Go's decoder reads them: a valid pair is one character, a lone half is U+FFFD."""
    if _SURROGATE.search(value) is None:
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _without_surrogates(value: Any) -> Any:
    if value.__class__ is str:
        return _text(value)
    if value.__class__ is dict:
        return {_text(key): _without_surrogates(sub) for key, sub in value.items()}
    if value.__class__ is list:
        return [_without_surrogates(sub) for sub in value]
    return value


def as_api_json(value: Any, max_depth: int = 100, *, max_containers: int = 5_000_000, surrogates: bool = False) -> Any:
    """``value`` as the API server would receive it from kubectl, sharing whatever needs no change.

    Raises NotJSONError (naming where) for what it cannot receive, for nesting
    deeper than ``max_depth``, and past ``max_containers`` objects and arrays
    (counting each reference to a shared one). ``surrogates`` says the source had
    ``\\uD800``-style escapes, which Python keeps as lone surrogates (that no
    output can print) and Go decodes as U+FFFD: they are looked for only then.
    """
    cls = value.__class__
    if cls is str or cls is int or cls is bool or value is None:
        return _text(value) if surrogates and cls is str else value
    value = _convert(value, 0, max_depth, [max_containers])
    return _without_surrogates(value) if surrogates else value
