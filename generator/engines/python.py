"""The reference evaluator as an engine, in process."""

from __future__ import annotations

from collections.abc import Sequence

from generator.engines.base import EngineBase, Request
from generator.policy.evaluate import evaluate
from generator.policy.model import Result


class PythonEngine(EngineBase):
    """The reference evaluator, in process."""

    name = "python"

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        return [evaluate(obj, level, version) for obj, level, version in requests]
