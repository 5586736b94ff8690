"""Per-check exclusions PSA cannot express: a check (or a PSS control) waived only where an exclusion says.

Why: PSA exempts whole namespaces, users or runtime classes. Teams need less:
``capabilities_baseline`` waived for one image's ``NET_ADMIN``, ``runAsNonRoot``
for one vendor sidecar. An exclusion never widens beyond what it names. It is
applied by judging the excluded check again on the pod with only what it names
taken away (the matching containers, or the excused values of the matching
containers), and putting that check's result in place of the first; every
other check, and every other container, keeps its verdict, and the message is
still PSA's, for what remains.

An exclusion applies to a request when its namespace is listed (or none is)
and its namespace's labels match ``namespaceSelector`` (or none is given);
labels that are not known never match a selector (fail closed: not waived).
Within the pod:

- no ``images``, ``containers`` or ``values``: the check is waived (every field);
- ``images`` (exact, or ``prefix*``) and/or ``containers`` (names): those
  containers are not judged by the check; pod-level fields still are;
- ``values``: those values of the check's list field are excused (in the
  matching containers: ``capabilities.add``; in the pod: sysctl names, volume
  types); the rest of the list is judged.

The Gatekeeper template applies the same rules in Rego (its ``exclusions``
parameter), from ``rules_data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator.errors import PssgenError
from generator.policy.model import Result, Violation
from generator.policy.pod import TEMPLATE_PATHS, VOLUME_SOURCES
from generator.policy.registry import CHECKS

API_VERSION = "pssgen.dev/v1alpha1"
KIND = "PssgenConfiguration"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# Checks whose values an exclusion may excuse, and where those values are: in each container, or in the pod.
VALUE_FIELDS: Mapping[str, str] = {
    "capabilities_baseline": "container capabilities.add",
    "capabilities_restricted": "container capabilities.add",
    "sysctls": "pod securityContext.sysctls[].name",
    "restrictedVolumes": "pod volumes[] source type",
}
POD_LEVEL_VALUES = frozenset({"sysctls", "restrictedVolumes"})
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
# PSA's check order at every level (EvaluatePod: baseline IDs sorted, then restricted IDs sorted).
CHECK_ORDER: tuple[str, ...] = (
    *sorted(c.id for c in CHECKS if c.level == "baseline"),
    *sorted(c.id for c in CHECKS if c.level == "restricted"),
)
_CONTROLS: Mapping[str, tuple[str, ...]] = {
    control: tuple(c.id for c in CHECKS if c.control == control) for control in dict.fromkeys(c.control for c in CHECKS)
}


class ExclusionError(PssgenError, ValueError):
    """A pssgen configuration that is not what its schema says; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One waiver: which checks, where (namespaces, a label selector) and for what (images, containers, values)."""

    checks: tuple[str, ...]
    images: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    match_labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[Requirement, ...] = ()
    has_selector: bool = False

    @property
    def whole(self) -> bool:
        """Whether the whole check is waived (nothing narrower named)."""
        return not (self.images or self.containers or self.values)

    def applies(self, namespace: str | None, labels: Mapping[str, Any] | None) -> bool:
        if self.namespaces and namespace not in self.namespaces:
            return False
        if not self.has_selector:
            return True
        if labels is None:  # not known: never waived by a selector
            return False
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        return all(_requirement_holds(r, labels) for r in self.expressions)

    def container_matches(self, container: Mapping[str, Any]) -> bool:
        if self.images and not any(_image_matches(p, container.get("image")) for p in self.images):
            return False
        return not self.containers or container.get("name") in self.containers


def _requirement_holds(requirement: Requirement, labels: Mapping[str, Any]) -> bool:
    present = requirement.key in labels
    if requirement.operator == "Exists":
        return present
    if requirement.operator == "DoesNotExist":
        return not present
    inside = present and labels[requirement.key] in requirement.values
    return inside if requirement.operator == "In" else not inside


def _image_matches(pattern: str, image: Any) -> bool:
    if not isinstance(image, str):
        return False
    return image.startswith(pattern[:-1]) if pattern.endswith("*") else image == pattern


# ---------------------------------------------------------------- reading


def parse_configuration(document: Any, where: str) -> tuple[Exclusion, ...]:
    """A ``PssgenConfiguration`` document's exclusions; refuses anything its schema does not allow."""
    if not isinstance(document, Mapping):
        raise ExclusionError(f"{where}: must be a mapping")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        raise ExclusionError(f"{where}: expected apiVersion {API_VERSION} and kind {KIND}, got "
                             f"{document.get('apiVersion')!r} {document.get('kind')!r}")  # fmt: skip
    _known(document, ("apiVersion", "kind", "exclusions"), where)
    entries = document.get("exclusions") or []
    if not isinstance(entries, list):
        raise ExclusionError(f"{where}: exclusions: must be a list")
    return tuple(_exclusion(entry, f"{where}: exclusions[{i}]") for i, entry in enumerate(entries))


_FIELDS = ("checks", "controls", "images", "containers", "values", "namespaces", "namespaceSelector")


def _known(mapping: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise ExclusionError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(allowed)})")


def _strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ExclusionError(f"{where}.{key}: must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ExclusionError(f"{where}.{key}[{i}]: must be a non-empty string")
    return tuple(value)


def _exclusion(entry: Any, where: str) -> Exclusion:
    if not isinstance(entry, Mapping):
        raise ExclusionError(f"{where}: must be a mapping")
    _known(entry, _FIELDS, where)
    checks = list(_strings(entry, "checks", where))
    known = {c.id for c in CHECKS}
    for i, check in enumerate(checks):
        if check not in known:
            raise ExclusionError(f"{where}.checks[{i}]: unknown check {check!r}")
    for i, control in enumerate(_strings(entry, "controls", where)):
        if control not in _CONTROLS:
            raise ExclusionError(f"{where}.controls[{i}]: unknown PSS control {control!r} "
                                 f"(known: {', '.join(_CONTROLS)})")  # fmt: skip
        checks += [c for c in _CONTROLS[control] if c not in checks]
    if not checks:
        raise ExclusionError(f"{where}: names no check (give checks or controls)")
    images, containers = _strings(entry, "images", where), _strings(entry, "containers", where)
    for i, image in enumerate(images):
        if "*" in image[:-1]:
            raise ExclusionError(f"{where}.images[{i}]: '*' may only end a pattern (a prefix): {image!r}")
    values = _strings(entry, "values", where)
    if values:
        unsupported = [c for c in checks if c not in VALUE_FIELDS]
        if unsupported:
            raise ExclusionError(f"{where}.values: {unsupported[0]} has no list of values to excuse "
                                 f"(values are for {', '.join(VALUE_FIELDS)})")  # fmt: skip
        if (images or containers) and any(c in POD_LEVEL_VALUES for c in checks):
            raise ExclusionError(f"{where}: images and containers cannot narrow pod-level values "
                                 f"({', '.join(c for c in checks if c in POD_LEVEL_VALUES)})")  # fmt: skip
        if "restrictedVolumes" in checks:
            for i, value in enumerate(values):
                if value not in VOLUME_SOURCES:
                    raise ExclusionError(f"{where}.values[{i}]: {value!r} is not a volume source type")
    selector = entry.get("namespaceSelector")
    match_labels: dict[str, str] = {}
    expressions: list[Requirement] = []
    if selector is not None:
        match_labels, expressions = _selector(selector, f"{where}.namespaceSelector")
    return Exclusion(tuple(checks), images, containers, values, _strings(entry, "namespaces", where),
                     match_labels, tuple(expressions), selector is not None)  # fmt: skip


def _selector(selector: Any, where: str) -> tuple[dict[str, str], list[Requirement]]:
    if not isinstance(selector, Mapping):
        raise ExclusionError(f"{where}: must be a mapping")
    _known(selector, ("matchLabels", "matchExpressions"), where)
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise ExclusionError(f"{where}.matchLabels: must map strings to strings")
    expressions = []
    for i, expression in enumerate(selector.get("matchExpressions") or []):
        here = f"{where}.matchExpressions[{i}]"
        if not isinstance(expression, Mapping):
            raise ExclusionError(f"{here}: must be a mapping")
        _known(expression, ("key", "operator", "values"), here)
        key, operator = expression.get("key"), expression.get("operator")
        if not isinstance(key, str) or not key:
            raise ExclusionError(f"{here}.key: must be a non-empty string")
        if operator not in SELECTOR_OPERATORS:
            raise ExclusionError(f"{here}.operator: must be one of {', '.join(SELECTOR_OPERATORS)}")
        values = _strings(expression, "values", here)
        if (operator in ("In", "NotIn")) != bool(values):
            raise ExclusionError(f"{here}.values: {operator} needs {'values' if values == () else 'no values'}")
        expressions.append(Requirement(key, operator, values))
    return dict(labels), expressions


# ---------------------------------------------------------------- applying


def waived(obj: Mapping[str, Any], check: str, exclusions: Sequence[Exclusion]) -> Mapping[str, Any] | None:
    """``obj`` with what ``exclusions`` take away from ``check`` removed; None when the whole check is waived."""
    mine = [e for e in exclusions if check in e.checks]
    if any(e.whole for e in mine):
        return None
    kind = str(obj.get("kind"))
    template_path = ("spec",) if kind == "Pod" else (*TEMPLATE_PATHS.get(kind, ()), "spec")
    spec = _get(obj, template_path)
    if not isinstance(spec, Mapping):
        return obj
    changed = dict(spec)
    for key in CONTAINER_LISTS:
        containers = spec.get(key)
        if isinstance(containers, list):
            changed[key] = [c for c in (_container(c, check, mine) for c in containers) if c is not None]
    values = {v for e in mine if e.values for v in e.values}
    if check == "sysctls" and values:
        context = spec.get("securityContext")
        if isinstance(context, Mapping) and isinstance(context.get("sysctls"), list):
            kept = [s for s in context["sysctls"] if not (isinstance(s, Mapping) and s.get("name") in values)]
            changed["securityContext"] = {**context, "sysctls": kept}
    if check == "restrictedVolumes" and values and isinstance(spec.get("volumes"), list):
        changed["volumes"] = [v for v in spec["volumes"] if not _excused_volume(v, values)]
    return _put(obj, template_path, changed)


def _excused_volume(volume: Any, types: set[str]) -> bool:
    return isinstance(volume, Mapping) and any(volume.get(t) is not None for t in types)


def _container(container: Any, check: str, mine: Sequence[Exclusion]) -> Any:
    """The container as ``check`` sees it: None when an exclusion takes it away, its excused values removed."""
    if not isinstance(container, Mapping):
        return container
    matching = [e for e in mine if e.container_matches(container)]
    if any(not e.values for e in matching if e.images or e.containers):
        return None
    excused = {v for e in matching if e.values and check not in POD_LEVEL_VALUES for v in e.values}
    context = container.get("securityContext")
    capabilities = context.get("capabilities") if isinstance(context, Mapping) else None
    if not excused or not isinstance(capabilities, Mapping) or not isinstance(capabilities.get("add"), list):
        return container
    assert isinstance(context, Mapping)
    added = [c for c in capabilities["add"] if c not in excused]
    return {**container, "securityContext": {**context, "capabilities": {**capabilities, "add": added}}}


def _get(obj: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _put(obj: Mapping[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    head, *rest = path
    inner = obj.get(head)
    return {**obj, head: value if not rest else _put(inner if isinstance(inner, Mapping) else {}, rest, value)}


@dataclass(frozen=True, slots=True)
class Plan:
    """The requests one verdict under exclusions needs: the object itself, then one object per narrowed check."""

    objects: tuple[Mapping[str, Any], ...]
    narrowed: tuple[str, ...]  # the check each object after the first is judged for
    whole: frozenset[str]  # checks waived entirely


def plan(obj: Mapping[str, Any], exclusions: Sequence[Exclusion]) -> Plan:
    checks = list(dict.fromkeys(c for e in exclusions for c in e.checks))
    narrowed, objects, whole = [], [obj], set()
    for check in checks:
        changed = waived(obj, check, exclusions)
        if changed is None:
            whole.add(check)
        else:
            narrowed.append(check)
            objects.append(changed)
    return Plan(tuple(objects), tuple(narrowed), frozenset(whole))


def compose(the_plan: Plan, results: Sequence[Result]) -> Result:
    """The verdict under exclusions: each narrowed check's result taken from its own object, in PSA's order."""
    full, *parts = results
    replaced = set(the_plan.narrowed) | the_plan.whole
    kept: list[Violation] = [v for v in full.violations if v.check not in replaced]
    for check, part in zip(the_plan.narrowed, parts, strict=True):
        kept += [v for v in part.violations if v.check == check]
    kept.sort(key=lambda v: CHECK_ORDER.index(v.check))
    return Result(not kept, tuple(kept), full.level, full.version)


def rules_data(exclusions: Sequence[Exclusion]) -> list[dict[str, Any]]:
    """The exclusions as plain data, as the Gatekeeper template's ``exclusions`` parameter takes them."""
    found = []
    for e in exclusions:
        entry: dict[str, Any] = {"checks": list(e.checks)}
        for key, value in (("images", e.images), ("containers", e.containers), ("values", e.values),
                           ("namespaces", e.namespaces)):  # fmt: skip
            if value:
                entry[key] = list(value)
        if e.has_selector:
            selector: dict[str, Any] = {}
            if e.match_labels:
                selector["matchLabels"] = dict(e.match_labels)
            if e.expressions:
                selector["matchExpressions"] = [
                    {"key": r.key, "operator": r.operator, **({"values": list(r.values)} if r.values else {})}
                    for r in e.expressions
                ]
            entry["namespaceSelector"] = selector
        found.append(entry)
    return found
