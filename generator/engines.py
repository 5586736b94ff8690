"""Engines that evaluate objects: the same requests, the same Result shape, whatever runs them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from generator.evaluate import evaluate
from generator.model import Result
from generator.versions import Version

Request = tuple[Mapping[str, Any], str, Version]  # (object, level, version)


class EngineUnavailable(RuntimeError):
    """The engine cannot run here (a tool is missing, or the engine is not built yet)."""


class Engine(Protocol):
    name: str

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]: ...

    def close(self) -> None: ...


class EngineBase:
    """Context-manager plumbing shared by every engine."""

    name = "base"

    def __enter__(self) -> EngineBase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Engines holding a process or connection release it here."""


class PythonEngine(EngineBase):
    """The reference evaluator, in process."""

    name = "python"

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        return [evaluate(obj, level, version) for obj, level, version in requests]


ENGINE_NAMES: tuple[str, ...] = ("python",)


def open_engine(name: str) -> EngineBase:
    """Start the named engine; callers close it (or use it as a context manager)."""
    if name == "python":
        return PythonEngine()
    raise EngineUnavailable(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
