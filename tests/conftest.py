"""Fixtures shared by the unit tests.

Those for child processes (``run_bounded``, ``pool_workers``) and the check that no process outlives the
session live in the root ``conftest.py``, which the conformance suite loads too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import tools


def _pinned(tool: tools.Tool) -> Path:
    """The pinned binary, or a skip naming why it is missing (``make test`` builds them all first)."""
    try:
        return tools.require(tool)
    except tools.ToolError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def opa_bin() -> Path:
    return _pinned(tools.OPA)


@pytest.fixture(scope="session")
def regal_bin() -> Path:
    return _pinned(tools.REGAL)


# What `make test-fast` leaves out: a test that starts a pinned tool (OPA, gator, Regal, the oracle, a wheel build).
_TOOL_FIXTURES = frozenset({"opa_bin", "regal_bin", "oracle"})
_TOOL_MODULES = frozenset(
    {
        "test_opa_harness",
        "test_gator_smoke",
        "test_regal",
        "test_wheel",
        "test_cli_conformance",
        "test_gatekeeper",
        "test_cluster_harness",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``tools`` every test that needs a pinned tool: by fixture, by engine parameter, or by module."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        engine = params.get("engine")
        if (
            _TOOL_FIXTURES & set(getattr(item, "fixturenames", ()))
            or (isinstance(engine, str) and engine != "python")
            or (item.module is not None and item.module.__name__.rpartition(".")[2] in _TOOL_MODULES)
        ):
            item.add_marker(pytest.mark.tools)
