"""One chunk's YAML, read event by event: values built straight from the parser's events, Lists streamed.

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
- Aliases are measured on the parsed node graph before anything is built from
  it (an anchor may be redefined, as in go-yaml: later aliases mean the new
  node): a recursive alias, or aliases that would expand a document by more than
  ``MAX_ALIAS_EXPANSION`` nodes in all (a "billion laughs", also one spread
  over many List items), are errors. Nesting deeper than ``MAX_DEPTH`` is an
  error, whatever the style (items count from the document's root, as before).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Collection, Generator
from dataclasses import dataclass, replace
from typing import Any, cast

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
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

from generator.manifests.documents import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    Document,
    ReadError,
    _api_message,
    _at,
    _expand,
    _json_message,
    _text,
    _yaml_message,
    item_problem,
    list_item,
    list_problem,
    meta_problem,
)
from generator.manifests.loader import _BOOLS, _C_PARSER, _NUMBER, _TAG, _StrictLoader, go_number, repeated_key
from generator.manifests.shape import NotJSONError, as_api_json, json_key
from generator.manifests.stream import _Chunk

# A parser event. Events are told apart by ``__class__ is`` (the fastest test), which mypy cannot narrow, and
# libyaml's events are not PyYAML's classes in its stubs: so they are typed loosely, here only.
_Event = Any

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


_NULL, _BOOL, _FLOAT = (_TAG + name for name in ("null", "bool", "float"))
_NO_KEY = object()  # a mapping being built is waiting for a key, not a value


def _plain_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """The strict loader's implicit resolvers by first character (``""`` for the empty scalar), wildcards folded in."""
    table = _StrictLoader.yaml_implicit_resolvers
    wildcard = table.get(None, [])
    resolvers = {first: entries + wildcard for first, entries in table.items() if first is not None}
    if wildcard:  # none today; if one is added, every first character must consult it
        resolvers = _AnyFirst(resolvers, wildcard)
    return resolvers


class _AnyFirst(dict[str, Any]):
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
        # PyYAML's stubs do not re-export CParser from yaml.cyaml, and want a stream whose read() needs no size
        # (libyaml always passes one).
        return yaml.cyaml.CParser(stream)  # type: ignore[attr-defined,arg-type]
    return _PyEvents(stream)


class _YamlReader:
    """One chunk's YAML documents, as Documents and ReadErrors, List items one at a time."""

    def __init__(self, source: str, chunk: _Chunk, index: int, kinds: Collection[str] | None) -> None:
        self.source = source
        self.chunk = chunk
        self.index = index
        self.kinds = kinds  # only objects of these kinds are wanted (others may be skipped unread)
        self.parser = _event_parser(chunk)
        self.get: Callable[[], _Event] = self.parser.get_event
        self.constructor = _StrictLoader("")  # PyYAML's constructor for what the fast path leaves to nodes
        self.anchors: dict[str, Node] = {}
        self.expansion = 0  # nodes added by aliases in the document so far
        self.item: int | None = None  # the List item being read, for errors that end the document
        self.needs_json = False  # the value being read holds what as_api_json must convert (floats, nodes' values)
        self.pending: str | None = None  # the document's error, reported once its end is read
        self.reported: tuple[int, str] | None = None  # the last item error yielded, not to be repeated
        self.item_count = 0  # items the last List read held
        # Items of a streamed List kept back until the List's own kind and apiVersion are known: from the first
        # item with neither (it takes the List's), every item after it too, so the order stays kubectl's.
        self.held: list[tuple[int, dict[str, Any], int]] = []
        self.refused: str | None = None  # why kubectl refuses the streamed List as a whole, learnt from an item
        self.repeats: list[str] = []  # keys repeated with the same value, for the next Document yielded
        self.used_nodes = False  # some value was read through nodes (an anchor, alias, tag, merge or complex key)
        self.failed = False  # the parse broke (or bad bytes cut it short): the rest of the chunk was not read
        self.deep = False  # an item nested too deep (its skipping may depend on where the List starts)
        self.aliased = False  # an alias was read (it may refer to an anchor outside what this reader sees)
        self.last: _Event | None = None  # the last event of the value just built
        self.first_item = 0  # the number of the first item the chunk's first streamed List holds (a JSON List resumed)

    @property
    def line_offset(self) -> int:
        """Lines of the file before what the parser reads (the chunk's, once its separator line is dropped)."""
        return self.chunk.line_offset

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
            if self.held or self.refused:  # only the whole List knows the kind its items take, or refuses them
                return None
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

    def _line(self, event: _Event) -> int:
        line: int = event.start_mark.line
        return self.line_offset + line + 1

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

    def _keep_anchor(self, event: _Event) -> None:
        """An anchored value met while skipping: composed all the same, for aliases further on to find it."""
        try:
            self._compose(deque([event]), 0, [])
        except _PartError as exc:  # what is wrong with it is its value's concern (reported, or unwanted)
            self._skip(exc.open_containers)

    # ------------------------------------------------------------ documents

    def _document(self, start: _Event) -> Generator[Document | ReadError, None, None]:
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
                    yield self._noted(entry)

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

    def _part(self, event: _Event, base: int) -> Any:
        """A document's whole root value (not a plain mapping) the fast way, or through nodes; errors as ``pending``.

        Returns the value, or None after recording the error in ``pending``
        (nesting errors end the chunk: skipping them could cost as much again).
        """
        self.needs_json = not _C_PARSER
        try:
            value = self._value(event, base)
        except _PartError as exc:
            self._abandon(exc, 0)
            return None
        if self.needs_json:
            try:
                value = as_api_json(value, MAX_DEPTH - base, surrogates=not _C_PARSER)
            except NotJSONError as exc:
                self.pending = _api_message(exc)
        return value

    def _root_mapping(self, start: _Event) -> Generator[Document | ReadError, None, Any]:
        """The root mapping, pair by pair, streaming an ``items`` sequence; returns its value or _STREAMED."""
        get = self.get
        record: list[_Event] | None = [start]  # root-level events, replayed through nodes for a merge or odd key
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
                first, self.first_item = self.first_item, 0
                yield from self._items(pairs.get("kind"), first)
                pairs["items"] = _STREAMED
                continue
            if self._skippable(pairs, key):
                self._skip_value(value_event)
                record = None  # what was skipped cannot be replayed
                continue
            try:
                value = self._value(value_event, 1, record)
            except _PartError as exc:
                self._abandon(exc, 1)
                return None
            try:
                self._assign(pairs, key, value, 1)
            except _PartError as exc:
                self.pending = exc.message
                self._skip(1)
                return None
        if streamed:
            pairs.pop("items")
            yield from self._finish_list(pairs)
            return _STREAMED
        return self._root_json(pairs)

    def _abandon(self, exc: _PartError, enclosing: int) -> None:
        """A root value failed: its error is the document's, and the rest of it (and ``enclosing`` containers)
        is read past. Nesting errors end the chunk instead: skipping them could cost as much again."""
        self.pending = exc.message
        if exc.message.startswith("document nests deeper"):
            raise exc
        self._skip(exc.open_containers + enclosing)

    def _root_json(self, value: dict[str, Any]) -> Any:
        if self.needs_json:
            try:
                return as_api_json(value, MAX_DEPTH, surrogates=not _C_PARSER)
            except NotJSONError as exc:
                self.pending = _api_message(exc)
                return None
        return value

    def _finish_list(self, rest: dict[str, Any]) -> Generator[Document | ReadError, None, None]:
        """A streamed List's own fields, then the items held back for its kind.

        What JSON cannot carry, no kind, or an item kubectl refuses the List
        for, are the document's error (items already yielded stand: pssgen is
        the stricter, and the error fails the run).
        """
        held, self.held = self.held, []
        self._root_json(rest)
        if self.pending is None:
            self.pending = list_problem(rest) or meta_problem(rest) or self.refused
        self.refused = None
        if self.pending is not None:
            return
        kind, api = _text(rest, "kind"), _text(rest, "apiVersion")
        for i, value, line in held:
            entry = list_item(self.source, self.index, i, value, line, kind, api)
            if self.kinds is None or isinstance(entry, ReadError) or entry.obj.get("kind") in self.kinds:
                yield self._noted(entry)

    def _skippable(self, pairs: dict[str, Any], key: Any) -> bool:
        """Whether a root value need not be read: the caller wants other kinds, and this one is known not a List."""
        if self.kinds is None or key.__class__ is _Repeat or key in ("kind", "apiVersion", "items"):
            return False  # what makes a List, its items' kind, and a repeat (to be compared) are always read
        kind = pairs.get("kind")
        return isinstance(kind, str) and kind not in self.kinds and not kind.endswith("List")

    def _skip_value(self, event: _Event) -> None:
        self.last = event
        cls = event.__class__
        if cls is not AliasEvent and event.anchor is not None:
            self._keep_anchor(event)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            self._skip(1)

    def _skip_pair_rest(self, key_event: _Event) -> None:
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
                self.repeats = []  # what the failed item noted goes with it
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
            if value is None:
                value = {}  # JSON null decodes into an empty map: a kindless item
            if value.__class__ is not dict:
                yield ReadError(source, index, f"{label} item {i} is not a Kubernetes object", i)
            else:
                if self.needs_json:
                    try:
                        value = as_api_json(value, MAX_DEPTH - _ITEM_DEPTH, surrogates=not _C_PARSER)
                    except NotJSONError as exc:
                        yield ReadError(source, index, _api_message(exc), i)
                        i += 1
                        continue
                problem = item_problem(i, value)
                if problem is not None:  # a nested List: never an object of its own; the List is refused at its end
                    self.refused = self.refused or problem
                elif self.held or (not _text(value, "kind") and not _text(value, "apiVersion")):
                    self.held.append((i, value, line))  # its kind, or its place, waits for the List's kind
                elif wanted is None or value.get("kind") in wanted:
                    yield self._noted(list_item(source, index, i, value, line, "", ""))
            i += 1

    # ------------------------------------------------------------ values

    def _value(self, event: _Event, base: int, record: list[_Event] | None = None) -> Any:
        """The value starting at ``event``: built from events, or through nodes when the fast path cannot."""
        events: list[_Event] = []
        try:
            value = self._build(event, base, events)
        except _Unusual:
            value = self._through_nodes(events, base)
        if record is not None:
            record.extend(events)
        return value

    def _key(self, event: _Event, mapping: dict[str, Any], base: int) -> Any:
        """A root-level key, as the strict constructor names it; raises _Unusual for what only nodes can read."""
        if event.__class__ is not ScalarEvent or event.anchor is not None or event.tag is not None:
            raise _Unusual
        key = self._scalar(event, 0) if event.implicit[0] else event.value
        return self._named(key, event, mapping, 0)

    def _named(self, key: Any, event: _Event, mapping: dict[str, Any], open_containers: int) -> Any:
        if key.__class__ is not str:  # named as JSON names it: `1:` and `"1":` are the duplicates they become
            try:
                key = json_key(key)
            except NotJSONError as exc:
                raise _PartError(f"invalid YAML at {_at(event.start_mark, self.line_offset)}: {exc.problem}",
                                 open_containers) from None  # fmt: skip
        if key in mapping:
            return _Repeat(cast(str, key), event.start_mark)  # compared with the first value once its own is read
        return cast(str, key)  # a str, or json_key made it one

    def _noted(self, entry: Document | ReadError) -> Document | ReadError:
        """``entry``, carrying the keys repeated (with the same value) since the last entry yielded."""
        repeats, self.repeats = self.repeats, []
        if repeats and isinstance(entry, Document):
            return replace(entry, warnings=(*entry.warnings, *repeats))
        return entry

    def _assign(self, mapping: dict[str, Any], key: Any, value: Any, open_containers: int) -> None:
        """``mapping[key] = value``; a repeated key (``_Repeat``) must bring the same value, and is noted."""
        if key.__class__ is not _Repeat:
            mapping[key] = value
            return
        where = _at(key.mark, self.line_offset)
        if not _same_value(mapping[key.key], value):
            raise _PartError(f"invalid YAML at {where}: {repeated_key(key.key)}", open_containers)
        self.repeats.append(f"{where}: duplicate key {key.key!r} with the same value (kubectl keeps the last)")
        mapping[key.key] = value

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
        elif tag == _NUMBER:
            if value.isascii() and value.isdigit() and (value[0] != "0" or len(value) == 1) and len(value) < 19:
                resolved = int(value)  # plain decimal digits, well inside int64: the common case
            else:
                number = go_number(value)  # other spellings (0x1F, 0O17, 1_000, 08), floats, or no number at all
                if number.__class__ is float:
                    self.needs_json = True  # as_api_json makes integral floats integers, as Go prints them
                    return number  # not cached: a cached value would skip the line above
                resolved = value if number is None else number
        elif tag == _FLOAT:  # infinity and NaN
            node = ScalarNode(tag, value, event.start_mark, event.end_mark)
            self.needs_json = True
            return self.constructor.construct_checked_float(node)
        else:
            raise _Unusual  # a merge key, or a resolver the fast path does not know
        if len(_PLAIN_CACHE) >= _PLAIN_CACHE_SIZE:
            _PLAIN_CACHE.clear()
        _PLAIN_CACHE[value] = resolved
        return resolved

    def _build(self, event: Any, base: int, events: list[_Event]) -> Any:
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
                if key.__class__ is _Repeat:
                    self._assign(stack[-1], key, value, len(stack))
                else:
                    stack[-1][key] = value
                keys[-1] = _NO_KEY
                if kinds is not None and key == "kind" and len(stack) == 1 and value.__class__ is str and \
                        value and value not in kinds:  # fmt: skip
                    raise _Filtered(1)
            event = get()

    def _through_nodes(self, events: list[_Event], base: int) -> Any:
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
            repeats, constructor.repeats = constructor.repeats, []
            for key, mark, first, last in repeats:
                where = _at(mark, self.line_offset)
                if not _same_value(first, last):
                    raise _PartError(f"invalid YAML at {where}: {repeated_key(key)}")
                self.repeats.append(f"{where}: duplicate key {key!r} with the same value (kubectl keeps the last)")
        except yaml.YAMLError as exc:
            _reset(constructor)
            raise _PartError(_yaml_message(exc, self.line_offset)) from None
        except RecursionError:
            _reset(constructor)
            raise _PartError(f"document nests deeper than {MAX_DEPTH} levels") from None
        self.needs_json = True
        return value

    def _compose(self, replay: deque[_Event], base: int, events: list[_Event]) -> tuple[Node, int]:
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

    def _composing(self, replay: deque[_Event], base: int, events: list[_Event], stack: list[Node]) -> tuple[Node, int]:
        get = self.get
        resolve: Callable[[type[Node], str | None, Any], str] = self.constructor.resolve  # untyped in the stubs
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
                    # go-yaml's merge key is `<<` unquoted (a `!` tag keeps it unquoted) or tagged !!merge; a
                    # !!merge-tagged other key is an ordinary one. A key is where its mapping has an even count.
                    at_key = bool(stack) and stack[-1].__class__ is MappingNode and len(stack[-1].value) % 2 == 0
                    if at_key and event.value == "<<" and (tag == "!" or (tag is None and event.implicit[0])):
                        tag = _TAG + "merge"
                    elif tag == "!" or (tag == _TAG + "merge" and event.value != "<<"):
                        tag = _TAG + "str"  # go-yaml resolves no scalar with a tag it does not know: `! yes` is "yes"
                    elif tag is None:
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

    def _root_through_nodes(self, record: list[_Event]) -> Any:
        """The whole root mapping through nodes (a merge or odd key at its top level): replayed, then read on."""
        self.anchors, self.expansion = {}, 0
        events = list(record)
        try:
            value = self._through_nodes(events, 0)
        except _PartError as exc:
            self._abandon(exc, 0)
            return None
        return self._root_json(value)


_STREAMED = object()  # a root whose items were yielded as they were read


@dataclass(frozen=True, slots=True)
class _Repeat:
    """A mapping key met a second time, and where: its value must be the first one's."""

    key: str
    mark: Any


def _same_value(a: Any, b: Any) -> bool:
    """Equal values of the same JSON types all the way down (``True`` is not ``1``, ``1`` is not ``1.0``)."""
    if a.__class__ is not b.__class__:
        return False
    if a.__class__ is dict:
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if a.__class__ is list:
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _reset(loader: Any) -> None:
    """Forget a failed construction's half-built state so the next one starts clean."""
    loader.repeats.clear()
    loader.constructed_objects = {}
    loader.recursive_objects = {}
    loader.state_generators = []
    loader.deep_construct = False
