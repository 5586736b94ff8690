"""Engines that evaluate objects: the same requests, the same Result shape, whatever runs them."""

from __future__ import annotations

from generator.engines.base import Engine, EngineBase, EngineError, EngineUnavailable, Request
from generator.engines.gatekeeper import GatekeeperEngine
from generator.engines.opa import OpaEngine
from generator.engines.python import PythonEngine

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "EngineBase",
    "EngineError",
    "EngineUnavailable",
    "GatekeeperEngine",
    "OpaEngine",
    "PythonEngine",
    "Request",
    "open_engine",
]

ENGINE_NAMES: tuple[str, ...] = ("python", "opa", "gatekeeper")


def open_engine(name: str) -> EngineBase:
    """Start the named engine; callers close it (or use it as a context manager)."""
    if name == "python":
        return PythonEngine()
    if name == "opa":
        return OpaEngine()
    if name == "gatekeeper":
        return GatekeeperEngine()
    raise EngineUnavailable(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
