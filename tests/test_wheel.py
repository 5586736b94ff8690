"""pssgen built as a wheel and installed in a fresh venv works from any folder, with nothing from the checkout.

One wheel and one venv serve every test (module-scoped); each command runs
from an empty temporary folder with ``XDG_CACHE_HOME`` pointing at a
temporary cache, so the oracle is built there from package data.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_OUT = ROOT / "out"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# The build runs on a copy, so its build/ and egg-info never land in the shared checkout; out/ stays
# behind to prove the installed pssgen does not need it.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "out"
)
# Any warning class a build backend prints (SetuptoolsDeprecationWarning, BuildBackendWarning, ...);
# distutils' lowercase "warning: byte-compiling is disabled" notes are not warnings about the project.
_WARNING = re.compile(r"\b[A-Z]\w*Warning\b.*")

GOOD_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: x
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers: [{name: c, image: x, securityContext: {privileged: true}}]
"""


def run(
    args: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run a child in its own session; whatever happens (timeout, interrupt, pytest-timeout), kill its group."""
    proc = subprocess.Popen(
        args, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        pytest.fail(f"{' '.join(args)} did not finish in {timeout}s; its process group was killed")
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the child left behind
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _base_env() -> dict[str, str]:
    """The caller's environment without anything pointing back at the project venv or a pinned binary."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "OPA_BIN", "GATOR_BIN", "REGAL_BIN")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PSSGEN_")}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _install_files(venv: Path) -> set[str]:
    """Files under the venv, bytecode caches aside (Python may write those on import)."""
    return {
        p.relative_to(venv).as_posix()
        for p in venv.rglob("*")
        if (p.is_file() or p.is_symlink()) and "__pycache__" not in p.parts
    }


@dataclass(frozen=True)
class Installed:
    source: Path  # the copy the wheel was built from
    wheel: Path
    build_log: str
    venv: Path
    files_after_install: frozenset[str]
    cache: Path  # XDG_CACHE_HOME of every pssgen command
    gocache: str  # Go's build cache also defaults under XDG_CACHE_HOME: keep the caller's warm one

    @property
    def pssgen(self) -> str:
        return str(self.venv / "bin" / "pssgen")

    def env(self) -> dict[str, str]:
        env = _base_env()
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["XDG_CACHE_HOME"] = str(self.cache)
        if self.gocache:
            env["GOCACHE"] = self.gocache
        return env

    def run(self, *args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return run([self.pssgen, *args], cwd=cwd, env=self.env(), timeout=timeout)

    def assert_install_untouched(self) -> None:
        added = _install_files(self.venv) - self.files_after_install
        assert not added, f"pssgen wrote into its installation: {sorted(added)[:10]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES, symlinks=True)
    dist = base / "dist"
    env = _base_env()
    build = run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--disable-pip-version-check", "-w", str(dist), "."],
        cwd=source, env=env, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, f"pip wheel failed:\n{build.stdout}\n{build.stderr}"
    [wheel] = dist.glob("pssgen-*.whl")
    venv = base / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], cwd=base, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    install = run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", str(wheel)],
        cwd=base, env=env, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, f"pip install failed:\n{install.stdout}\n{install.stderr}"
    cache = base / "cache"
    cache.mkdir()
    gocache = ""
    if shutil.which("go"):
        gocache = run(["go", "env", "GOCACHE"], cwd=base, env=env, timeout=60).stdout.strip()
    return Installed(source, wheel, build.stdout + build.stderr, venv, frozenset(_install_files(venv)), cache, gocache)


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """An empty folder far from the checkout to run each command in."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


def test_wheel_builds_without_setuptools_warnings(installed: Installed) -> None:
    warnings = sorted(set(_WARNING.findall(installed.build_log)))
    assert not warnings, "\n".join(warnings)


def test_wheel_holds_every_module_template_and_oracle_source(installed: Installed) -> None:
    src = installed.source
    expected = {p.relative_to(src).as_posix() for p in (src / "generator").rglob("*.py")}
    expected |= {f"generator/{p.relative_to(src).as_posix()}" for p in (src / "templates").rglob("*") if p.is_file()}
    expected |= {f"generator/parity/oracle_src/{name}" for name in ("__init__.py", "main.go", "go.mod", "go.sum")}
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        [dist_info] = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
        license_text = wheel.read(f"{dist_info}/licenses/LICENSE")
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
    assert {n.split("/")[0] for n in names} == {"generator", dist_info}, "the wheel holds files outside generator/"
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in license_text and b"Version 2.0" in license_text


def test_version_matches_the_metadata(installed: Installed, cwd: Path) -> None:
    result = installed.run("--version", cwd=cwd)
    assert result.returncode == 0, result.stderr
    metadata = run(
        [str(installed.venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('pssgen'))"],
        cwd=cwd, env=installed.env(),
    ).stdout.strip()  # fmt: skip
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert metadata == pyproject
    assert result.stdout.strip() == f"pssgen, version {metadata}"


def test_generate_out_renders_the_committed_tree(installed: Installed, cwd: Path) -> None:
    result = installed.run("generate", "--out", "rendered", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert _files(cwd / "rendered") == _files(COMMITTED_OUT)
    installed.assert_install_untouched()


def test_generate_defaults_to_out_in_the_current_folder(installed: Installed, cwd: Path) -> None:
    result = installed.run("generate", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert _files(cwd / "out") == _files(COMMITTED_OUT)
    check = installed.run("generate", "--check", cwd=cwd)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().endswith("files up to date")

    (cwd / "out" / "docs" / "controls.md").write_text("edited\n")
    stale = installed.run("generate", "--check", cwd=cwd)
    assert stale.returncode == 1
    assert "stale: docs/controls.md" in stale.stderr
    assert installed.run("generate", cwd=cwd).returncode == 0  # a pssgen tree is replaced
    assert _files(cwd / "out") == _files(COMMITTED_OUT)
    installed.assert_install_untouched()


def test_generate_refuses_an_out_folder_it_did_not_write(installed: Installed, cwd: Path) -> None:
    (cwd / "out").mkdir()
    (cwd / "out" / "notes.txt").write_text("mine\n")
    result = installed.run("generate", cwd=cwd)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("pssgen: error: ") and "not a pssgen-generated tree" in line
    assert _files(cwd) == {"out/notes.txt": b"mine\n"}


def test_check_denies_a_privileged_pod_and_allows_a_compliant_one(installed: Installed, cwd: Path) -> None:
    (cwd / "bad.yaml").write_text(PRIVILEGED_POD)
    (cwd / "good.yaml").write_text(GOOD_POD)
    denied = installed.run("check", "bad.yaml", cwd=cwd)
    assert denied.returncode == 1, denied.stderr
    assert 'pods "bad" is forbidden: violates PodSecurity "restricted:latest": privileged (' in denied.stdout
    allowed = installed.run("check", "good.yaml", cwd=cwd)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "1 allowed, 0 denied" in allowed.stdout


def test_controls_and_diff(installed: Installed, cwd: Path) -> None:
    controls = installed.run("controls", cwd=cwd)
    assert controls.returncode == 0, controls.stderr
    assert "privileged" in controls.stdout and "runAsNonRoot" in controls.stdout
    diff = installed.run("diff", "v1.29", "latest", cwd=cwd)
    assert diff.returncode == 0, diff.stderr
    assert "v1.29 → latest" in diff.stdout


def test_conformance_builds_the_oracle_from_package_data(installed: Installed, cwd: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("building the PSA oracle needs go on PATH")
    result = installed.run("conformance", "--engine", "python", cwd=cwd, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("engines python agree with upstream PSA")
    [binary] = (installed.cache / "pssgen" / "bin").glob("psa-oracle-v*-*/psa-oracle")
    assert os.access(binary, os.X_OK)
    assert list(cwd.iterdir()) == []
    installed.assert_install_untouched()
