"""The Python reference evaluator: PSA's verdict and messages for one object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.errors import PssgenError
from generator.policy.model import Result, Violation
from generator.policy.pod import pod_view
from generator.policy.registry import active_checks
from generator.policy.versions import Version, parse_level, parse_version


class NotEvaluated(PssgenError, ValueError):
    """The object is not a Pod or a pod-template workload PSA evaluates."""


def evaluate(obj: Mapping[str, Any], level: str, version: str | Version = "latest") -> Result:
    """Evaluate ``obj`` at ``level`` and ``version`` exactly as PSA's EvaluatePod would."""
    level = parse_level(level)
    parsed = version if isinstance(version, Version) else parse_version(version)
    pod = pod_view(obj)
    if pod is None:
        raise NotEvaluated(f"kind {obj.get('kind')!r} is not a Pod or a pod-template workload")
    violations: list[Violation] = []
    for check, impl in active_checks(level, parsed.resolved_minor):
        if impl.relaxations and impl.relaxed(pod):
            continue
        forbidden = impl.evaluate(pod, impl.allowed)
        if forbidden is not None:
            violations.append(Violation(check.id, forbidden.reason, forbidden.detail))
    return Result(not violations, tuple(violations), level, str(parsed))
