"""The corpus the live-cluster suites send: upstream's fixtures at four versions, the project's, generated pods."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.parity.corpus import upstream_corpus
from generator.parity.fixtures import project_corpus
from generator.policy.versions import NEWEST_MINOR

sys.path.insert(0, str(Path(__file__).parent))
from generated import generated_objects

UPSTREAM_MINORS = (18, 24, 34, NEWEST_MINOR)  # the newest at "latest"
GENERATED_VERSIONS = ("latest", "v1.24", "v1.34")


def corpus_cases() -> list[tuple[str, Mapping[str, Any], str, str]]:
    """(name, object, level, version) for the whole corpus."""
    cases: list[tuple[str, Mapping[str, Any], str, str]] = []
    for f in upstream_corpus():
        if f.minor in UPSTREAM_MINORS:
            cases.append((f"upstream/{f.id}", f.object, f.level, "latest" if f.minor == NEWEST_MINOR else f.version))
    for f in project_corpus():
        cases.append((f"project/{f.id}", f.object, f.level, f.version))
    for name, obj in generated_objects():
        for level in ("baseline", "restricted"):
            for version in GENERATED_VERSIONS:
                cases.append((f"generated/{name}@{level}:{version}", obj, level, version))
    return cases
