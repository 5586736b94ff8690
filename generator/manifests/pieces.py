"""Sources cut into pieces that worker processes read on their own (``--jobs``), and what the caller reads itself.

Whole chunks are gathered into pieces; a big ``kind: List`` in kubectl's
layout is cut between its items. A List whose pieces might read otherwise than
the whole List does (a parse error, an alias, an item nested too deep) is read
again, whole, by the caller: reading in parallel never changes what is read.
"""

from __future__ import annotations

import functools
import io
import os
import re
import stat
import sys
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

from generator.manifests.chunks import _json_values, _read_chunk, _read_stream
from generator.manifests.documents import NO_KIND, Document, ReadError, item_problem, list_item
from generator.manifests.files import _os_message, _small_file, _stream_file, _walk
from generator.manifests.json_stream import (
    _FAST,
    _SURROGATE_ESCAPE,
    DECODER,
    JSON_WHOLE,
    _as_api_json,
    _independent,
    read_item,
)
from generator.manifests.stream import BLOCK_SIZE, MAX_OBJECT_BYTES, _Chunk, _Input
from generator.manifests.yaml_events import _YamlReader

PIECE_SIZE = 1 << 20  # about this many bytes in a piece a worker reads
LOCAL_LIMIT = 8 << 20  # a chunk that cannot be cut is read by the caller, streaming, past this size
_HEAD_LIMIT = 64 << 10  # how far into a chunk a List's `items:` line is looked for
_TRAILER = 64 << 10  # what may follow a cut JSON List's items (kubectl: its kind and metadata) for its pieces to stand
# `items:` at column 0, then blank or comment lines, then its first item at column 0: kubectl's layout of a List.
_LIST_ITEMS = re.compile(rb"^items:[ \t]*(?:#[^\r\n]*)?\r?\n(?:[ \t]*(?:#[^\r\n]*)?\r?\n)*-(?:[ \r\n]|$)", re.M)
# A line no item of such a List can hold: at column 0, not `- `, not blank, not a comment. Searched for after a
# newline (a literal start is what makes `re` fast here); the first line of a block is looked at on its own.
_REGION_END = re.compile(rb"\n(?:[^- \r\n#]|-[^ \r\n]|\r(?!\n))")
# A JSON List's items line, in `kubectl get -o json`'s layout, then blank lines and its first item's line (indented).
_JSON_ITEMS = re.compile(rb'^[ \t]*"items"[ \t]*:[ \t]*\[[ \t]*\r?\n', re.M)
_JSON_FIRST = re.compile(rb"(?:[ \t]*\r?\n)*( +)\{")
_JSON_BLANKS = re.compile(r"[ \t\n\r]*")
_LEADING_BLANKS = re.compile(rb"[ \t\n\r]*")


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of one source that a worker reads on its own; document indices in what it yields count from 0.

    ``kind`` is "documents" (whole chunks), "items" (a run of a block List's
    items, ``items`` of them as the cutter counted, from ``first_item``) or
    "rest" (a cut List's own fields: ``data`` before its items, ``items: []``
    and ``blank_lines`` standing for them, then ``trailer``). A JSON List's
    (``syntax`` "json") runs are not counted: their ``first_item`` is -1, their
    reading numbers them from 0 and says how many they are, for the caller to
    number them in order; its "rest" is ``data`` (up to the items' ``[``) then
    ``trailer`` (from their ``]``).
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
    syntax: str = "yaml"  # "json": a JSON List's run of items, or its own fields (see read_piece)
    line: int = 0  # json: the List's line, which its items carry
    closes: bool = False  # json items: the run ends the List's items (no comma may follow its last)


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
                                                   line_offset=piece.line_offset,
                                                   source_start=piece.starts_source))  # fmt: skip
        return entries, documents, True
    if piece.syntax == "json":
        return _json_piece(piece) if piece.kind == "items" else _json_rest(piece, kinds)
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


def json_items(piece: Piece) -> int | None:
    """How many items a run of a JSON List's items holds, for a run not read for them (skimmed), or None when it
    does not read as a run of JSON values (then nothing of it stands). Counted by reading: lines that look like
    an item's first are only what cuts the List."""
    try:
        text = piece.data.decode("utf-8")
        count, at = 0, _past_json_blanks(text, 0)
        while at < len(text):
            _, end = _FAST.raw_decode(text, at)
            count += 1
            at = _past_json_blanks(text, end)
            if text[at : at + 1] == ",":
                at = _past_json_blanks(text, at + 1)
            elif at < len(text):
                return None
    except (ValueError, RecursionError):
        return None
    return count


def _json_piece(piece: Piece) -> tuple[list[Document | ReadError], int, bool]:
    """A run of a JSON List's items, read as the List's streamed reading reads them, numbered from 0, and how many
    there are (as documents): they stand only when that reading could not differ: every item strict JSON, an
    object of its own kind and version, sent as it is."""
    if b"\x00" in piece.data or len(piece.data) > MAX_OBJECT_BYTES - _TRAILER:  # what the chunk's checks refuse
        return [], 0, False  # (its last item and the List's end are one object to the byte budget: kept under it)
    try:
        text = piece.data.decode("utf-8")
    except UnicodeDecodeError:
        return [], 0, False
    entries: list[Document | ReadError] = []
    i, at = 0, _past_json_blanks(text, 0)
    comma = False
    while at < len(text):
        try:
            value, end = read_item(text, at)
        except (ValueError, RecursionError):  # NotJSONError and JSONDecodeError are ValueErrors
            return [], 0, False
        if item_problem(i, value) is not None or not _independent(value):
            return [], 0, False
        entries.append(list_item(piece.source, 0, i, value, piece.line, "", ""))
        i += 1
        at = _past_json_blanks(text, end)
        comma = text[at : at + 1] == ","
        if comma:
            at = _past_json_blanks(text, at + 1)
        elif at < len(text):
            return [], 0, False
    if comma == piece.closes:  # a comma after each item, but the List's last
        return [], 0, False
    return entries, i, True


def _json_rest(piece: Piece, kinds: Collection[str] | None) -> tuple[list[Document | ReadError], int, bool]:
    """A JSON List's own fields (its items left out): they stand when they are one strict JSON object, all there is."""
    if piece.reread:
        return [], 0, False
    data = piece.data + piece.trailer
    try:
        values, error = _json_values(data.decode("utf-8"))
    except UnicodeDecodeError:
        return [], 0, False
    if error is not None or len(values) != 1 or piece.trailer.lstrip(b" \t\r\n")[:1] != b"]":
        return [], 0, False  # (only a `]` closing the items may follow them: nothing of the List is in its end)
    reading = _read_stream(piece.source, io.BytesIO(data).read, kinds, line_offset=piece.line_offset)
    entries, documents = _collect(reading)
    return entries, documents, True


def _past_json_blanks(text: str, at: int) -> int:
    found = _JSON_BLANKS.match(text, at)
    return found.end() if found else at


def _json_head(ahead: bytes) -> tuple[int, bytes, int] | None:
    """Where a big JSON List's items line ends, its items' indentation and the newlines before the List, or None.

    Only `kubectl get -o json`'s layout is cut (the object from the chunk's first byte, an items line, its first
    item on a line of its own), and only when what comes before the items is strict JSON the API can receive.
    """
    found = _LEADING_BLANKS.match(ahead, 0, _HEAD_LIMIT)  # (a chunk of a big YAML stream is not copied)
    brace = found.end() if found else 0
    if ahead[brace : brace + 1] != b"{":
        return None
    head = _JSON_ITEMS.search(ahead, brace, _HEAD_LIMIT)
    first = _JSON_FIRST.match(ahead, head.end()) if head is not None else None
    if head is None or first is None:
        return None
    try:
        text = ahead[brace : head.end()].decode("utf-8") + "]}"
        value, end = DECODER.raw_decode(text)
        _as_api_json(value, _SURROGATE_ESCAPE.search(text) is not None)
    except (ValueError, RecursionError):  # not UTF-8 (UnicodeDecodeError), not JSON, or not for the API
        return None
    if end != len(text) or not isinstance(value.get("items"), list):
        return None
    return head.end(), first.group(1), ahead.count(b"\n", 0, brace)


def _list_label(source: str, head: bytes, line_offset: int) -> str | None:
    """The label for a List whose fields before ``items:`` are ``head``, or None if it must not be cut.

    Only a plain mapping (no anchor, alias, tag or merge: nothing that needs
    the rest of the document) is cut, and only if it reads without error.
    """
    stream = _Input(io.BytesIO(head).read)
    stream.start()
    documents: list[Document | ReadError] = []
    while True:
        chunk = _Chunk(source, stream, line_offset)
        reader = _YamlReader(source, chunk, 0, None)
        if chunk.first_byte():
            entries, _ = _collect(reader.read())
            if reader.failed or reader.anchors or reader.aliased or reader.used_nodes:
                return None
            # The fields before `items:` need no kind of their own (kubectl's layout puts it after them).
            if any((isinstance(e, ReadError) and e.message != NO_KIND) or e.item is not None for e in entries):
                return None
            documents.extend(entries)
        line_offset += chunk.drain()
        if not stream.next_chunk():
            break
    if len(documents) > 1:
        return None
    kind = documents[0].obj.get("kind") if documents and isinstance(documents[0], Document) else None
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
                return (yield from _read_stream(source, handle.read, kinds, index=index, line_offset=line, chunks=1,
                                                source_start=offset == 0))  # fmt: skip
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
                yield from self._cut(path, handle.read, functools.partial(_open_binary, path))
            except OSError as exc:
                yield ReadError(path, None, _os_message(exc))

    def _cut(self, source: str, read: Callable[[int], bytes], opener: Callable[[], IO[bytes]],
             ) -> Iterator[Piece | LocalRead | ReadError]:  # fmt: skip
        stream = _Input(read)
        refused = stream.start()
        if refused is not None and refused.startswith("UTF-16"):  # read as kubectl does, transcoded, by the caller
            yield LocalRead(source, lambda index, kinds: _stream_file(source, kinds, index))
            return
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
            json_head = _json_head(ahead) if head is None and len(ahead) == 2 * PIECE_SIZE else None
            if json_head is not None and len(stream.lookahead(JSON_WHOLE + 1)) > JSON_WHOLE:  # read streamed
                if gathered:
                    yield Piece("documents", source, b"".join(gathered), gathered_line)
                    gathered, gathered_size = [], 0
                self._ids += 1
                self._rereads[self._ids] = (opener, offset, line)
                self._sources[self._ids] = source
                line += yield from self._cut_json_list(source, stream, line, json_head, self._ids)
            elif head is not None and label is not None:
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
                yield LocalRead(source, functools.partial(_read_chunk, source, chunk))
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

    def _cut_json_list(self, source: str, stream: _Input, line: int, head: tuple[int, bytes, int], list_id: int,
                       ) -> Generator[Piece, None, int]:  # fmt: skip
        """Cut one JSON List's items into runs at lines that start an item (its indentation, then `{`); returns the
        chunk's number of lines.

        Runs are not counted here (the workers count them, and ``scan_parallel`` numbers them in order: counting
        a gigabyte for a pattern of blanks costs more than reading it), and the line that ends the items is looked
        for only in the chunk's last blocks, where kubectl's layout puts it: cut anywhere else, the pieces do not
        read as JSON, and the List is read whole.
        """
        items_end, pad, before = head
        doc_line = line + before + 1
        header = _take(stream, items_end)
        lines = header.count(b"\n")
        start = b"\n" + pad + b"{"
        region_end = re.compile(rb"\n(?!" + re.escape(pad) + rb"[ {}]|[ \t]*\r?\n|\Z)")  # a line no item holds
        batch, region_lines, carry, end = b"", 0, b"", None
        while True:
            block = stream.take(BLOCK_SIZE)
            if list_id in self._abandoned:  # its pieces did not stand: the caller reads it whole, cutting ends
                rest = carry + block + b"".join(iter(lambda: stream.take(BLOCK_SIZE), b""))
                return lines + region_lines + rest.count(b"\n")
            data = carry + block
            complete = len(data) if not block else data.rfind(b"\n") + 1
            data, carry = data[:complete], data[complete:]
            if len(stream.lookahead(BLOCK_SIZE + 1)) <= BLOCK_SIZE:  # the chunk ends within the next block
                found = region_end.search(b"\n" + data)  # data starts a line: its first line is looked at too
                end = None if found is None else found.start()
            region = data if end is None else data[:end]
            batch += region
            region_lines += region.count(b"\n")
            while len(batch) >= PIECE_SIZE:
                cut = batch.rfind(start) + 1
                if cut <= 0:
                    break
                part, batch = batch[:cut], batch[cut:]
                yield Piece("items", source, part, doc_line - 1, list_id, -1, syntax="json", line=doc_line)
            if end is not None or not block:
                break
        trailer = b"" if end is None else data[end:] + carry
        trailer += _take(stream, LOCAL_LIMIT)
        too_big = bool(stream.lookahead(1))
        if batch:
            yield Piece("items", source, batch, doc_line - 1, list_id, -1, syntax="json",
                        line=doc_line, closes=True)  # fmt: skip
        yield Piece("rest", source, header, line, list_id, trailer=trailer, reread=too_big or len(trailer) > _TRAILER,
                    syntax="json", line=doc_line)  # fmt: skip
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


def _open_binary(path: str) -> IO[bytes]:
    """The file again, from its start (a List that did not cut cleanly is read whole)."""
    return open(path, "rb")  # the caller closes it
