"""``evaluate()``'s precomputed runs give what the registry's checks give when run one by one.

evaluate works out each (level, version) once and tests a pod's relaxations
once, filtering the checks only for a pod under one. Here the verdicts are held
to the plain loop over ``active_checks`` (each version's own ``relaxed`` test),
at every level and version, for pods under no relaxation, each one, and both,
in an order that has a relaxed pod follow an unrelaxed one and back.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from generator.policy.evaluate import evaluate
from generator.policy.model import Result, Violation
from generator.policy.pod import pod_view
from generator.policy.registry import active_checks
from generator.policy.versions import NEWEST_MINOR, parse_version

BAD_CONTEXT = {"privileged": True, "runAsUser": 0, "procMount": "Unmasked", "capabilities": {"add": ["NET_ADMIN"]}}


def _pod(**spec: Any) -> dict[str, Any]:
    containers = [{"name": "a", "securityContext": dict(BAD_CONTEXT)}, {"name": "b"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers, **spec}}


PODS = {
    "none": _pod(),
    "windows": _pod(os={"name": "windows"}),
    "user-namespaced": _pod(hostUsers=False),
    "both": _pod(os={"name": "windows"}, hostUsers=False),
    "near-misses": _pod(os={"name": "Windows"}, hostUsers=None),
}
VERSIONS = [f"v1.{m}" for m in range(NEWEST_MINOR + 1)] + ["latest", f"v1.{NEWEST_MINOR + 5}"]


def _one_by_one(obj: dict[str, Any], level: str, version: str) -> Result:
    parsed = parse_version(version)
    view = pod_view(obj)
    assert view is not None
    violations = []
    for check, impl in active_checks(level, parsed.resolved_minor):
        if impl.relaxed(view):
            continue
        forbidden = impl.evaluate(view, impl.allowed)
        if forbidden is not None:
            violations.append(Violation(check.id, forbidden.reason, forbidden.detail))
    return Result(not violations, tuple(violations), level, str(parsed))


@pytest.mark.parametrize("level", ["privileged", "baseline", "restricted"])
def test_runs_equal_the_checks_one_by_one(level: str) -> None:
    order = ["none", "windows", "none", "both", "user-namespaced", "none", "near-misses", "both", "windows"]
    for version in VERSIONS:
        for name in order:
            obj = copy.deepcopy(PODS[name])
            assert evaluate(obj, level, version) == _one_by_one(obj, level, version), f"{name} {level}:{version}"


def test_a_shared_allowed_verdict_cannot_be_changed() -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}
    result = evaluate(obj, "baseline", "latest")
    assert result == Result(True, (), "baseline", "latest")
    with pytest.raises(AttributeError):
        result.allowed = False  # type: ignore[misc]
    assert evaluate(obj, "baseline", "latest").allowed
