"""The pinned external tools (OPA, gator, the upstream PSA module) and where to find or build them.

Pins live here only; the Makefile and the tests ask this module. A user's own
``opa`` is taken from ``OPA_BIN`` or PATH when it is the pinned version;
otherwise ``go install`` builds it into the project-local tools folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

OPA_VERSION = "v1.22.3"
GATEKEEPER_VERSION = "v3.23.1"
REGAL_VERSION = "v0.35.1"  # also pinned in conformance/tools/regal/go.mod, which it is built from
PSA_MODULE = "k8s.io/pod-security-admission"
PSA_VERSION = "v0.37.2"

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = Path(os.environ.get("PSSGEN_TOOLS_DIR", ROOT / ".tools" / "bin"))


class ToolError(RuntimeError):
    """A pinned tool is missing and cannot be built, or misbehaves."""


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # what `go install` builds
    version: str
    env_var: str
    version_args: tuple[str, ...]
    module_dir: Path | None = None  # build from this module's go.mod pin instead of `pkg@version`

    @property
    def local_path(self) -> Path:
        return TOOLS_DIR / f"{self.name}-{self.version}" / self.name


OPA = Tool("opa", "github.com/open-policy-agent/opa", OPA_VERSION, "OPA_BIN", ("version",))
# `gator --version` prints "devel" for go-installed builds; `gator version` prints the GitVersion.
GATOR = Tool(
    "gator", "github.com/open-policy-agent/gatekeeper/v3/cmd/gator", GATEKEEPER_VERSION, "GATOR_BIN", ("version",)
)


REGAL = Tool(
    "regal", "github.com/styrainc/regal", REGAL_VERSION, "REGAL_BIN", ("version",),
    module_dir=ROOT / "conformance" / "tools" / "regal",
)


def _reports_version(binary: str, tool: Tool) -> bool:
    try:
        out = subprocess.run(
            [binary, *tool.version_args], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return False
    return tool.version.lstrip("v") in out


def find(tool: Tool) -> Path | None:
    """``$<TOOL>_BIN`` (trusted as given), the project-local build, or a pinned one on PATH."""
    explicit = os.environ.get(tool.env_var)
    if explicit:
        return Path(explicit)
    if tool.local_path.exists():
        return tool.local_path
    on_path = shutil.which(tool.name)
    if on_path and _reports_version(on_path, tool):
        return Path(on_path)
    return None


def require(tool: Tool) -> Path:
    found = find(tool)
    if found is None:
        raise ToolError(
            f"{tool.name} {tool.version} not found: run `make tools`, or set {tool.env_var} to an existing binary"
        )
    return found


def install(tool: Tool) -> Path:
    """Build the pinned tool with ``go install`` unless one is already usable."""
    found = find(tool)
    if found is not None:
        print(f"{tool.name}: using {found}", file=sys.stderr)
        return found
    target = tool.local_path.parent
    target.mkdir(parents=True, exist_ok=True)
    print(f"{tool.name}: building {tool.package}@{tool.version} with go install into {target}", file=sys.stderr)
    env = {**os.environ, "GOBIN": str(target), "GOFLAGS": "-buildvcs=false"}
    spec = tool.package if tool.module_dir else f"{tool.package}@{tool.version}"
    proc = subprocess.run(["go", "install", spec], env=env, cwd=tool.module_dir, check=False)
    if proc.returncode != 0 or not tool.local_path.exists():
        raise ToolError(f"{tool.name}: go install {tool.package}@{tool.version} failed")
    return tool.local_path


def psa_module_dir() -> Path:
    """The pinned upstream PSA module's source in the Go module cache (downloaded on first use)."""
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"{PSA_MODULE}@{PSA_VERSION}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ToolError(f"go mod download {PSA_MODULE}@{PSA_VERSION} failed: {proc.stderr.strip()}")
    info = json.loads(proc.stdout)
    if info.get("Error"):
        raise ToolError(f"go mod download {PSA_MODULE}@{PSA_VERSION}: {info['Error']}")
    return Path(info["Dir"])


def main(argv: list[str]) -> int:
    """``python -m generator.tools install|path NAME``: used by the Makefile."""
    tools = {"opa": OPA, "gator": GATOR, "regal": REGAL}
    try:
        if argv[:1] == ["install"]:
            for name in argv[1:] or [*tools, "oracle"]:
                if name == "oracle":
                    from generator.oracle import build_oracle

                    print(f"psa-oracle: {build_oracle()}", file=sys.stderr)
                else:
                    install(tools[name])
            return 0
        if argv[:1] == ["path"] and len(argv) == 2:
            print(require(tools[argv[1]]))
            return 0
        if argv == ["psa"]:
            print(psa_module_dir())
            return 0
    except (ToolError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    usage = "usage: python -m generator.tools install [opa|gator|regal|oracle]... | path opa|gator|regal | psa"
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
