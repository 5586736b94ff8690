"""Reading input as kubectl reads it: files, streams, YAML and JSON documents, List items, API shape."""

from __future__ import annotations

from generator.manifests.reader import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    Document,
    LocalRead,
    Piece,
    Pieces,
    ReadError,
    read_paths,
    read_piece,
    read_text,
)

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "Document",
    "LocalRead",
    "Piece",
    "Pieces",
    "ReadError",
    "read_paths",
    "read_piece",
    "read_text",
]
