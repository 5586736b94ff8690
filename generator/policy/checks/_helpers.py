"""PSA's message helpers (policy/helpers.go), so every check words things identically."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from generator.policy.checks._goprint import ENDS, STARTS
from generator.policy.model import spec_get


def join_quote(items: Sequence[str]) -> str:
    """``"a", "b"``; empty for no items."""
    return '"' + '", "'.join(items) + '"' if items else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def containers_phrase(names: Sequence[str]) -> str:
    """``container "a"`` or ``containers "a", "b"``."""
    return f'container "{names[0]}"' if len(names) == 1 else f"containers {join_quote(names)}"


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_printable(code: int) -> bool:
    """Go's strconv.IsPrint, from the tables of the Go release PSA is built with (``_goprint``).

    Not ``unicodedata``: the interpreter's Unicode version (14.0 in Python 3.11,
    15.1 in 3.13) is not Go's, and %q must print exactly what PSA prints.
    """
    index = bisect_right(STARTS, code) - 1
    return index >= 0 and code <= ENDS[index]


def _go_escaped(code: int) -> str:
    """What %q writes for one code point (strconv's appendEscapedRune)."""
    ch = chr(code)
    if ch in ('"', "\\"):
        return "\\" + ch
    if go_printable(code):
        return ch
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class _GoEscapes(dict[int, str]):
    """``str.translate``'s table for %q, filled as code points are met; it stops growing at 65,536 of them."""

    def __missing__(self, code: int) -> str:
        escaped = _go_escaped(code)
        if len(self) < 0x10000:
            self[code] = escaped
        return escaped


_GO_ESCAPES = _GoEscapes()
# Printable ASCII other than the quote and the backslash: what %q copies as it is, the common case.
_PLAIN_ASCII = re.compile(r"[ !#-\[\]-~]*")


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote), used for annotation values in seccomp and AppArmor messages."""
    if _PLAIN_ASCII.fullmatch(text):
        return f'"{text}"'
    return f'"{text.translate(_GO_ESCAPES)}"'


def container_security_context(container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return container.get("securityContext")


def security_field(container: Mapping[str, Any], name: str) -> Any:
    """``container.securityContext.<name>``, None when either is nil."""
    return spec_get(container.get("securityContext"), name)
