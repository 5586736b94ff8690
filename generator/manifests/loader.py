"""The strict loader: values as kubectl's go-yaml v2 reads them, and keys repeated only with the same value.

- Values are read as kubectl's go-yaml v2 reads them, not as YAML 1.1 in full:
  ``y``/``n`` are booleans, ``1e3`` is a float, timestamps stay the text they
  are, there are no base-60 numbers, unknown tags are ignored. Then
  ``generator.manifests.shape.as_api_json`` makes them what the API server would receive.
- A mapping key written twice: kubectl's reader keeps the last value. A repeat
  with the same value (as written) is read so, and noted (a warning naming
  the key and line); a repeat with another value is an error, since the
  object would then depend on the reader (a first-wins reading would let
  ``privileged: true`` hide behind a second key). A key a ``<<`` merge
  supplies counts too (go-yaml lets a merge override an earlier key, PyYAML
  the reverse).

PyYAML's constructor reads this way what ``generator.manifests.yaml_events``
hands to nodes; its fast path resolves plain scalars with the same resolvers.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator.manifests.shape import NotJSONError, json_key

if TYPE_CHECKING:  # checked as the pure-Python loader: libyaml's has the same constructor and resolver
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_C_PARSER = _BaseLoader is not yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"


_NUMBER = "tag:pssgen,go-number"  # a plain scalar go-yaml v2 tries as a number: an int, a float or a string
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")  # go-yaml's yamlStyleFloat
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")  # strconv.ParseFloat, for text starting with "."


def _go_uint(text: str) -> int | None:
    """``strconv.ParseUint(text, 0, 64)``: Go's base prefixes (0b, 0o, 0x, a bare leading 0 for octal), no sign."""
    if not text:
        return None
    base = 10
    if text[0] == "0":
        prefix = text[1:2].lower()
        if len(text) >= 3 and prefix in ("b", "o", "x"):
            base, text = {"b": 2, "o": 8, "x": 16}[prefix], text[2:]
        else:
            base, text = 8, text[1:]
    value = 0
    for c in text:
        if c in _DIGITS:
            digit = ord(c) - 48
        elif c in _LETTERS:
            digit = ord(c.lower()) - 87
        else:
            return None
        if digit >= base:
            return None
        value = value * base + digit
    return value if value < 2**64 else None


def _go_digits(text: str, base: int, signed: bool) -> int | None:
    """``strconv.ParseInt(text, base, 64)`` (``signed``; else ``ParseUint``) for an explicit base: no prefix."""
    negative = signed and text[:1] == "-"
    if signed and text[:1] in ("-", "+"):
        text = text[1:]
    if not text or any(c not in _DIGITS and c not in _LETTERS for c in text):
        return None
    digits = [ord(c) - 48 if c in _DIGITS else ord(c.lower()) - 87 for c in text]
    if any(d >= base for d in digits):
        return None
    value = 0
    for d in digits:
        value = value * base + d
    if not signed:
        return value if value < 2**64 else None
    value = -value if negative else value
    return value if -(2**63) <= value < 2**63 else None


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``: an optional sign, then ParseUint's digits, in int64's range."""
    negative = text[:1] == "-"
    magnitude = _go_uint(text[1:] if text[:1] in ("-", "+") else text)
    if magnitude is None:
        return None
    value = -magnitude if negative else magnitude
    return value if -(2**63) <= value < 2**63 else None


def go_number(text: str) -> int | float | None:
    """A plain scalar as go-yaml v2 resolves a number (``resolve``), or None when it stays a string.

    Text starting with a digit or a sign loses its underscores, then is tried as
    an int64, a uint64 and a decimal float in turn (so ``0X1F``, ``0O17``,
    ``0B11``, ``1_000`` are integers, ``08`` and ``09`` the floats 8 and 9);
    text starting with ``.`` is only a float. A float out of range stays text.
    """
    first = text[:1]
    if first == ".":
        if not _DOT_FLOAT.match(text):
            return None
        number = float(text)
        return number if math.isfinite(number) else None
    if first not in _DIGITS and first not in ("-", "+"):
        return None
    plain = text.replace("_", "")
    integer = _go_int(plain)
    if integer is None and plain[:1] != "+" and plain[:1] != "-":
        integer = _go_uint(plain)
    if integer is not None:
        return integer
    if _YAML_FLOAT.match(plain):
        number = float(plain)
        return number if math.isfinite(number) else None
    if plain.startswith("0b"):  # go-yaml's own binary fallback: ParseInt(rest, 2), which takes a sign
        return _go_digits(plain[2:], 2, signed=True)
    if plain.startswith("-0b"):
        return _go_digits("-" + plain[3:], 2, signed=True)
    return None


def _go_yaml_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """PyYAML's implicit resolvers with go-yaml v2's bool, number and float forms, and no timestamps or ``=``.

    Numbers are resolved by ``go_number`` itself: any plain scalar that starts
    with a digit, a sign or ``.`` is a candidate, and one that is no number
    stays the string it is.
    """
    replaced = {_TAG + name for name in ("bool", "int", "float", "timestamp", "value")}
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in replaced]
        for first, entries in _BaseLoader.yaml_implicit_resolvers.items()
    }
    forms = [
        ("bool", r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF", "yYnNtTfFoO"),
        ("float", r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", "-+."),
    ]
    for name, pattern, firsts in forms:
        regexp = re.compile(rf"^(?:{pattern})$")
        for first in firsts:
            resolvers.setdefault(first, []).append((_TAG + name, regexp))
    candidate = re.compile(r"(?s).")
    for first in "-+.0123456789":
        resolvers.setdefault(first, []).append((_NUMBER, candidate))
    return resolvers


_BOOLS = {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False, "off": False}


def repeated_key(key: str) -> str:
    """The words for a key written twice with different values: the object would depend on the reader."""
    return f"duplicate key {key!r} with different values (kubectl keeps the last; the object depends on the reader)"


class _StrictLoader(_BaseLoader):
    """Safe loading as go-yaml v2 reads values; repeated keys are recorded, for the caller to judge."""

    yaml_implicit_resolvers = _go_yaml_resolvers()

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.repeats: list[tuple[str, Any, Any, Any]] = []  # (key, mark, first value, last value) of repeated keys

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping node, but found {node.id}", node.start_mark)
        self.flatten_mapping(node)  # merged pairs first, then the node's own: any repeat is a duplicate
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key.__class__ is not str:  # named as JSON names it: `1:` and `"1":` are the duplicates they become
                try:
                    key = json_key(key)
                except NotJSONError as exc:
                    raise ConstructorError(None, None, exc.problem, key_node.start_mark) from None
            value = self.construct_object(value_node, deep=deep)
            if key in mapping:  # compared once the document is built (containers are filled in later)
                self.repeats.append((key, key_node.start_mark, mapping[key], value))
            mapping[key] = value  # kubectl keeps the last
        return mapping

    def construct_go_bool(self, node: ScalarNode) -> bool:
        value = self.construct_scalar(node)
        try:
            return _BOOLS[value.lower()]
        except KeyError:
            raise ConstructorError(None, None, f"cannot read {value!r} as a boolean", node.start_mark) from None

    def construct_checked_int(self, node: ScalarNode) -> int:
        """``!!int``: go-yaml resolves the text; only an integer will do (``!!int 08``, a float to Go, is an error)."""
        value = go_number(self.construct_scalar(node))
        if not isinstance(value, int):
            raise ConstructorError(None, None, f"cannot read {node.value!r} as an integer", node.start_mark)
        return value

    def construct_checked_float(self, node: ScalarNode) -> float:
        """``!!float``: an integer or a float to go-yaml, or one of its spellings of infinity and NaN."""
        text = self.construct_scalar(node)
        special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}.get(text.lower())
        value = special if special is not None else go_number(text)
        if value is None:
            raise ConstructorError(None, None, f"cannot read {node.value!r} as a number", node.start_mark)
        return float(value)

    def construct_go_number(self, node: ScalarNode) -> Any:
        """A plain scalar go-yaml tries as a number: the number it resolves to, or the string."""
        text = self.construct_scalar(node)
        value = go_number(text)
        return text if value is None else value

    def construct_as_text(self, node: ScalarNode) -> str:
        """A timestamp stays the text it is: go-yaml v2 hands kubectl the string, never a time."""
        return self.construct_scalar(node)

    def construct_untagged(self, node: Node) -> Any:
        """Unknown tags (and !!set, !!omap, !!pairs) are ignored, as go-yaml v2 does: the node's own kind decides."""
        if isinstance(node, MappingNode):
            return self.construct_yaml_map(node)
        if isinstance(node, SequenceNode):
            return self.construct_yaml_seq(node)
        return self.construct_scalar(cast(ScalarNode, node))  # neither of the others


_StrictLoader.add_constructor(_TAG + "bool", _StrictLoader.construct_go_bool)
_StrictLoader.add_constructor(_TAG + "int", _StrictLoader.construct_checked_int)
_StrictLoader.add_constructor(_TAG + "float", _StrictLoader.construct_checked_float)
_StrictLoader.add_constructor(_NUMBER, _StrictLoader.construct_go_number)
_StrictLoader.add_constructor(_TAG + "timestamp", _StrictLoader.construct_as_text)
for _tag in ("set", "omap", "pairs"):
    _StrictLoader.add_constructor(_TAG + _tag, _StrictLoader.construct_untagged)
_StrictLoader.add_constructor(None, _StrictLoader.construct_untagged)
