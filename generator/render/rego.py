"""The Rego bundle under ``out/rego``, rendered from the checks' data.

Templates get finished, typed view models and only loop and
interpolate: every Rego literal (strings, allowed-value lists, the per-level
check order) is built in Python, so output never depends on dict or set order
and no allowed value is ever typed twice. The Rego is emitted exactly as
``opa fmt`` prints it, so the committed bundle has no formatting diff.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.policy import namespaces
from generator.policy.model import MODE_HEADS, UNKNOWN_FORBIDDEN_REASON, Check
from generator.policy.pod import TEMPLATE_PATHS, VOLUME_SOURCES
from generator.policy.psa_config import EXEMPT_NAMESPACE, EXEMPT_RUNTIME_CLASS, EXEMPT_USER
from generator.policy.registry import CHECKS, inflate
from generator.policy.relaxations import RELAXATIONS, Relaxation
from generator.policy.versions import (
    LEVEL_PROBLEM,
    LEVELS,
    MAX_MINOR,
    NEWEST_MINOR,
    VERSION_PATTERN,
    VERSION_PROBLEM,
    all_minors,
)
from generator.render.environment import environment, render_template
from generator.render.literals import CHECKS_PACKAGE, rego_literal, rego_string
from generator.render.types import types_view

MAX_PROBLEMS = 5  # fields named in a type error, as generator.manifests.shape names them


def version_label(minor: int) -> str:
    """How PSA prints a minor version."""
    return f"v1.{minor}"


# --- view models ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionView:
    """One version of a check: the implementation it runs, with which allowed values, under which guards."""

    check_id: str
    name: str  # the upstream function; levels.rego and results name the version by it
    implementation: str  # the Rego function it runs (see ``_implementation``), relative to the check's package
    minimum_minor: int
    next_minor: int | None  # where the next version takes over; None for the newest
    relaxations: tuple[Relaxation, ...]
    change: str
    allowed: str  # the version's allowed values as a one-line Rego object literal

    @property
    def guards(self) -> tuple[str, ...]:
        """Rego expressions that must hold for the version to run at all, inlined where the version is called."""
        return tuple(r.rego_guard for r in self.relaxations)

    @property
    def relaxed_when(self) -> tuple[str, ...]:
        """The Rego tests under which the version does not run, for the comment above the check."""
        return tuple(r.rego for r in self.relaxations)

    @property
    def span(self) -> str:
        """The versions covered, for the comment above the version."""
        return _span(self.minimum_minor, None if self.next_minor is None else self.next_minor - 1)

    @property
    def call(self) -> str:
        """The call levels.rego makes: the implementation, fed the version's allowed values."""
        package = f"pss.checks.{self.check_id}"
        function = self.implementation if "." in self.implementation else f"{package}.{self.implementation}"
        return f"{function}(pod, {self.allowed})"


def _span(first: int, last: int | None) -> str:
    if last is None:
        return f"{version_label(first)} and later"
    if last == first:
        return version_label(first)
    return f"{version_label(first)} to {version_label(last)}"


@dataclass(frozen=True)
class CheckView:
    """What a check module template needs: identity, versions, and its allowed values as Rego."""

    id: str
    level: str
    control: str
    overrides: tuple[str, ...]
    versions: tuple[VersionView, ...]

    @property
    def package(self) -> str:
        return f"{CHECKS_PACKAGE}.{self.id}"

    @property
    def template(self) -> str:
        """Each check's implementations are written once, in its own template."""
        return f"rego/checks/{self.id}.rego.j2"

    @property
    def path(self) -> str:
        """Where the module goes under out/rego: the package path, as Regal and readers expect."""
        return f"lib/pss/checks/{self.id}.rego"


@dataclass(frozen=True)
class LibView:
    """The shared library's data: versions, levels, and the kinds and volume sources of generator/pod.py."""

    newest_minor: int
    max_minor: int  # the largest minor PSA parses (Go's int)
    level_names: str
    version_pattern: str
    template_paths: str
    volume_sources: str
    relaxations: tuple[Relaxation, ...]  # each also rendered as a named test, for policies written by hand


@dataclass(frozen=True)
class AdmissionView:
    """PSA's admission data around the checks (generator.policy.namespaces, psa_config, model), as Rego literals."""

    level_labels: str  # mode -> its level label
    version_labels: str  # mode -> its version label
    label_order: str  # every label PolicyToEvaluate reads, in its order: [{"label", "kind"}]
    invalid_level: str
    strictness: str
    problems: str  # "level"/"version" -> ParseLevel's/ParseVersion's error
    heads: str
    unknown_forbidden_reason: str
    exempt_namespace: str
    exempt_user: str
    exempt_runtime_class: str


@dataclass(frozen=True)
class PlanView:
    """One distinct plan of a level: the versions PSA runs, in its order, for the minor versions it covers."""

    index: int
    spans: str  # the minor versions, for the comment above the plan's violations function
    versions: tuple[VersionView, ...]


@dataclass(frozen=True)
class LevelView:
    """A level's distinct plans, each rendered as one violations function that calls its versions directly."""

    name: str
    plans: tuple[PlanView, ...]


@dataclass(frozen=True)
class LevelsView:
    """Per level and minor version the index of the plan in force (from ``inflate``), and the plans."""

    plan: str
    levels: tuple[LevelView, ...]


def _implementation(rego: str, known: frozenset[str]) -> str:
    """The Rego function a version's ``rego`` data names, as the plans call it.

    A bare name is in the check's own package; ``checkId.function`` is in another check's (as
    procMount_restricted runs procMount's), which must be among the checks rendered. The check
    templates define each function named here; ``opa check`` proves it.
    """
    owner, dot, function = rego.rpartition(".")
    if not dot:
        return rego
    if owner not in known or not function:
        raise ValueError(f"Rego implementation {rego!r} names no rendered check's function")
    return f"pss.checks.{rego}"


def _version_views(check: Check, known: frozenset[str]) -> tuple[VersionView, ...]:
    versions = check.versions
    nexts: list[int | None] = [v.minimum_minor for v in versions[1:]]
    nexts.append(None)
    return tuple(
        VersionView(
            check_id=check.id,
            name=v.name,
            implementation=_implementation(v.rego, known),
            minimum_minor=v.minimum_minor,
            next_minor=nxt,
            relaxations=v.relaxations,
            change=v.change,
            allowed=rego_literal(dict(v.allowed), inline_from=0),
        )
        for v, nxt in zip(versions, nexts, strict=True)
    )


def check_view(check: Check, known: frozenset[str]) -> CheckView:
    """A check's view among the ``known`` check IDs; version names must be unique, as plans name versions by them."""
    names = [v.name for v in check.versions]
    if len(set(names)) != len(names):
        raise ValueError(f"{check.id}: version names repeat: {names}")
    return CheckView(
        id=check.id,
        level=check.level,
        control=check.control,
        overrides=check.overridden_ids,
        versions=_version_views(check, known),
    )


def lib_view() -> LibView:
    """The shared library's data, from generator.policy's versions, pod and relaxations (never restated)."""
    return LibView(
        newest_minor=NEWEST_MINOR,
        max_minor=MAX_MINOR,
        level_names=rego_literal(LEVELS, inline_from=0),
        version_pattern=VERSION_PATTERN,
        template_paths=rego_literal(dict(TEMPLATE_PATHS), inline_from=1),
        volume_sources=rego_literal(frozenset(VOLUME_SOURCES)),
        relaxations=RELAXATIONS,
    )


def admission_view() -> AdmissionView:
    """The admission module's data, each piece from the one Python definition the evaluator uses."""
    modes = namespaces.MODES
    labels = (("level", namespaces.level_label), ("version", namespaces.version_label))
    order = [{"label": label(mode), "kind": kind} for mode in modes for kind, label in labels]
    return AdmissionView(
        level_labels=rego_literal({mode: namespaces.level_label(mode) for mode in modes}),
        version_labels=rego_literal({mode: namespaces.version_label(mode) for mode in modes}),
        label_order=rego_literal(order, inline_from=1),
        invalid_level=rego_literal(namespaces.INVALID_LEVEL, inline_from=0),
        strictness=rego_literal(namespaces.STRICTNESS, inline_from=0),
        problems=rego_literal({"level": LEVEL_PROBLEM, "version": VERSION_PROBLEM}),
        heads=rego_literal(MODE_HEADS),
        unknown_forbidden_reason=rego_string(UNKNOWN_FORBIDDEN_REASON),
        exempt_namespace=rego_string(EXEMPT_NAMESPACE),
        exempt_user=rego_string(EXEMPT_USER),
        exempt_runtime_class=rego_string(EXEMPT_RUNTIME_CLASS),
    )


def levels_view(checks: tuple[Check, ...]) -> LevelsView:
    """The distinct plans of each level, and which one each minor version runs.

    The plans are ``inflate``'s, over the same checks as the modules. A plan changes only where some
    check's version does, so a level has a handful of plans, not one per minor version. Each becomes a
    violations function calling its versions' implementations directly; per pod that is one call per
    check, with no dispatch on version names.
    """
    by_name = {(c.id, v.name): v for c in check_views(checks) for v in c.versions}
    index: dict[str, list[int]] = {}
    levels: list[LevelView] = []
    for level in LEVELS:
        plans: list[tuple[tuple[str, str], ...]] = []
        index[level] = []
        for minor in all_minors():
            keys = tuple((c.id, v.name) for c, v in inflate(checks, level, minor))
            if keys not in plans:
                plans.append(keys)
            index[level].append(plans.index(keys))
        views = []
        for i, keys in enumerate(plans):
            minors = [m for m, p in enumerate(index[level]) if p == i]
            newest = minors[-1] == max(all_minors())
            views.append(PlanView(i, _minor_spans(minors, newest), tuple(by_name[k] for k in keys)))
        levels.append(LevelView(level, tuple(views)))
    text = "{\n" + "".join(
        f"\t{rego_string(level)}: {rego_literal(index[level], 1, inline_from=0)},\n" for level in LEVELS
    ) + "}"  # fmt: skip
    return LevelsView(plan=text, levels=tuple(levels))


def _minor_spans(minors: list[int], newest: bool) -> str:
    """Consecutive runs of minor versions, e.g. "v1.19 to v1.26", "v1.37 and later"."""
    runs: list[list[int]] = []
    for m in minors:
        if runs and runs[-1][-1] == m - 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    spans = [_span(run[0], run[-1]) for run in runs]
    if newest:
        spans[-1] = _span(runs[-1][0], None)
    return ", ".join(spans)


def check_views(checks: tuple[Check, ...]) -> tuple[CheckView, ...]:
    """Every check's view, in the order the Rego calls them."""
    known = frozenset(c.id for c in checks)
    return tuple(check_view(c, known) for c in sorted(checks, key=lambda c: (c.level != "baseline", c.id)))


# --- environment and rendering -------------------------------------------------------------------


def rego_modules(checks: tuple[Check, ...] = CHECKS) -> dict[str, str]:
    """Every Rego module, keyed by its path under ``out/rego``.

    ``checks`` defaults to the registry; tests pass altered copies to prove
    that what the modules hold comes from the data. The per-level order is
    ``generator.policy.registry.inflate``'s over those checks, as ``active_checks`` is over the registry.
    """
    env = environment()
    lib = lib_view()
    levels = levels_view(checks)
    modules = {
        "lib/pss.rego": render_template(env, "rego/lib.rego.j2", lib=lib),
        "lib/pss/admission.rego": render_template(env, "rego/admission.rego.j2", admission=admission_view()),
        "lib/pss/levels.rego": render_template(env, "rego/levels.rego.j2", levels=levels),
        "lib/pss/types.rego": render_template(env, "rego/types.rego.j2", types=types_view(), max_problems=MAX_PROBLEMS),
        "pss.rego": render_template(env, "rego/pss.rego.j2"),
        "main.rego": render_template(env, "rego/main.rego.j2"),
    }
    for check in check_views(checks):
        modules[check.path] = render_template(env, check.template, check=check)
    return dict(sorted(modules.items()))
