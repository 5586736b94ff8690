"""JSON documents as the API server receives them, and a JSON chunk too big to read whole, read a value at a time.

``kubectl get -o json`` of a big cluster is one JSON List of a gigabyte or more;
read whole, ``json`` holds all of it as Python objects (four times the file).
A chunk over ``JSON_WHOLE`` bytes is read here instead: its text is decoded a
block at a time into a window, ``json``'s own decoder (strict: no duplicate
keys, no NaN; every number and error as it reads them) reads each value where
it starts, and the top-level object around a List's items is walked by hand,
with the decoder's grammar and, for what breaks it, the decoder's own words.
Each item is what reading the chunk whole makes of it; what streaming changes
is what streaming YAML Lists change (``generator.manifests.yaml_events``):

- items are judged as they are read; what refuses the whole List (no kind, a
  nested List, a value JSON cannot carry) may be learnt after some were, and
  is then the document's error (the items already yielded stand, and the error
  fails the run); items not yielded yet are dropped with the List;
- bytes no parser may see (a NUL, not UTF-8, an object over the request limit)
  end the document where they are, with their own words;
- a first value that is no strict JSON is read by the YAML reader, as a chunk
  read whole is: from its start when no item was read yet, else from the last
  item read (read again by YAML, not yielded twice), the items before it
  blanked out so that lines and columns stay the file's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from typing import Any

from generator.manifests.documents import (
    MAX_DEPTH,
    Document,
    ReadError,
    _api_message,
    _expand,
    _json_message,
    _one_line,
    _text,
    _version,
    item_problem,
    list_item,
    list_problem,
    meta_problem,
)
from generator.manifests.shape import NotJSONError, as_api_json
from generator.manifests.stream import BLOCK_SIZE, _Chunk, _Input, _Replayed
from generator.manifests.yaml_events import _YamlReader

MAX_CONTAINERS = 5_000_000  # objects and arrays one document (or one List item of a JSON List) may hold
JSON_WHOLE = 8 << 20  # a JSON chunk up to this many bytes is read whole; a bigger one a value (or an item) at a time
_MARGIN = 64 << 10  # text decoded ahead of a value before it is read: most then read at the first try
_KEEP = 1 << 20  # text kept behind the last item read before the window drops it

# A `\uD800`-style escape of half a surrogate pair (JSON, and PyYAML's Python scanner, let them through).
_SURROGATE_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F]")
_BLANKS = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a key written twice sends the chunk to the YAML reader, which judges repeats with positions.

    (The dict is built in one call, and the pairs looked at only when it came out shorter: this runs for every
    object of every JSON document.)
    """
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return mapping


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# The decoder's reader of strings (C where it can be), for the keys of the object around a List's items.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


# The decoder with no hook for objects (C builds them): for List items, whose repeated keys are found otherwise.
_FAST = json.JSONDecoder(parse_constant=_no_constant)


class _NotPlain(Exception):
    """An item the fast reading leaves to the strict one: a float, deeper than its limit."""


def _strings(value: Any, depth: int) -> int:
    """How many strings a parsed container holds, keys included; _NotPlain for a float, or at ``MAX_DEPTH - 2``."""
    if depth >= MAX_DEPTH - 2:
        raise _NotPlain
    if value.__class__ is dict:
        count, subs = len(value), value.values()
    else:
        count, subs = 0, value
    for sub in subs:
        cls = sub.__class__
        if cls is str:
            count += 1
        elif cls is dict or cls is list:
            count += _strings(sub, depth + 1)
        elif cls is float:
            raise _NotPlain
    return count


def read_item(text: str, at: int) -> tuple[Any, int]:
    """The List item at ``text[at:]`` as the API server would receive it, and where it ends; what the strict
    decoder and ``as_api_json`` make of it, raising what they raise (NotJSONError names the item's own path).

    Most items are read faster, and to the same value: an object with no backslash in its text holds no escape,
    so each of its strings is two of its quotes, and a key written twice (which the C-built objects keep once)
    shows as fewer strings than quotes; with no float and within the depth limit, ``as_api_json`` changes
    nothing (the budget of objects and arrays cannot be reached by text that short).
    """
    try:
        value, end = _FAST.raw_decode(text, at)
        if (value.__class__ is dict or value.__class__ is list) and end - at < 2 * MAX_CONTAINERS and \
                text.find("\\", at, end) < 0 and text.count('"', at, end) == 2 * _strings(value, 0):  # fmt: skip
            return value, end
    except (ValueError, RecursionError, _NotPlain):
        pass
    value, end = DECODER.raw_decode(text, at)
    surrogates = text.find("\\", at, end) >= 0 and _SURROGATE_ESCAPE.search(text, at, end) is not None
    return as_api_json(value, MAX_DEPTH - 2, max_containers=MAX_CONTAINERS, surrogates=surrogates), end


def _api_document(
    source: str, index: int, value: Any, line: int | None, surrogates: bool
) -> Iterator[Document | ReadError]:
    """A whole (JSON) document as the API server would receive it, expanded; or why it cannot be.

    ``surrogates``: the text may hold escaped halves of surrogate pairs, which must be looked for.
    """
    try:
        value = _as_api_json(value, surrogates)
    except NotJSONError as exc:
        yield ReadError(source, index, _api_message(exc))
        return
    yield from _expand(source, index, value, line)


def _as_api_json(value: Any, surrogates: bool) -> Any:
    """``as_api_json`` for a whole JSON document, a List's items each with a budget of objects and arrays of its
    own: ``kubectl get -o json`` of a big cluster is one document (100,000 objects hold ~9 million), and JSON has
    no aliases to expand. Any part that cannot be sent still refuses the whole document, as kubectl's decoder does.
    """
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return as_api_json(value, MAX_DEPTH, max_containers=MAX_CONTAINERS, surrogates=surrogates)
    converted: dict[str, Any] = {}
    for key, field in value.items():
        if key != "items":
            converted.update(as_api_json({key: field}, MAX_DEPTH, max_containers=MAX_CONTAINERS, surrogates=surrogates))
            continue
        each = []
        for i, item in enumerate(items):
            try:
                each.append(as_api_json(item, MAX_DEPTH - 2, max_containers=MAX_CONTAINERS, surrogates=surrogates))
            except NotJSONError as exc:
                raise NotJSONError(["items", i, *exc.path], exc.problem) from exc
        converted[key] = each
    return converted


def _independent(item: Any) -> bool:
    """Whether a List item reads the same whatever the List's kind and apiVersion (learnt after it, in kubectl's
    order): an object with a kind and a versioned apiVersion of its own."""
    return item.__class__ is dict and bool(_text(item, "kind")) and bool(_version(_text(item, "apiVersion")))


class _JsonStream:
    """One JSON chunk's values, a List's items one at a time; the text held is a window of a few blocks."""

    def __init__(self, source: str, chunk: _Chunk, index: int, stream_start: bool) -> None:
        self.source = source
        self.chunk = chunk
        self.index = index
        self.stream_start = stream_start  # a JSON stream (kubectl sends each value), not one `---` document
        self.text = ""  # the window: the chunk's text from (lines, chars, column) on
        self.eof = False
        self.lines = 0  # newlines of the chunk before text[0]
        self.chars = 0  # characters of the chunk before text[0]
        self.column = 0  # characters of its line before text[0]
        # The List being streamed (the chunk's first value, for the YAML reader should it not be JSON).
        self.header: str | None = None  # its text up to its items' `[`
        self.region = (0, 0)  # (lines, chars) before text[0] when the window started after the header
        self.last_start = -1  # where in text the last item read starts
        self.last_item = -1  # its number
        self.yielded = -1  # the last item yielded
        self.kind_api: tuple[str, str] | None = None  # the List's kind and apiVersion, when they came before items
        self.label = "List"  # how YAML names the List's items: its kind when it came before them
        self.held: list[tuple[int, Any, int]] = []  # items waiting for the List's kind and apiVersion
        self.refused: tuple[int, str] | None = None  # (item, words) of the item kubectl refuses the List for
        self.not_json: tuple[int, str] | None = None  # (item or -1, words) of the first part JSON cannot carry

    # ------------------------------------------------------------ the window

    def _fill(self) -> bool:
        """Decode one more block of the chunk into the window; False at its end (or where bad bytes stop it)."""
        if self.eof:
            return False
        data = self.chunk.read(BLOCK_SIZE)  # whole characters of checked UTF-8
        if not data:
            self.eof = True
            return False
        self.text += data.decode("utf-8")
        return True

    def _drop(self, upto: int) -> None:
        """Forget the window's text before ``upto``, keeping count of its lines and characters."""
        text = self.text
        newlines = text.count("\n", 0, upto)
        self.column = upto - text.rfind("\n", 0, upto) - 1 if newlines else self.column + upto
        self.lines += newlines
        self.chars += upto
        self.text = text[upto:]

    def _blanks(self, at: int) -> int:
        """Past JSON whitespace from ``at``: where the next character is, or the window's end at the chunk's."""
        while True:
            found = _BLANKS.match(self.text, at)
            at = found.end() if found else at
            if at < len(self.text) or not self._fill():
                return at

    def _char(self, at: int) -> str:
        while at >= len(self.text):
            if not self._fill():
                return ""
        return self.text[at]

    def _retrying(self, read: Any, at: int) -> Any:
        """``read(text, at)``, again with more text where the window's end cut what it reads."""
        while len(self.text) - at < _MARGIN and self._fill():
            pass
        while True:
            try:
                return read(self.text, at)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.text) - 16 or exc.msg.startswith("Unterminated string")
                if not cut or not self._fill():
                    raise

    def _decode(self, at: int) -> tuple[Any, int]:
        """The JSON value at ``at`` and where it ends, as the strict decoder reads it (its errors as they are)."""
        return self._retrying(DECODER.raw_decode, at)  # type: ignore[no-any-return]

    def _key(self, at: int) -> tuple[str, int]:
        return self._retrying(lambda text, at: _scanstring(text, at + 1, True), at)  # type: ignore[no-any-return]

    def _probe(self, prefix: str, at: int, stop: int) -> json.JSONDecodeError:
        """The decoder's own error at ``text[at:stop + 1]``, with ``prefix`` putting it in the state it is in there."""
        probe = prefix + self.text[at : stop + 1]
        try:
            DECODER.raw_decode(probe)
        except json.JSONDecodeError as exc:
            return json.JSONDecodeError(exc.msg, self.text, at + exc.pos - len(prefix))
        return json.JSONDecodeError("Expecting ',' delimiter", self.text, stop)  # (never: the probe is broken)

    def _chunk_error(self, exc: Exception) -> Exception:
        """``exc`` with its position in the chunk (a JSONDecodeError's is in the window), as reading it whole says."""
        if not isinstance(exc, json.JSONDecodeError):
            return exc
        at = exc.pos
        newline = self.text.rfind("\n", 0, at)
        line = self.lines + self.text.count("\n", 0, at) + 1
        column = at - newline if newline >= 0 else self.column + at + 1
        error = json.JSONDecodeError(exc.msg, "", 0)
        error.pos, error.lineno, error.colno = self.chars + at, line, column
        error.args = (f"{exc.msg}: line {line} column {column} (char {error.pos})",)
        return error

    def _surrogates(self, start: int, end: int) -> bool:
        return self.text.find("\\", start, end) >= 0 and _SURROGATE_ESCAPE.search(self.text, start, end) is not None

    # ------------------------------------------------------------ values

    def read(self) -> Generator[Document | ReadError, None, int]:
        """Every document of the chunk, as reading it whole gives them (see the module doc); returns the next index."""
        index, first = self.index, True
        source = self.source
        at = self._blanks(0)
        while at < len(self.text):
            line = self.chunk.line_offset + 1 + self.lines + self.text.count("\n", 0, at)
            try:
                if not first and not self.stream_start:  # kubectl reads a JSON stream only from a file's start
                    self._decode(at)
                    words = (f"more JSON after the document's first object, at line {line}: kubectl reads a file as "
                             "a JSON stream only when it starts with `{`, and here ignores the rest")  # fmt: skip
                    yield ReadError(source, index, words)
                    return index + 1
                if self.text[at] == "{":
                    at = yield from self._object(at, index, line)
                else:
                    value, at = self._decode(at)
                    yield from _api_document(source, index, value, line, self._surrogates(0, at))
            except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
                if self.eof and self.chunk.problem is not None:  # bad bytes cut the text short: their words
                    yield ReadError(source, index, self.chunk.problem.message)
                    return index + 1
                if first:  # not JSON: YAML (its superset) is the lenient fallback
                    return (yield from self._to_yaml(index, exc))
                error = self._chunk_error(exc)
                yield ReadError(source, index, _json_message(source, error, None, self.chunk.line_offset)
                                or f"invalid JSON: {_one_line(error)}")  # fmt: skip
                return index + 1
            index += 1
            first = False
            at = self._blanks(at)
            self._drop(at)
            at = 0
        if self.chunk.problem is not None:
            yield ReadError(source, index, self.chunk.problem.message)
            return index + 1
        return index

    def _object(self, start: int, index: int, line: int) -> Generator[Document | ReadError, None, int]:
        """The object at ``start``: a List with an items array streamed, anything else read whole; returns its end.

        Until items stream, any problem is found by reading the object whole (the decoder's own error, where it
        is); the window is never cut before them.
        """
        self.header, self.last_start, self.last_item, self.yielded, self.kind_api = None, -1, -1, -1, None
        self.held, self.refused, self.not_json = [], None, None
        pairs: list[tuple[str, Any, int, int]] = []  # (key, value, start, end) before items
        converted: dict[str, Any] | None = None  # the List's fields as the API would receive them, once streamed
        keys: set[str] = set()
        repeated: ValueError | None = None
        at = self._blanks(start + 1)
        if self._char(at) != '"':
            return (yield from self._whole(start, index, line))
        while True:
            try:
                key, at = self._key(at)
            except ValueError:
                if converted is None:
                    return (yield from self._whole(start, index, line))
                raise
            colon = self._blanks(at)
            if self._char(colon) != ":":
                if converted is None:
                    return (yield from self._whole(start, index, line))
                raise self._probe('{""', at, colon)
            at = self._blanks(colon + 1)
            if key in keys:
                repeated = repeated or ValueError(f"duplicate key {key!r}")
            if key == "items" and converted is None and repeated is None and self._char(at) == "[":
                converted = self._list_fields(pairs)
                pairs = []
                at = yield from self._items(at, index, line)
                keys.add(key)
            else:
                try:
                    value, end = self._decode(at)
                except (ValueError, RecursionError):
                    if converted is None:
                        return (yield from self._whole(start, index, line))
                    raise
                keys.add(key)
                if converted is None:
                    pairs.append((key, value, at, end))
                else:
                    self._convert_field(converted, key, value, at, end)
                at = end
            after = self._blanks(at)
            found = self._char(after)
            if found == ",":
                comma, at = after, self._blanks(after + 1)
                if self._char(at) != '"':
                    if converted is None:
                        return (yield from self._whole(start, index, line))
                    raise self._probe('{"":0', comma, at)
                continue
            if found == "}":
                break
            if converted is None:
                return (yield from self._whole(start, index, line))
            raise self._probe('{"":0', at, after)
        if converted is None:
            return (yield from self._whole(start, index, line))
        if repeated is not None:
            raise repeated
        yield from self._finish(index, converted)
        return after + 1

    def _whole(self, start: int, index: int, line: int) -> Generator[Document | ReadError, None, int]:
        """The value at ``start`` read whole (not a List to stream, or a broken one): as reading the chunk whole."""
        value, end = self._decode(start)
        yield from _api_document(self.source, index, value, line, self._surrogates(start, end))
        return end

    def _convert_field(self, converted: dict[str, Any], key: str, value: Any, start: int, end: int) -> None:
        try:
            surrogates = self._surrogates(start, end)
            converted.update(as_api_json({key: value}, MAX_DEPTH, max_containers=MAX_CONTAINERS, surrogates=surrogates))
        except NotJSONError as exc:
            self.not_json = self.not_json or (-1 if self.last_item < 0 else self.last_item + 1, _api_message(exc))

    def _list_fields(self, pairs: list[tuple[str, Any, int, int]]) -> dict[str, Any]:
        """The fields before the items, converted; the List's kind and apiVersion when both came before them."""
        converted: dict[str, Any] = {}
        for key, value, start, end in pairs:
            self._convert_field(converted, key, value, start, end)
        kind = converted.get("kind")
        self.label = kind if isinstance(kind, str) else "List"
        if "kind" in converted and "apiVersion" in converted:
            self.kind_api = (_text(converted, "kind"), _text(converted, "apiVersion"))
        return converted

    def _items(self, at: int, index: int, line: int) -> Generator[Document | ReadError, None, int]:
        """The items array at ``at``, each item yielded as soon as it is read; returns where the array ends."""
        self.header = self.text[: at + 1]
        self._drop(at + 1)
        self.region = (self.lines, self.chars)
        at = self._blanks(0)
        if self._char(at) == "]":
            return at + 1
        i = 0
        while True:
            try:
                value, end = self._retrying(read_item, at)
            except NotJSONError as exc:  # strict JSON, but not for the API: it costs the List
                _, end = self._decode(at)
                self.last_start, self.last_item = at, i
                self.not_json = self.not_json or (i, _api_message(NotJSONError(["items", i, *exc.path], exc.problem)))
                self.held = []
            else:
                self.last_start, self.last_item = at, i
                yield from self._item(i, value, index, line)
            at = self._blanks(end)
            found = self._char(at)
            if found == "]":
                return at + 1
            if found != ",":
                raise self._probe("[0", end, at)
            comma, at = at, self._blanks(at + 1)
            if self._char(at) == "]":  # a trailing comma: the decoder's words for it
                raise self._probe("[0", comma, at)
            i += 1
            if self.last_start > _KEEP:  # the last item read stays, for the YAML reader should the List break
                cut = self.last_start
                self._drop(cut)
                at -= cut
                self.last_start = 0

    def _item(self, i: int, value: Any, index: int, line: int) -> Iterator[Document | ReadError]:
        """One item, as reading the List whole makes it: yielded now, held for the List's kind, or refusing it."""
        if self.not_json is not None or self.refused is not None:  # the List is refused: nothing of it is sent
            return
        problem = item_problem(i, value)
        if problem is not None:
            self.refused = (i, problem)
            self.held = []
            return
        if self.kind_api is not None:
            kind, api = self.kind_api
        elif self.held or not _independent(value):
            self.held.append((i, value, line))  # its kind, or its place, waits for the List's kind
            return
        else:
            kind = api = ""
        yield list_item(self.source, index, i, value, line, kind, api)
        self.yielded = i

    def _finish(self, index: int, converted: dict[str, Any]) -> Iterator[Document | ReadError]:
        """A streamed List's end: its refusal (as reading it whole words it), or the items held for its kind."""
        held, self.held = self.held, []
        problem = self.not_json[1] if self.not_json is not None else None
        problem = problem or list_problem(converted) or meta_problem(converted)
        if problem is None and self.refused is not None:
            problem = self.refused[1]
        if problem is not None:
            yield ReadError(self.source, index, problem)
            return
        kind, api = _text(converted, "kind"), _text(converted, "apiVersion")
        for i, value, line in held:
            yield list_item(self.source, index, i, value, line, kind, api)

    # ------------------------------------------------------------ not JSON after all

    def _to_yaml(self, index: int, exc: Exception) -> Generator[Document | ReadError, None, int]:
        """The chunk's first value is no strict JSON: the YAML reader reads the chunk as it reads one read whole.

        With no item read yet, from the chunk's start; else from the last item read (which it reads again, and
        which is not yielded twice), the text before it but the List's header blanked to its lines and columns.
        """
        error = self._chunk_error(exc)
        first = self.last_item
        if first < 0:
            prefix = (self.header or "") + self.text
            first = 0
        else:
            assert self.header is not None
            lines, chars = self.region
            newlines = self.lines - lines + self.text.count("\n", 0, self.last_start)
            newline = self.text.rfind("\n", 0, self.last_start)
            if newline >= 0:
                tail = self.last_start - newline - 1
            else:
                tail = self.last_start + (self.column if self.lines > lines else self.chars - chars)
            prefix = self.header + "\n" * newlines + " " * tail + self.text[self.last_start :]
            if self.not_json is not None and self.not_json[0] < first:
                yield ReadError(self.source, index, self.not_json[1])
        parts = [prefix.encode("utf-8")]
        self.text = ""

        def replay(size: int) -> bytes:
            return parts.pop() if parts else self.chunk.read(size)

        stream = _Input(replay, utf8_bom=False)
        stream.start()
        reader = _YamlReader(self.source, _Replayed(self.source, stream, self.chunk.line_offset, self.chunk), index,
                             None)  # fmt: skip
        reader.first_item = first
        for i, value, line in self.held:  # what YAML's reading of the List did with them, as they came
            if i >= first:
                break
            if value is None:
                value = {}  # JSON null decodes into an empty map: a kindless item
            if value.__class__ is not dict:  # YAML words it at once, with the kind known so far
                yield ReadError(self.source, index, f"{self.label} item {i} is not a Kubernetes object", i)
            elif reader.held or (not _text(value, "kind") and not _text(value, "apiVersion")):
                reader.held.append((i, value, line))
            else:
                yield list_item(self.source, index, i, value, line, "", "")
        if self.refused is not None and self.refused[0] < first:
            reader.refused = self.refused[1]
        again = self.yielded == first and self.last_item >= 0  # read again by YAML: already yielded
        reading = reader.read(error)
        kept: Document | ReadError | None = None  # YAML's reading of that item, unless it is why the parse broke
        while True:
            try:
                entry = next(reading)
            except StopIteration as stop:
                if kept is not None and reader.failed:
                    yield kept
                return stop.value  # type: ignore[no-any-return]
            if kept is not None:
                kept = None  # the item's reading: yielded already, by JSON
            elif again and entry.document == index and entry.item == first:
                again, kept = False, entry
                continue
            yield entry
