"""The byte stream: read a block at a time, checked, and cut into chunks at ``---`` lines, none held whole.

- Input is read a block at a time and never held whole (regular files of up to
  ``SMALL_FILE`` bytes are read in one call, in ``generator.manifests.files``):
  documents are cut at ``---`` lines as they stream past, as Kubernetes' own
  YAML reader cuts them, so a broken document (bad syntax, bytes that are not
  UTF-8, a NUL byte) costs only itself, not the rest of its file.
- Only UTF-8 is read (a UTF-8 byte order mark is allowed): the API server takes
  UTF-8 JSON only, so UTF-16/32 files are refused with a clear line, not guessed.
  Bytes are checked as they are read (NUL, UTF-8, YAML's printable set), with
  the position in the file, before any parser sees them.

- **Bounded.** A line is handed out as soon as it cannot be a separator line
  (so a 300 MiB line streams like any other text), the buffer holds a few
  blocks, and no object may be larger than ``MAX_OBJECT_BYTES`` (3 MiB): the
  API server's default limit on a request body (``MaxRequestBodyBytes`` in
  k8s.io/apiserver), so nothing larger could be created anyway. An object is a
  document, or one item of a List: in a chunk whose ``items:`` line (YAML block
  style, or a pretty-printed JSON ``"items": [``) is followed by entries, the
  budget starts again at each entry line at the entries' indentation (a chunk
  that starts with a block sequence at column 0, as the pieces of a cut List
  do, counts the same way). A one-line JSON List is one object. The reading of
  an object over budget stops there (``problem``, like bad bytes), the rest of
  its chunk is skipped unbuffered, and the next ``---`` starts afresh; when no
  separator line comes within ``MAX_SKIP`` bytes (``/dev/zero``), the source is
  given up with an ``OSError`` the file reader reports as one line. A quoted
  multi-line scalar can hold lines that look like entries: the budget is a
  bound on buffers, not a parse, and such a scalar is held whole by the parser.

Nothing here knows YAML or JSON beyond those lines: a ``_Chunk`` is what a parser reads from.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass

BLOCK_SIZE = 1 << 20  # bytes read from a stream at a time
MAX_OBJECT_BYTES = 3 << 20  # the API server's default MaxRequestBodyBytes (k8s.io/apiserver): 3 MiB
MAX_SKIP = 64 << 20  # bytes skipped past a broken or oversized object, looking for `---`; then the source is given up
SEPARATOR_LINE_LIMIT = 64 << 10  # a `---` line longer than this (blanks, a comment) is read as content, not a cut

# A line that is `---`, optionally followed by blanks and a comment: Kubernetes' YAMLReader's separator.
_SEPARATOR = re.compile(rb"^---(?:[ \t\r\v\f]|\xc2[\x85\xa0])*(?:#[^\n]*)?$", re.MULTILINE)  # blanks: Go's TrimSpace
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)  # fmt: skip
# What YAML's reader refuses (libyaml and PyYAML alike), NUL aside: as bytes for ASCII text, as text otherwise.
_ASCII_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BLANK = b" \t\r\n"
# What a line not complete yet must look like to still become a separator line.
_SEPARATOR_PREFIX = re.compile(rb"-{0,3}|---(?:[ \t\r\v\f]|\xc2[\x85\xa0]?)*(?:#[^\n]*)?")
# A List's items line (after a newline): YAML block style at column 0, or pretty-printed JSON.
_ITEMS_LINE = re.compile(rb'\n(?:items:[ \t]*(?:#[^\r\n]*)?|[ \t]*"items"[ \t]*:[ \t]*\[[ \t]*)\r?\n')
# The first line with content after it: a YAML entry (`- `) or a JSON object (`{`), and its indentation.
_FIRST_ENTRY = re.compile(rb"\n(?:[ \t]*(?:#[^\r\n]*)?\r?\n)*( *)(-(?=[ \t\r\n])|\{)")
# What may still become such a first line: blank and comment lines, then the start of one.
_MAYBE_ENTRY = re.compile(rb"\n(?:[ \t]*(?:#[^\r\n]*)?\r?\n)*[ \t]*(?:#[^\r\n]*|-)?\r?")
_CARRY = 4096  # bytes of what was handed out kept to match those lines across pieces


class _Budget:
    """Bytes handed out per object (see the module doc): where the current object started, and List state.

    Lines are matched in what was handed out, with the last ``_CARRY`` bytes
    kept so a line cut between two pieces is still seen; offsets are the chunk's.
    """

    __slots__ = ("entry", "first_from", "region_end", "span_start", "state", "tail", "yaml_entry")

    def __init__(self) -> None:
        self.state = "head"  # head (no items line yet), first (items line seen), items (in the entries), after
        self.span_start = 0  # chunk offset where the current object's bytes started
        self.tail = b"\n"  # the last bytes handed out, from chunk offset -1 (a chunk starts at a line start)
        self.first_from = -1  # chunk offset of the newline ending the items line, then of that before the entries
        self.entry = b""  # newline, the entries' indentation, then `-` or `{`
        self.yaml_entry = True
        self.region_end: re.Pattern[bytes] | None = None  # a line that ends the entries

    def _start_entries(self, indent: int, yaml_entry: bool) -> None:
        pad = b" " * indent
        self.yaml_entry = yaml_entry
        self.entry = b"\n" + pad + (b"-" if yaml_entry else b"{")
        allowed = pad + (rb"-(?:[ \t\r\n]|$)" if yaml_entry else rb"[{}]")
        self.region_end = re.compile(rb"\n(?!" + allowed + b"|" + pad + rb" |[ \t]*(?:#[^\r\n]*)?\r?(?:\n|$))")
        self.state = "items"

    def _is_entry(self, joined: bytes, at: int) -> bool:
        after = joined[at + len(self.entry) : at + len(self.entry) + 1]
        return not self.yaml_entry or after in (b"", b" ", b"\t", b"\r", b"\n")

    def over(self, data: bytes, served: int) -> int | None:
        """Where in ``data`` (handed out from chunk offset ``served``) an object passes the budget, or None."""
        base = served - len(self.tail)  # chunk offset of joined[0]
        joined = self.tail + data
        start = max(len(self.tail) - 256, 0)  # a line that began in the last piece (longer ones are not ours)
        if self.state == "head":
            if joined.startswith(b"\n-") and base == -1 and joined[2:3] in (b"", b" ", b"\t", b"\r", b"\n"):
                self._start_entries(0, True)  # a chunk that is a block sequence at column 0: its entries are objects
            else:
                found = _ITEMS_LINE.search(joined, start)
                if found is not None:
                    self.state, self.first_from = "first", base + found.end() - 1
        if self.state == "first":
            at = self.first_from - base
            found = _FIRST_ENTRY.match(joined, at) if at >= 0 else None
            if found is not None and found.end() < len(joined):
                self._start_entries(len(found.group(1)), found.group(2) == b"-")
                self.first_from = base + found.start(2) - len(found.group(1)) - 1  # the newline before the first entry
            elif at < 0 or (found is None and not _MAYBE_ENTRY.fullmatch(joined, at)):
                self.state = "after"  # the items line is followed by something else: no entries to count
        if self.state == "items":
            assert self.region_end is not None
            start = max(start, self.first_from - base)
            stop = self.region_end.search(joined, start)
            limit = len(joined) if stop is None else stop.start()
            self._entries(joined, base, start, limit, len(data) <= MAX_OBJECT_BYTES)
            if stop is not None:
                self.state = "after"
        self.tail = joined[-_CARRY:]
        if served + len(data) - self.span_start > MAX_OBJECT_BYTES:
            return max(self.span_start + MAX_OBJECT_BYTES - served, 0)
        return None

    def _entries(self, joined: bytes, base: int, start: int, limit: int, small: bool) -> None:
        """Move ``span_start`` to each entry line in ``joined[start:limit]`` while no object passes the budget.

        In a piece no longer than the budget, no object can start and pass it
        inside the piece: only the first entry (which ends the object before
        it) and the last (which starts the current one) matter.
        """
        at = joined.find(self.entry, start, limit)
        while at >= 0 and not self._is_entry(joined, at):
            at = joined.find(self.entry, at + 1, limit)
        while at >= 0:
            offset = base + at + 1
            if offset - self.span_start > MAX_OBJECT_BYTES:
                return
            self.span_start = max(self.span_start, offset)
            if small:
                last = joined.rfind(self.entry, at + 1, limit)
                while last > at and not self._is_entry(joined, last):
                    last = joined.rfind(self.entry, at + 1, last)
                if last > at:
                    self.span_start = max(self.span_start, base + last + 1)
                return
            at = joined.find(self.entry, at + 1, limit)
            while at >= 0 and not self._is_entry(joined, at):
                at = joined.find(self.entry, at + 1, limit)


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

    def __init__(self, read: Callable[[int], bytes], utf8_bom: bool = True) -> None:
        self._read = read
        self._utf8_bom = utf8_bom  # drop a UTF-8 byte order mark at the start (kubectl's BOMOverride does)
        self._buf = b""
        self._pos = 0  # the next byte of _buf to hand out
        self._from = 0  # where in _buf to look on for a "\n---" that ends the current chunk
        self._safe = 0  # bytes of _buf before here hold no separator line (the chunk's own first line aside)
        self._end: int | None = None  # where the current chunk ends in _buf, once found
        self._eof = False
        self._base = 0  # the input's offset of _buf[0]
        self._line_at = 0  # where in _buf the line not complete yet starts (-1: before _buf[0], so ruled out)
        self._ruled_out = False  # that line cannot be a separator line: its bytes may be handed out

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
        if self._utf8_bom and self._buf.startswith(codecs.BOM_UTF8):
            self._pos = self._from = self._safe = self._line_at = len(codecs.BOM_UTF8)
        while self._buf.find(b"\n", self._pos) < 0 and len(self._buf) - self._pos <= SEPARATOR_LINE_LIMIT:
            if not self._fill():
                break
        newline = self._buf.find(b"\n", self._pos)
        if _SEPARATOR.match(self._buf, self._pos, len(self._buf) if newline < 0 else newline):
            self._end = self._pos  # the input starts with a separator: its first chunk is empty
            return None
        return None

    def _fill(self) -> bool:
        """Read one more block; False at the end of the input."""
        if self._eof:
            return False
        block = self._read(BLOCK_SIZE)
        if not block:
            self._eof = True
            return False
        if self._pos > len(self._buf) // 2 or self._pos >= BLOCK_SIZE:  # drop what was handed out
            cut = self._pos - 1  # the last byte handed out stays: a "\n" before a `---` line is what finds it
            self._buf = self._buf[cut:] + block
            self._base += cut
            self._pos -= cut
            self._from = max(self._from - cut, 0)
            self._safe -= cut
            self._end = None if self._end is None else self._end - cut
            self._line_at = self._line_at - cut if self._line_at >= cut else -1
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
            if _SEPARATOR.match(buf, line, limit):
                self._end = self._safe = line
                return
            at = line
        self._safe = max(self._safe, limit)
        self._from = max(self._from, limit - 1)
        if self._eof:
            self._end = len(buf)
            return
        # The line not complete yet: handed out as soon as it cannot become a separator line (or is too long to be
        # read as one), so a long line streams; a line ruled out is not looked at again when it ends.
        if limit > 0 and limit > self._line_at:
            self._line_at, self._ruled_out = limit, False
        if not self._ruled_out:
            partial = buf[self._line_at :]
            self._ruled_out = len(partial) > SEPARATOR_LINE_LIMIT or not _SEPARATOR_PREFIX.fullmatch(partial)
        if self._ruled_out:
            self._safe = self._from = len(buf)

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
        self._budget = _Budget()
        self._begun = False  # the chunk's own separator line looked at (and dropped)
        self._separator_lines = 0  # 1 once that line is dropped: it counts for the next chunk's positions

    def _begin(self) -> None:
        """Drop the chunk's own separator line, and one UTF-8 byte order mark after it, as kubectl's reader does.

        Its YAMLReader hands go-yaml each document without the ``---`` line, so
        what follows it is the start of a stream: a ``%`` directive or a ``...``
        there is go-yaml's error, and one byte order mark there is dropped. A
        second one is refused: go-yaml's ``is_bom`` then looks at the start of
        its buffer, not at the character it is asked about, and drops the first
        character of every line (``#privileged: true`` becomes a key).
        """
        self._begun = True
        if self._stream.lookahead(3) == b"---":
            look = self._stream.lookahead(256)
            if b"\n" not in look:
                look = self._stream.lookahead(SEPARATOR_LINE_LIMIT)
            newline = look.find(b"\n")
            end = len(look) if newline < 0 else newline
            if _SEPARATOR.match(look, 0, end):
                self._take_exactly(end + 1 if newline >= 0 else end)
                self._separator_lines = 1 if newline >= 0 else 0
                self.line_offset += self._separator_lines
        bom = codecs.BOM_UTF8
        look = self._stream.lookahead(70)
        if not look.startswith(bom):
            return
        if look.startswith(bom * 2):
            self.problem = _BadBytes("a document starts with two byte order marks (kubectl's YAML reader then drops "
                                     "the first character of its lines): refused", 0)  # fmt: skip
        elif look[3:].strip(_BLANK) or len(look) == 70:
            self._take_exactly(3)
        else:  # go-yaml reads a mark with nothing after it as text: a document that is no object
            self.problem = _BadBytes("document is only a byte order mark (kubectl reads it as text)", 0)

    def _take_exactly(self, size: int) -> None:
        while size > 0:
            taken = self._stream.take(size)
            if not taken:
                return
            size -= len(taken)

    def larger_than(self, size: int) -> bool:
        """Whether more than ``size`` bytes of the chunk are left to hand out (looked at, not handed out)."""
        if not self._begun:
            self._begin()
        if len(self._head) > size:
            return True
        return len(self._head) + len(self._stream.lookahead(size + 1 - len(self._head))) > size

    def first_byte(self) -> bytes:
        """The first byte that is not a blank (b"" when there is none), to tell JSON from YAML."""
        if not self._begun:
            self._begin()
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
        if not self._begun:
            self._begin()
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
        """Skip what is left of the chunk; returns its number of lines, for the next one's positions.

        Past a problem, at most ``MAX_SKIP`` bytes are skipped: an ``OSError`` then gives the source up (a file
        of zeros has no separator line to go on from).
        """
        lines = self._separator_lines + self._lines + self._dropped + self._head.count(b"\n")
        self._head = b""
        skipped = 0
        while piece := self._stream.take(BLOCK_SIZE):
            lines += piece.count(b"\n")
            skipped += len(piece)
            if self.problem is not None and skipped > MAX_SKIP:
                raise OSError(f"not read past line {self.line_offset + lines + 1}: no `---` line within "
                              f"{MAX_SKIP >> 20} MiB after a document that could not be read")  # fmt: skip
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
        at_line_start = self._served == self._line_start
        cut = 0 if at_line_start and data.startswith(b"---") else data.find(b"\n---")
        if cut < 0:
            return self._clean_text(data)
        cut += 0 if cut == 0 and at_line_start and data.startswith(b"---") else 1
        clean, chars, problem = self._clean_text(data[:cut])
        if problem is None:  # a line that starts with `---` but is no separator (those cut chunks): kubectl's error
            problem = (f"invalid document separator at {self._where(data, cut)}: after `---` a line may hold only "
                       "a comment (kubectl refuses it, and reads no further in the file)")  # fmt: skip
        return clean, chars, problem

    def _clean_text(self, data: bytes) -> tuple[bytes, int, str | None]:
        """``_clean`` for bytes holding no line that starts with ``---``."""
        if data.isascii():
            found = None if self.controls else _ASCII_CONTROL.search(data)
            if found is None:
                return data, len(data), None
            bad = found.start()
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
        cut = self._budget.over(data, self._served)
        if cut is not None:  # an object passes MAX_OBJECT_BYTES: the parser sees it end here
            while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:  # not inside a character
                cut -= 1
            where = self._where(data, cut)
            self._dropped += data.count(b"\n", cut)  # not handed out, but lines all the same
            data = data[:cut]
            chars = len(data) if data.isascii() else len(data.decode("utf-8"))
            words = (f"object larger than {MAX_OBJECT_BYTES >> 20} MiB ({MAX_OBJECT_BYTES:,} bytes, the API server's "
                     f"request limit) at {where}; skipped")  # fmt: skip
            self.problem = _BadBytes(words, self._chars + chars)
        newlines = data.count(b"\n")
        if newlines:
            self._lines += newlines
            self._line_start = self._served + data.rfind(b"\n") + 1
        self._served += len(data)
        self._chars += chars
        return data


class _Replayed(_Chunk):
    """A chunk whose bytes are text already read, then the rest of ``original``, which bad bytes may have cut short.

    Where ``original`` stopped at bad bytes, this one stops with the same problem, at its own position.
    """

    def __init__(self, source: str, stream: _Input, line_offset: int, original: _Chunk) -> None:
        super().__init__(source, stream, line_offset)
        self.original = original

    def read(self, size: int) -> bytes:
        data = super().read(size)
        if not data and self.problem is None and self.original.problem is not None:
            self.problem = _BadBytes(self.original.problem.message, self._chars)
        return data
