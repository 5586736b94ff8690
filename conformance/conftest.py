"""Shared, session-scoped harness for the conformance suite: the upstream oracle, kubectl's reader, the corpora.

The root ``conftest.py`` adds ``run_bounded`` and the check that no process outlives the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.engines import ENGINE_NAMES, EngineBase, EngineUnavailable, open_engine
from generator.parity.corpus import Fixture, upstream_corpus
from generator.parity.fixtures import project_corpus
from generator.parity.oracle import Oracle
from generator.parity.reader_oracle import ReaderOracleError, build_reader


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
    """Every fixture of the project's own corpus: conformance/corpus (generator/parity/fixtures.py builds it) and
    what `pssgen fuzz` found (conformance/corpus-found)."""
    return project_corpus()


# The offline engines, and the VAP bundle under the API server's own plugin (vap-engine).
PARITY_ENGINE_NAMES = (*ENGINE_NAMES, "vap")


@pytest.fixture(scope="session", params=PARITY_ENGINE_NAMES, ids=lambda name: f"engine={name}")
def engine(request: pytest.FixtureRequest) -> Iterator[EngineBase]:
    """Each engine in turn, started once per session: the same test body judges them all."""
    try:
        running = open_engine(request.param)
    except EngineUnavailable as exc:
        pytest.fail(f"engine {request.param} could not start: {exc}")
    with running:
        yield running


# --- kubectl's reader (conformance/reader) and the reader-parity counts


@pytest.fixture(scope="session")
def kubectl_reader() -> Path:
    """The kubectl reader oracle's binary, built if its sources changed."""
    try:
        return build_reader()
    except ReaderOracleError as exc:
        pytest.fail(f"the kubectl reader oracle could not be built: {exc}")


READER_COUNTS = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def reader_parity_counts(request: pytest.FixtureRequest) -> list[str]:
    """Lines the reader-parity tests report (files, objects, errors, agreed); printed in the terminal summary."""
    return request.config.stash.setdefault(READER_COUNTS, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(READER_COUNTS, [])
    if lines:
        terminalreporter.section("reader parity with kubectl")
        for line in lines:
            terminalreporter.write_line(line)


_TOOL_FIXTURES = frozenset({"kubectl_reader"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``tools`` the tests that need the kubectl reader oracle (built with Go), as tests/conftest.py does."""
    for item in items:
        if _TOOL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.tools)
