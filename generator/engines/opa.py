"""The rendered Rego in a real OPA server, as an engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from generator.engines.base import EngineBase, EngineError, EngineUnavailable, Request, answer_result
from generator.engines.opa_server import OpaServer
from generator.policy.model import Result
from generator.render.rego import rego_modules
from generator.tools import ToolError


class OpaEngine(EngineBase):
    """The rendered Rego in a real OPA server, many objects per request through ``data.pss.batch``."""

    name = "opa"
    CHUNK = 2000  # objects per request: large enough to amortise HTTP, small enough to bound a request

    def __init__(self, modules: Mapping[str, str] | None = None) -> None:
        """``modules`` (path: Rego) replaces the fresh render, e.g. to time other Rego with the same protocol."""
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
                raise EngineError(f"opa: data.pss.batch answered {type(answers).__name__} for {len(chunk)} objects")
            pairs = zip(answers, chunk, strict=True)
            results.extend(answer_result(a, level, version) for a, (_, level, version) in pairs)
        return results

    def close(self) -> None:
        self._server.stop()
