"""Shared, session-scoped harness for the conformance suite: the upstream oracle and the corpora.

The root ``conftest.py`` adds ``run_bounded`` and the check that no process outlives the session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.engines import ENGINE_NAMES, EngineBase, EngineUnavailable, open_engine
from generator.parity.corpus import Fixture, load_corpus, upstream_corpus
from generator.parity.fixtures import CORPUS_DIR
from generator.parity.oracle import Oracle


@pytest.fixture(scope="session")
def oracle() -> Iterator[Oracle]:
    """The upstream PSA oracle, built if stale, running for the whole session."""
    with Oracle() as running:
        yield running


@pytest.fixture(scope="session")
def upstream_fixtures() -> list[Fixture]:
    """Every fixture of the pinned PSA module's test/testdata."""
    return upstream_corpus()


@pytest.fixture(scope="session")
def project_fixtures() -> list[Fixture]:
    """Every fixture of the project's own corpus, conformance/corpus (generator/parity/fixtures.py builds it)."""
    return load_corpus(CORPUS_DIR, strict=True)


@pytest.fixture(scope="session", params=ENGINE_NAMES, ids=lambda name: f"engine={name}")
def engine(request: pytest.FixtureRequest) -> Iterator[EngineBase]:
    """Each engine in turn, started once per session: the same test body judges them all."""
    try:
        running = open_engine(request.param)
    except EngineUnavailable as exc:
        pytest.fail(f"engine {request.param} could not start: {exc}")
    with running:
        yield running
