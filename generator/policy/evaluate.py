"""The Python reference evaluator: PSA's verdict and messages for one object.

``evaluate`` takes an object as JSON gives it, nulls included, and judges it
as PSA judges what the API's decoder makes of it. The CLI conforms every
object first (``generator.manifests.shape.conform``, which also rejects wrong
types); the policy layer cannot import it, so the one thing the checks cannot
read as Go does is mended here: a null element of a list, or a null map value,
is its type's zero value (``containers: [null]`` is a container with no name,
``add: [null]`` the capability ``""``), and a workload without a pod template
has the zero template. A null field needs nothing: every check reads it as
absent, as Go reads a nil pointer or a zero value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from generator.errors import PssgenError
from generator.policy.fields import SCHEMAS, MapOf, Scalar
from generator.policy.model import Allowed, Evaluation, Result, Violation
from generator.policy.pod import EVALUATED_KINDS, PodView, pod_template, template_view
from generator.policy.registry import active_checks
from generator.policy.relaxations import Relaxation
from generator.policy.versions import Version, parse_level, parse_version


class NotEvaluated(PssgenError, ValueError):
    """The object is not a Pod or a pod-template workload PSA evaluates."""


# ---------------------------------------------------------------- null elements as the decoder zeroes them


class _Node:
    """Where nulls can hide in one type of ``generator.policy.fields``: a struct's fields that lead to a list or a
    map, a list's or a map's element (with the element's zero value)."""

    __slots__ = ("elem", "fields", "kind", "leaf", "zero")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "struct", "list" or "map"
        self.fields: tuple[tuple[str, _Node], ...] = ()
        self.elem: _Node | None = None  # None: a scalar element, or one with nowhere for nulls to hide
        self.zero: Any = None
        self.leaf = False  # the element holds nothing to walk into: ``None in value`` is the whole test


def _zero(schema: Any) -> Any:
    """Go's zero value of an element type, as JSON: a struct is ``{}``, a string ``""``; a slice or map is nil."""
    if isinstance(schema, Scalar):
        return "" if schema.name == "string" else (False if schema.name == "boolean" else 0)
    return {} if isinstance(schema, dict) else None


def _compile(schema: Any) -> _Node | None:
    """The walk for ``schema``, or None where no null can need mending."""
    if isinstance(schema, Scalar):
        return None
    if isinstance(schema, dict):
        node = _Node("struct")
        node.fields = tuple((name, sub) for name, sub in ((n, _compile(t)) for n, t in schema.items()) if sub)
        return node if node.fields else None
    node = _Node("map" if isinstance(schema, MapOf) else "list")
    elem = schema.value if isinstance(schema, MapOf) else schema[0]
    node.elem = _compile(elem)
    node.zero = _zero(elem)
    node.leaf = node.elem is None
    return node


_PLANS: Final = {kind: _compile(schema) for kind, schema in SCHEMAS.items()}


def _mended(value: Any, node: _Node) -> Any:
    """``value`` with its null elements zeroed; the same object when it has none."""
    if node.kind == "struct":
        if not isinstance(value, Mapping):
            return value
        changed: dict[str, Any] | None = None
        for name, sub in node.fields:
            inner = value.get(name)
            if inner is not None and (new := _mended(inner, sub)) is not inner:
                changed = changed if changed is not None else dict(value)
                changed[name] = new
        return value if changed is None else changed
    if node.kind == "map":
        if not isinstance(value, Mapping) or (node.leaf and None not in value.values()):
            return value
        items = {
            k: node.zero if v is None else v if node.elem is None else _mended(v, node.elem) for k, v in value.items()
        }
        return value if all(items[k] is v for k, v in value.items()) else items
    if not isinstance(value, list | tuple) or (node.leaf and None not in value):
        return value
    elems = [node.zero if v is None else v if node.elem is None else _mended(v, node.elem) for v in value]
    return value if all(new is old for new, old in zip(elems, value, strict=True)) else elems


_CONTAINER_LISTS: Final = ("initContainers", "containers", "ephemeralContainers")


def _may_hold_nulls(template: Mapping[str, Any]) -> bool:
    """Whether a null element sits anywhere ``_mended`` would look (True for anything it cannot read).

    The fast test every object pays for, where the generic walk would cost
    more than the checks: the same places as the plan, written out.
    ``tests/test_evaluate_total.py`` puts a null at every place the plan has
    and fails if this misses one.
    """
    try:
        metadata = template.get("metadata")
        if metadata:
            annotations = metadata.get("annotations")
            if annotations and None in annotations.values():
                return True
        spec = template.get("spec")
        if not spec:
            return False
        volumes = spec.get("volumes")
        if volumes and None in volumes:
            return True
        pod_context = spec.get("securityContext")
        if pod_context:
            sysctls = pod_context.get("sysctls")
            if sysctls and None in sysctls:
                return True
        for key in _CONTAINER_LISTS:
            containers = spec.get(key)
            if not containers:
                continue
            if None in containers:
                return True
            for container in containers:
                ports = container.get("ports")
                if ports and None in ports:
                    return True
                context = container.get("securityContext")
                capabilities = context.get("capabilities") if context else None
                if capabilities:
                    add, drop = capabilities.get("add"), capabilities.get("drop")
                    if (add and None in add) or (drop and None in drop):
                        return True
    except (AttributeError, TypeError):  # not the API's types: let the generic walk, which checks them, decide
        return True
    return False


def decoded(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj`` with every null element a check could meet replaced by its zero value; ``obj`` itself if none."""
    kind = obj.get("kind")
    plan = _PLANS.get(kind) if isinstance(kind, str) else None
    if plan is None:
        return obj
    template = pod_template(obj)
    if template is not None and not _may_hold_nulls(template):
        return obj
    mended: Mapping[str, Any] = _mended(obj, plan)
    return mended


# What pod_view gives for the zero PodTemplateSpec: no metadata, an empty spec.
_ZERO_TEMPLATE: Final = PodView(MappingProxyType({}), MappingProxyType({}), None, (), (), (), frozenset())


# A check as a run holds it: its ID, its implementation and the allowed values of the version in force.
_Step = tuple[str, Evaluation, Allowed]


@dataclass(frozen=True, slots=True)
class _Run:
    """Everything ``evaluate`` needs of a level and version, worked out once: the checks PSA runs, in its order,
    the relaxations any of their versions names (with the checks each lets a pod through), and the verdict of a
    pod that fails none (immutable, so shared)."""

    level: str
    version: str  # as PSA prints it
    checks: tuple[_Step, ...]
    relaxations: tuple[Relaxation, ...]
    relaxed_ids: Mapping[str, frozenset[str]]  # by relaxation key: the IDs of the checks whose version names it
    allowed: Result
    # The checks left for a pod under some relaxations, by their keys (rare: filled as pods need them).
    _without: dict[frozenset[str], tuple[_Step, ...]] = field(default_factory=dict)

    def checks_for(self, pod: PodView) -> tuple[_Step, ...]:
        """The checks that run on ``pod``: ``checks`` less those a relaxation that applies lets it through."""
        for relaxation in self.relaxations:
            if relaxation.applies(pod):
                break
        else:
            return self.checks  # the common case: no relaxation applies
        keys = frozenset(r.key for r in self.relaxations if r.applies(pod))
        left = self._without.get(keys)
        if left is None:
            skipped = frozenset().union(*(self.relaxed_ids[k] for k in keys))
            left = self._without[keys] = tuple(step for step in self.checks if step[0] not in skipped)
        return left


def _plan(level: str, version: str | Version) -> _Run:
    level = parse_level(level)
    parsed = version if isinstance(version, Version) else parse_version(version)
    active = active_checks(level, parsed.resolved_minor)
    relaxations = {r.key: r for _, v in active for r in v.relaxations}
    relaxed_ids = {r.key: frozenset(c.id for c, v in active if r in v.relaxations) for r in relaxations.values()}
    return _Run(
        level,
        str(parsed),
        tuple((c.id, v.evaluate, v.allowed) for c, v in active),
        tuple(relaxations.values()),
        relaxed_ids,
        Result(True, (), level, str(parsed)),
    )


# The runs asked for so far, by (level, version) as given; bounded, since anyone may ask for v1.12345678.
_RUNS: dict[tuple[str, str | Version], _Run] = {}
_MAX_RUNS: Final = 1024


def _run(level: str, version: str | Version) -> _Run:
    try:
        return _RUNS[level, version]
    except (KeyError, TypeError):  # TypeError: unhashable, which parse_level or parse_version refuses as PSA would
        run = _plan(level, version)
        if len(_RUNS) < _MAX_RUNS:
            _RUNS[level, version] = run
        return run


def evaluate(obj: Mapping[str, Any], level: str, version: str | Version = "latest") -> Result:
    """Evaluate ``obj`` at ``level`` and ``version`` exactly as PSA's EvaluatePod would.

    Total over what the API accepts: JSON nulls anywhere (see the module
    docstring) and workloads without a template. Wrong types (``privileged:
    "yes"``) are the API decoder's to reject, and are not checked here.
    """
    try:
        run = _RUNS[level, version]
    except (KeyError, TypeError):
        run = _run(level, version)
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in EVALUATED_KINDS:
        raise NotEvaluated(f"kind {kind!r} is not a Pod or a pod-template workload")
    is_pod = kind == "Pod"
    template = obj if is_pod else pod_template(obj)
    if template is not None and _may_hold_nulls(template) and (plan := _PLANS.get(kind)) is not None:
        template = pod_template(_mended(obj, plan))
    # None: no template, which the decoder makes the zero one (mending never makes one appear).
    pod = _ZERO_TEMPLATE if template is None else template_view(template, is_pod=is_pod)
    violations: list[Violation] = []
    for check_id, implementation, allowed in run.checks_for(pod):
        forbidden = implementation(pod, allowed)
        if forbidden is not None:
            violations.append(Violation(check_id, forbidden.reason, forbidden.detail))
    return Result(False, tuple(violations), run.level, run.version) if violations else run.allowed
