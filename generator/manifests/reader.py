"""Reading manifests: files, directories and stdin; multi-document YAML; ``kind: List`` expansion, streamed.

Hostile input never escapes as an exception: every document (or List item)
that cannot be read or understood becomes one ``ReadError`` naming its source,
document index and item index, and reading carries on with the rest.

- Input is read a block at a time and never held whole (regular files of up to
  ``SMALL_FILE`` bytes are read in one call): documents are cut at ``---``
  lines as they stream past, as Kubernetes' own YAML reader cuts them, so a
  broken document (bad syntax, bytes that are not UTF-8, a NUL byte) costs
  only itself, not the rest of its file.
- YAML is parsed by libyaml's C parser (PyYAML's Python parser where libyaml
  is missing) into events, and values are built straight from the events.
  What that fast path does not handle (anchors, aliases, tags, merge keys,
  complex keys) is handed, for the value that holds it, to PyYAML's nodes and
  constructor, replaying the events already read: the same reading either way.
- **Lists are streamed.** ``kubectl get -A -o yaml`` writes one ``kind: List``
  document with its keys sorted, so ``items`` comes before ``kind``. The rule:
  a top-level mapping whose ``items`` value is a sequence is read as a List
  whatever its kind, each item yielded (with its own line) as soon as it is
  read, so a 100,000-object export is never held whole. If the document's
  ``kind`` then turns out not to be a string ending in ``List``, that is one
  more error for the document (its items were read as a List's, and exit 2
  says so). ``items`` that is not a plain sequence (null, a mapping, an
  anchored or tagged sequence) is read as part of the document, as it always
  was. A streamed List cannot have an anchor, tag, merge or complex key at its
  top level (an error for the document): those need the whole mapping at once.
- A problem inside one item (a duplicate key, an alias bomb, nesting, a value
  JSON cannot carry) costs that item only; reading goes on with the next. A
  problem that breaks the parse itself (bad syntax, bytes that are not UTF-8,
  a NUL or control character) ends the document there: items already read
  stand, and the error names the item it fell in. A document (or item) with
  several problems is reported once, for the first met in reading order.
- Values are read as kubectl's go-yaml v2 reads them, not as YAML 1.1 in full:
  ``y``/``n`` are booleans, ``1e3`` is a float, timestamps stay the text they
  are, there are no base-60 numbers, unknown tags are ignored. Then
  ``generator.manifests.shape.as_api_json`` makes them what the API server would receive.
- Duplicate mapping keys are an error, as in the Kubernetes YAML decoder: a
  last-wins reading would let ``privileged: true`` hide behind a second key.
  A key a ``<<`` merge supplies counts too (go-yaml lets a merge override an
  earlier key, PyYAML the reverse: either reading is a bypass of the other).
- Aliases are measured on the parsed node graph before anything is built from
  it (an anchor may be redefined, as in go-yaml: later aliases mean the new
  node): a recursive alias, or aliases that would expand a document by more than
  ``MAX_ALIAS_EXPANSION`` nodes in all (a "billion laughs", also one spread
  over many List items), are errors. Nesting deeper than ``MAX_DEPTH`` is an
  error, whatever the style (items count from the document's root, as before).
- Only UTF-8 is read (a UTF-8 byte order mark is allowed): the API server takes
  UTF-8 JSON only, so UTF-16/32 files are refused with a clear line, not guessed.
  Bytes are checked as they are read (NUL, UTF-8, YAML's printable set), with
  the position in the file, before any parser sees them.
- JSON documents (a document starting with ``{`` or ``[``) are read whole and
  strictly by ``json`` (no duplicate keys, no NaN); YAML is the fallback for
  flow-style YAML that merely looks like JSON. JSON Lists are not streamed.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import os
import re
import stat
import sys
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from generator.manifests.shape import NotJSONError, as_api_json, json_key

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_C_PARSER = _BaseLoader is not yaml.SafeLoader

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_DEPTH = 100  # deeper nesting than any Kubernetes object needs; also bounds recursion
# Nodes that alias expansion may add beyond those written: generous for anchors shared between a
# few containers, far below what a "billion laughs" needs (nine levels of nine aliases add 10^9).
MAX_ALIAS_EXPANSION = 100_000

_TAG = "tag:yaml.org,2002:"


def _go_yaml_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """PyYAML's implicit resolvers with go-yaml v2's bool, int and float forms, and no timestamps or ``=``."""
    replaced = {_TAG + name for name in ("bool", "int", "float", "timestamp", "value")}
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in replaced]
        for first, entries in _BaseLoader.yaml_implicit_resolvers.items()
    }
    forms = [
        ("bool", r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF", "yYnNtTfFoO"),
        ("float", r"""[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                     |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                     |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                     |[-+]?\.(?:inf|Inf|INF)
                     |\.(?:nan|NaN|NAN)""", "-+0123456789."),
        ("int", r"""[-+]?0b[0-1_]+
                   |[-+]?0o[0-7_]+
                   |[-+]?0[0-7_]+
                   |[-+]?(?:0|[1-9][0-9_]*)
                   |[-+]?0x[0-9a-fA-F_]+""", "-+0123456789"),
    ]  # fmt: skip
    for name, pattern, firsts in forms:
        regexp = re.compile(rf"^(?:{pattern})$", re.VERBOSE)
        for first in firsts:
            resolvers.setdefault(first, []).append((_TAG + name, regexp))
    return resolvers


_BOOLS = {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False, "off": False}


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loading as go-yaml v2 reads values, rejecting duplicate keys."""

    yaml_implicit_resolvers = _go_yaml_resolvers()

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
            if key in mapping:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_go_bool(self, node: ScalarNode) -> bool:
        value = self.construct_scalar(node)
        try:
            return _BOOLS[value.lower()]
        except KeyError:
            raise ConstructorError(None, None, f"cannot read {value!r} as a boolean", node.start_mark) from None

    def construct_checked_int(self, node: ScalarNode) -> int:
        try:
            return SafeConstructor.construct_yaml_int(self, node)  # type: ignore[no-any-return]
        except ValueError:
            raise ConstructorError(None, None, f"cannot read {node.value!r} as an integer", node.start_mark) from None

    def construct_checked_float(self, node: ScalarNode) -> float:
        try:
            return SafeConstructor.construct_yaml_float(self, node)  # type: ignore[no-any-return]
        except ValueError:
            raise ConstructorError(None, None, f"cannot read {node.value!r} as a number", node.start_mark) from None

    def construct_as_text(self, node: ScalarNode) -> str:
        """A timestamp stays the text it is: go-yaml v2 hands kubectl the string, never a time."""
        return self.construct_scalar(node)  # type: ignore[no-any-return]

    def construct_untagged(self, node: Node) -> Any:
        """Unknown tags (and !!set, !!omap, !!pairs) are ignored, as go-yaml v2 does: the node's own kind decides."""
        if isinstance(node, MappingNode):
            return self.construct_yaml_map(node)
        if isinstance(node, SequenceNode):
            return self.construct_yaml_seq(node)
        return self.construct_scalar(node)


_StrictLoader.add_constructor(_TAG + "bool", _StrictLoader.construct_go_bool)
_StrictLoader.add_constructor(_TAG + "int", _StrictLoader.construct_checked_int)
_StrictLoader.add_constructor(_TAG + "float", _StrictLoader.construct_checked_float)
_StrictLoader.add_constructor(_TAG + "timestamp", _StrictLoader.construct_as_text)
for _tag in ("set", "omap", "pairs"):
    _StrictLoader.add_constructor(_TAG + _tag, _StrictLoader.construct_untagged)
_StrictLoader.add_constructor(None, _StrictLoader.construct_untagged)


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


# ---------------------------------------------------------------- one document's content

SMALL_FILE = 4 << 20  # regular files up to this size are read in one call; larger ones, and pipes, a block at a time
BLOCK_SIZE = 1 << 20  # bytes read from a stream at a time
_ITEM_DEPTH = 2  # a List item sits two levels below its document's root (the List, its items)


class _GraphProblem(Exception):
    """Raised out of the measuring walk with the problem's words."""


def _graph_problem(root: Node, base: int = 0) -> tuple[str | None, int]:
    """What is wrong with the node graph aliases make, measured without expanding it, and its expanded size.

    Each distinct container is visited once and remembers its expanded size and
    height, so a billion laughs costs its written size. ``base`` is how deep
    ``root`` sits in its document; the walk stops below ``MAX_DEPTH`` levels,
    which also bounds its recursion. The size is capped past what any limit needs.
    """
    cap = MAX_ALIAS_EXPANSION * 4  # sizes past it mean the same thing; keeps the arithmetic small
    memo: dict[int, tuple[int, int]] = {}  # id(container) -> (expanded size, height)
    open_nodes: set[int] = set()

    def visit(node: Node, depth: int) -> tuple[int, int]:
        cls = node.__class__
        if cls is ScalarNode:
            return 1, 0
        key = id(node)
        known = memo.get(key)
        if known is not None:
            if depth + known[1] > MAX_DEPTH:
                raise _GraphProblem(f"document nests deeper than {MAX_DEPTH} levels")
            return known
        if key in open_nodes:
            raise _GraphProblem("a YAML alias refers to a node that contains it (recursive alias)")
        if depth >= MAX_DEPTH:
            raise _GraphProblem(f"document nests deeper than {MAX_DEPTH} levels")
        open_nodes.add(key)
        size, height = 1, 0
        children = node.value if cls is SequenceNode else [c for pair in node.value for c in pair]
        for child in children:
            child_size, child_height = visit(child, depth + 1)
            size += child_size
            height = max(height, child_height)
        open_nodes.discard(key)
        memo[key] = result = (min(size, cap), height + 1)
        return result

    try:
        size, _ = visit(root, base)
    except _GraphProblem as exc:
        return str(exc), 0
    return None, size


def _expand(source: str, index: int, value: Any, line: int | None) -> Iterator[Document | ReadError]:
    if value is None:  # an empty document, e.g. a trailing `---`
        return
    if not isinstance(value, dict):
        kind = "sequence" if isinstance(value, list) else "scalar"
        yield ReadError(source, index, f"document is a {kind}, not a Kubernetes object")
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


# A `\uD800`-style escape of half a surrogate pair (JSON, and PyYAML's Python scanner, let them through).
_SURROGATE_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F]")


def _api_message(exc: NotJSONError) -> str:
    message = str(exc)
    if exc.problem.startswith("nests deeper"):
        return f"document nests deeper than {MAX_DEPTH} levels"
    if exc.problem.startswith("holds too many"):  # only shared nodes the graph check missed get here
        return "document holds too many objects and arrays (YAML aliases expand too far?)"
    return message


def _api_document(source: str, index: int, value: Any, line: int | None, text: str) -> Iterator[Document | ReadError]:
    """A whole (JSON) document as the API server would receive it, expanded; or why it cannot be."""
    try:
        surrogates = "\\" in text and _SURROGATE_ESCAPE.search(text) is not None
        value = as_api_json(value, MAX_DEPTH, surrogates=surrogates)
    except NotJSONError as exc:
        yield ReadError(source, index, _api_message(exc))
        return
    yield from _expand(source, index, value, line)


# ---------------------------------------------------------------- messages


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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise ValueError(f"duplicate key {key!r}")
        mapping[key] = value
    return mapping


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_value(text: str) -> tuple[Any, Exception | None]:
    """The chunk as strict JSON (no duplicate keys, no NaN): ``(value, None)`` or ``(None, why not)``."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant), None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        return None, exc


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


# ---------------------------------------------------------------- the byte stream, cut into chunks

# A line that is `---`, optionally followed by blanks and a comment: Kubernetes' YAMLReader's separator.
_SEPARATOR = re.compile(rb"^---[ \t]*(?:#[^\r\n]*)?\r?$", re.MULTILINE)
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)  # fmt: skip
# What YAML's reader refuses (libyaml and PyYAML alike), NUL aside: as bytes for ASCII text, as text otherwise.
_ASCII_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BLANK = b" \t\r\n"


def _only_directives(chunk: bytes) -> bool:
    """Whether a leading chunk holds nothing but ``%`` directives (and blanks, comments): they belong to the next."""
    lines = [line.strip() for line in chunk.splitlines()]
    content = [line for line in lines if line and not line.startswith(b"#")]
    return bool(content) and all(line.startswith(b"%") for line in content)


def _incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 sequence that is not complete yet."""
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        need = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4 if byte >> 3 == 0b11110 else 1
        return back if need > back else 0
    return 0


class _Input:
    """A byte stream, read a block at a time, cut into chunks at separator lines (none held whole)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buf = b""
        self._pos = 0  # the next byte of _buf to hand out
        self._from = 0  # where in _buf to look on for a "\n---" that ends the current chunk
        self._safe = 0  # bytes of _buf before here hold no separator line (the chunk's own first line aside)
        self._end: int | None = None  # where the current chunk ends in _buf, once found
        self._eof = False
        self._ignore: int | None = None  # a separator position that does not cut (directives before the first)
        self._base = 0  # the input's offset of _buf[0]

    @property
    def position(self) -> int:
        """The input's offset of the next byte to hand out."""
        return self._base + self._pos

    def start(self) -> str | None:
        """Check how the input begins: a foreign byte order mark is refused, a UTF-8 one dropped."""
        while len(self._buf) < 4 and self._fill():
            pass
        for bom, encoding in _FOREIGN_BOMS:
            if self._buf.startswith(bom):
                return f"{encoding} text (byte order mark); only UTF-8 is read"
        if self._buf.startswith(codecs.BOM_UTF8):
            self._pos = self._from = self._safe = len(codecs.BOM_UTF8)
        while self._buf.find(b"\n", self._pos) < 0 and self._fill():
            pass
        if _SEPARATOR.match(self._buf, self._pos, len(self._buf) if self._eof else self._buf.find(b"\n", self._pos)):
            self._end = self._pos  # the input starts with a separator: its first chunk is empty
            return None
        if self._first_content_line().startswith(b"%"):
            # A first chunk of nothing but `%` directives belongs to the next one: look for its end while it is small.
            while self._end is None and len(self._buf) - self._pos < 65536 and self._fill():
                self._find_end()
            self._find_end()
            if self._end is not None and _only_directives(self._buf[self._pos : self._end]):
                self._ignore, self._end = self._end, None
                self._find_end()
        return None

    def _first_content_line(self) -> bytes:
        """The start of the first line that is not blank or a comment (as far as 64 KiB), to spot directives."""
        at = self._pos
        while len(self._buf) - self._pos < 65536:
            end = self._buf.find(b"\n", at)
            if end < 0:
                if not self._fill():
                    return self._buf[at:].strip()
                continue
            line = self._buf[at:end].strip()
            if line and not line.startswith(b"#"):
                return line
            at = end + 1
        return b""

    def _fill(self) -> bool:
        """Read one more block; False at the end of the input."""
        if self._eof:
            return False
        block = self._read(BLOCK_SIZE)
        if not block:
            self._eof = True
            return False
        if self._pos > len(self._buf) // 2:  # drop what was handed out, keeping positions consistent
            cut = self._pos
            self._buf = self._buf[cut:] + block
            self._base += cut
            self._pos -= cut
            self._from = max(self._from - cut, 0)
            self._safe -= cut
            self._end = None if self._end is None else self._end - cut
            self._ignore = None if self._ignore is None or self._ignore < cut else self._ignore - cut
        else:
            self._buf += block
        return True

    def _find_end(self) -> None:
        """Look, in the complete lines buffered, for the separator line that ends the current chunk."""
        if self._end is not None:
            return
        buf = self._buf
        limit = len(buf) if self._eof else buf.rfind(b"\n") + 1
        at = self._from
        while True:
            found = buf.find(b"\n---", at, limit)
            if found < 0:
                break
            line = found + 1
            if line != self._ignore and _SEPARATOR.match(buf, line, limit):
                self._end = self._safe = line
                return
            at = line
        self._safe = max(self._safe, limit)
        self._from = max(self._from, limit - 1)
        if self._eof:
            self._end = len(buf)

    def take(self, size: int) -> bytes:
        """Up to ``size`` bytes of the current chunk; b"" once it is over."""
        while True:
            self._find_end()
            stop = self._end if self._end is not None else self._safe
            if stop > self._pos:
                data = self._buf[self._pos : min(stop, self._pos + size)]
                self._pos += len(data)
                return data
            if self._end is not None or not self._fill():
                self._find_end()
                if self._end is not None and self._end <= self._pos:
                    return b""

    def lookahead(self, size: int) -> bytes:
        """Up to ``size`` bytes of the current chunk past what was handed out, without handing them out."""
        while True:
            self._find_end()
            stop = len(self._buf) if self._end is None else self._end
            if stop - self._pos >= size or self._end is not None or not self._fill():
                return self._buf[self._pos : min(stop, self._pos + size)]

    def next_chunk(self) -> bool:
        """Move past the current chunk (it must be read to its end); False when the input is over."""
        self._find_end()
        if self._end is None or self._pos < self._end:
            raise RuntimeError("the current chunk is not read to its end")
        self._end = None
        self._from = self._pos  # the chunk starts with its own separator line: look past it
        return self._pos < len(self._buf) or self._fill()


@dataclass(frozen=True, slots=True)
class _BadBytes:
    """Bytes no parser may see, and where: reading stops there."""

    message: str
    chars: int  # characters of the chunk before them (parsers' marks count characters)


class _Chunk:
    """One stretch between separator lines, handed to a parser piece by piece and checked as it goes.

    A NUL byte, bytes that are not UTF-8 and characters YAML refuses stop the
    chunk where they are (a piece holding a NUL is not handed out at all): the
    parser sees an early end, and ``problem`` says why, with the position in
    the file, so a document or item that reached that point is reported, not read.
    """

    def __init__(self, source: str, stream: _Input, line_offset: int, controls: bool = False) -> None:
        self.name = source  # parsers name their stream
        self._stream = stream
        self.line_offset = line_offset
        self.controls = controls  # let control characters through (JSON reads them, and says where it balks)
        self.problem: _BadBytes | None = None
        self._head = b""  # bytes looked at, not handed out yet
        self._lines = 0  # newlines handed out
        self._served = 0  # bytes handed out
        self._chars = 0  # characters handed out
        self._line_start = 0  # chunk offset where the line being handed out starts
        self._dropped = 0  # newlines in bytes bad bytes kept from the parser

    def first_byte(self) -> bytes:
        """The first byte that is not a blank (b"" when there is none), to tell JSON from YAML."""
        while True:
            stripped = self._head.lstrip(_BLANK)
            if stripped:
                return stripped[:1]
            more = self._stream.take(BLOCK_SIZE)
            if not more:
                return b""
            self._head += more

    def read(self, size: int) -> bytes:
        """Up to ``size`` checked bytes (b"" at the end of the chunk, or where bad bytes stop it)."""
        while self.problem is None:
            data = self._head or self._stream.take(size)
            self._head = b""
            if not data:
                return b""
            held = _incomplete_tail(data)
            if held:
                more = self._stream.take(4)  # complete the character, or learn that it never will be
                data += more
                held = _incomplete_tail(data) if more else 0
                if held:
                    self._head, data = data[-held:], data[:-held]
            if data:
                return self._check(data)
        return b""

    def read_all(self) -> bytes:
        pieces = []
        while piece := self.read(BLOCK_SIZE):
            pieces.append(piece)
        return b"".join(pieces)

    def drain(self) -> int:
        """Skip what is left of the chunk; returns its number of lines, for the next one's positions."""
        lines = self._lines + self._dropped + self._head.count(b"\n")
        self._head = b""
        while piece := self._stream.take(BLOCK_SIZE):
            lines += piece.count(b"\n")
        return lines

    def _where(self, data: bytes, offset: int) -> str:
        line = self.line_offset + self._lines + data.count(b"\n", 0, offset) + 1
        newline = data.rfind(b"\n", 0, offset)
        column = offset - newline if newline >= 0 else self._served + offset - self._line_start + 1
        return f"line {line}, column {column}"

    def _check(self, data: bytes) -> bytes:
        """``data`` up to its first problem, handed out; the problem recorded, with its position in the file.

        A NUL byte says "binary data", also when it comes soon (64 KiB) after
        another problem: the clearer word for such a file.
        """
        nul = data.find(b"\x00")
        clean, chars, problem = self._clean(data if nul < 0 else data[:nul])
        if problem is None and nul < 0:
            return self._hand(clean, chars)
        self._dropped += data.count(b"\n", len(clean))  # not handed out, but lines all the same
        if problem is not None:
            data += self._stream.lookahead(65536)
            nul = data.find(b"\x00", len(clean))
        if nul >= 0:
            problem = f"binary data, not text (NUL byte at {self._where(data, nul)})"
        assert problem is not None
        self.problem = _BadBytes(problem, self._chars + chars)
        return self._hand(clean, chars)

    def _clean(self, data: bytes) -> tuple[bytes, int, str | None]:
        """``data`` up to its first problem, its length in characters, and the problem's words (None if none)."""
        if data.isascii():
            control = None if self.controls else _ASCII_CONTROL.search(data)
            if control is None:
                return data, len(data), None
            bad = control.start()
            return data[:bad], bad, self._control(data, bad, data[bad])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data[: exc.start].decode("utf-8")
            control = None if self.controls else _NOT_PRINTABLE.search(text)
            if control is None:
                where = self._where(data, exc.start)
                problem = f"not UTF-8 text (byte 0x{data[exc.start]:02X} at {where}); only UTF-8 is read"
                return data[: exc.start], len(text), problem
        else:
            control = None if self.controls else _NOT_PRINTABLE.search(text)
            if control is None:
                return data, len(text), None
        offset = len(text[: control.start()].encode("utf-8"))
        return data[:offset], control.start(), self._control(data, offset, ord(control.group()))

    def _control(self, data: bytes, offset: int, character: int) -> str:
        return (f"invalid YAML at {self._where(data, offset)}: control characters are not allowed "
                f"(character U+{character:04X})")  # fmt: skip

    def _hand(self, data: bytes, chars: int) -> bytes:
        newlines = data.count(b"\n")
        if newlines:
            self._lines += newlines
            self._line_start = self._served + data.rfind(b"\n") + 1
        self._served += len(data)
        self._chars += chars
        return data


# ---------------------------------------------------------------- events to values


class _Unusual(Exception):
    """The fast path met YAML it leaves to PyYAML's nodes: an anchor, an alias, a tag, a merge or complex key."""


class _PartError(Exception):
    """What is wrong with one value (a document's, or an item's), and how many containers are left open in it."""

    def __init__(self, message: str, open_containers: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.open_containers = open_containers


class _Filtered(Exception):
    """An item of a kind the caller did not ask for: skipped (with its open containers), not an error."""

    def __init__(self, open_containers: int) -> None:
        super().__init__()
        self.open_containers = open_containers


class _Broken(Exception):
    """The bytes of the chunk went bad at or before the end of what was just read."""


_NULL, _BOOL, _INT, _FLOAT = (_TAG + name for name in ("null", "bool", "int", "float"))
_NO_KEY = object()  # a mapping being built is waiting for a key, not a value


def _plain_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """The strict loader's implicit resolvers by first character (``""`` for the empty scalar), wildcards folded in."""
    table = _StrictLoader.yaml_implicit_resolvers
    wildcard = table.get(None, [])
    resolvers = {first: entries + wildcard for first, entries in table.items() if first is not None}
    if wildcard:  # none today; if one is added, every first character must consult it
        resolvers = _AnyFirst(resolvers, wildcard)
    return resolvers


class _AnyFirst(dict):  # type: ignore[type-arg]
    """A resolver table that answers the wildcard resolvers for first characters it does not list."""

    def __init__(self, table: dict[str, Any], wildcard: list[Any]) -> None:
        super().__init__(table)
        self.wildcard = wildcard

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key, self.wildcard)


_PLAIN = _plain_resolvers()
_RESOLVED_FIRST = frozenset(_PLAIN)  # first characters of plain scalars that may resolve to more than a string
# Plain scalars with such a first character, resolved: keys like `name`, `type`, `true` recur in every object.
_PLAIN_CACHE: dict[str, Any] = {}
_PLAIN_CACHE_SIZE = 4096


class _PyEvents(Reader, Scanner, Parser):
    """PyYAML's pure-Python event parser, where libyaml is missing."""

    def __init__(self, stream: Any) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


def _event_parser(stream: _Chunk) -> Any:
    if _C_PARSER:
        return yaml.cyaml.CParser(stream)
    return _PyEvents(stream)


class _YamlReader:
    """One chunk's YAML documents, as Documents and ReadErrors, List items one at a time."""

    def __init__(self, source: str, chunk: _Chunk, index: int, kinds: Collection[str] | None) -> None:
        self.source = source
        self.chunk = chunk
        self.index = index
        self.kinds = kinds  # only objects of these kinds are wanted (others may be skipped unread)
        self.line_offset = chunk.line_offset
        self.parser = _event_parser(chunk)
        self.get: Callable[[], Event] = self.parser.get_event
        self.constructor = _StrictLoader("")  # PyYAML's constructor for what the fast path leaves to nodes
        self.anchors: dict[str, Node] = {}
        self.expansion = 0  # nodes added by aliases in the document so far
        self.item: int | None = None  # the List item being read, for errors that end the document
        self.needs_json = False  # the value being read holds what as_api_json must convert (floats, nodes' values)
        self.pending: str | None = None  # the document's error, reported once its end is read
        self.reported: tuple[int, str] | None = None  # the last item error yielded, not to be repeated
        self.item_count = 0  # items the last List read held
        self.used_nodes = False  # some value was read through nodes (an anchor, alias, tag, merge or complex key)
        self.failed = False  # the parse broke (or bad bytes cut it short): the rest of the chunk was not read
        self.deep = False  # an item nested too deep (its skipping may depend on where the List starts)
        self.aliased = False  # an alias was read (it may refer to an anchor outside what this reader sees)
        self.last: Event | None = None  # the last event of the value just built

    # ------------------------------------------------------------ driving

    def read(self, json_error: Exception | None = None) -> Generator[Document | ReadError, None, int]:
        """Every document of the chunk; returns the index after its last. Parse errors end the chunk."""
        try:
            self.get()  # StreamStartEvent
            while True:
                event = self.get()
                if event.__class__ is StreamEndEvent:
                    break
                self.anchors, self.expansion, self.item, self.pending = {}, 0, None, None
                yield from self._document(event)
                self.index += 1
        except yaml.YAMLError as exc:
            message = self._parse_error(exc, json_error)
        except _PartError as exc:  # nesting too deep at a document's top: skipping it could cost as much again
            message = self.pending or exc.message
        except _Broken:
            assert self.chunk.problem is not None
            message = self.pending or self.chunk.problem.message
        except RecursionError:
            message = f"document nests deeper than {MAX_DEPTH} levels"
        else:
            if self.chunk.problem is None:
                return self.index
            message = self.chunk.problem.message  # bad bytes where no document was being read
        finally:
            self.parser.dispose()
        self.failed = True
        if self.item is None or self.reported != (self.item, message):
            yield ReadError(self.source, self.index, message, self.item)
        return self.index + 1

    def read_items(self, first: int, label: str) -> Generator[Document | ReadError, None, int | None]:
        """A run of a List's items cut out of it (a block sequence at column 0), numbered from ``first``.

        Returns how many items were read, or None when this reading may differ
        from reading the whole List (a parse error, bad bytes, an anchor or an
        alias, an item nested too deep): then the List must be read as a whole.
        """
        try:
            self.get()  # StreamStartEvent
            start, root = self.get(), self.get()
            if start.__class__ is not DocumentStartEvent or root.__class__ is not SequenceStartEvent or \
                    root.anchor is not None or root.tag is not None or root.flow_style:  # fmt: skip
                return None
            self.item = first
            yield from self._items(label, first)
            self.get()  # DocumentEndEvent
            if self.get().__class__ is not StreamEndEvent:
                return None
        except (yaml.YAMLError, _Broken, _PartError, RecursionError):
            return None
        finally:
            self.parser.dispose()
        if self.chunk.problem is not None or self.anchors or self.aliased or self.deep:
            return None
        return self.item_count

    def _parse_error(self, exc: yaml.YAMLError, json_error: Exception | None) -> str:
        """The words for a parse that broke: the document's own error first, then bad bytes that cut it short."""
        if self.pending is not None:
            return self.pending
        problem, mark = self.chunk.problem, getattr(exc, "problem_mark", None)
        if problem is not None and (mark is None or mark.index >= problem.chars):
            if json_error is not None:
                return _json_message(self.source, json_error, None, self.line_offset) or problem.message
            return problem.message
        message = _yaml_message(exc, self.line_offset)
        if json_error is not None and not message.startswith("document nests"):
            message = _json_message(self.source, json_error, exc, self.line_offset) or message
        return message

    def _check_bytes(self) -> None:
        """Bad bytes at or before the end of what was just built mean it was cut short: it must not be used."""
        problem = self.chunk.problem
        if problem is not None and (self.last is None or self.last.end_mark.index >= problem.chars):
            raise _Broken

    def _line(self, event: Event) -> int:
        return self.line_offset + event.start_mark.line + 1

    def _skip(self, open_containers: int) -> None:
        """Read past the rest of a value whose ``open_containers`` are not closed yet (keeping its anchors)."""
        get, depth = self.get, open_containers
        while depth:
            event = get()
            cls = event.__class__
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                if event.anchor is None:
                    depth += 1
                else:
                    self._keep_anchor(event)
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                depth -= 1
            elif cls is ScalarEvent and event.anchor is not None:
                self._keep_anchor(event)
            self.last = event

    def _keep_anchor(self, event: Event) -> None:
        """An anchored value met while skipping: composed all the same, for aliases further on to find it."""
        try:
            self._compose(deque([event]), 0, [])
        except _PartError as exc:  # what is wrong with it is its value's concern (reported, or unwanted)
            self._skip(exc.open_containers)

    # ------------------------------------------------------------ documents

    def _document(self, start: Event) -> Generator[Document | ReadError, None, None]:
        """One document from its DocumentStartEvent on; a List's items are yielded as they are read."""
        assert start.__class__ is DocumentStartEvent
        first = self.get()
        line = self._line(first)
        cls = first.__class__
        if cls is MappingStartEvent and first.anchor is None and first.tag is None:
            value = yield from self._root_mapping(first)
        elif cls is SequenceStartEvent and first.anchor is None and first.tag is None:
            self._sequence_root()  # never an object: read through (bounded), not built
            value = []
        else:
            value = self._part(first, 0)
        self.last = self.get()  # DocumentEndEvent
        self._check_bytes()
        if self.pending is not None:
            yield ReadError(self.source, self.index, self.pending)
        elif value is not _STREAMED:
            for entry in _expand(self.source, self.index, value, line):
                if self.kinds is None or isinstance(entry, ReadError) or entry.obj.get("kind") in self.kinds:
                    yield entry

    def _sequence_root(self) -> None:
        depth = 1
        get = self.get
        while depth:
            cls = get().__class__
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                depth += 1
                if depth > MAX_DEPTH:
                    raise _PartError(f"document nests deeper than {MAX_DEPTH} levels")
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                depth -= 1

    def _part(self, event: Event, base: int) -> Any:
        """A document's whole root value (not a plain mapping) the fast way, or through nodes; errors as ``pending``.

        Returns the value, or None after recording the error in ``pending``
        (nesting errors end the chunk: skipping them could cost as much again).
        """
        self.needs_json = not _C_PARSER
        try:
            value = self._value(event, base)
        except _PartError as exc:
            self.pending = exc.message
            if exc.message.startswith("document nests deeper"):
                raise
            self._skip(exc.open_containers)
            return None
        if self.needs_json:
            try:
                value = as_api_json(value, MAX_DEPTH - base, surrogates=not _C_PARSER)
            except NotJSONError as exc:
                self.pending = _api_message(exc)
        return value

    def _root_mapping(self, start: Event) -> Generator[Document | ReadError, None, Any]:
        """The root mapping, pair by pair, streaming an ``items`` sequence; returns its value or _STREAMED."""
        get = self.get
        record: list[Event] | None = [start]  # root-level events, replayed through nodes for a merge or odd key
        pairs: dict[str, Any] = {}
        self.needs_json = not _C_PARSER
        streamed = False
        while True:
            event = get()
            if event.__class__ is MappingEndEvent:
                break
            if record is not None:
                record.append(event)
            try:
                key = self._key(event, pairs, base=1)
            except _Unusual:
                if record is None:  # items are out, or values were skipped unread (an unwanted kind)
                    if streamed:
                        self.pending = ("a List whose items are read one by one cannot have an anchor, alias, tag, "
                                        "merge or complex key at its top level")  # fmt: skip
                    self._skip_pair_rest(event)
                    self._skip(1)
                    return _STREAMED if streamed else None
                return self._root_through_nodes(record)
            except _PartError as exc:
                self.pending = exc.message
                self._skip_value(get())
                self._skip(1)
                return None
            value_event = get()
            cls = value_event.__class__
            if key == "items" and cls is SequenceStartEvent and value_event.anchor is None and value_event.tag is None:
                streamed = True
                record = None  # no replay once items are out
                yield from self._items(pairs.get("kind"))
                pairs["items"] = _STREAMED
                continue
            if self._skippable(pairs, key):
                self._skip_value(value_event)
                record = None  # what was skipped cannot be replayed
                continue
            try:
                value = self._value(value_event, 1, record)
            except _PartError as exc:
                self.pending = exc.message
                if exc.message.startswith("document nests deeper"):
                    raise
                self._skip(exc.open_containers + 1)
                return None
            pairs[key] = value
        if streamed:
            pairs.pop("items")
            self._finish_list(pairs)
            return _STREAMED
        return self._root_json(pairs)

    def _root_json(self, value: dict[str, Any]) -> Any:
        if self.needs_json:
            try:
                return as_api_json(value, MAX_DEPTH, surrogates=not _C_PARSER)
            except NotJSONError as exc:
                self.pending = _api_message(exc)
                return None
        return value

    def _finish_list(self, rest: dict[str, Any]) -> None:
        """A streamed List's own fields: what JSON cannot carry, and a kind that is not a List, are its errors."""
        self._root_json(rest)
        if self.pending is not None:
            return
        kind = rest.get("kind")
        if not (isinstance(kind, str) and kind.endswith("List")):
            what = f"kind {json.dumps(kind, ensure_ascii=False)}" if "kind" in rest else "no kind"
            self.pending = f"the document has items but {what}, not a List: its items were read as a List's"

    def _skippable(self, pairs: dict[str, Any], key: str) -> bool:
        """Whether a root value need not be read: the caller wants other kinds, and this one is known not a List."""
        if self.kinds is None or key == "kind":
            return False
        kind = pairs.get("kind")
        return isinstance(kind, str) and kind not in self.kinds and not kind.endswith("List")

    def _skip_value(self, event: Event) -> None:
        self.last = event
        cls = event.__class__
        if cls is not AliasEvent and event.anchor is not None:
            self._keep_anchor(event)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            self._skip(1)

    def _skip_pair_rest(self, key_event: Event) -> None:
        """After an odd key's first event: read past the key and its value."""
        self._skip_value(key_event)
        self._skip_value(self.get())

    def _items(self, kind: Any, first: int = 0) -> Generator[Document | ReadError, None, None]:
        """A List's items (numbered from ``first``), each yielded as soon as it is read; a bad one costs itself only."""
        label = kind if isinstance(kind, str) else "List"
        get, index, source = self.get, self.index, self.source
        wanted = self.kinds
        root_needs_json = self.needs_json
        i = first
        while True:
            event = get()
            if event.__class__ is SequenceEndEvent:
                self.item = None
                self.item_count = i - first
                self.needs_json = root_needs_json
                return
            self.item = i
            line = self._line(event)
            self.needs_json = not _C_PARSER
            try:
                value = self._value(event, _ITEM_DEPTH)
            except _PartError as exc:
                self.reported = (i, exc.message)
                self.deep |= exc.message.startswith("document nests deeper")
                yield ReadError(source, index, exc.message, i)
                self._skip(exc.open_containers)
                self._check_bytes()
                i += 1
                continue
            except _Filtered as exc:
                self._skip(exc.open_containers)
                self._check_bytes()
                i += 1
                continue
            self._check_bytes()
            if value.__class__ is not dict:
                yield ReadError(source, index, f"{label} item {i} is not a Kubernetes object", i)
            elif wanted is not None and value.get("kind") not in wanted:
                pass
            else:
                if self.needs_json:
                    try:
                        value = as_api_json(value, MAX_DEPTH - _ITEM_DEPTH, surrogates=not _C_PARSER)
                    except NotJSONError as exc:
                        yield ReadError(source, index, _api_message(exc), i)
                        i += 1
                        continue
                yield Document(source, index, i, value, line)
            i += 1

    # ------------------------------------------------------------ values

    def _value(self, event: Event, base: int, record: list[Event] | None = None) -> Any:
        """The value starting at ``event``: built from events, or through nodes when the fast path cannot."""
        events: list[Event] = []
        try:
            value = self._build(event, base, events)
        except _Unusual:
            value = self._through_nodes(events, base)
        if record is not None:
            record.extend(events)
        return value

    def _key(self, event: Event, mapping: dict[str, Any], base: int) -> str:
        """A root-level key, as the strict constructor names it; raises _Unusual for what only nodes can read."""
        if event.__class__ is not ScalarEvent or event.anchor is not None or event.tag is not None:
            raise _Unusual
        key = self._scalar(event, 0) if event.implicit[0] else event.value
        return self._named(key, event, mapping, 0)

    def _named(self, key: Any, event: Event, mapping: dict[str, Any], open_containers: int) -> str:
        if key.__class__ is not str:  # named as JSON names it: `1:` and `"1":` are the duplicates they become
            try:
                key = json_key(key)
            except NotJSONError as exc:
                raise _PartError(f"invalid YAML at {_at(event.start_mark, self.line_offset)}: {exc.problem}",
                                 open_containers) from None  # fmt: skip
        if key in mapping:
            raise _PartError(f"invalid YAML at {_at(event.start_mark, self.line_offset)}: duplicate key {key!r}",
                             open_containers)  # fmt: skip
        return key  # type: ignore[no-any-return]

    def _scalar(self, event: Any, open_containers: int) -> Any:
        """A plain scalar as the strict loader resolves and constructs it (cached when it is always the same)."""
        value = event.value
        tag = next((tag for tag, pattern in _PLAIN.get(value[:1]) or () if pattern.match(value)), None)
        if tag is None:
            resolved = value
        elif tag == _NULL:
            resolved = None
        elif tag == _BOOL:
            resolved = _BOOLS[value.lower()]
        elif tag == _INT and value.isdigit() and (value[0] != "0" or len(value) == 1):
            resolved = int(value)
        elif tag in (_INT, _FLOAT):  # other spellings (0x1F, 1_000, 010), and floats: PyYAML's own way
            node = ScalarNode(tag, value, event.start_mark, event.end_mark)
            try:
                if tag == _INT:
                    return self.constructor.construct_checked_int(node)
                self.needs_json = True
                return self.constructor.construct_checked_float(node)
            except ConstructorError as exc:
                raise _PartError(_yaml_message(exc, self.line_offset), open_containers) from None
        else:
            raise _Unusual  # a merge key, or a resolver the fast path does not know
        if len(_PLAIN_CACHE) >= _PLAIN_CACHE_SIZE:
            _PLAIN_CACHE.clear()
        _PLAIN_CACHE[value] = resolved
        return resolved

    def _build(self, event: Any, base: int, events: list[Event]) -> Any:
        """A value straight from events, as the strict loader would construct it (the fast path).

        Raises _Unusual (with the events read so far in ``events``) for what it
        leaves to nodes, _PartError for what is wrong, _Filtered for an item of
        an unwanted kind.
        """
        get, append = self.get, events.append
        stack: list[Any] = []  # the containers being built
        keys: list[Any] = []  # per container: its pending key, _NO_KEY, or None for a sequence
        limit = MAX_DEPTH - base
        kinds = self.kinds if base == _ITEM_DEPTH else None
        resolved, plain = _RESOLVED_FIRST, _PLAIN_CACHE
        while True:
            append(event)
            cls = event.__class__
            if cls is ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    raise _Unusual
                value = event.value
                if event.implicit[0] and value[:1] in resolved:
                    known = plain.get(value, _NO_KEY)
                    value = self._scalar(event, len(stack)) if known is _NO_KEY else known
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if event.anchor is not None or event.tag is not None or (keys and keys[-1] is _NO_KEY):
                    raise _Unusual  # anchored, tagged, or a complex key
                if len(stack) >= limit:
                    raise _PartError(f"document nests deeper than {MAX_DEPTH} levels", len(stack) + 1)
                if cls is MappingStartEvent:
                    stack.append({})
                    keys.append(_NO_KEY)
                else:
                    stack.append([])
                    keys.append(None)
                event = get()
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                value = stack.pop()
                keys.pop()
            else:
                raise _Unusual  # an alias
            if not stack:
                self.last = event
                return value
            key = keys[-1]
            if key is None:
                stack[-1].append(value)
            elif key is _NO_KEY:
                keys[-1] = self._named(value, event, stack[-1], len(stack)) if value.__class__ is not str or \
                    value in stack[-1] else value  # fmt: skip
            else:
                stack[-1][key] = value
                keys[-1] = _NO_KEY
                if kinds is not None and key == "kind" and len(stack) == 1 and value not in kinds:
                    raise _Filtered(1)
            event = get()

    def _through_nodes(self, events: list[Event], base: int) -> Any:
        """The value whose first ``events`` were read: composed into nodes, measured, then constructed."""
        self.used_nodes = True
        node, composed = self._compose(deque(events), base, events)
        self.last = events[-1]
        problem, size = _graph_problem(node, base)
        if problem is None:
            self.expansion += max(size - composed, 0)
            if self.expansion > MAX_ALIAS_EXPANSION:
                problem = f"YAML aliases expand too far (limit {MAX_ALIAS_EXPANSION} nodes added by aliases)"
        if problem is not None:
            raise _PartError(problem)
        constructor = self.constructor
        try:
            value = constructor.construct_document(node)
        except yaml.YAMLError as exc:
            _reset(constructor)
            raise _PartError(_yaml_message(exc, self.line_offset)) from None
        except RecursionError:
            _reset(constructor)
            raise _PartError(f"document nests deeper than {MAX_DEPTH} levels") from None
        self.needs_json = True
        return value

    def _compose(self, replay: deque[Event], base: int, events: list[Event]) -> tuple[Node, int]:
        """PyYAML's composer, iterative and bounded: events already read first, then the parser's.

        Returns the node and how many nodes were composed (aliases add none).
        If composing fails, anchors on the containers it left open are dropped:
        an alias further on must not find half a node.
        """
        stack: list[Node] = []
        try:
            return self._composing(replay, base, events, stack)
        except _PartError:
            for node in stack:
                for name in [name for name, known in self.anchors.items() if known is node]:
                    del self.anchors[name]
            raise

    def _composing(self, replay: deque[Event], base: int, events: list[Event], stack: list[Node]) -> tuple[Node, int]:
        get = self.get
        resolve = self.constructor.resolve
        anchors = self.anchors
        composed = 0
        limit = MAX_DEPTH - base
        while True:
            if replay:
                event = replay.popleft()
            else:
                event = get()
                events.append(event)
            cls = event.__class__
            if cls is AliasEvent:
                self.aliased = True
                node = anchors.get(event.anchor)
                if node is None:
                    error = ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
                    raise _PartError(_yaml_message(error, self.line_offset), len(stack))
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                node = stack.pop()
                node.end_mark = event.end_mark
                if cls is MappingEndEvent:
                    flat = node.value
                    node.value = list(zip(flat[::2], flat[1::2], strict=True))
            else:
                anchor = event.anchor  # redefining one is allowed, as in go-yaml: aliases after it mean the new node
                tag = event.tag
                composed += 1
                if cls is ScalarEvent:
                    if tag is None or tag == "!":
                        tag = resolve(ScalarNode, event.value, event.implicit)
                    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                    if anchor is not None:
                        anchors[anchor] = node
                else:
                    if len(stack) >= limit:
                        raise _PartError(f"document nests deeper than {MAX_DEPTH} levels", len(stack) + 1)
                    node_class = MappingNode if cls is MappingStartEvent else SequenceNode
                    if tag is None or tag == "!":
                        tag = resolve(node_class, None, event.implicit)
                    node = node_class(tag, [], event.start_mark, None, flow_style=event.flow_style)
                    if anchor is not None:
                        anchors[anchor] = node
                    stack.append(node)
                    continue
            if not stack:
                return node, composed
            stack[-1].value.append(node)

    def _root_through_nodes(self, record: list[Event]) -> Any:
        """The whole root mapping through nodes (a merge or odd key at its top level): replayed, then read on."""
        self.anchors, self.expansion = {}, 0
        events = list(record)
        try:
            value = self._through_nodes(events, 0)
        except _PartError as exc:
            self.pending = exc.message
            if exc.message.startswith("document nests deeper"):
                raise
            self._skip(exc.open_containers)
            return None
        return self._root_json(value)


_STREAMED = object()  # a root whose items were yielded as they were read


def _reset(loader: Any) -> None:
    """Forget a failed construction's half-built state so the next one starts clean."""
    loader.constructed_objects = {}
    loader.recursive_objects = {}
    loader.state_generators = []
    loader.deep_construct = False


# ---------------------------------------------------------------- chunks and streams


def _read_json(source: str, chunk: _Chunk, index: int) -> Generator[Document | ReadError, None, int]:
    """A chunk that starts like JSON: read whole, as JSON exactly; YAML (its superset) is the lenient fallback."""
    chunk.controls = True
    data = chunk.read_all()
    if chunk.problem is not None:
        yield ReadError(source, index, chunk.problem.message)
        return index + 1
    text = data.decode("utf-8")
    value, json_error = _json_value(text)
    if json_error is None:
        line = chunk.line_offset + text[: len(text) - len(text.lstrip())].count("\n") + 1
        yield from _api_document(source, index, value, line, text)
        return index + 1
    replay = _Input(io.BytesIO(data).read)
    replay.start()
    reader = _YamlReader(source, _Chunk(source, replay, chunk.line_offset), index, None)
    return (yield from reader.read(json_error))


def _read_chunk(source: str, chunk: _Chunk, index: int, kinds: Collection[str] | None,
                ) -> Generator[Document | ReadError, None, int]:  # fmt: skip
    """Every document of one chunk; returns the index after its last."""
    if not chunk.first_byte():
        return index
    try:
        if chunk.first_byte() in (b"{", b"["):
            return (yield from _read_json(source, chunk, index))
        return (yield from _YamlReader(source, chunk, index, kinds).read())
    except OSError:
        raise
    except Exception as exc:  # a last resort: one line, never a traceback, and the next chunk still read
        yield ReadError(source, index, f"cannot read document: {type(exc).__name__}: {_one_line(exc)}")
        return index + 1


def _read_stream(
    source: str, read: Callable[[int], bytes], kinds: Collection[str] | None = None, *,
    index: int = 0, line_offset: int = 0, chunks: int | None = None,
) -> Generator[Document | ReadError, None, int]:  # fmt: skip
    """Every document of a byte stream (or its first ``chunks`` that hold something), a block at a time.

    A broken document costs only itself. Returns the index after the last document.
    """
    stream = _Input(read)
    refused = stream.start()
    if refused is not None:
        yield ReadError(source, None, refused)
        return index
    while True:
        chunk = _Chunk(source, stream, line_offset)
        if chunks is not None and chunk.first_byte():
            chunks -= 1
        index = yield from _read_chunk(source, chunk, index, kinds)
        line_offset += chunk.drain()
        if chunks == 0 or not stream.next_chunk():
            return index


def read_text(source: str, data: bytes, kinds: Collection[str] | None = None) -> Iterator[Document | ReadError]:
    """Parse every document in ``data``; a broken document costs only itself."""
    return _read_stream(source, io.BytesIO(data).read, kinds)


# ---------------------------------------------------------------- files and directories


def _os_message(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    return f"cannot read: {exc.strerror or exc}"


def _walk(root: str) -> Iterator[str | ReadError]:
    """Manifest files below ``root`` (sorted, depth first), or errors for what cannot be listed.

    Iterative, so absurdly deep trees cannot exhaust the stack; directory symlinks are
    followed once, a loop is cut where it closes.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            st = os.stat(directory)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(directory) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            yield ReadError(directory, None, f"cannot read directory: {exc.strerror or exc}")
            continue
        subdirectories = []
        for entry in listed:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False  # unreadable or a symlink loop: reading it as a file reports why
            if is_dir:
                subdirectories.append(entry.path)
            elif entry.name.endswith(MANIFEST_SUFFIXES):
                yield entry.path
        stack.extend(reversed(subdirectories))


def _small_file(path: str, walked: bool) -> ReadError | tuple[bool, bytes | None]:
    """(whether ``path`` is a regular file, its bytes when it is one of at most SMALL_FILE), or why it is not read.

    Found by walking, a path must be a regular file: a FIFO met while walking would block the run forever.
    """
    try:
        st = os.stat(path)
        regular = stat.S_ISREG(st.st_mode)
        if walked and not regular:
            return ReadError(path, None, "not a regular file; skipped")
        return regular, Path(path).read_bytes() if regular and st.st_size <= SMALL_FILE else None
    except OSError as exc:
        return ReadError(path, None, _os_message(exc))


def _read_file(path: str, walked: bool, kinds: Collection[str] | None) -> Iterator[Document | ReadError]:
    """One file: small regular files in one call, the rest a block at a time; found by walking, it must be regular.

    (A FIFO met while walking would block the run forever; named explicitly, a pipe such as <(helm template) is fine.)
    """
    found = _small_file(path, walked)
    if isinstance(found, ReadError):
        yield found
        return
    _, data = found
    if data is not None:
        yield from read_text(path, data, kinds)
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, after streaming)
    except OSError as exc:
        yield ReadError(path, None, _os_message(exc))
        return
    with handle:
        try:
            yield from _read_stream(path, handle.read, kinds)
        except OSError as exc:
            yield ReadError(path, None, _os_message(exc))


def read_paths(
    paths: list[str], kinds: Collection[str] | None = None, stdin: IO[bytes] | None = None
) -> Iterator[Document | ReadError]:
    """Every document of every path, in order; ``-`` is stdin (or ``stdin``). Never raises for what it reads.

    With ``kinds``, only objects of those kinds are wanted: List items and
    document fields of other kinds may be skipped unread (errors are still
    yielded, for what was read).
    """
    for raw in paths:
        if raw == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            try:
                yield from _read_stream("<stdin>", stream.read, kinds)
            except (OSError, ValueError) as exc:
                yield ReadError("<stdin>", None, f"cannot read: {exc}")
            continue
        try:
            is_dir = stat.S_ISDIR(os.stat(raw).st_mode)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            yield ReadError(raw, None, _os_message(exc) if isinstance(exc, OSError) else f"invalid path: {exc}")
            continue
        if not is_dir:
            yield from _read_file(raw, walked=False, kinds=kinds)
            continue
        for found in _walk(raw):
            if isinstance(found, ReadError):
                yield found
            else:
                yield from _read_file(found, walked=True, kinds=kinds)


# ---------------------------------------------------------------- pieces, for reading in parallel

PIECE_SIZE = 1 << 20  # about this many bytes in a piece a worker reads
LOCAL_LIMIT = 8 << 20  # a chunk that cannot be cut is read by the caller, streaming, past this size
_HEAD_LIMIT = 64 << 10  # how far into a chunk a List's `items:` line is looked for
# `items:` at column 0, then blank or comment lines, then its first item at column 0: kubectl's layout of a List.
_LIST_ITEMS = re.compile(rb"^items:[ \t]*(?:#[^\r\n]*)?\r?\n(?:[ \t]*(?:#[^\r\n]*)?\r?\n)*-(?:[ \r\n]|$)", re.M)
# A line no item of such a List can hold: at column 0, not `- `, not blank, not a comment. Searched for after a
# newline (a literal start is what makes `re` fast here); the first line of a block is looked at on its own.
_REGION_END = re.compile(rb"\n(?:[^- \r\n#]|-[^ \r\n]|\r(?!\n))")


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of one source that a worker reads on its own; document indices in what it yields count from 0.

    ``kind`` is "documents" (whole chunks), "items" (a run of a block List's
    items, ``items`` of them as the cutter counted, from ``first_item``) or
    "rest" (a cut List's own fields: ``data`` before its items, ``items: []``
    and ``blank_lines`` standing for them, then ``trailer``).
    """

    kind: str
    source: str
    data: bytes
    line_offset: int
    list_id: int = 0
    first_item: int = 0
    items: int = 0
    label: str = "List"
    blank_lines: int = 0
    trailer: bytes = b""
    reread: bool = False  # rest: the List cannot be finished from pieces (its trailer is too big)
    starts_source: bool = False  # the first of a source's reading: its documents are numbered from 0 again


@dataclass(frozen=True, slots=True)
class LocalRead:
    """What the caller reads itself, in order: a source that cannot be cut (stdin, a pipe) or one big chunk.

    ``entries(index, kinds)`` yields its documents, numbered from ``index``,
    and returns the index after them.
    """

    source: str
    entries: Callable[[int, Collection[str] | None], Generator[Document | ReadError, None, int]]
    starts_source: bool = False


def _collect(gen: Generator[Any, None, Any]) -> tuple[list[Any], Any]:
    entries: list[Any] = []
    while True:
        try:
            entries.append(next(gen))
        except StopIteration as stop:
            return entries, stop.value


class _Parts:
    """A read function over byte strings and runs of blank lines, without joining them."""

    def __init__(self, *parts: bytes | int) -> None:
        self._parts = deque(parts)

    def read(self, _size: int) -> bytes:
        while self._parts:
            part = self._parts.popleft()
            if isinstance(part, int):
                if part > BLOCK_SIZE:
                    self._parts.appendleft(part - BLOCK_SIZE)
                    part = BLOCK_SIZE
                return b"\n" * part
            if part:
                return part
        return b""


def read_piece(piece: Piece, kinds: Collection[str] | None) -> tuple[list[Document | ReadError], int, bool]:
    """A worker's reading of a piece: its entries, how many documents they span, and whether they stand.

    When they do not stand (a cut List whose pieces read differently than the
    whole would, or could), the caller reads that List itself.
    """
    if piece.kind == "documents":
        entries, documents = _collect(_read_stream(piece.source, io.BytesIO(piece.data).read, kinds,
                                                   line_offset=piece.line_offset))  # fmt: skip
        return entries, documents, True
    if piece.kind == "items":
        stream = _Input(io.BytesIO(piece.data).read)
        stream.start()
        reader = _YamlReader(piece.source, _Chunk(piece.source, stream, piece.line_offset), 0, kinds)
        entries, count = _collect(reader.read_items(piece.first_item, piece.label))
        return entries, 0, count == piece.items
    if piece.reread:
        return [], 0, False
    stream = _Input(_Parts(piece.data, b"items: []\n", piece.blank_lines, piece.trailer).read)
    stream.start()
    entries, index, line_offset = [], 0, piece.line_offset
    while True:
        chunk = _Chunk(piece.source, stream, line_offset)
        reader = _YamlReader(piece.source, chunk, index, kinds)
        if chunk.first_byte():
            found, index = _collect(reader.read())
            entries.extend(found)
            if reader.failed:  # the parse broke where the whole List's reading may have broken otherwise
                return [], 0, False
        line_offset += chunk.drain()
        if not stream.next_chunk():
            return entries, index, True


def _list_label(source: str, head: bytes, line_offset: int) -> str | None:
    """The label for a List whose fields before ``items:`` are ``head``, or None if it must not be cut.

    Only a plain mapping (no anchor, alias, tag or merge: nothing that needs
    the rest of the document) is cut, and only if it reads without error.
    """
    stream = _Input(io.BytesIO(head).read)
    stream.start()
    documents: list[Document] = []
    while True:
        chunk = _Chunk(source, stream, line_offset)
        reader = _YamlReader(source, chunk, 0, None)
        if chunk.first_byte():
            entries, _ = _collect(reader.read())
            if reader.failed or reader.anchors or reader.aliased or reader.used_nodes:
                return None
            if any(isinstance(e, ReadError) or e.item is not None for e in entries):
                return None
            documents.extend(entries)
        line_offset += chunk.drain()
        if not stream.next_chunk():
            break
    if len(documents) > 1:
        return None
    kind = documents[0].obj.get("kind") if documents else None
    return kind if isinstance(kind, str) else "List"


class Pieces:
    """Sources cut, in order, into pieces workers read on their own, and what the caller must read itself.

    Whole chunks are gathered into pieces of about ``PIECE_SIZE`` bytes. A big
    List in kubectl's layout (``items:`` at column 0, each item a ``- `` line
    at column 0) is cut between items; pieces of one List share a
    ``list_id``. Whoever merges the workers' readings in order calls
    ``abandon`` for a List whose pieces do not stand, reads it with
    ``reread``, and the cutter skips what it had not cut yet. Stdin, pipes,
    and chunks bigger than ``LOCAL_LIMIT`` that cannot be cut are LocalReads.
    """

    def __init__(self, paths: list[str], stdin: IO[bytes] | None = None) -> None:
        self.paths = paths
        self.stdin = stdin
        self._abandoned: set[int] = set()
        self._rereads: dict[int, tuple[Callable[[], IO[bytes]], int, int]] = {}  # list_id -> (open, offset, line)
        self._sources: dict[int, str] = {}
        self._ids = 0

    def abandon(self, list_id: int) -> None:
        self._abandoned.add(list_id)

    def reread(self, list_id: int, index: int, kinds: Collection[str] | None,
               ) -> Generator[Document | ReadError, None, int]:  # fmt: skip
        """The chunk of an abandoned List, read whole here, documents numbered from ``index``."""
        opener, offset, line = self._rereads.pop(list_id)
        source = self._sources.pop(list_id)
        try:
            with opener() as handle:
                handle.seek(offset)
                return (yield from _read_stream(source, handle.read, kinds, index=index, line_offset=line, chunks=1))
        except OSError as exc:
            yield ReadError(source, None, _os_message(exc))
            return index

    def __iter__(self) -> Iterator[Piece | LocalRead | ReadError]:
        for raw in self.paths:
            if raw == "-":
                yield LocalRead("<stdin>", self._stdin_entries, starts_source=True)
                continue
            try:
                is_dir = stat.S_ISDIR(os.stat(raw).st_mode)
            except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
                yield ReadError(raw, None, _os_message(exc) if isinstance(exc, OSError) else f"invalid path: {exc}")
                continue
            if not is_dir:
                yield from _marking_start(self._file(raw, walked=False))
                continue
            for found in _walk(raw):
                if isinstance(found, ReadError):
                    yield found
                else:
                    yield from _marking_start(self._file(found, walked=True))

    def _stdin_entries(self, index: int, kinds: Collection[str] | None) -> Generator[Document | ReadError, None, int]:
        stream = self.stdin if self.stdin is not None else sys.stdin.buffer
        try:
            return (yield from _read_stream("<stdin>", stream.read, kinds, index=index))
        except (OSError, ValueError) as exc:
            yield ReadError("<stdin>", None, f"cannot read: {exc}")
            return index

    def _file(self, path: str, walked: bool) -> Iterator[Piece | LocalRead | ReadError]:
        found = _small_file(path, walked)
        if isinstance(found, ReadError):
            yield found
            return
        regular, data = found
        if not regular:  # a pipe cannot be read again, should a List have to be: read it here, in order
            yield LocalRead(path, lambda index, kinds: _stream_file(path, kinds, index))
            return
        if data is not None:
            small = data
            yield from self._cut(path, io.BytesIO(small).read, lambda: io.BytesIO(small))
            return
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed below, after cutting)
        except OSError as exc:
            yield ReadError(path, None, _os_message(exc))
            return
        with handle:
            try:
                yield from self._cut(path, handle.read, functools.partial(open, path, "rb"))
            except OSError as exc:
                yield ReadError(path, None, _os_message(exc))

    def _cut(self, source: str, read: Callable[[int], bytes], opener: Callable[[], IO[bytes]],
             ) -> Iterator[Piece | LocalRead | ReadError]:  # fmt: skip
        stream = _Input(read)
        refused = stream.start()
        if refused is not None:
            yield ReadError(source, None, refused)
            return
        gathered: list[bytes] = []  # whole chunks not shipped yet
        gathered_size = gathered_line = line = 0
        while True:
            offset = stream.position
            ahead = stream.lookahead(2 * PIECE_SIZE)
            head = _LIST_ITEMS.search(ahead, 0, _HEAD_LIMIT) if len(ahead) == 2 * PIECE_SIZE else None
            label = _list_label(source, ahead[: head.start()], line) if head is not None else None
            if head is not None and label is not None:
                if gathered:
                    yield Piece("documents", source, b"".join(gathered), gathered_line)
                    gathered, gathered_size = [], 0
                self._ids += 1
                self._rereads[self._ids] = (opener, offset, line)
                self._sources[self._ids] = source
                line += yield from self._cut_list(source, stream, line, head, label, self._ids)
            elif len(stream.lookahead(LOCAL_LIMIT + 1)) > LOCAL_LIMIT:
                if gathered:
                    yield Piece("documents", source, b"".join(gathered), gathered_line)
                    gathered, gathered_size = [], 0
                chunk = _Chunk(source, stream, line)
                yield LocalRead(source, lambda index, kinds, chunk=chunk: _read_chunk(source, chunk, index, kinds))
                line += chunk.drain()
            else:
                data = b"".join(iter(lambda: stream.take(BLOCK_SIZE), b""))
                if not gathered:
                    gathered_line = line
                gathered.append(data)
                gathered_size += len(data)
                line += data.count(b"\n")
                if gathered_size >= PIECE_SIZE:
                    yield Piece("documents", source, b"".join(gathered), gathered_line)
                    gathered, gathered_size = [], 0
            if not stream.next_chunk():
                break
        if gathered:
            yield Piece("documents", source, b"".join(gathered), gathered_line)

    def _cut_list(self, source: str, stream: _Input, line: int, head: re.Match[bytes], label: str, list_id: int,
                  ) -> Generator[Piece, None, int]:  # fmt: skip
        """Cut one List's items into pieces; returns the chunk's number of lines."""
        header = _take(stream, head.start())
        _take(stream, head.group().index(b"\n") + 1)  # `items:`, read as `items: []` in the "rest" piece
        lines = header.count(b"\n") + 1
        batch, batch_line, first, region_lines = b"", line + lines, 0, 0
        carry = b""
        while True:
            block = stream.take(BLOCK_SIZE)
            if list_id in self._abandoned:  # its pieces did not stand: the caller reads it whole, cutting ends
                rest = carry + block + b"".join(iter(lambda: stream.take(BLOCK_SIZE), b""))
                return lines + region_lines + rest.count(b"\n")
            data = carry + block
            complete = len(data) if not block else data.rfind(b"\n") + 1
            data, carry = data[:complete], data[complete:]
            end = _region_end(data)
            region = data if end is None else data[:end]
            batch += region
            region_lines += region.count(b"\n")
            while len(batch) >= PIECE_SIZE:
                cut = _last_item_start(batch)
                if cut <= 0:
                    break
                part, batch = batch[:cut], batch[cut:]
                count = _item_starts(part)
                yield Piece("items", source, part, batch_line, list_id, first, count, label)
                batch_line += part.count(b"\n")
                first += count
            if end is not None or not block:
                break
        trailer = b"" if end is None else data[end:] + carry
        trailer += _take(stream, LOCAL_LIMIT)
        too_big = bool(stream.lookahead(1))
        if batch:
            count = _item_starts(batch)
            yield Piece("items", source, batch, batch_line, list_id, first, count, label)
        yield Piece("rest", source, header, line, list_id, label=label, blank_lines=region_lines,
                    trailer=trailer, reread=too_big)  # fmt: skip
        rest = b"".join(iter(lambda: stream.take(BLOCK_SIZE), b""))
        return lines + region_lines + trailer.count(b"\n") + rest.count(b"\n")


def _marking_start(found: Iterator[Piece | LocalRead | ReadError]) -> Iterator[Piece | LocalRead | ReadError]:
    """One source's pieces, the first marked as starting it."""
    first = True
    for entry in found:
        if first and not isinstance(entry, ReadError):
            entry = replace(entry, starts_source=True)
            first = False
        yield entry


def _take(stream: _Input, size: int) -> bytes:
    """Up to ``size`` bytes of the current chunk."""
    parts, left = [], size
    while left > 0:
        part = stream.take(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _region_end(data: bytes) -> int | None:
    """Where the first line that ends a List's items region starts in ``data`` (which starts a line), or None."""
    if data[:1] and _REGION_END.match(b"\n" + data[:2]):
        return 0
    found = _REGION_END.search(data)
    return None if found is None else found.start() + 1


def _item_starts(region: bytes) -> int:
    """How many lines of a List's items region start an item (there, every line starting ``-`` does)."""
    return region.count(b"\n-") + region.startswith(b"-")


def _last_item_start(batch: bytes) -> int:
    """Where the last item starting in ``batch`` begins (a line ``- ...`` at column 0), or -1."""
    at = len(batch)
    while True:
        at = batch.rfind(b"\n-", 0, at)
        if at < 0:
            return -1
        if batch[at + 2 : at + 3] in (b" ", b"\r", b"\n", b""):
            return at + 1


def _stream_file(path: str, kinds: Collection[str] | None, index: int) -> Generator[Document | ReadError, None, int]:
    try:
        with open(path, "rb") as handle:
            return (yield from _read_stream(path, handle.read, kinds, index=index))
    except OSError as exc:
        yield ReadError(path, None, _os_message(exc))
        return index
