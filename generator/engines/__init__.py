"""Engines that evaluate objects: the same requests, the same Result shape, whatever runs them."""

from __future__ import annotations

from generator.engines.base import Engine, EngineBase, EngineError, EngineUnavailable, Refused, Request
from generator.engines.gatekeeper import GatekeeperEngine
from generator.engines.live import ClusterEngine
from generator.engines.opa import OpaEngine
from generator.engines.python import PythonEngine
from generator.engines.vap import VapEngine

__all__ = [
    "ALL_ENGINE_NAMES",
    "ENGINE_NAMES",
    "ClusterEngine",
    "Engine",
    "EngineBase",
    "EngineError",
    "EngineUnavailable",
    "GatekeeperEngine",
    "OpaEngine",
    "PythonEngine",
    "Refused",
    "Request",
    "VapEngine",
    "open_engine",
]

ENGINE_NAMES: tuple[str, ...] = ("python", "opa", "gatekeeper")  # offline: what "every engine" means by default
# Asked for by name: vap (the ValidatingAdmissionPolicy bundle, until it agrees with PSA everywhere) and cluster (a
# live API server).
ALL_ENGINE_NAMES: tuple[str, ...] = (*ENGINE_NAMES, "vap", "cluster")


def open_engine(name: str, *, kubeconfig: str | None = None, context: str | None = None) -> EngineBase:
    """Start the named engine; callers close it (or use it as a context manager).

    ``kubeconfig`` and ``context`` choose the API server of the ``cluster`` engine (kubectl's defaults otherwise).
    """
    if name == "cluster":
        return ClusterEngine(kubeconfig, context)
    if name == "python":
        return PythonEngine()
    if name == "opa":
        return OpaEngine()
    if name == "gatekeeper":
        return GatekeeperEngine()
    if name == "vap":
        return VapEngine()
    raise EngineUnavailable(f"unknown engine {name!r}; choose one of {', '.join(ALL_ENGINE_NAMES)}")
