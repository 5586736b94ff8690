"""Reading manifests: files, directories and stdin; multi-document YAML; ``kind: List`` expansion.

Hostile input never escapes as an exception: every document that cannot be
read or understood becomes one ``ReadError`` naming its source and document
index, and reading carries on with the rest.

- Documents are split on ``---`` lines before parsing, as Kubernetes' own YAML
  reader does, so a broken document (bad syntax, bytes that are not UTF-8, a
  NUL byte) costs only itself, not the rest of its file.
- Values are read as kubectl's go-yaml v2 reads them, not as YAML 1.1 in full:
  ``y``/``n`` are booleans, ``1e3`` is a float, timestamps stay the text they
  are, there are no base-60 numbers, unknown tags are ignored. Then
  ``generator.shape.as_api_json`` makes them what the API server would receive.
- Duplicate mapping keys are an error, as in the Kubernetes YAML decoder: a
  last-wins reading would let ``privileged: true`` hide behind a second key.
  A key a ``<<`` merge supplies counts too (go-yaml lets a merge override an
  earlier key, PyYAML the reverse: either reading is a bypass of the other).
- Aliases are measured on the parsed node graph before anything is built from
  it: a recursive alias, or aliases that would expand the document by more than
  ``MAX_ALIAS_EXPANSION`` nodes (a "billion laughs"), are errors. Nesting deeper
  than ``MAX_DEPTH`` is an error, whatever the style; libyaml itself stops at
  1000 levels, so its C composer cannot exhaust the stack.
- Only UTF-8 is read (a UTF-8 byte order mark is allowed): the API server takes
  UTF-8 JSON only, so UTF-16/32 files are refused with a clear line, not guessed.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
import stat
import sys
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator.shape import NotJSONError, as_api_json, json_key

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


class _GraphProblem(Exception):
    """Raised out of the measuring walk with the problem's words."""


def _graph_problem(root: Node) -> str | None:
    """What is wrong with the node graph aliases make, measured without expanding it; None when fine.

    Each distinct container is visited once and remembers its expanded size and
    height, so a billion laughs costs its written size. The walk stops below
    ``MAX_DEPTH`` levels, which also bounds its recursion.
    """
    cap = MAX_ALIAS_EXPANSION * 4  # sizes past it mean the same thing; keeps the arithmetic small
    memo: dict[int, tuple[int, int]] = {}  # id(container) -> (expanded size, height)
    open_nodes: set[int] = set()
    written = 0

    def visit(node: Node, depth: int) -> tuple[int, int]:
        nonlocal written
        cls = node.__class__
        if cls is ScalarNode:
            written += 1
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
        written += 1
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
        size, _ = visit(root, 0)
    except _GraphProblem as exc:
        return str(exc)
    if size - written > MAX_ALIAS_EXPANSION:
        return f"YAML aliases expand too far (limit {MAX_ALIAS_EXPANSION} nodes added by aliases)"
    return None


# An anchor (`&a`) and an alias (`*a`) as YAML tokens: without both, no node is shared, and the graph need not be
# measured. A token starts after a blank, a flow indicator, or a JSON-like key's adjacent `:` (`{"k":*a}`). Quoted
# text can match too ("a && b", "*/5"): that only costs a measurement.
_ANCHOR = re.compile(r"(?:^|[\s\[{,:])&[^\s\[\]{},]")
_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*[^\s\[\]{},]")


def _may_share_nodes(text: str) -> bool:
    return "&" in text and "*" in text and _ANCHOR.search(text) is not None and _ALIAS.search(text) is not None


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


def _api_document(source: str, index: int, value: Any, line: int | None, text: str) -> Iterator[Document | ReadError]:
    """The document as the API server would receive it, expanded; or why it cannot be."""
    try:
        surrogates = "\\" in text and _SURROGATE_ESCAPE.search(text) is not None
        value = as_api_json(value, MAX_DEPTH, surrogates=surrogates)
    except NotJSONError as exc:
        message = str(exc)
        if exc.problem.startswith("nests deeper"):
            message = f"document nests deeper than {MAX_DEPTH} levels"
        elif exc.problem.startswith("holds too many"):  # only shared nodes the graph check missed get here
            message = "document holds too many objects and arrays (YAML aliases expand too far?)"
        yield ReadError(source, index, message)
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


def _yaml_message(exc: yaml.YAMLError, chunk: bytes, text: str, line_offset: int) -> str:
    """One line for a YAML error, with positions in the whole file."""
    if isinstance(exc, yaml.reader.ReaderError):
        offset = exc.position if _C_PARSER else len(text[: exc.position].encode())
        return (f"invalid YAML at {_position(chunk, offset, line_offset)}: {exc.reason} "
                f"(character U+{exc.character:04X})")  # fmt: skip
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


def _looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


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


def _json_message(source: str, json_error: Exception, yaml_error: yaml.YAMLError, line_offset: int) -> str | None:
    """JSON's words for a chunk neither JSON nor YAML could read, when they are the better ones.

    They are for a ``.json`` file, or when JSON got at least as far as YAML did
    (broken JSON); YAML's are for YAML flow style that merely starts with ``{``.
    """
    if not isinstance(json_error, json.JSONDecodeError):  # a duplicate key or NaN: YAML's words have a position
        return None
    mark = getattr(yaml_error, "problem_mark", None)
    json_first = mark is not None and (json_error.lineno, json_error.colno) < (mark.line + 1, mark.column + 1)
    if json_first and not source.endswith(".json"):
        return None
    problem = re.sub(r"(?: starting)? at$", "", json_error.msg)  # "Unterminated string starting at": position follows
    return f"invalid JSON at line {line_offset + json_error.lineno}, column {json_error.colno}: {problem}"


# ---------------------------------------------------------------- splitting and reading

# A line that is `---`, optionally followed by blanks and a comment: Kubernetes' YAMLReader's separator.
_SEPARATOR = re.compile(rb"^---[ \t]*(?:#[^\r\n]*)?\r?$", re.MULTILINE)
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)  # fmt: skip


def _only_directives(chunk: bytes) -> bool:
    """Whether a leading chunk holds nothing but ``%`` directives (and blanks, comments): they belong to the next."""
    lines = [line.strip() for line in chunk.splitlines()]
    content = [line for line in lines if line and not line.startswith(b"#")]
    return bool(content) and all(line.startswith(b"%") for line in content)


def _chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line offset, bytes)`` of each stretch between separator lines; each but the first starts with its ``---``."""
    starts = [m.start() for m in _SEPARATOR.finditer(data)]
    if starts and _only_directives(data[: starts[0]]):
        starts = starts[1:]
    bounds = [0, *starts, len(data)]
    line = 0
    for begin, end in itertools.pairwise(bounds):
        if end > begin:
            yield line, data[begin:end]
        line += data.count(b"\n", begin, end)


def _reset(loader: Any) -> None:
    """Forget a failed document's half-built state so the next one starts clean."""
    loader.constructed_objects = {}
    loader.recursive_objects = {}
    loader.state_generators = []
    loader.deep_construct = False


def _read_chunk(source: str, chunk: bytes, index: int, line_offset: int) -> Generator[Document | ReadError, None, int]:
    """Every document of one chunk from ``index`` on; returns the index after its last."""
    nul = chunk.find(b"\x00")
    if nul >= 0:
        where = _position(chunk, nul, line_offset)
        yield ReadError(source, index, f"binary data, not text (NUL byte at {where})")
        return index + 1
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = _position(chunk, exc.start, line_offset)
        yield ReadError(source, index, f"not UTF-8 text (byte 0x{chunk[exc.start]:02X} at {where}); only UTF-8 is read")
        return index + 1
    json_error: Exception | None = None
    if _looks_like_json(text):  # JSON is read as JSON, exactly; YAML (its superset) is the lenient fallback
        value, json_error = _json_value(text)
        if json_error is None:
            line = line_offset + text[: len(text) - len(text.lstrip())].count("\n") + 1
            yield from _api_document(source, index, value, line, text)
            return index + 1
    loader: Any = None
    try:
        while True:
            try:
                if loader is None:
                    loader = _StrictLoader(text)  # the pure-Python reader checks every character here
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.YAMLError as exc:
                message = _yaml_message(exc, chunk, text, line_offset)
                if json_error is not None and not message.startswith("document nests"):
                    message = _json_message(source, json_error, exc, line_offset) or message
                yield ReadError(source, index, message)
                return index + 1
            except RecursionError:
                yield ReadError(source, index, f"document nests deeper than {MAX_DEPTH} levels")
                return index + 1
            line = line_offset + node.start_mark.line + 1
            problem = _graph_problem(node) if _may_share_nodes(text) else None
            if problem is not None:
                yield ReadError(source, index, problem)
                index += 1
                continue
            try:
                value = loader.construct_document(node)
            except yaml.YAMLError as exc:
                _reset(loader)
                yield ReadError(source, index, _yaml_message(exc, chunk, text, line_offset))
                index += 1
                continue
            except RecursionError:
                _reset(loader)
                yield ReadError(source, index, f"document nests deeper than {MAX_DEPTH} levels")
                index += 1
                continue
            yield from _api_document(source, index, value, line, text)
            index += 1
    finally:
        if loader is not None:
            loader.dispose()
    return index


def read_text(source: str, data: bytes) -> Iterator[Document | ReadError]:
    """Parse every document in ``data``; a broken document costs only itself."""
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            yield ReadError(source, None, f"{encoding} text (byte order mark); only UTF-8 is read")
            return
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    index = 0
    for line_offset, chunk in _chunks(data):
        try:
            index = yield from _read_chunk(source, chunk, index, line_offset)
        except Exception as exc:  # a last resort: one line, never a traceback, and the next chunk still read
            yield ReadError(source, index, f"cannot read document: {type(exc).__name__}: {_one_line(exc)}")
            index += 1


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


def _read_file(path: str, walked: bool) -> Iterator[Document | ReadError]:
    """One file; found by walking, it must be a regular file (a FIFO would block the run forever)."""
    try:
        if walked and not stat.S_ISREG(os.stat(path).st_mode):
            yield ReadError(path, None, "not a regular file; skipped")
            return
        data = Path(path).read_bytes()
    except OSError as exc:
        yield ReadError(path, None, _os_message(exc))
        return
    yield from read_text(path, data)


def read_paths(paths: list[str]) -> Iterator[Document | ReadError]:
    """Every document of every path, in order; ``-`` is stdin. Never raises for what it reads."""
    for raw in paths:
        if raw == "-":
            try:
                data = sys.stdin.buffer.read()
            except (OSError, ValueError) as exc:
                yield ReadError("<stdin>", None, f"cannot read: {exc}")
                continue
            yield from read_text("<stdin>", data)
            continue
        try:
            is_dir = stat.S_ISDIR(os.stat(raw).st_mode)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            yield ReadError(raw, None, _os_message(exc) if isinstance(exc, OSError) else f"invalid path: {exc}")
            continue
        if not is_dir:
            yield from _read_file(raw, walked=False)  # named explicitly: a pipe such as <(helm template) is fine
            continue
        for found in _walk(raw):
            if isinstance(found, ReadError):
                yield found
            else:
                yield from _read_file(found, walked=True)
