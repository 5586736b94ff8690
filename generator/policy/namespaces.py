"""Namespace policies from ``pod-security.kubernetes.io/*`` labels, resolved as PSA resolves them.

PSA's PolicyToEvaluate: a missing label takes the default; an invalid enforce
level becomes restricted and an invalid audit or warn level privileged (fail
open); an invalid version becomes latest; and when warn is unset but enforce
is set to a stricter level, warn follows enforce (and its version too when
warn-version is unset). Errors are collected, never fatal, as in PSA, in its
words: apimachinery's field error for the label (``metadata.labels[<key>]:
Invalid value: <Go-quoted value>: <ParseLevel's or ParseVersion's error>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from generator.policy.checks._helpers import go_quote
from generator.policy.versions import (
    LATEST,
    LEVEL_PROBLEM,
    LEVELS,
    VERSION_PROBLEM,
    Version,
    VersionError,
    parse_level,
    parse_version,
)

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
STRICTNESS = {level: i for i, level in enumerate(LEVELS)}  # CompareLevels: a larger number is stricter
# The level an invalid level label gives its mode: enforce fails closed, audit and warn fail open.
INVALID_LEVEL = {"enforce": "restricted", "audit": "privileged", "warn": "privileged"}


def level_label(mode: str) -> str:
    return f"{LABEL_PREFIX}{mode}"


def version_label(mode: str) -> str:
    return f"{LABEL_PREFIX}{mode}-version"


def label_error(label: str, value: str, problem: str) -> str:
    """apimachinery's ``field.Invalid(metadata.labels[<label>], value, problem)``, as PSA records it."""
    return f"metadata.labels[{label}]: Invalid value: {go_quote(value)}: {problem}"


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
    modes = policy_modes(defaults)
    errors: list[str] = []
    has_enforce_level = False
    has_warn_level = has_warn_version = False
    for mode in MODES:
        level_key, version_key = level_label(mode), version_label(mode)
        if level_key in labels:
            raw = str(labels[level_key])
            try:
                level = parse_level(raw)
                if mode == "enforce":
                    has_enforce_level = True
            except VersionError:
                errors.append(label_error(level_key, raw, LEVEL_PROBLEM))
                level = INVALID_LEVEL[mode]
            if mode == "warn":
                has_warn_level = True
            modes[mode] = replace(modes[mode], level=level)
        if version_key in labels:
            raw = str(labels[version_key])
            try:
                version = parse_version(raw)
            except VersionError:
                errors.append(label_error(version_key, raw, VERSION_PROBLEM))
                version = LATEST
            if mode == "warn":
                has_warn_version = True
            modes[mode] = replace(modes[mode], version=version)
    enforce, warn = modes["enforce"], modes["warn"]
    if not has_warn_level and has_enforce_level and STRICTNESS[enforce.level] > STRICTNESS[warn.level]:
        modes["warn"] = LevelVersion(enforce.level, warn.version if has_warn_version else enforce.version)
    return NamespacePolicy(modes["enforce"], modes["audit"], modes["warn"], tuple(errors))


def policy_data(policy: NamespacePolicy) -> dict[str, dict[str, str]]:
    """Each mode's level and version as plain strings, the defaults the Rego's policy_to_evaluate takes."""
    return {mode: {"level": lv.level, "version": str(lv.version)} for mode, lv in policy_modes(policy).items()}


def policy_modes(policy: NamespacePolicy) -> dict[str, LevelVersion]:
    return {"enforce": policy.enforce, "audit": policy.audit, "warn": policy.warn}


def namespace_labels(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """``(name, labels)`` for a Namespace object, else None."""
    if obj.get("kind") != "Namespace":
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None
    labels = meta.get("labels")
    return meta["name"], labels if isinstance(labels, Mapping) else {}
