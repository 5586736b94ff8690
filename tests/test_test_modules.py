"""Test modules are collected by basename (pytest's default import mode, no packages): two with the same name in
tests/ and conformance/ stop the whole run at collection, which `make test-fast` (tests/ only) would never show."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_module_has_a_basename_of_its_own() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for folder in ("tests", "conformance"):
        for path in (ROOT / folder).rglob("test_*.py"):
            if not (path.parent / "__init__.py").exists():
                seen[path.name].append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
