"""Fixtures shared by the unit tests."""

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
