"""The shapes every check, engine and renderer share.

A check is data: an ID, a level, the PSS control it implements, the fields it
reads, the checks it overrides, and an ordered tuple of versioned
implementations. Each implementation names the upstream function it mirrors,
carries its allowed values as plain tuples (read by the Python evaluation, the
Rego templates and the docs alike) and a Python evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from generator.policy.pod import PodView

Level = Literal["baseline", "restricted"]


@dataclass(frozen=True, slots=True)
class Forbidden:
    """What a failed check reports: PSA's forbiddenReason and forbiddenDetail."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Violation:
    """A failed check in a result, in PSA's order."""

    check: str
    reason: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason, "detail": self.detail}


Evaluation = Callable[[PodView], Forbidden | None]


@dataclass(frozen=True)
class CheckVersion:
    """One upstream VersionedCheck: behaviour from ``minimum_minor`` until the next version."""

    minimum_minor: int
    name: str  # the upstream function this mirrors, e.g. "runAsNonRoot1_35"
    evaluate: Evaluation
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    change: str = ""  # what this version changes, for `pssgen diff` and the docs
    exempt_windows: bool = False  # spec.os.name == "windows" pods pass (v1.25 restricted checks)
    relax_user_namespaces: bool = False  # spec.hostUsers == false pods pass (v1.35)


@dataclass(frozen=True)
class Check:
    """One upstream check ID and all its versions."""

    id: str
    level: Level
    control: str  # the PSS control name users know, e.g. "Privileged Containers"
    fields: tuple[str, ...]
    versions: tuple[CheckVersion, ...]
    doc: str  # the control's spec text (the module docstring)
    overrides: tuple[str, ...] = ()

    @property
    def first_minor(self) -> int:
        return self.versions[0].minimum_minor

    def version_at(self, minor: int) -> CheckVersion | None:
        """The implementation in force at ``minor``, or None before the check exists."""
        found = None
        for version in self.versions:
            if version.minimum_minor > minor:
                break
            found = version
        return found


@dataclass(frozen=True, slots=True)
class Result:
    """A verdict for one object at one level and version."""

    allowed: bool
    violations: tuple[Violation, ...]
    level: str
    version: str  # as asked for ("latest"), which is what PSA prints

    @property
    def forbidden_detail(self) -> str:
        """PSA's AggregateCheckResult.ForbiddenDetail: ``reason (detail), ...``."""
        return ", ".join(f"{v.reason} ({v.detail})" if v.detail else v.reason for v in self.violations)

    @property
    def message(self) -> str:
        """The enforce message PSA returns, without the API server's ``pods "x" is forbidden:`` prefix."""
        return f'violates PodSecurity "{self.level}:{self.version}": {self.forbidden_detail}'

    @property
    def warning(self) -> str:
        """The warn/audit wording PSA uses, and the only one it uses for workloads."""
        return f'would violate PodSecurity "{self.level}:{self.version}": {self.forbidden_detail}'


def spec_get(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """``mapping[key]`` treating a missing mapping as nil, like a nil Go pointer."""
    return None if mapping is None else mapping.get(key)
