"""What reading yields (``Document``, ``ReadError``), the limits every reading keeps, and the words for problems.

The byte stream, the YAML and JSON readers, the file walker and the piece
cutter all speak through these, so a problem reads the same whichever of them
met it. ``MAX_DEPTH`` and ``MAX_ALIAS_EXPANSION`` bound every reading, YAML or
JSON, whole document or List item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from generator.manifests.shape import NotJSONError

MAX_DEPTH = 100  # deeper nesting than any Kubernetes object needs; also bounds recursion
# Nodes that alias expansion may add beyond those written: generous for anchors shared between a
# few containers, far below what a "billion laughs" needs (nine levels of nine aliases add 10^9).
MAX_ALIAS_EXPANSION = 100_000


@dataclass(frozen=True, slots=True)
class Document:
    """One object from the input, with where it came from."""

    source: str
    document: int  # 0-based YAML document index in the source
    item: int | None  # index inside a List, if it came from one
    obj: Mapping[str, Any]
    line: int | None = None  # 1-based line of the document's start, where known

    @property
    def where(self) -> str:
        item = "" if self.item is None else f" item {self.item}"
        return f"{self.source}: document {self.document}{item}"


@dataclass(frozen=True, slots=True)
class ReadError:
    """A document (or a whole source, when ``document`` is None) that could not be read or understood."""

    source: str
    document: int | None
    message: str
    item: int | None = None  # index inside a List, if the error is one item's

    @property
    def where(self) -> str:
        if self.document is None:
            return self.source
        item = "" if self.item is None else f" item {self.item}"
        return f"{self.source}: document {self.document}{item}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's error entry: ``item`` only for List items, like results."""
        entry: dict[str, Any] = {"source": self.source, "document": self.document, "message": self.message}
        if self.item is not None:
            entry["item"] = self.item
        return entry


def _expand(source: str, index: int, value: Any, line: int | None) -> Iterator[Document | ReadError]:
    if value is None:  # an empty document, e.g. a trailing `---`
        return
    if not isinstance(value, dict):
        shape = "sequence" if isinstance(value, list) else "scalar"
        yield ReadError(source, index, f"document is a {shape}, not a Kubernetes object")
        return
    kind = value.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in value:
        items = value.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            yield ReadError(source, index, f"{kind}.items is not a list")
            return
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield Document(source, index, i, item, line)
            else:
                yield ReadError(source, index, f"{kind} item {i} is not a Kubernetes object", i)
        return
    yield Document(source, index, None, value, line)


def _api_message(exc: NotJSONError) -> str:
    message = str(exc)
    if exc.problem.startswith("nests deeper"):
        return f"document nests deeper than {MAX_DEPTH} levels"
    if exc.problem.startswith("holds too many"):  # only shared nodes the graph check missed get here
        return "document holds too many objects and arrays (YAML aliases expand too far?)"
    return message


def _position(data: bytes, offset: int, line_offset: int) -> str:
    """``line L, column C`` (1-based, columns in bytes) of a byte offset in a chunk that starts at ``line_offset``."""
    line = line_offset + data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _at(mark: Any, line_offset: int) -> str:
    return f"line {line_offset + mark.line + 1}, column {mark.column + 1}"


def _yaml_message(exc: yaml.YAMLError, line_offset: int) -> str:
    """One line for a YAML error, with positions in the whole file."""
    if isinstance(exc, yaml.reader.ReaderError):  # bytes are checked before a parser sees them: a last resort
        return f"invalid YAML: {exc.reason} (character U+{exc.character:04X})"
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = " ".join(str(exc.problem or "").split())
        if "maximum nesting depth" in problem:
            return f"document nests deeper than {MAX_DEPTH} levels"
        where = f" at {_at(exc.problem_mark, line_offset)}" if exc.problem_mark is not None else ""
        message = f"invalid YAML{where}: {problem}"
        if exc.context:
            context = " ".join(str(exc.context).split())
            context_at = f" at {_at(exc.context_mark, line_offset)}" if exc.context_mark is not None else ""
            message += f" ({context}{context_at})"
        return message
    return f"invalid YAML: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _json_message(
    source: str, json_error: Exception, yaml_error: yaml.YAMLError | None, line_offset: int
) -> str | None:
    """JSON's words for a chunk neither JSON nor YAML could read, when they are the better ones.

    They are for a ``.json`` file, or when JSON got at least as far as YAML did
    (broken JSON, or bytes YAML refuses: ``yaml_error`` None); YAML's are for
    YAML flow style that merely starts with ``{``.
    """
    if not isinstance(json_error, json.JSONDecodeError):  # a duplicate key or NaN: YAML's words have a position
        return None
    mark = getattr(yaml_error, "problem_mark", None)
    json_first = mark is not None and (json_error.lineno, json_error.colno) < (mark.line + 1, mark.column + 1)
    if json_first and not source.endswith(".json"):
        return None
    problem = re.sub(r"(?: starting)? at$", "", json_error.msg)  # "Unterminated string starting at": position follows
    return f"invalid JSON at line {line_offset + json_error.lineno}, column {json_error.colno}: {problem}"
