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

from generator.manifests.shape import ROOTS, NotJSONError, _Type, _walk

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
    warnings: tuple[str, ...] = ()  # what was read as kubectl reads it, but deserves a word (a key written twice)

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


NO_KIND = "object has no kind"  # kubectl: "Object 'Kind' is missing"


def _text(obj: Mapping[str, Any], key: str) -> str:
    """A field as apimachinery's ``NestedString`` reads it: the string, or "" for anything else."""
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _version(api_version: str) -> str:
    """The version part of an ``apiVersion``, as ``schema.ParseGroupVersion`` splits it ("" where it cannot)."""
    slashes = api_version.count("/")
    if slashes == 0:
        return api_version
    return api_version.split("/", 1)[1] if slashes == 1 else ""


def is_list(obj: Mapping[str, Any]) -> bool:
    """Whether a document is a List to kubectl: any object with an ``items`` field, whatever its kind (even null)."""
    return "items" in obj


def _nested_list(obj: Any) -> bool:
    """Whether a List item is itself a List (its ``items`` an array), which kubectl refuses to flatten."""
    return isinstance(obj, dict) and isinstance(obj.get("items"), list)


def item_problem(i: int, item: Any) -> str | None:
    """Why kubectl refuses a whole List for its item ``i``: one that is itself a List.

    (It refuses a List for an item that is not an object too; pssgen reports that item alone, and judges the rest.)
    """
    if _nested_list(item):
        return f"List item {i} is itself a List (its items are an array); kubectl refuses the whole List"
    return None


def _items_problem(items: list[Any]) -> str | None:
    return next((p for i, item in enumerate(items) if (p := item_problem(i, item)) is not None), None)


def list_problem(obj: Mapping[str, Any]) -> str | None:
    """Why kubectl refuses a List document as a whole (before any item is sent), or None."""
    if not _text(obj, "kind"):
        return "the document has items but no kind: kubectl reads it as a List, and refuses a List with no kind"
    items = obj.get("items")
    if items is not None and not isinstance(items, list):
        return "items is not a list"
    return None


def list_item(
    source: str, index: int, i: int, item: Any, line: int | None, list_kind: str, list_api: str
) -> Document | ReadError:
    """One List item as kubectl's unstructured decoder and its object typer leave it.

    An item with neither kind nor apiVersion takes the List's kind without its
    ``List`` suffix and the List's apiVersion (a ``PodList``'s items are Pods);
    an item that then has no kind, or no version, is refused on its own.
    """
    if item is None:
        item = {}  # JSON null decodes into an empty map: a kindless item
    if not isinstance(item, dict):
        return ReadError(source, index, f"{list_kind or 'List'} item {i} is not a Kubernetes object", i)
    if not _text(item, "kind") and not _text(item, "apiVersion"):
        item = {**item, "kind": list_kind.removesuffix("List"), "apiVersion": list_api}
    if not _text(item, "kind"):
        return ReadError(source, index, f"{list_kind or 'List'} item {i} has no kind", i)
    if not _version(_text(item, "apiVersion")):
        return ReadError(source, index, f"{list_kind or 'List'} item {i} has no apiVersion (or no version in it)", i)
    return Document(source, index, i, item, line)


def _meta_type() -> _Type:
    """apiVersion, kind and metadata as kubectl's reader decodes every document (``metadataOnlyObject``)."""
    pod = ROOTS["Pod"]
    meta = _Type(pod.code, "TypeMeta+ObjectMeta", pod.expected, {})
    meta.fields = {name: pod.fields[name] for name in ("apiVersion", "kind", "metadata")}
    return meta


_META = _meta_type()


def meta_problem(obj: Mapping[str, Any]) -> str | None:
    """Why kubectl's reader refuses a document for its apiVersion, kind or metadata (a typed decode), or None.

    (List items are not decoded so; the API server decodes each object fully, and pssgen checks that at scan time.)
    """
    problems: list[str] = []
    _walk(_META, obj, None, problems)
    if not problems:
        return None
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    kind = _text(obj, "kind") or "object"
    subject = f"{kind} {json.dumps(name, ensure_ascii=False)}" if isinstance(name, str) and name else kind
    return f"{subject}: {'; '.join(problems)}"


def _expand(source: str, index: int, value: Any, line: int | None) -> Iterator[Document | ReadError]:
    """A whole document as kubectl reads it: one object, or a List's items (any object with ``items`` is one)."""
    if value is None:  # an empty document, e.g. a trailing `---`
        return
    if not isinstance(value, dict):
        shape = "sequence" if isinstance(value, list) else "scalar"
        yield ReadError(source, index, f"document is a {shape}, not a Kubernetes object")
        return
    if not is_list(value):
        problem = NO_KIND if not _text(value, "kind") else meta_problem(value)
        if problem is not None:
            yield ReadError(source, index, problem)
            return
        yield Document(source, index, None, value, line)
        return
    problem = list_problem(value) or meta_problem(value)
    items = value.get("items") or []
    if problem is None:
        problem = _items_problem(items)
    if problem is not None:
        yield ReadError(source, index, problem)
        return
    kind, api = _text(value, "kind"), _text(value, "apiVersion")
    for i, item in enumerate(items):
        yield list_item(source, index, i, item, line, kind, api)


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
