"""Reading input as kubectl reads it: files, streams, YAML and JSON documents, List items, API shape.

Hostile input never escapes as an exception: every document (or List item)
that cannot be read or understood becomes one ``ReadError`` naming its source,
document index and item index, and reading carries on with the rest.

Each module imports only those listed before it:

- ``shape``: API shape checks, and values as the API server would receive them
- ``documents``: what reading yields (``Document``, ``ReadError``), its limits, the words for problems
- ``stream``: bytes read a block at a time, checked, and cut into chunks at ``---`` lines
- ``loader``: the strict loader: values as kubectl's go-yaml v2 reads them, no duplicate keys
- ``yaml_events``: one chunk's YAML, read event by event, a ``kind: List``'s items one at a time
- ``json_stream``: JSON documents as the API receives them; a big JSON chunk read a value (a List's item) at a time
- ``chunks``: every document of a byte stream, each chunk read as JSON or as YAML (``read_text``)
- ``files``: files, directories and stdin (``read_paths``)
- ``pieces``: sources cut into pieces for worker processes (``Pieces``, ``read_piece``)
"""

from __future__ import annotations

from generator.manifests.chunks import read_text
from generator.manifests.documents import MAX_ALIAS_EXPANSION, MAX_DEPTH, Document, ReadError
from generator.manifests.files import read_paths, source_names
from generator.manifests.pieces import LocalRead, Piece, Pieces, json_items, read_piece

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "Document",
    "LocalRead",
    "Piece",
    "Pieces",
    "ReadError",
    "json_items",
    "read_paths",
    "read_piece",
    "read_text",
    "source_names",
]
