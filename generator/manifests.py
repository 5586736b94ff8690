"""Reading manifests: files, directories and stdin; multi-document YAML; ``kind: List`` expansion.

Every document that cannot be read or understood becomes a ``ReadError``
naming its source and document index; reading carries on with the rest.
Duplicate mapping keys are an error, as in the Kubernetes YAML decoder: a
last-wins reading would let ``privileged: true`` hide behind a second key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_DEPTH = 100  # deeper nesting than any Kubernetes object needs; also bounds recursion


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loading that rejects duplicate keys and absurd nesting."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key (a mapping or sequence used as a key)
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping key is not a scalar", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


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
    source: str
    document: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.document is None else f"{self.source}: document {self.document}"
        return f"{where}: {self.message}"


def _depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _expand(source: str, index: int, value: Any, line: int | None) -> Iterator[Document | ReadError]:
    if value is None:  # an empty document, e.g. a trailing `---`
        return
    if not isinstance(value, dict):
        kind = "sequence" if isinstance(value, list) else "scalar"
        yield ReadError(source, index, f"document is a {kind}, not a Kubernetes object")
        return
    if not _depth_ok(value):
        yield ReadError(source, index, f"document nests deeper than {MAX_DEPTH} levels")
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
                yield ReadError(source, index, f"{kind} item {i} is not a Kubernetes object")
        return
    yield Document(source, index, None, value, line)


def read_text(source: str, data: bytes) -> Iterator[Document | ReadError]:
    """Parse every document in ``data``; a broken document ends that source with an error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield ReadError(source, None, f"not UTF-8 text (byte {exc.start})")
        return
    if "\x00" in text:
        yield ReadError(source, None, "binary data (contains NUL bytes)")
        return
    loader = _StrictLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else None
            try:
                value = loader.construct_document(node)
            except RecursionError:
                yield ReadError(source, index, "document nests too deeply")
                return
            yield from _expand(source, index, value, line)
            index += 1
    except yaml.YAMLError as exc:
        yield ReadError(source, index, f"invalid YAML: {_one_line(exc)}")
    except RecursionError:
        yield ReadError(source, index, "document nests too deeply")
    finally:
        loader.dispose()


def _walk(root: Path, errors: list[ReadError]) -> Iterator[Path]:
    """Manifest files below ``root``, sorted, without following directory symlinks into loops."""
    seen: set[tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        errors.append(ReadError(str(exc.filename or root), None, f"cannot read directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(MANIFEST_SUFFIXES):
                yield Path(dirpath) / name


def read_paths(paths: list[str]) -> Iterator[Document | ReadError]:
    """Every document of every path, in order; ``-`` is stdin."""
    for raw in paths:
        if raw == "-":
            yield from read_text("<stdin>", sys.stdin.buffer.read())
            continue
        path = Path(raw)
        if path.is_dir():
            walk_errors: list[ReadError] = []
            for file in _walk(path, walk_errors):
                yield from _read_file(file)
            yield from walk_errors
        elif path.exists():
            yield from _read_file(path)
        else:
            yield ReadError(raw, None, "no such file or directory")


def _read_file(path: Path) -> Iterator[Document | ReadError]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield ReadError(str(path), None, f"cannot read: {exc.strerror}")
        return
    yield from read_text(str(path), data)
