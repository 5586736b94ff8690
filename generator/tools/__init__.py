"""The pinned external tools (OPA, gator, the gatekeeper and vap engines, Regal, conftest, the upstream PSA module,
the local cluster's kube-apiserver, kubectl, etcd and Gatekeeper) and where to find or build them.

Pins live here only; the Makefile and the tests ask this module. A user's own
``opa`` is taken from ``OPA_BIN`` or PATH when it is the pinned version;
otherwise ``go install`` builds it into the tools folder: ``.tools/bin`` in a
checkout, the user's cache when pssgen is installed. The cluster's Go programs
that are not ``go install``-able (kube-apiserver, kubectl: kubernetes' go.mod
replaces its staging modules with local paths) are built with ``go build``
from a small module of ours, into a folder keyed by the pin and a hash of that
module, so a changed go.mod builds a new binary beside the old.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from generator.errors import PssgenError

OPA_VERSION = "v1.22.3"
GATEKEEPER_VERSION = "v3.23.1"
CONFTEST_VERSION = "v0.71.1"
REGAL_VERSION = "v0.35.1"  # also pinned in conformance/tools/regal/go.mod, which it is built from
PSA_MODULE = "k8s.io/pod-security-admission"
PSA_VERSION = "v0.37.2"
# The local cluster (generator/engines/cluster.py). kube-apiserver and kubectl are built from
# conformance/cluster/go.mod, which requires k8s.io/kubernetes at this version and its staging modules at
# PSA_VERSION (the same release); etcd from conformance/etcd/go.mod, which requires go.etcd.io/etcd/server/v3 at
# ETCD_VERSION; the Gatekeeper controller is the GATEKEEPER_VERSION module's root (its manager).
KUBERNETES_MODULE = "k8s.io/kubernetes"
KUBERNETES_VERSION = "v1.37.2"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
ETCD_VERSION = "v3.6.16"

ROOT = Path(__file__).resolve().parents[2]  # the checkout, when pssgen runs from one (installed: site-packages)
# Installed, ROOT is site-packages, which must never be written to: only a folder laid out like the
# checkout (pyproject, the template and oracle sources beside generator/) counts as one.
IN_CHECKOUT = all(
    p.is_file()
    for p in (ROOT / "pyproject.toml", ROOT / "templates" / "__init__.py", ROOT / "conformance" / "oracle" / "go.mod")
)


def _tools_dir() -> Path:
    """``$PSSGEN_TOOLS_DIR``; in a checkout its ``.tools/bin``; installed, the user's cache (never site-packages)."""
    if os.environ.get("PSSGEN_TOOLS_DIR"):
        return Path(os.environ["PSSGEN_TOOLS_DIR"])
    if IN_CHECKOUT:
        return ROOT / ".tools" / "bin"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pssgen" / "bin"


TOOLS_DIR = _tools_dir()


class ToolError(PssgenError, RuntimeError):
    """A pinned tool is missing and cannot be built, or misbehaves."""


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # what `go install` builds
    version: str
    env_var: str
    version_args: tuple[str, ...]
    module_dir: Path | None = None  # build from this module's go.mod pin instead of `pkg@version`
    # `go build -ldflags` (with module_dir): the build goes to a folder keyed by a hash of the module's files
    ldflags: tuple[str, ...] = ()
    # False: build as `go install` does, so packages compiled for another tool (gator) come from the build cache
    trimpath: bool = True

    @property
    def local_path(self) -> Path:
        if self.ldflags:
            return TOOLS_DIR / f"{self.name}-{self.version}-{self.source_key()}" / self.name
        return TOOLS_DIR / f"{self.name}-{self.version}" / self.name

    def source_key(self) -> str:
        """A hash of what the build reads from the checkout (go.mod, go.sum, *.go) and the flags it is given."""
        flags = ("go build", self.package, *self.ldflags, *(() if self.trimpath else ("no -trimpath",)))
        digest = hashlib.sha256("\0".join(flags).encode())
        if self.module_dir is not None and self.module_dir.is_dir():
            for path in sorted(self.module_dir.iterdir()):
                if path.is_file() and (path.name in ("go.mod", "go.sum") or path.name.endswith(".go")):
                    content = path.read_bytes()
                    digest.update(f"\0{path.name}\0{len(content)}\0".encode())
                    digest.update(content)
        return digest.hexdigest()[:8]


OPA = Tool("opa", "github.com/open-policy-agent/opa", OPA_VERSION, "OPA_BIN", ("version",))
# `gator --version` prints "devel" for go-installed builds; `gator version` prints the GitVersion.
GATOR = Tool(
    "gator", "github.com/open-policy-agent/gatekeeper/v3/cmd/gator", GATEKEEPER_VERSION, "GATOR_BIN", ("version",)
)

# A release binary's `conftest --version` prints "Conftest: 0.71.1"; one built by `go install` prints
# "Conftest: dev" (the version is set by ldflags in releases), so only the former is recognised on PATH.
CONFTEST = Tool("conftest", "github.com/open-policy-agent/conftest", CONFTEST_VERSION, "CONFTEST_BIN", ("--version",))

# kube-apiserver and kubectl report the version -X sets (k8s.io/component-base/version, and client-go's copy that
# clients send in their User-Agent); without it they say v0.0.0-master.
_KUBE_LDFLAGS = tuple(
    f"-X {package}.{name}={value}"
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    for name, value in (
        ("gitVersion", KUBERNETES_VERSION),
        ("gitMajor", KUBERNETES_VERSION.lstrip("v").split(".")[0]),
        ("gitMinor", KUBERNETES_VERSION.lstrip("v").split(".")[1]),
        ("gitTreeState", "clean"),
    )
)
_CLUSTER_DIR = ROOT / "conformance" / "cluster"
KUBE_APISERVER = Tool(
    "kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", KUBERNETES_VERSION, "KUBE_APISERVER_BIN",
    ("--version",), module_dir=_CLUSTER_DIR, ldflags=_KUBE_LDFLAGS,
)  # fmt: skip
KUBECTL = Tool(
    "kubectl", "k8s.io/kubernetes/cmd/kubectl", KUBERNETES_VERSION, "KUBECTL_BIN",
    ("version", "--client"), module_dir=_CLUSTER_DIR, ldflags=_KUBE_LDFLAGS,
)  # fmt: skip
# Our own ~100 lines on etcd's embed package (conformance/etcd), with a subset of etcd's flags: an etcd release of
# the same version on PATH or in ETCD_BIN does as well. "-s -w": nothing reads its symbols.
ETCD = Tool(
    "etcd", ".", ETCD_VERSION, "ETCD_BIN", ("--version",),
    module_dir=ROOT / "conformance" / "etcd", ldflags=("-s", "-w"),
)  # fmt: skip
# The manager has no version flag (it would start), so it is never taken from PATH: GATEKEEPER_BIN or our build.
GATEKEEPER = Tool("gatekeeper", "github.com/open-policy-agent/gatekeeper/v3", GATEKEEPER_VERSION, "GATEKEEPER_BIN", ())


def _packaged_dir(package: str, checkout_dir: Path) -> Path:
    """A Go program shipped as package data: its installed folder, or the checkout's (an editable install made
    before the package was mapped does not know it)."""
    try:
        folder = Path(str(files(package)))
    except ModuleNotFoundError:
        return checkout_dir
    return folder if (folder / "go.mod").is_file() else checkout_dir


# conformance/gatekeeper: the constraint framework's client with Gatekeeper's target and drivers, at the
# versions the GATEKEEPER_VERSION module selects, reviewing JSON lines (generator/engines/gatekeeper.py). Built
# without -trimpath, so it reuses what building gator left in the Go build cache; never taken from PATH.
GATEKEEPER_ENGINE = Tool(
    "gatekeeper-engine", ".", GATEKEEPER_VERSION, "GATEKEEPER_ENGINE_BIN", (),
    module_dir=_packaged_dir("generator.tools.gatekeeper_engine_src", ROOT / "conformance" / "gatekeeper"),
    ldflags=("-s", "-w"), trimpath=False,
)  # fmt: skip

# conformance/vap: the API server's ValidatingAdmissionPolicy admission plugin (k8s.io/apiserver at PSA_VERSION, with
# k8s.io/kubernetes' defaulting and policy validation at KUBERNETES_VERSION) judging JSON lines
# (generator/engines/vap.py). Built with kube-apiserver's version flags, so that the CEL compatibility version it
# derives from them is the API server's; never taken from PATH (VAP_ENGINE_BIN overrides).
VAP_ENGINE = Tool(
    "vap-engine", ".", PSA_VERSION, "VAP_ENGINE_BIN", (),
    module_dir=_packaged_dir("generator.tools.vap_engine_src", ROOT / "conformance" / "vap"),
    ldflags=("-s", "-w", *_KUBE_LDFLAGS),
)  # fmt: skip

REGAL = Tool(
    "regal",
    "github.com/styrainc/regal",
    REGAL_VERSION,
    "REGAL_BIN",
    ("version",),
    module_dir=ROOT / "conformance" / "tools" / "regal",  # a checkout only: Regal lints the committed out/rego
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
    on_path = shutil.which(tool.name) if tool.version_args else None
    if on_path and _reports_version(on_path, tool):
        return Path(on_path)
    return None


def make_target(tool: Tool) -> str:
    """What builds a missing tool: the local cluster's have a make target of their own."""
    cluster = (KUBE_APISERVER, KUBECTL, ETCD, GATEKEEPER)
    return "make cluster-tools" if tool in cluster else "make tools"


def require(tool: Tool) -> Path:
    found = find(tool)
    if found is None:
        raise ToolError(
            f"{tool.name} {tool.version} not found: run `{make_target(tool)}`, "
            f"or set {tool.env_var} to an existing binary"
        )
    return found


def install(tool: Tool) -> Path:
    """Build the pinned tool with ``go install`` unless one is already usable."""
    found = find(tool)
    if found is not None:
        print(f"{tool.name}: using {found}", file=sys.stderr)
        return found
    if tool.module_dir is not None and not (tool.module_dir / "go.mod").is_file():
        raise ToolError(
            f"{tool.name} {tool.version} is built only in a pssgen checkout ({tool.module_dir} has no go.mod): "
            f"install {tool.name} {tool.version} yourself and put it on PATH, or set {tool.env_var}"
        )
    if tool.ldflags:
        return _go_build(tool)
    target = tool.local_path.parent
    target.mkdir(parents=True, exist_ok=True)
    print(f"{tool.name}: building {tool.package}@{tool.version} with go install into {target}", file=sys.stderr)
    env = {**os.environ, "GOBIN": str(target), "GOFLAGS": "-buildvcs=false"}
    spec = tool.package if tool.module_dir else f"{tool.package}@{tool.version}"
    try:
        proc = subprocess.run(["go", "install", spec], env=env, cwd=tool.module_dir, check=False)
    except FileNotFoundError as exc:
        raise ToolError(
            f"building {tool.name} needs `go` on PATH, or set {tool.env_var} to an existing binary"
        ) from exc
    if proc.returncode != 0 or not tool.local_path.exists():
        raise ToolError(f"{tool.name}: go install {tool.package}@{tool.version} failed")
    return tool.local_path


def _go_build(tool: Tool) -> Path:
    """``go build -ldflags`` in the tool's module, to a temporary name beside the keyed path, then renamed into it.

    The rename means a concurrent session never runs a half-written binary, and a failed build leaves nothing.
    """
    assert tool.module_dir is not None
    binary = tool.local_path
    binary.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{tool.name}-", dir=binary.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    print(f"{tool.name}: building {tool.package} ({tool.version}) with go build into {binary.parent}", file=sys.stderr)
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    trimpath = ["-trimpath"] if tool.trimpath else []
    command = ["go", "build", *trimpath, "-ldflags", " ".join(tool.ldflags), "-o", str(tmp), tool.package]
    try:
        proc = subprocess.run(command, env=env, cwd=tool.module_dir, check=False)
        if proc.returncode != 0:
            raise ToolError(f"{tool.name}: go build {tool.package} in {tool.module_dir} failed")
        tmp.chmod(0o755)
        tmp.replace(binary)
    except FileNotFoundError as exc:
        raise ToolError(
            f"building {tool.name} needs `go` on PATH, or set {tool.env_var} to an existing binary"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return binary


def psa_module_dir() -> Path:
    """The pinned upstream PSA module's source in the Go module cache (downloaded on first use)."""
    return go_module_dir(PSA_MODULE, PSA_VERSION)


def gatekeeper_module_dir() -> Path:
    """The pinned Gatekeeper module's source: its deploy/gatekeeper.yaml holds the CRDs and webhook configuration."""
    return go_module_dir(GATEKEEPER.package, GATEKEEPER_VERSION)


def go_module_dir(module: str, version: str) -> Path:
    """A Go module's source in the module cache (downloaded on first use)."""
    try:
        proc = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise ToolError(f"downloading {module}@{version} needs `go` on PATH") from exc
    if proc.returncode != 0:
        raise ToolError(f"go mod download {module}@{version} failed: {proc.stderr.strip()}")
    info = json.loads(proc.stdout)
    if info.get("Error"):
        raise ToolError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])
