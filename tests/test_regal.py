"""The pinned Regal linter finds nothing in out/rego under the project's .regal/config.yaml.

What the config turns off or narrows, and why, is written next to each rule in that file. The
second test lints a deliberately buggy module, so a clean run cannot come from a linter that
checked nothing or from a config that switched everything off.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator import tools

CONFIG = tools.ROOT / ".regal" / "config.yaml"
OUT_REGO = tools.ROOT / "out" / "rego"


def _lint(regal_bin: Path, path: Path) -> tuple[int, dict[str, Any]]:
    """``regal lint`` of ``path`` with the project config given explicitly (no config discovery)."""
    proc = subprocess.run(
        [str(regal_bin), "lint", "--config-file", str(CONFIG), "--format", "json", str(path)],
        cwd=tools.ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"regal lint exited {proc.returncode} without a JSON report:\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, report


def _describe(violation: dict[str, Any]) -> str:
    location = violation.get("location", {})
    where = f"{location.get('file') or '(all files)'}:{location.get('row') or '-'}"
    return f"{where} {violation['category']}/{violation['title']}: {violation['description']}"


def test_regal_finds_nothing_in_out_rego(regal_bin):
    returncode, report = _lint(regal_bin, OUT_REGO)
    violations = report.get("violations", [])
    assert not violations, f"regal lint out/rego: {len(violations)} violation(s)\n" + "\n".join(
        _describe(v) for v in violations
    )
    assert returncode == 0, report
    assert report["summary"]["files_scanned"] == len(list(OUT_REGO.rglob("*.rego")))


def test_regal_reports_a_deliberate_bug(regal_bin, tmp_path):
    # A check-shaped module: a sprintf with two verbs and one argument (bugs/sprintf-arguments-mismatch,
    # which the config keeps on everywhere), plus the camelCase version name, repeated package
    # name and wildcard argument that the config allows in lib/pss/checks/.
    module = tmp_path / "lib" / "pss" / "checks" / "demo.rego"
    module.parent.mkdir(parents=True)
    module.write_text(
        "package lib.pss.checks.demo\n"
        "\n"
        'demoV1Dot0(pod, _) := {"reason": "demo", "detail": sprintf("%s must not set %s", [pod.metadata.name])} if {\n'
        "\tpod.spec.hostNetwork == true\n"
        "}\n",
        encoding="utf-8",
    )
    returncode, report = _lint(regal_bin, tmp_path)
    titles = {v["title"] for v in report.get("violations", [])}
    assert "sprintf-arguments-mismatch" in titles, report
    assert returncode != 0, report
    # The project config, not Regal's defaults, was in force.
    assert not titles & {"prefer-snake-case", "rule-name-repeats-package", "argument-always-wildcard"}, titles


def test_regal_finds_nothing_in_the_gatekeeper_templates_rego(regal_bin, tmp_path):
    """The ConstraintTemplate's own module, linted beside the libs it imports (out/rego/lib, verbatim)."""
    from generator.render import gatekeeper as gk

    (tmp_path / "k8spodsecurity.rego").write_text(gk.entry_module(gk.environment()), encoding="utf-8")
    for path, text in gk.lib_modules().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    returncode, report = _lint(regal_bin, tmp_path)
    violations = report.get("violations", [])
    assert not violations, "\n".join(_describe(v) for v in violations)
    assert returncode == 0 and report["summary"]["files_scanned"] == 1 + len(gk.lib_modules())
