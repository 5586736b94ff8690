"""The shapes every check, engine and renderer share.

A check is data: an ID, a level, the PSS control it implements, the fields it
reads, and an ordered tuple of versioned implementations, as upstream's Check
and VersionedCheck. Each version names the upstream function it mirrors and
the Rego function it runs, carries its allowed values as plain tuples (the one
copy the Python evaluation, the Rego and the docs all read), the baseline
checks it overrides, and the relaxations (generator.policy.relaxations) that
let some pods through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from generator.policy.pod import PodView
from generator.policy.relaxations import Relaxation

Level = Literal["baseline", "restricted"]

# How PSA's admission words a verdict (admission.go, EvaluatePod): the enforce denial, and the warning and audit
# annotation ("would violate"), each followed by the Go-quoted "<level>:<version>" and the forbidden detail.
ENFORCE_HEAD = "violates PodSecurity"
WARN_HEAD = "would violate PodSecurity"
MODE_HEADS = {"enforce": ENFORCE_HEAD, "audit": WARN_HEAD, "warn": WARN_HEAD}
# policy.AggregateCheckResults' reason for a failed check that gives none.
UNKNOWN_FORBIDDEN_REASON = "unknown forbidden reason"


_T = TypeVar("_T")


def _quick_init(cls: type[_T]) -> type[_T]:
    """``cls`` (a frozen slots dataclass without defaults) with an ``__init__`` that sets each field through its
    slot, where dataclasses' calls ``object.__setattr__`` for each: the same object, built in half the time.

    The evaluator builds one Forbidden and one Violation per failed check, and a Result per denied object, so the
    frozen ``__init__`` was a fifth of a denied pod's time. Signature, frozenness, equality and repr are the
    dataclass's own.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    namespace = {f"_set_{name}": getattr(cls, name).__set__ for name in names}
    body = "".join(f"    _set_{name}(self, {name})\n" for name in names)
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


@_quick_init
@dataclass(frozen=True, slots=True)
class Forbidden:
    """What a failed check reports: PSA's forbiddenReason and forbiddenDetail."""

    reason: str
    detail: str


@_quick_init
@dataclass(frozen=True, slots=True)
class Violation:
    """A failed check in a result, in PSA's order."""

    check: str
    reason: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason, "detail": self.detail}


# A version's allowed values: named lists of strings, fed to its implementation in Python and in Rego.
Allowed = Mapping[str, tuple[str, ...]]

# A Python implementation: the pod and the allowed values of the version running it.
Evaluation = Callable[[PodView, Allowed], Forbidden | None]


@dataclass(frozen=True)
class CheckVersion:
    """One upstream VersionedCheck: behaviour from ``minimum_minor`` until the next version."""

    minimum_minor: int
    name: str  # the upstream function this mirrors, e.g. "runAsNonRoot1_35"
    evaluate: Evaluation  # called with this version's ``allowed``
    rego: str  # the Rego function it runs: a name in the check's package, or "<checkId>.<name>" in another's
    allowed: Allowed = field(default_factory=dict)
    overrides: tuple[str, ...] = ()  # upstream's OverrideCheckIDs: baseline checks skipped while this runs
    relaxations: tuple[Relaxation, ...] = ()  # pods this version lets through without running
    change: str = ""  # what this version changes, for `pssgen diff` and the docs

    def relaxed(self, pod: PodView) -> bool:
        """Whether one of this version's relaxations lets ``pod`` through unexamined."""
        return any(r.applies(pod) for r in self.relaxations)


@dataclass(frozen=True)
class Check:
    """One upstream check ID and all its versions."""

    id: str
    level: Level
    control: str  # the PSS control name users know, e.g. "Privileged Containers"
    fields: tuple[str, ...]
    versions: tuple[CheckVersion, ...]
    doc: str  # the control's spec text (the module docstring)
    # Every forbiddenReason the check can report: how a denial's text is read back (the live cluster engine) into
    # the checks that failed. Unique among the checks PSA runs together at any level and version.
    reasons: tuple[str, ...] = ()

    @property
    def first_minor(self) -> int:
        return self.versions[0].minimum_minor

    @property
    def overridden_ids(self) -> tuple[str, ...]:
        """Every check some version overrides, in the order the versions first name them."""
        return tuple(dict.fromkeys(target for v in self.versions for target in v.overrides))

    def overrides_from(self, target: str) -> int | None:
        """The first minor version whose implementation overrides ``target``, or None if none does."""
        return next((v.minimum_minor for v in self.versions if target in v.overrides), None)

    def version_at(self, minor: int) -> CheckVersion | None:
        """The implementation in force at ``minor``, or None before the check exists."""
        found = None
        for version in self.versions:
            if version.minimum_minor > minor:
                break
            found = version
        return found


@_quick_init
@dataclass(frozen=True, slots=True)
class Result:
    """A verdict for one object at one level and version."""

    allowed: bool
    violations: tuple[Violation, ...]
    level: str
    version: str  # as asked for ("latest"), which is what PSA prints

    @property
    def forbidden_detail(self) -> str:
        """PSA's AggregateCheckResult.ForbiddenDetail: ``reason (detail), ...`` in check order, never sorted."""
        reasons = [v.reason or UNKNOWN_FORBIDDEN_REASON for v in self.violations]
        return ", ".join(f"{r} ({v.detail})" if v.detail else r for r, v in zip(reasons, self.violations, strict=True))

    def mode_message(self, mode: str) -> str:
        """PSA's text for ``mode`` (enforce, audit or warn); the level and version never need Go's quote escapes."""
        return f'{MODE_HEADS[mode]} "{self.level}:{self.version}": {self.forbidden_detail}'

    @property
    def message(self) -> str:
        """The enforce message PSA returns, without the API server's ``pods "x" is forbidden:`` prefix."""
        return self.mode_message("enforce")

    @property
    def warning(self) -> str:
        """The warn/audit wording PSA uses, and the only one it uses for workloads."""
        return self.mode_message("warn")


def spec_get(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """``mapping[key]`` treating a missing mapping as nil, like a nil Go pointer."""
    return None if mapping is None else mapping.get(key)
