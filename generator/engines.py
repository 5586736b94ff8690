"""Engines that evaluate objects: the same requests, the same Result shape, whatever runs them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from generator.evaluate import evaluate
from generator.model import Result, Violation
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


class OpaEngine(EngineBase):
    """The rendered Rego in a real OPA server, many objects per request through ``data.pss.batch``."""

    name = "opa"
    CHUNK = 2000  # objects per request: large enough to amortise HTTP, small enough to bound a request

    def __init__(self, modules: Mapping[str, str] | None = None) -> None:
        """``modules`` (path: Rego) replaces the fresh render, e.g. to time other Rego with the same protocol."""
        from generator.opa import OpaServer
        from generator.render import rego_modules
        from generator.tools import ToolError

        if modules is None:
            modules = {f"pssgen/{path}": text for path, text in rego_modules().items()}
        try:
            self._server = OpaServer()
            self._server.start()
        except ToolError as exc:
            raise EngineUnavailable(str(exc)) from exc
        try:
            self._server.load_policies(dict(modules))
        except BaseException:
            self._server.stop()
            raise

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        results: list[Result] = []
        for start in range(0, len(requests), self.CHUNK):
            chunk = requests[start : start + self.CHUNK]
            items = [{"object": obj, "level": level, "version": str(version)} for obj, level, version in chunk]
            answers = self._server.query("pss/batch", {"items": items})
            if not isinstance(answers, list) or len(answers) != len(chunk):
                raise RuntimeError(f"opa: data.pss.batch answered {type(answers).__name__} for {len(chunk)} objects")
            results.extend(_result(a, level, version) for a, (_, level, version) in zip(answers, chunk, strict=True))
        return results

    def close(self) -> None:
        self._server.stop()


def _result(answer: Mapping[str, Any], level: str, version: Version) -> Result:
    """An engine answer in Rego's shape (``allowed``, ``violations``) as a Result; errors fail loudly."""
    if answer.get("error") or answer.get("skipped"):
        raise RuntimeError(f"policy could not evaluate an object: {answer.get('error') or 'skipped'}")
    violations = tuple(Violation(v["check"], v["reason"], v["detail"]) for v in answer["violations"])
    return Result(bool(answer["allowed"]), violations, level, str(version))


ENGINE_NAMES: tuple[str, ...] = ("python", "opa", "gatekeeper")


def open_engine(name: str) -> EngineBase:
    """Start the named engine; callers close it (or use it as a context manager)."""
    if name == "python":
        return PythonEngine()
    if name == "opa":
        return OpaEngine()
    if name == "gatekeeper":
        from generator.gator import GatekeeperEngine

        return GatekeeperEngine()
    raise EngineUnavailable(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
