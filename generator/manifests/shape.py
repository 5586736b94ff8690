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
``generator.scan``) check the type of every field of the object, as the API
server's case-sensitive JSON decoder (``sigs.k8s.io/json``) would decode what
kubectl sends into the ``k8s.io/api`` types: a type the decoder rejects is an
error, not something an engine should guess about (``privileged: "true"`` must
not be read as "not true", nor as true; labels that are not a map of strings
must not reach an engine that builds a request from them). The types come from
the Go types themselves (``api_types.json``, below), so a field no check reads
(``restartPolicy``, ``resources``, ``creationTimestamp``) is held to its type
too. The decoder drops unknown fields, and field names are case-sensitive, so
``Privileged: true`` is simply an unknown field, left as it is.

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
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any, Final

from generator.errors import PssgenError
from generator.policy.pod import API_GROUPS, EVALUATED_KINDS, TEMPLATE_PATHS

MAX_PROBLEMS: Final = 5  # per object: enough to fix several at once, short enough for one line

# ---------------------------------------------------------------- the API types, from the Go types
#
# ``api_types.json`` is written by ``conformance/apitypes`` (``go run . types``),
# which walks the ``k8s.io/api`` v0.37.2 types of every evaluated kind by
# reflection with encoding/json's field rules; ``tests/test_api_types.py``
# fails when it is stale. Its ``types`` map each struct to its JSON fields, each
# field to a type expression: a Go scalar (``bool``, ``string``, ``int32``, ...),
# a type with its own UnmarshalJSON (``quantity``, ``intorstring``, ``time``,
# ``rawjson``), ``[]E``, ``map[]E`` (string keys), or another struct's name.

API_TYPES: Final = "api_types.json"

_BOOL, _STRING, _INT, _SPECIAL, _STRUCT, _LIST, _MAP = range(7)  # containers last: ``code >= _STRUCT``
_INT_BITS: Final = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_UINT_BITS: Final = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
INT32_RANGE: Final = (-(2**31), 2**31 - 1)


class APITypesError(PssgenError, RuntimeError):
    """The packaged description of the API types is missing or describes something shape.py cannot check."""


class _Type:
    """One API type compiled for the walk: a code, and what it holds."""

    __slots__ = ("check", "code", "elem", "expected", "fields", "high", "low", "name", "strings", "zero")

    def __init__(self, code: int, name: str, expected: str, zero: Any = None) -> None:
        self.code = code
        self.name = name  # the data's type expression
        self.expected = expected  # what a problem says was expected: "an int32"
        self.zero = zero  # Go's zero value as JSON, for a null array element or map value
        self.fields: dict[str, _Type] = {}
        self.elem: _Type | None = None
        self.low = self.high = 0
        self.check: Callable[[Any], bool] = _never
        self.strings: type | None = None  # list for a []string, dict for a map[string]string


def _never(value: Any) -> bool:
    return False


# ---------------------------------------------------------------- the types with their own UnmarshalJSON

# kubectl sends what it read encoded again by Go's encoding/json, which escapes these (HTML-safe by default);
# a Quantity parses the raw text between the quotes, where an escape is never valid.
_GO_ESCAPED = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
# unicode.IsSpace, which strings.TrimSpace trims, less what the encoder escapes.
_GO_SPACE: Final = " \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_DECIMAL_SUFFIXES: Final = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_LETTERS: Final = frozenset("eEinumkKMGTP")
_DIGITS: Final = frozenset("0123456789")
_GO_INT64 = re.compile(r"[+-]?[0-9]+\Z")  # strconv.ParseInt(s, 10, 64), before its range check


def _int32_wrap(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def quantity_text_ok(text: str) -> bool:
    """Whether ``resource.ParseQuantity`` (apimachinery v0.37.2) accepts ``text``: its grammar, step by step.

    Quirks kept on purpose, since the API server has them: a bare sign, ``.``
    and a bare suffix (``k``, ``Ki``) are zero; digits are needed only where the
    value cannot take the int64 fast path (``e-10``, ``Pi`` and ``Ei`` refused).
    """
    if text == "":
        return False
    end = len(text)
    pos = 1 if text[0] in "+-" else 0
    while pos < end and text[pos] == "0":
        pos += 1
    if pos == end:
        return True
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num_len = max(pos - start, 1)  # no digits left after the zeros: the numerator is "0"
    if pos == end:
        return True
    denom_len = 0
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom_len = pos - start
        if pos == end:
            return True
    has_digits = any(c in _DIGITS for c in text[:pos])
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end:
        if text[pos] in "+-":
            pos += 1
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        if pos < end:
            return False
    suffix = text[suffix_start:]
    if suffix in _DECIMAL_SUFFIXES:
        exponent = _DECIMAL_SUFFIXES[suffix]
    elif suffix in _BINARY_SUFFIXES:
        exponent = _BINARY_SUFFIXES[suffix]
        if denom_len == 0 and 15 - num_len - exponent * 3 // 10 - 1 >= 0:
            return True  # the int64 fast path
        return has_digits
    elif len(suffix) > 1 and suffix[0] in "eE" and _GO_INT64.match(suffix[1:]):
        exponent = int(suffix[1:])
        if not -(2**63) <= exponent < 2**63:
            return False
        exponent = _int32_wrap(exponent)
    else:
        return False
    if 18 - num_len - denom_len >= 0 and _int32_wrap(exponent - denom_len) >= -9:
        return True  # the int64 fast path
    return has_digits  # inf.Dec needs a digit


def _quantity_ok(value: Any) -> bool:
    """A Quantity: any JSON number, or a string ParseQuantity accepts once trimmed."""
    cls = value.__class__
    if cls is int:
        return True
    if cls is float:
        return math.isfinite(value)
    if cls is not str or _GO_ESCAPED.search(value) is not None:
        return False
    return quantity_text_ok(value.strip(_GO_SPACE))


def _int_or_string_ok(value: Any) -> bool:
    """An IntOrString: any string, or an integer an int32 holds."""
    cls = value.__class__
    return cls is str or (cls is int and INT32_RANGE[0] <= value <= INT32_RANGE[1])


_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:[.,][0-9]+)?"
                      r"(?:Z|[+-]([0-9]{2}):([0-9]{2}))\Z")  # fmt: skip


def rfc3339_ok(text: str) -> bool:
    """Whether Go's ``time.Parse(time.RFC3339, text)`` accepts ``text``, as metav1.Time decodes it.

    Go's layout parser is looser than RFC 3339: a one-digit hour, a comma
    before the fraction, zone offsets up to 24:60.
    """
    if not text.isascii():
        return False
    m = _RFC3339.match(text)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not (1 <= month <= 12 and hour < 24 and minute < 60 and second < 60):
        return False
    if m.group(7) is not None and (int(m.group(7)) > 24 or int(m.group(8)) > 60):
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = 29 if month == 2 and leap else (28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
    return 1 <= day <= days


def _time_ok(value: Any) -> bool:
    return value.__class__ is str and rfc3339_ok(value)


def _any_ok(value: Any) -> bool:
    return True


# name -> (check, what a problem says was expected, zero value)
_SPECIALS: Final[Mapping[str, tuple[Callable[[Any], bool], str, Any]]] = {
    "quantity": (_quantity_ok, 'a quantity (a number, or a string such as "500m" or "1Gi")', "0"),
    "intorstring": (_int_or_string_ok, "an int32 or a string", 0),
    "time": (_time_ok, 'an RFC 3339 time (a string such as "2024-01-02T15:04:05Z")', None),
    "rawjson": (_any_ok, "any JSON value", None),
}


_REMEMBERED: Final = 4096  # distinct strings per check: quantities and times repeat across a cluster's objects


def _remembered(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``check`` with its verdicts on strings remembered (bounded): "100m" is parsed once per scan, not per pod."""
    seen: dict[str, bool] = {}

    def remembered(value: Any) -> bool:
        if value.__class__ is not str:
            return check(value)
        verdict = seen.get(value)
        if verdict is None:
            if len(seen) >= _REMEMBERED:
                seen.clear()
            verdict = seen[value] = check(value)
        return verdict

    return remembered


def compile_types(data: Mapping[str, Any]) -> dict[str, _Type]:
    """Each kind's root type from the data's ``kinds`` and ``types`` (each named type compiles once)."""
    structs: Mapping[str, Mapping[str, str]] = data["types"]
    memo: dict[str, _Type] = {}

    def build(expr: str) -> _Type:
        if expr in memo:
            return memo[expr]
        if expr in structs:
            node = memo[expr] = _Type(_STRUCT, expr, "an object", {})  # before its fields: types may recurse
            node.fields = {key: build(sub) for key, sub in structs[expr].items()}
            return node
        if expr.startswith("[]"):
            node = _Type(_LIST, expr, "an array", [])
            node.elem = build(expr[2:])
            node.strings = list if node.elem.code == _STRING else None
        elif expr.startswith("map[]"):
            node = _Type(_MAP, expr, "an object", {})
            node.elem = build(expr[5:])
            node.strings = dict if node.elem.code == _STRING else None
        elif expr == "bool":
            node = _Type(_BOOL, expr, "a boolean", False)
        elif expr == "string":
            node = _Type(_STRING, expr, "a string", "")
        elif expr in _INT_BITS or expr in _UINT_BITS:
            node = _Type(_INT, expr, f"an {expr}" if expr[0] in "iu" else f"a {expr}", 0)
            if expr in _INT_BITS:
                bits = _INT_BITS[expr]
                node.low, node.high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
            else:
                node.low, node.high = 0, 2 ** _UINT_BITS[expr] - 1
        elif expr in _SPECIALS:
            check, expected, zero = _SPECIALS[expr]
            node = _Type(_SPECIAL, expr, expected, zero)
            node.check = _remembered(check) if check is not _any_ok else check
        else:
            raise APITypesError(f"{API_TYPES}: type {expr!r} has no rule in generator/manifests/shape.py")
        memo[expr] = node
        return node

    return {kind: build(root) for kind, root in data["kinds"].items()}


def _load_roots() -> dict[str, _Type]:
    try:
        data = json.loads(files(__package__ or "generator.manifests").joinpath(API_TYPES).read_text("utf-8"))
        roots = compile_types(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise APITypesError(f"{API_TYPES} (package data of generator.manifests) is unreadable: {exc}") from exc
    missing = sorted(EVALUATED_KINDS - roots.keys())
    if missing:
        raise APITypesError(f"{API_TYPES} describes no type for {', '.join(missing)}: regenerate it")
    return roots


ROOTS: Final[Mapping[str, _Type]] = _load_roots()  # each evaluated kind's type

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


def _problem(t: _Type, value: Any, path: _Path, out: list[str]) -> None:
    if len(out) >= MAX_PROBLEMS:
        return
    if value.__class__ is int and (t.code == _INT or t.name == "intorstring"):
        out.append(f"{field_path(path)}: expected {t.expected}, got {value} (out of range)")
    else:
        expected = "an integer" if t.code == _INT else t.expected
        out.append(f"{field_path(path)}: expected {expected}, got {describe(value)}")


def _scalar_ok(t: _Type, value: Any) -> bool:
    code = t.code
    if code == _STRING:
        return value.__class__ is str
    if code == _BOOL:
        return value.__class__ is bool
    if code == _INT:
        return value.__class__ is int and t.low <= value <= t.high
    return t.check(value)


def _fresh(zero: Any) -> Any:
    """A zero value of its own: never one ``{}`` shared by every object."""
    return zero.copy() if zero.__class__ is dict or zero.__class__ is list else zero


def _all_strings(value: Any) -> bool:
    """Whether ``value`` is a list of strings, or a dict from strings to strings (a quick yes, else the walk)."""
    if value.__class__ is list:
        for sub in value:  # noqa: SIM110 (a loop, not all() over a generator: this runs on every object)
            if sub.__class__ is not str:
                return False
        return True
    if value.__class__ is dict:
        for key, sub in value.items():  # noqa: SIM110
            if sub.__class__ is not str or key.__class__ is not str:
                return False
        return True
    return False


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
            elif fcode == _SPECIAL:
                if not ft.check(sub):
                    _problem(ft, sub, (path, key), out)
            elif ft.strings is sub.__class__ and _all_strings(sub):  # []string, map[string]string: no call
                continue
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
                new = _fresh(elem.zero)
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
            new = _fresh(elem.zero)
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
    if not isinstance(kind, str) or kind not in ROOTS:
        return obj, []
    root = ROOTS[kind]
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
    """Type problems anywhere in the object, as the API's decoder would find them; empty when fine."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in ROOTS:
        return []
    root = ROOTS[kind]
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
