"""Levels and versions, parsed exactly as Pod Security Admission parses its labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.errors import PssgenError

LEVELS: tuple[str, ...] = ("privileged", "baseline", "restricted")

# The newest policy version the pinned k8s.io/pod-security-admission module knows.
# registry.py asserts that it equals the largest minimum version of any check.
NEWEST_MINOR = 37

VERSION_PATTERN = r"^v1\.(0|[1-9][0-9]*)$"
_VERSION_RE = re.compile(VERSION_PATTERN)

# ParseVersion reads the minor with strconv.Atoi, which refuses a number above Go's int (64 bits on every platform
# Kubernetes ships for): such a version is as invalid as "v1.05".
MAX_MINOR = 2**63 - 1

# The errors of PSA's ParseLevel and ParseVersion (api/helpers.go), which its field errors and config errors carry.
LEVEL_PROBLEM = "must be one of privileged, baseline, restricted"
VERSION_PROBLEM = 'must be "latest" or "v1.x"'


class VersionError(PssgenError, ValueError):
    """A level or version string PSA would not accept."""


@dataclass(frozen=True, order=True)
class Version:
    """A PSS version as written (``latest`` or ``v1.N``); ``minor`` is None for latest."""

    minor: int | None

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"

    @property
    def resolved_minor(self) -> int:
        """The minor version whose policy applies: latest and anything newer clamp to the newest."""
        if self.minor is None or self.minor > NEWEST_MINOR:
            return NEWEST_MINOR
        return self.minor


LATEST = Version(None)


def parse_version(text: str) -> Version:
    """Accept ``latest`` or ``v1.N`` with no leading zeros and no patch, like PSA's ParseVersion."""
    if text == "latest":
        return LATEST
    match = _VERSION_RE.fullmatch(text)
    if match is None or int(match.group(1)) > MAX_MINOR:
        raise VersionError(f"invalid version {text!r}: {VERSION_PROBLEM} (for example v1.{NEWEST_MINOR})")
    return Version(int(match.group(1)))


def parse_level(text: str) -> str:
    """Accept exactly the three PSS level names, like PSA's ParseLevel."""
    if text not in LEVELS:
        raise VersionError(f"invalid level {text!r}: {LEVEL_PROBLEM}")
    return text


def all_minors() -> range:
    """Every minor version from v1.0 to the newest."""
    return range(NEWEST_MINOR + 1)
