"""What changes in a PSS level between two Kubernetes versions, computed from the check registry.

Nothing here restates policy: every added check, override, implementation step,
allowed value and flag comes from ``generator/checks/*`` through
``active_checks``, so a new upstream version shows up in ``pssgen diff`` as soon
as its check data is added. The result is plain frozen data; ``diff_text`` and
``diff_json`` are the two renderings the CLI offers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from generator.policy.model import Check, CheckVersion
from generator.policy.registry import BY_ID, active_checks
from generator.policy.relaxations import RELAXATIONS, USER_NAMESPACES, WINDOWS
from generator.policy.versions import Version, parse_level


@dataclass(frozen=True)
class Step:
    """One implementation version crossed: forward it takes effect, backward it is undone."""

    minor: int
    name: str
    change: str
    undone: bool = False


@dataclass(frozen=True)
class Override:
    """``check`` does not run at this level because restricted ``by`` replaces it (from ``since``)."""

    check: str
    by: str
    since: int


@dataclass(frozen=True)
class AllowedChange:
    """Values added to and removed from one named allowed-value list, in the lists' own order."""

    name: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class FlagChange:
    """A relaxation (named by its key, ``exempt_windows`` or ``relax_user_namespaces``) that one side has."""

    flag: str
    before: bool
    after: bool


@dataclass(frozen=True)
class AddedCheck:
    """A check that runs at TO but not at FROM, with why and the implementation it arrives with."""

    id: str
    control: str
    level: str
    implementation: str
    reason: str  # "new" (did not exist at FROM) or "no longer overridden"
    since: int  # the check's first version
    overrides: tuple[str, ...]  # what it replaces at this level at TO
    no_longer_overridden_by: tuple[str, ...]
    steps: tuple[Step, ...]
    allowed: tuple[tuple[str, tuple[str, ...]], ...]
    exempt_windows: bool
    relax_user_namespaces: bool


@dataclass(frozen=True)
class RemovedCheck:
    """A check that runs at FROM but not at TO, and why."""

    id: str
    control: str
    level: str
    implementation: str  # the one in force at FROM
    reason: str  # "overridden" or "absent" (going back before the check existed)
    since: int
    overridden_by: tuple[str, ...]


@dataclass(frozen=True)
class ChangedCheck:
    """A check that runs at both versions with a different implementation."""

    id: str
    control: str
    level: str
    from_implementation: str
    to_implementation: str
    steps: tuple[Step, ...]
    allowed: tuple[AllowedChange, ...]
    flags: tuple[FlagChange, ...]


@dataclass(frozen=True)
class LevelDiff:
    """Everything that differs in ``level`` between FROM and TO, in PSA's check order."""

    level: str
    from_version: str  # as asked for, e.g. "latest"
    to_version: str
    from_minor: int  # as resolved
    to_minor: int
    added: tuple[AddedCheck, ...]
    removed: tuple[RemovedCheck, ...]
    now_overridden: tuple[Override, ...]
    no_longer_overridden: tuple[Override, ...]
    changed: tuple[ChangedCheck, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def levels_for(level: str) -> tuple[str, ...]:
    """Expand the CLI's ``all`` into the levels that have checks; otherwise validate one level."""
    if level == "all":
        return ("baseline", "restricted")
    return (parse_level(level),)


def level_diffs(from_version: Version, to_version: Version, level: str) -> tuple[LevelDiff, ...]:
    """``level_diff`` for each level ``levels_for`` names, so ``all`` shows baseline and restricted."""
    return tuple(level_diff(from_version, to_version, lv) for lv in levels_for(level))


def level_diff(from_version: Version, to_version: Version, level: str) -> LevelDiff:
    """Compare the checks in force at ``level`` at two versions; TO may be older than FROM."""
    level = parse_level(level)
    src, dst = from_version.resolved_minor, to_version.resolved_minor
    before = dict(_active(level, src))
    after = dict(_active(level, dst))
    overrides_before = _overrides(level, src)
    overrides_after = _overrides(level, dst)

    added = tuple(_added(BY_ID[i], impl, src, dst, overrides_before) for i, impl in after.items() if i not in before)
    removed = tuple(_removed(BY_ID[i], impl, dst, overrides_after) for i, impl in before.items() if i not in after)
    changed = tuple(
        _changed(BY_ID[i], before[i], impl, src, dst)
        for i, impl in after.items()
        if i in before and before[i] is not impl
    )
    now_overridden = tuple(o for o in overrides_after if o.check in before and o not in overrides_before)
    no_longer = tuple(o for o in overrides_before if o.check in after and o not in overrides_after)
    return LevelDiff(
        level=level,
        from_version=str(from_version),
        to_version=str(to_version),
        from_minor=src,
        to_minor=dst,
        added=added,
        removed=removed,
        now_overridden=now_overridden,
        no_longer_overridden=no_longer,
        changed=changed,
    )


def _active(level: str, minor: int) -> list[tuple[str, CheckVersion]]:
    return [(check.id, impl) for check, impl in active_checks(level, minor)]


def _overrides(level: str, minor: int) -> tuple[Override, ...]:
    """The baseline checks replaced at ``level`` and ``minor``, by which restricted check."""
    return tuple(
        Override(target, check.id, since)
        for check, impl in active_checks(level, minor)
        for target in impl.overrides
        if (since := check.overrides_from(target)) is not None
    )


def _steps(check: Check, src: int, dst: int) -> tuple[Step, ...]:
    """The implementation versions crossed between ``src`` and ``dst``; backwards, newest first and undone."""
    if dst >= src:
        return tuple(Step(v.minimum_minor, v.name, v.change) for v in check.versions if src < v.minimum_minor <= dst)
    crossed = [v for v in check.versions if dst < v.minimum_minor <= src]
    return tuple(Step(v.minimum_minor, v.name, v.change, undone=True) for v in reversed(crossed))


def _added(check: Check, impl: CheckVersion, src: int, dst: int, overrides_before: tuple[Override, ...]) -> AddedCheck:
    existed = check.version_at(src) is not None
    steps = _steps(check, src, dst) if dst > src else ()
    if not any(s.name == impl.name for s in steps):
        # Reappearing after an override: show the implementation it comes back with.
        steps = (Step(impl.minimum_minor, impl.name, impl.change),)
    return AddedCheck(
        id=check.id,
        control=check.control,
        level=check.level,
        implementation=impl.name,
        reason="no longer overridden" if existed else "new",
        since=check.first_minor,
        overrides=impl.overrides,
        no_longer_overridden_by=tuple(o.by for o in overrides_before if o.check == check.id),
        steps=steps,
        allowed=tuple((name, tuple(values)) for name, values in impl.allowed.items()),
        exempt_windows=WINDOWS in impl.relaxations,
        relax_user_namespaces=USER_NAMESPACES in impl.relaxations,
    )


def _removed(check: Check, impl: CheckVersion, dst: int, overrides_after: tuple[Override, ...]) -> RemovedCheck:
    absent = check.version_at(dst) is None
    return RemovedCheck(
        id=check.id,
        control=check.control,
        level=check.level,
        implementation=impl.name,
        reason="absent" if absent else "overridden",
        since=check.first_minor,
        overridden_by=() if absent else tuple(o.by for o in overrides_after if o.check == check.id),
    )


def _changed(check: Check, old: CheckVersion, new: CheckVersion, src: int, dst: int) -> ChangedCheck:
    return ChangedCheck(
        id=check.id,
        control=check.control,
        level=check.level,
        from_implementation=old.name,
        to_implementation=new.name,
        steps=_steps(check, src, dst),
        allowed=_allowed_changes(old, new),
        flags=tuple(
            FlagChange(r.key, r in old.relaxations, r in new.relaxations)
            for r in RELAXATIONS
            if (r in old.relaxations) != (r in new.relaxations)
        ),
    )


def _allowed_changes(old: CheckVersion, new: CheckVersion) -> tuple[AllowedChange, ...]:
    """Per named list, what TO allows that FROM did not and vice versa; lists keep TO's then FROM's order."""
    names = list(new.allowed) + [n for n in old.allowed if n not in new.allowed]
    changes = []
    for name in names:
        was, now = old.allowed.get(name, ()), new.allowed.get(name, ())
        added = tuple(v for v in now if v not in was)
        removed = tuple(v for v in was if v not in now)
        if added or removed:
            changes.append(AllowedChange(name, added, removed))
    return tuple(changes)


# ---------------------------------------------------------------- rendering


def _version_label(asked: str, minor: int) -> str:
    return asked if asked == f"v1.{minor}" else f"{asked} (v1.{minor})"


def _value(value: str) -> str:
    """Show a value bare when that is unambiguous, quoted when empty or containing separators."""
    return value if value and not any(ch in value for ch in ' ,;"') else json.dumps(value)


def _values(values: tuple[str, ...]) -> str:
    return ", ".join(_value(v) for v in values)


def _step_line(step: Step) -> str:
    undone = " (undone)" if step.undone else ""
    return f"    v1.{step.minor} {step.name}{undone}: {step.change}".rstrip()


def diff_text(d: LevelDiff) -> str:
    """A stable, line-per-fact rendering: ``+`` added, ``-`` removed, ``~`` changed."""
    header = f"{d.level} {_version_label(d.from_version, d.from_minor)} → {_version_label(d.to_version, d.to_minor)}:"
    if d.empty:
        note = " (the privileged level allows everything)" if d.level == "privileged" else ""
        return f"{header} no changes{note}"
    lines = [header]
    for a in d.added:
        reappears = f"no longer overridden by {', '.join(a.no_longer_overridden_by)}"
        why = [f"new in v1.{a.since}" if a.reason == "new" else reappears]
        why += [f"overrides {target}" for target in a.overrides]
        lines.append(f"+ {a.id} ({a.control}): {'; '.join(why)}")
        lines.extend(_step_line(s) for s in a.steps)
    for r in d.removed:
        overridden = f"overridden by {', '.join(r.overridden_by)}"
        cause = f"absent before v1.{r.since}" if r.reason == "absent" else overridden
        lines.append(f"- {r.id} ({r.control}): {cause}")
    labels = {r.key: r.label for r in RELAXATIONS}
    for c in d.changed:
        lines.append(f"~ {c.id} ({c.control}): {c.from_implementation} → {c.to_implementation}")
        lines.extend(_step_line(s) for s in c.steps)
        for change in c.allowed:
            parts = []
            if change.added:
                parts.append(f"+ {_values(change.added)}")
            if change.removed:
                parts.append(f"- {_values(change.removed)}")
            lines.append(f"~ {c.id}: allowed {change.name} {'; '.join(parts)}")
        for flag in c.flags:
            lines.append(f"~ {c.id}: {labels[flag.flag]}: {_yes(flag.before)} → {_yes(flag.after)}")
    return "\n".join(lines)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def diff_json(d: LevelDiff) -> dict[str, Any]:
    """The diff as JSON-ready dicts and lists, with versions as strings ``v1.N``."""

    def steps(items: tuple[Step, ...]) -> list[dict[str, Any]]:
        return [{"version": f"v1.{s.minor}", "name": s.name, "change": s.change, "undone": s.undone} for s in items]

    def overrides(items: tuple[Override, ...]) -> list[dict[str, str]]:
        return [{"check": o.check, "by": o.by, "since": f"v1.{o.since}"} for o in items]

    return {
        "level": d.level,
        "from": {"version": d.from_version, "resolved": f"v1.{d.from_minor}"},
        "to": {"version": d.to_version, "resolved": f"v1.{d.to_minor}"},
        "changes": not d.empty,
        "added": [
            {
                "check": a.id,
                "control": a.control,
                "level": a.level,
                "reason": a.reason,
                "since": f"v1.{a.since}",
                "implementation": a.implementation,
                "overrides": list(a.overrides),
                "no_longer_overridden_by": list(a.no_longer_overridden_by),
                "steps": steps(a.steps),
                "allowed": {name: list(values) for name, values in a.allowed},
                "exempt_windows": a.exempt_windows,
                "relax_user_namespaces": a.relax_user_namespaces,
            }
            for a in d.added
        ],
        "removed": [
            {
                "check": r.id,
                "control": r.control,
                "level": r.level,
                "reason": r.reason,
                "since": f"v1.{r.since}",
                "implementation": r.implementation,
                "overridden_by": list(r.overridden_by),
            }
            for r in d.removed
        ],
        "now_overridden": overrides(d.now_overridden),
        "no_longer_overridden": overrides(d.no_longer_overridden),
        "changed": [
            {
                "check": c.id,
                "control": c.control,
                "level": c.level,
                "from_implementation": c.from_implementation,
                "to_implementation": c.to_implementation,
                "steps": steps(c.steps),
                "allowed": [{"name": a.name, "added": list(a.added), "removed": list(a.removed)} for a in c.allowed],
                "flags": [{"flag": f.flag, "before": f.before, "after": f.after} for f in c.flags],
            }
            for c in d.changed
        ],
    }
