"""One configuration document from a YAML (or JSON) file, for the files pssgen is configured by.

Why one reader: PSA's configuration and pssgen's own are each one document in
one file, and each bad file must be one line naming it, in that file's error
type (so its command says which kind of file was wrong).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from generator.errors import PssgenError


def read_one_document(path: Path, error: type[PssgenError]) -> Any:
    """The file's single YAML document; ``error`` naming the file when it cannot be read or holds another count."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not YAML: {' '.join(str(exc).split())}") from None
    if len(documents) != 1:
        raise error(f"{path}: must hold exactly one document (found {len(documents)})")
    return documents[0]
