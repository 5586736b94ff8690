"""Files, directories and stdin, in the order given: what ``read_paths`` reads.

Regular files of up to ``SMALL_FILE`` bytes are read in one call; larger ones,
and pipes, are streamed a block at a time. Directories are walked (sorted,
depth first) for manifest files; what cannot be opened or listed is a
``ReadError`` for that path, and reading goes on with the next.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Collection, Generator, Iterator
from pathlib import Path
from typing import IO

from generator.manifests.chunks import _read_stream, read_text
from generator.manifests.documents import Document, ReadError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
SMALL_FILE = 4 << 20  # regular files up to this size are read in one call; larger ones, and pipes, a block at a time


def _os_message(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    return f"cannot read: {exc.strerror or exc}"


def _walk(root: str) -> Iterator[str | ReadError]:
    """Manifest files below ``root``, or errors for what cannot be listed, in ``kubectl apply -R -f``'s order.

    That is ``filepath.Walk``'s: each directory's entries sorted by name, files
    and subdirectories interleaved, depth first. Iterative, so absurdly deep
    trees cannot exhaust the stack; directory symlinks are followed once (kubectl
    does not follow them: pssgen reads more, never less), a loop is cut where it closes.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[str, bool]] = [(root, True)]  # (path, is a directory to list)
    while stack:
        path, listing = stack.pop()
        if not listing:
            yield path
            continue
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(path) as entries:
                listed = sorted(entries, key=lambda e: e.name.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            yield ReadError(path, None, f"cannot read directory: {exc.strerror or exc}")
            continue
        found: list[tuple[str, bool]] = []
        for entry in listed:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False  # unreadable or a symlink loop: reading it as a file reports why
            if is_dir:
                found.append((entry.path, True))
            elif entry.name.endswith(MANIFEST_SUFFIXES):
                found.append((entry.path, False))
        stack.extend(reversed(found))


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


def source_names(paths: list[str]) -> Iterator[str]:
    """The source names ``read_paths`` will give, in its order, without reading a file: to order positions."""
    for raw in paths:
        if raw == "-":
            yield "<stdin>"
            continue
        try:
            is_dir = stat.S_ISDIR(os.stat(raw).st_mode)
        except (OSError, ValueError):
            is_dir = False
        if not is_dir:
            yield raw
            continue
        yield from (found for found in _walk(raw) if not isinstance(found, ReadError))


def _stream_file(path: str, kinds: Collection[str] | None, index: int) -> Generator[Document | ReadError, None, int]:
    try:
        with open(path, "rb") as handle:
            return (yield from _read_stream(path, handle.read, kinds, index=index))
    except OSError as exc:
        yield ReadError(path, None, _os_message(exc))
        return index
