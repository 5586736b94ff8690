"""Smoke tests of the pinned gator: it is the version we pin, it accepts a Rego v1 ``code:``
ConstraintTemplate, ``gator verify`` passes on a correct Suite and fails on a wrong one.

Why the extra care: ``gator verify`` prints PASS and exits 0 when it finds no Suite at all
(files without ``kind: Suite`` / ``apiVersion: test.gatekeeper.sh/...`` are silently skipped),
so a passing run must also show that our suite actually ran.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.tools import GATEKEEPER_VERSION, GATOR, ROOT, require

DATA = ROOT / "tests" / "data" / "gator"


@pytest.fixture(scope="module")
def gator() -> Path:
    return require(GATOR)


def _run(gator: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gator), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_gator_is_the_pinned_version(gator):
    # `gator --version` shows "devel (unknown)" for a `go install` build (the version is an
    # ldflags-only variable); it still names the embedded OPA. `gator version` reads the
    # module version from the Go build info, so that is where the pin is checked.
    flag = _run(gator, "--version")
    assert flag.returncode == 0, flag.stderr
    assert "opa/v1." in flag.stdout, flag.stdout
    sub = _run(gator, "version")
    assert sub.returncode == 0, sub.stderr
    lines = sub.stdout.splitlines()
    git_version = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("GitVersion:")]
    assert git_version == [GATEKEEPER_VERSION], sub.stdout


@pytest.mark.parametrize("k8s_native", ["true", "false"], ids=["cel-driver-on", "cel-driver-off"])
def test_verify_passes_on_the_smoke_suite(gator, k8s_native):
    proc = _run(gator, "verify", "-v", f"--enable-k8s-native-validation={k8s_native}", "tests/data/gator/")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ok\ttests/data/gator/suite.yaml" in out, out
    assert "--- PASS: allowed" in out and "--- PASS: disallowed" in out, out
    assert "FAIL" not in out, out


def test_verify_fails_on_a_wrong_expectation(gator, tmp_path):
    copy = tmp_path / "gator"
    shutil.copytree(DATA, copy)  # suite paths are relative to the suite file
    suite_path = copy / "suite.yaml"
    suite = yaml.safe_load(suite_path.read_text())
    (case,) = [c for c in suite["tests"][0]["cases"] if c["name"] == "disallowed"]
    case["assertions"] = [{"violations": 0}]
    suite_path.write_text(yaml.safe_dump(suite, sort_keys=False))

    proc = _run(gator, "verify", str(copy))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "--- FAIL: disallowed" in out, out
    assert "got 1 violations but want exactly 0" in out, out


def test_verify_passes_vacuously_without_a_suite(gator, tmp_path):
    """Documents the trap the passing test guards against."""
    (tmp_path / "not-a-suite.yaml").write_text("kind: ConfigMap\napiVersion: v1\n")
    proc = _run(gator, "verify", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok\t" not in proc.stdout
