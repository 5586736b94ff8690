"""``make bench`` (bench/run.py): every row of the table is there and measured; no figure is asserted.

The smoke test runs ``--quick`` (small inputs, one run each) with a second policy directory, so the
mechanism for timing anyone's Rego beside out/rego is exercised too.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "bench" / "run.py"

LEVELS = ("baseline", "restricted")
ENGINES = ("python", "opa", "gatekeeper")
OPA_CASES = [f"{level} {pod} {case}" for level in LEVELS for pod in ("typical", "20 containers")
             for case in ("allowed", "denied")]  # fmt: skip
OPA_WAYS = ("opa bench (prepared)", "REST one request per pod", "REST batched", "fresh opa eval per pod")


def expected_figures(other: str) -> list[str]:
    """The table's rows in order, as the issue lists them (the --quick sizes where a row names a size)."""
    rows = []
    for level in ("restricted", "baseline"):
        for case in ("allowed", "denied"):
            rows += [f"python evaluate() {level} typical {case}", f"go PSA EvaluatePod {level} typical {case}",
                     f"go / python {level} typical {case}"]  # fmt: skip
    for label in ("out/rego", other):
        rows += [f"{label}: {case}, {way}" for case in OPA_CASES for way in OPA_WAYS]
        if label == "out/rego":
            rows.append("out/rego: restricted typical denied / allowed (prepared)")
    rows += [f"pssgen conformance --engine {e}" for e in ENGINES] + ["pssgen conformance (every engine)"]
    rows += [f"N-case set through {e} evaluate_many" for e in ENGINES] + ["N-case set, all engines together"]
    for e in ENGINES:
        rows += [f"{e}: {n} containers per pod" for n in (1, 5, 20, 100)]
        rows += [f"{e}: {n} objects per run" for n in (10, 100, 1000)]
    rows.append("gatekeeper / opa, 1000 objects per run")
    for fmt in ("JSON", "YAML"):
        rows += [f"pssgen check --jobs 2 --output json, 2000 objects as {fmt}",
                 f"peak memory, largest process, 2000 objects as {fmt}",
                 f"peak memory, whole process tree, 2000 objects as {fmt}"]  # fmt: skip
    for floor in ("none (PSA on)", "none"):
        rows += [f"dry-run Pod create, {floor}: median", f"dry-run Pod create, {floor}: p99"]
    for judge in ("built-in PSA", "VAP", "Gatekeeper"):
        for pods in ("allowed pods", "denied pods"):
            rows += [f"dry-run Pod create, {judge}, {pods}: median", f"dry-run Pod create, {judge}, {pods}: p99"]
        rows.append(f"dry-run Pod create, {judge}, allowed pods over no judge: median")
    return rows


@pytest.mark.slow
@pytest.mark.tools
@pytest.mark.timeout(900)
def test_quick_bench_prints_every_row(run_bounded: Any, tmp_path: Path) -> None:
    other = "out/rego data.main.deny (raw)"
    out = tmp_path / "bench.json"
    proc = run_bounded([sys.executable, str(RUN), "--quick", "--rego", "out/rego", "--query", "data.main.deny",
                        "--input-shape", "raw", "--json", str(out)], 800, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^machine: \d+ cores, .+; Python 3\.\d+\.\d+; Version: \d", proc.stdout, re.M), proc.stdout[:500]
    assert re.search(r"^load average \(1, 5, 15 min\): [\d. ]+ at start, [\d. ]+ at end", proc.stdout, re.M)
    rows = json.loads(out.read_text())["rows"]
    figures = [re.sub(r"^\d+-case set", "N-case set", row["figure"]) for row in rows]
    assert figures == expected_figures(other)
    table = proc.stdout[proc.stdout.index("\nsection ") :]
    for row in rows:
        assert isinstance(row["value"], float), row  # measured, never "-"
        assert row["value"] > 0 or "over no judge" in row["figure"], row  # a difference of medians may be < 0
        assert row["met"] is None, row  # --quick judges no target
        assert row["figure"] in table
    assert "targets: 0 met, 0 missed" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rego", "out/rego"], "--rego out/rego: say how to ask it with --query"),
        (["--rego", "no/such/dir", "--query", "data.x"], "--rego no/such/dir: not a directory"),
        (["--query", "data.x"], "--query and --input-shape belong to the --rego before them"),
    ],
)
def test_bad_arguments_are_one_line(run_bounded: Any, args: list[str], message: str) -> None:
    proc = run_bounded([sys.executable, str(RUN), *args], 60, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(message)
    assert "Traceback" not in proc.stderr


def test_export_is_the_same_list_as_json_and_yaml(tmp_path: Path) -> None:
    """bench/scan.py's export: the same objects in kubectl's two layouts, so both formats time the same input."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from scan import write_export
    finally:
        sys.path.remove(str(ROOT / "bench"))
    write_export(tmp_path / "list.json", 300, fmt="json")
    write_export(tmp_path / "list.yaml", 300, fmt="yaml")
    as_json = json.loads((tmp_path / "list.json").read_text())
    as_yaml = yaml.safe_load((tmp_path / "list.yaml").read_text())
    assert as_json["kind"] == "List" and len(as_json["items"]) == 300
    assert as_json == as_yaml
    assert (tmp_path / "list.json").read_text().startswith('{\n    "apiVersion": "v1",\n    "items": [\n        {\n')
