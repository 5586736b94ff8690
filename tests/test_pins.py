"""The PSA pins agree: generator/tools, the oracle's go.mod, and the newest policy version the registry knows.

A PSA release is taken in several places (CONTRIBUTING.md, "Move to a new PSA
release"); each test here fails with the step that was left out.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

from generator import tools
from generator.policy.versions import NEWEST_MINOR
from generator.tools import PSA_MODULE, PSA_VERSION, ROOT, psa_module_dir

ORACLE_DIR = ROOT / "conformance" / "oracle"
STEPS = "see CONTRIBUTING.md, 'Move to a new PSA release'"
BUMP = f"in conformance/oracle run `go get {PSA_MODULE}@{PSA_VERSION}` and `go mod tidy` ({STEPS})"

_REQUIRE_LINE = re.compile(r"^\s*(\S+)\s+(v\S+)(\s*//\s*indirect)?\s*$")
# A check version in the PSA policy package: `MinimumVersion: api.MajorMinorVersion(1, 35)`.
_MINIMUM_VERSION = re.compile(r"MinimumVersion:\s*api\.MajorMinorVersion\(\s*1\s*,\s*(\d+)\s*\)")


def go_mod_requires(text: str) -> dict[str, tuple[str, bool]]:
    """``module -> (version, indirect)`` for every require of a go.mod, single-line or in a block."""
    requires: dict[str, tuple[str, bool]] = {}
    in_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_block:
            if line == ")":
                in_block = False
            elif (match := _REQUIRE_LINE.match(line)) is not None:
                requires[match[1]] = (match[2], match[3] is not None)
        elif line == "require (":
            in_block = True
        elif line.startswith("require ") and (match := _REQUIRE_LINE.match(line.removeprefix("require "))):
            requires[match[1]] = (match[2], match[3] is not None)
    return requires


def go_mod_replaces(text: str) -> set[str]:
    """The modules a go.mod replaces (a replaced module is not the version it requires)."""
    replaced: set[str] = set()
    in_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_block:
            if line == ")":
                in_block = False
            elif "=>" in line:
                replaced.add(line.split()[0])
        elif line == "replace (":
            in_block = True
        elif line.startswith("replace ") and "=>" in line:
            replaced.add(line.split()[1])
    return replaced


def newest_policy_minor(module_dir: Path) -> int:
    """The newest MinimumVersion of any check in the PSA module's policy package: what ``latest`` means there
    (its registry clamps every version to the newest check version it was given)."""
    minors = [
        int(m)
        for path in sorted((module_dir / "policy").glob("check_*.go"))
        if not path.name.endswith("_test.go")
        for m in _MINIMUM_VERSION.findall(path.read_text(encoding="utf-8"))
    ]
    if not minors:
        raise AssertionError(f"no MinimumVersion found in {module_dir / 'policy'}/check_*.go: has upstream moved it?")
    return max(minors)


def test_go_mod_reader_on_a_made_up_go_mod(tmp_path: Path) -> None:
    text = (
        "module x\n\ngo 1.26.0\n\nrequire example.com/single v1.2.3\n\n"
        "require (\n\tk8s.io/api v0.37.2\n\tgithub.com/y/z v0.1.0 // indirect\n)\n\n"
        "replace example.com/single => ../single\nreplace (\n\tk8s.io/api => k8s.io/api v0.36.0\n)\n"
    )
    assert go_mod_requires(text) == {
        "example.com/single": ("v1.2.3", False),
        "k8s.io/api": ("v0.37.2", False),
        "github.com/y/z": ("v0.1.0", True),
    }
    assert go_mod_replaces(text) == {"example.com/single", "k8s.io/api"}
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "check_a.go").write_text(
        "MinimumVersion: api.MajorMinorVersion(1, 0),\nMinimumVersion: api.MajorMinorVersion(1, 9)"
    )
    (policy / "check_a_test.go").write_text("MinimumVersion: api.MajorMinorVersion(1, 99)")
    (policy / "check_b.go").write_text("MinimumVersion:   api.MajorMinorVersion(1, 12),")
    assert newest_policy_minor(tmp_path) == 12


def test_oracle_go_mod_requires_exactly_the_pinned_psa_module() -> None:
    text = (ORACLE_DIR / "go.mod").read_text(encoding="utf-8")
    requires = go_mod_requires(text)
    assert PSA_MODULE in requires, f"conformance/oracle/go.mod does not require {PSA_MODULE}: {BUMP}"
    version, indirect = requires[PSA_MODULE]
    assert version == PSA_VERSION, (
        f"conformance/oracle/go.mod requires {PSA_MODULE} {version}, but generator/tools pins PSA_VERSION "
        f"{PSA_VERSION}: {BUMP}"
    )
    assert not indirect, f"conformance/oracle/go.mod requires {PSA_MODULE} only indirectly: {BUMP}"
    assert PSA_MODULE not in go_mod_replaces(text), (
        f"conformance/oracle/go.mod replaces {PSA_MODULE}, so the oracle is not {PSA_VERSION}: remove the replace"
    )
    go_sum = (ORACLE_DIR / "go.sum").read_text(encoding="utf-8")
    assert f"{PSA_MODULE} {PSA_VERSION} h1:" in go_sum, f"conformance/oracle/go.sum lacks {PSA_VERSION}: {BUMP}"


@pytest.fixture(scope="module")
def module_dir() -> Path:
    return psa_module_dir()


def test_newest_minor_is_the_newest_the_pinned_module_knows(module_dir: Path) -> None:
    newest = newest_policy_minor(module_dir)
    assert newest == NEWEST_MINOR, (
        f"the pinned {PSA_MODULE} {PSA_VERSION} has check versions up to v1.{newest} (policy/check_*.go), but "
        f"NEWEST_MINOR in generator/policy/versions.py is v1.{NEWEST_MINOR}: add the check versions the release "
        f"brings to generator/policy/checks, set NEWEST_MINOR to {newest}, regenerate out/ and the corpus ({STEPS})"
    )


def test_tools_install_builds_every_pinned_tool_by_default() -> None:
    # A pin that `pssgen tools install` (and so `make tools`) leaves out is never built for `make test`.
    cli_tools = importlib.import_module("generator.cli.tools")  # the package re-exports the click group as `tools`
    pinned = {t.name for t in vars(tools).values() if isinstance(t, tools.Tool)}
    assert pinned == set(cli_tools.TOOLS), f"generator/cli/tools.py TOOLS lacks {sorted(pinned - set(cli_tools.TOOLS))}"


@pytest.mark.parametrize("tool", [tools.OPA, tools.GATOR, tools.CONFTEST], ids=lambda t: t.name)
def test_local_build_is_the_pinned_module_version(tool: tools.Tool) -> None:
    # `go install pkg@version` records the module version in the binary; a stale .tools/bin build shows here.
    if not tool.local_path.exists():
        pytest.skip(f"{tool.local_path} is not built (make tools)")
    proc = subprocess.run(["go", "version", "-m", tool.local_path], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"go version -m failed: {proc.stderr.strip()}")
    modules = {f[1]: f[2] for line in proc.stdout.splitlines() if (f := line.split())[0] == "mod" and len(f) >= 3}
    module = next((m for m in modules if tool.package == m or tool.package.startswith(m + "/")), None)
    assert module is not None, f"{tool.local_path} was not built from {tool.package}: {proc.stdout[:300]}"
    assert modules[module] == tool.version, (
        f"{tool.local_path} is {module} {modules[module]}, the pin is {tool.version}: rebuild with `make tools`"
    )
