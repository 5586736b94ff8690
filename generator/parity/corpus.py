"""Corpora of pods with known verdicts: the upstream PSA fixtures, or a directory laid out like them.

The upstream fixtures are read straight from the pinned module in the Go
module cache (never copied into this repository). A corpus directory holds
``{baseline,restricted}/v1.N/{pass,fail}/*.yaml``; a fail fixture's file name,
minus its trailing digits, names the check it exercises, and that prefix gives
the substring PSA's integration test expects in the denial message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from generator.errors import PssgenError
from generator.tools import psa_module_dir

Expect = Literal["pass", "fail"]

CORPUS_LEVELS: tuple[str, ...] = ("baseline", "restricted")
EXPECTS: tuple[Expect, ...] = ("pass", "fail")

# Upstream's expectErrorSubstring per fixture prefix (test/fixtures_*.go); where
# a generator sets none, upstream falls back to the check ID.
_DEFAULTED_CHECK_IDS: tuple[str, ...] = ("allowPrivilegeEscalation", "runAsNonRoot", "runAsUser")
EXPECTED_SUBSTRINGS: Mapping[str, str] = {
    **{check_id.lower(): check_id for check_id in _DEFAULTED_CHECK_IDS},
    "apparmorprofile": "forbidden AppArmor profile",
    "capabilities_baseline": "capabilities",
    "capabilities_restricted": "unrestricted capabilities",
    "hostnamespaces": "host namespaces",
    "hostpathvolumes": "hostPath",
    "hostports": "hostPort",
    "hostprobesandhostlifecycle": "probe or lifecycle host",
    "privileged": "privileged",
    "procmount": "procMount",
    "procmount_restricted": "procMount",
    "restrictedvolumes": "restricted volume types",
    "seccompprofile_baseline": "seccompProfile",
    "seccompprofile_restricted": "seccompProfile",
    "selinuxoptions": "seLinuxOptions",
    "sysctls": "forbidden sysctl",
    "windowshostprocess": "hostProcess",
}

_VERSION_DIR = re.compile(r"^v1\.(0|[1-9][0-9]*)$")  # PSA's ParseVersion, without "latest"
_TRAILING_DIGITS = re.compile(r"[0-9]+$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml makes 4537 files take ~1s, not ~10s


class CorpusError(PssgenError, ValueError):
    """A corpus directory is not laid out as ``{level}/v1.N/{pass,fail}/*.yaml``, or a file is unusable."""


@dataclass(frozen=True)
class Fixture:
    """One object and the verdict expected at its own level and version."""

    level: str
    minor: int
    expect: Expect
    substring: str | None  # expected in the denial message; None for pass fixtures (or unknown prefixes)
    path: Path
    object: dict[str, Any] = field(compare=False, repr=False)

    @property
    def version(self) -> str:
        return f"v1.{self.minor}"

    @property
    def id(self) -> str:
        """Stable and readable, e.g. ``restricted/v1.37/fail/privileged0``."""
        return f"{self.level}/{self.version}/{self.expect}/{self.path.stem}"


def fixture_prefix(stem: str) -> str:
    """The check-naming prefix of a fixture file stem: ``sysctls12`` → ``sysctls``, ``base_linux`` as is."""
    return _TRAILING_DIGITS.sub("", stem)


def expected_substring(prefix: str) -> str | None:
    """The substring PSA's test expects in the denial of a fail fixture with this prefix, if known."""
    return EXPECTED_SUBSTRINGS.get(prefix)


def _subdirs(parent: Path, what: str) -> Iterator[Path]:
    """Directories of ``parent``; anything else except dotfiles (and a README at the root) is an error."""
    for child in sorted(parent.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            yield child
        elif not (what == "level" and child.suffix.lower() in {".md", ".txt"}):
            raise CorpusError(f"{child}: unexpected file where a {what} directory belongs")


def _load_object(path: Path) -> dict[str, Any]:
    try:
        documents = [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: cannot read YAML: {exc}") from exc
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise CorpusError(f"{path}: a fixture must be exactly one YAML mapping (found {len(documents)} documents)")
    return documents[0]


def _fixture(path: Path, level: str, minor: int, expect: Expect, strict: bool) -> Fixture:
    substring = None
    if expect == "fail":
        prefix = fixture_prefix(path.stem)
        substring = expected_substring(prefix)
        if substring is None and strict:
            raise CorpusError(
                f"{path}: no expected message substring for prefix {prefix!r}; "
                f"known prefixes: {', '.join(sorted(EXPECTED_SUBSTRINGS))}"
            )
    return Fixture(level, minor, expect, substring, path, _load_object(path))


def load_corpus(root: Path, *, strict: bool = False) -> list[Fixture]:
    """Every fixture under ``root``, sorted by level, version, expectation and file name.

    ``strict`` also requires every fail fixture's prefix to have a known
    expected substring; otherwise such fixtures only have to be denied.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus directory does not exist")
    fixtures: list[Fixture] = []
    for level_dir in _subdirs(root, "level"):
        if level_dir.name not in CORPUS_LEVELS:
            raise CorpusError(f"{level_dir}: level directory must be one of {', '.join(CORPUS_LEVELS)}")
        for version_dir in _subdirs(level_dir, "version"):
            match = _VERSION_DIR.match(version_dir.name)
            if match is None:
                raise CorpusError(f"{version_dir}: version directory must be named v1.N (no leading zeros)")
            for expect_dir in _subdirs(version_dir, "pass/fail"):
                if expect_dir.name not in EXPECTS:
                    raise CorpusError(f"{expect_dir}: must be named pass or fail")
                expect: Expect = "pass" if expect_dir.name == "pass" else "fail"
                for path in sorted(expect_dir.iterdir()):
                    if path.name.startswith("."):
                        continue
                    if not path.is_file() or path.suffix not in {".yaml", ".yml"}:
                        raise CorpusError(f"{path}: only .yaml fixture files belong here")
                    fixtures.append(_fixture(path, level_dir.name, int(match.group(1)), expect, strict))
    if not fixtures:
        raise CorpusError(f"{root}: no fixtures found under {{baseline,restricted}}/v1.N/{{pass,fail}}/")
    fixtures.sort(key=lambda f: (CORPUS_LEVELS.index(f.level), f.minor, EXPECTS.index(f.expect), f.path.name))
    return fixtures


def upstream_corpus_dir() -> Path:
    """``test/testdata`` of the pinned k8s.io/pod-security-admission module in the Go module cache."""
    return psa_module_dir() / "test" / "testdata"


@functools.cache
def upstream_corpus() -> tuple[Fixture, ...]:
    """The upstream PSA fixtures, strictly: every fail fixture must have a known expected substring.

    Read once per process (the pinned module does not change under it): a test
    session and ``pssgen conformance`` ask for it from several places.
    """
    return tuple(load_corpus(upstream_corpus_dir(), strict=True))
