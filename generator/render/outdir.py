"""Writing and checking the generated tree: all or nothing, and stale files named."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from generator.tools import ROOT


def default_out_dir() -> Path:
    return ROOT / "out"


def _on_disk(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def stale_files(root: Path, files: Mapping[str, str]) -> list[str]:
    """Paths that are missing, differ, or should not be there, relative to ``root``, sorted."""
    stale = []
    for rel in sorted(set(files) | _on_disk(root)):
        path = root / rel
        expected = files.get(rel)
        if expected is None or not path.is_file() or path.read_text(encoding="utf-8") != expected:
            stale.append(rel)
    return stale


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    """Replace ``root`` with exactly ``files``: render into a sibling folder, then swap it in."""
    root = root.resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        for rel, text in sorted(files.items()):
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        old = None
        if root.exists():
            old = root.with_name(f".{root.name}-old-{os.getpid()}")
            root.rename(old)
        staging.rename(root)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
