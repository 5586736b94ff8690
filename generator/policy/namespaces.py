"""Namespace policies from ``pod-security.kubernetes.io/*`` labels, resolved as PSA resolves them.

PSA's PolicyToEvaluate: a missing label takes the default; an invalid enforce
level becomes restricted and an invalid audit or warn level privileged (fail
open); an invalid version becomes latest; and when warn is unset but enforce
is set to a stricter level, warn follows enforce (and its version too when
warn-version is unset). Errors are collected, never fatal, as in PSA.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from generator.policy.versions import LATEST, LEVELS, Version, VersionError, parse_level, parse_version

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
_STRICTNESS = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True, slots=True)
class LevelVersion:
    level: str
    version: Version

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion
    errors: tuple[str, ...] = field(default=())


def default_policy(level: str, version: Version) -> NamespacePolicy:
    """pssgen's fallback: enforce at the command line's level and version; audit and warn as PSA defaults."""
    privileged = LevelVersion("privileged", LATEST)
    return NamespacePolicy(LevelVersion(level, version), privileged, privileged)


def policy_from_labels(labels: Mapping[str, Any] | None, defaults: NamespacePolicy) -> NamespacePolicy:
    """PSA's PolicyToEvaluate over a Namespace's labels."""
    if not labels:
        return defaults
    modes = {"enforce": defaults.enforce, "audit": defaults.audit, "warn": defaults.warn}
    errors: list[str] = []
    has_enforce_level = False
    has_warn_level = has_warn_version = False
    for mode in MODES:
        level_key, version_key = f"{LABEL_PREFIX}{mode}", f"{LABEL_PREFIX}{mode}-version"
        if level_key in labels:
            raw = labels[level_key]
            try:
                level = parse_level(str(raw))
                if mode == "enforce":
                    has_enforce_level = True
            except VersionError as exc:
                errors.append(f"metadata.labels[{level_key}]: Invalid value: {str(raw)!r}: {exc}")
                level = "restricted" if mode == "enforce" else "privileged"
            if mode == "warn":
                has_warn_level = True
            modes[mode] = replace(modes[mode], level=level)
        if version_key in labels:
            raw = labels[version_key]
            try:
                version = parse_version(str(raw))
            except VersionError as exc:
                errors.append(f"metadata.labels[{version_key}]: Invalid value: {str(raw)!r}: {exc}")
                version = LATEST
            if mode == "warn":
                has_warn_version = True
            modes[mode] = replace(modes[mode], version=version)
    enforce, warn = modes["enforce"], modes["warn"]
    if not has_warn_level and has_enforce_level and _STRICTNESS[enforce.level] > _STRICTNESS[warn.level]:
        modes["warn"] = LevelVersion(enforce.level, warn.version if has_warn_version else enforce.version)
    return NamespacePolicy(modes["enforce"], modes["audit"], modes["warn"], tuple(errors))


def namespace_labels(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """``(name, labels)`` for a Namespace object, else None."""
    if obj.get("kind") != "Namespace":
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None
    labels = meta.get("labels")
    return meta["name"], labels if isinstance(labels, Mapping) else {}
