"""Every document of a byte stream, chunk by chunk (``read_text``): each chunk read as JSON or as YAML.

- JSON documents (a document starting with ``{`` or ``[``) are read strictly
  by ``json`` (no duplicate keys, no NaN); YAML is the fallback for flow-style
  YAML that merely looks like JSON. A chunk of up to ``JSON_WHOLE`` bytes is
  read whole; a bigger one (``kubectl get -o json`` of a cluster) a value, and
  a List's item, at a time (``generator.manifests.json_stream``).

A chunk that breaks costs only itself: the next one is read all the same.
Files and pieces (``generator.manifests.files``, ``.pieces``) read through here.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Collection, Generator, Iterator
from typing import Any

from generator.manifests.documents import (
    Document,
    ReadError,
    _json_message,
    _one_line,
)
from generator.manifests.json_stream import (
    _SURROGATE_ESCAPE,
    DECODER,
    JSON_WHOLE,
    _api_document,
    _JsonStream,
)
from generator.manifests.stream import _Chunk, _Input
from generator.manifests.yaml_events import _YamlReader

_JSON_BLANK = re.compile(r"[ \t\n\r]*")


def _past_blanks(text: str, at: int) -> int:
    found = _JSON_BLANK.match(text, at)  # always matches (possibly nothing)
    return found.end() if found else at


def _json_values(text: str) -> tuple[list[tuple[Any, int]], Exception | None]:
    """The chunk's JSON values one after another, as Go's ``json.Decoder`` reads a stream of them, each with its offset.

    Strict (no duplicate keys, no NaN); stops at the first that does not read, and says why.
    """
    decoder = DECODER
    values: list[tuple[Any, int]] = []
    at = _past_blanks(text, 0)
    while at < len(text):
        try:
            value, end = decoder.raw_decode(text, at)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            return values, exc
        values.append((value, at))
        at = _past_blanks(text, end)
    return values, None


def _read_json(source: str, chunk: _Chunk, index: int, stream_start: bool = False,
               ) -> Generator[Document | ReadError, None, int]:  # fmt: skip
    """A chunk that starts like JSON: read whole, as JSON exactly; YAML (its superset) is the lenient fallback.

    kubectl reads a file whose first character is ``{`` as a stream of JSON
    objects (``stream_start``: each is sent); any other ``---`` chunk is one
    YAML document to go-yaml, which silently ignores what follows its first
    object: pssgen refuses that rest, as it refuses content after ``...``.
    """
    chunk.controls = True
    if chunk.larger_than(JSON_WHOLE):  # a gigabyte List is read an item at a time
        return (yield from _JsonStream(source, chunk, index, stream_start).read())
    data = chunk.read_all()
    if chunk.problem is not None:
        yield ReadError(source, index, chunk.problem.message)
        return index + 1
    text = data.decode("utf-8")
    values, json_error = _json_values(text)
    if json_error is None or values:
        surrogates = "\\" in text and _SURROGATE_ESCAPE.search(text) is not None
        line, counted = chunk.line_offset + 1, 0
        for value, at in values if stream_start else values[:1]:  # a JSON stream: kubectl sends each
            line += text.count("\n", counted, at)
            counted = at
            yield from _api_document(source, index, value, line, surrogates)
            index += 1
        if len(values) > 1 and not stream_start:
            line += text.count("\n", counted, values[1][1])
            words = (f"more JSON after the document's first object, at line {line}: kubectl reads a file as a "
                     "JSON stream only when it starts with `{`, and here ignores the rest")  # fmt: skip
            yield ReadError(source, index, words)
            return index + 1
        if json_error is not None:  # after a first object, the rest must be JSON too (kubectl: the file ends there)
            yield ReadError(source, index, _json_message(source, json_error, None, chunk.line_offset)
                            or f"invalid JSON: {_one_line(json_error)}")  # fmt: skip
            return index + 1
        return index
    replay = _Input(io.BytesIO(data).read)
    replay.start()
    reader = _YamlReader(source, _Chunk(source, replay, chunk.line_offset), index, None)
    return (yield from reader.read(json_error))


def _read_chunk(source: str, chunk: _Chunk, index: int, kinds: Collection[str] | None, stream_start: bool = False,
                ) -> Generator[Document | ReadError, None, int]:  # fmt: skip
    """Every document of one chunk (``stream_start``: the source's first); returns the index after its last."""
    if not chunk.first_byte():
        return index
    try:
        if chunk.first_byte() in (b"{", b"["):
            return (yield from _read_json(source, chunk, index, stream_start))
        return (yield from _YamlReader(source, chunk, index, kinds).read())
    except OSError:
        raise
    except Exception as exc:  # a last resort: one line, never a traceback, and the next chunk still read
        yield ReadError(source, index, f"cannot read document: {type(exc).__name__}: {_one_line(exc)}")
        return index + 1


def _utf16_to_utf8(read: Callable[[int], bytes]) -> tuple[Callable[[int], bytes], bool]:
    """``read``, or for UTF-16 with a byte order mark its text as UTF-8 (the mark dropped), and which of the two.

    kubectl reads every file through ``unicode.BOMOverride``: a UTF-16 byte order
    mark at the start decodes the whole file (what is not UTF-16 becomes U+FFFD),
    anything else is read as UTF-8. UTF-32's marks start like UTF-16 LE's; they
    are left for the byte stream to refuse.
    """
    head = read(4)
    while len(head) < 4:
        more = read(4 - len(head))
        if not more:
            break
        head += more
    encoding = None
    if head.startswith(codecs.BOM_UTF16_LE) and not head.startswith(codecs.BOM_UTF32_LE):
        encoding = "utf-16-le"
    elif head.startswith(codecs.BOM_UTF16_BE):
        encoding = "utf-16-be"
    pending = [head[2:] if encoding else head]
    if encoding is None:

        def passthrough(size: int) -> bytes:
            return pending.pop() if pending else read(size)

        return passthrough, False
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def transcoded(size: int) -> bytes:
        while True:
            block = pending.pop() if pending else read(size)
            text = decoder.decode(block, final=not block)
            if text or not block:
                return text.encode("utf-8")

    return transcoded, True


def _read_stream(
    source: str, read: Callable[[int], bytes], kinds: Collection[str] | None = None, *,
    index: int = 0, line_offset: int = 0, chunks: int | None = None, source_start: bool = True,
) -> Generator[Document | ReadError, None, int]:  # fmt: skip
    """Every document of a byte stream (or its first ``chunks`` that hold something), a block at a time.

    ``source_start``: the stream is a source from its first byte (not a piece
    cut out of its middle), which decides whether it may be a JSON stream.
    A broken document costs only itself. Returns the index after the last document.
    """
    read, transcoded = _utf16_to_utf8(read)
    stream = _Input(read, utf8_bom=not transcoded)  # for UTF-16, the transcoding dropped the mark
    refused = stream.start()
    if refused is not None:
        yield ReadError(source, None, refused)
        return index
    first = source_start
    while True:
        chunk = _Chunk(source, stream, line_offset)
        if chunks is not None and chunk.first_byte():
            chunks -= 1
        index = yield from _read_chunk(source, chunk, index, kinds, stream_start=first)
        first = False
        line_offset += chunk.drain()
        if chunks == 0 or not stream.next_chunk():
            return index


def read_text(source: str, data: bytes, kinds: Collection[str] | None = None) -> Iterator[Document | ReadError]:
    """Parse every document in ``data``; a broken document costs only itself."""
    return _read_stream(source, io.BytesIO(data).read, kinds)
