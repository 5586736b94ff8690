"""pssgen: the Kubernetes Pod Security Standards as code."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _version() -> str:
    """The installed distribution's version; else the checkout's pyproject.toml (code run without installing).

    The version is stamped into generated files, so a checkout that was never
    ``pip install``-ed must still render the committed out/ byte for byte.
    """
    try:
        return version("pssgen")
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (OSError, tomllib.TOMLDecodeError):
            return "0+unknown"
        return str(project.get("version", "0+unknown")) if project.get("name") == "pssgen" else "0+unknown"


__version__ = _version()
