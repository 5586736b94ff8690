"""`pssgen fuzz`: the summary, a planted disagreement written as a fixture `pssgen conformance` takes, Ctrl-C."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.engines import EngineBase, Request
from generator.parity import fixtures
from generator.parity import fuzz as fuzzing
from generator.parity.corpus import load_corpus
from generator.policy.evaluate import evaluate
from generator.policy.model import Result
from generator.policy.pod import pod_template

pytestmark = pytest.mark.tools  # the oracle

PSSGEN = Path(sys.executable).with_name("pssgen")


def test_a_clean_run_prints_its_summary_and_writes_nothing(tmp_path: Path) -> None:
    found = tmp_path / "found"
    args = ["fuzz", "--count", "60", "--seed", "3", "--engine", "python", "--corpus", str(found), "--batch", "25"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("seed 3: 60 objects, ") and " cases (baseline " in lines[0]
    assert lines[1].split() == ["engine", "cases", "disagreements"]
    assert lines[2].split()[0::2] == ["python", "0"]
    assert lines[-1] == "engines python agree with upstream PSA (seed 3)"
    progress = [line for line in result.stderr.splitlines() if line.startswith("pssgen fuzz: ")]
    assert [p.split(",")[0] for p in progress] == ["pssgen fuzz: 25 objects", "pssgen fuzz: 50 objects",
                                                   "pssgen fuzz: 60 objects"]  # fmt: skip
    assert not found.exists()


class ProcMountBlind(EngineBase):
    """The Python evaluator, except that it allows every pod with a procMount field."""

    name = "python"

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        out = []
        for obj, level, version in requests:
            spec = (pod_template(obj) or {}).get("spec") or {}
            containers = [c for k in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(k) or ()]
            blind = any("procMount" in (c.get("securityContext") or {}) for c in containers)
            out.append(Result(True, (), level, str(version)) if blind else evaluate(obj, level, version))
        return out


def test_a_disagreement_is_shrunk_and_written_as_a_fixture_conformance_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command_module = importlib.import_module("generator.cli.fuzz")  # the package's `fuzz` is the command
    monkeypatch.setattr(command_module, "open_engine", lambda name: ProcMountBlind())
    found = tmp_path / "found"
    args = ["fuzz", "--count", "300", "--seed", "3", "--engine", "python", "--write", str(found), "--shrink", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == "engines python DISAGREE with upstream PSA (seed 3)"
    files = sorted(found.rglob("*.yaml"))
    assert files and all("fixture: " + str(f) in result.stdout for f in files)
    for path in files:
        _, _, expect, name = path.relative_to(found).parts
        obj: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        [(kind, [container])] = obj["spec"].items()
        assert obj == {"apiVersion": "v1", "kind": "Pod", "spec": {kind: [container]}}
        assert container["securityContext"].keys() == {"procMount"}
        assert expect == "fail" and name.startswith("procmount")
    assert len(load_corpus(found, strict=True)) == len(files)
    monkeypatch.undo()
    checked = CliRunner().invoke(cli, ["conformance", "--engine", "python", "--corpus", str(found)])
    assert checked.exit_code == 0, checked.output  # PSA denies each as its place says; the real engine agrees


def test_the_fuzzers_findings_are_part_of_the_project_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pssgen fuzz` writes into conformance/corpus-found by default, and everything that reads the project corpus
    (`pssgen conformance --corpus project`, the parity suites) reads that folder too."""
    assert fuzzing.DEFAULT_CORPUS == fixtures.FOUND_DIR == fixtures.ROOT / "conformance" / "corpus-found"
    built = fixtures.project_corpus()
    found = tmp_path / "corpus-found"
    finding = found / "baseline" / "v1.30" / "fail" / "privileged0.yaml"
    finding.parent.mkdir(parents=True)
    finding.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: i, securityContext: {privileged: true}}]}\n"
    )
    monkeypatch.setattr(fixtures, "FOUND_DIR", found)
    assert [f.id for f in fixtures.project_corpus()] == [f.id for f in built] + ["baseline/v1.30/fail/privileged0"]
    finding.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n")
    result = CliRunner().invoke(cli, ["conformance", "--engine", "python", "--corpus", "project"])
    assert result.exit_code == 1  # PSA allows what the finding's place says it denies: the corpus is checked
    assert "fixture expectation not met by PSA itself: baseline/v1.30/fail/privileged0: allowed" in result.stdout


def _marked(marker: str) -> list[str]:
    """Living processes whose environment holds ``marker``: the run's, wherever they were reparented."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and marker.encode() in (entry / "environ").read_bytes()
                and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
            ):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError):
            continue
    return found


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_every_process_it_started(tmp_path: Path) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    proc = subprocess.Popen(
        [str(PSSGEN), "fuzz", "--count", "1000000", "--seed", "1", "--batch", "50", "--corpus", str(tmp_path)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(private)}, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first batch went through every engine: all of them are running
        assert first.startswith("pssgen fuzz: 50 objects"), first + proc.stderr.read()[-2000:]
        assert len(_marked(str(private))) >= 3  # pssgen, the oracle, and the engines' processes
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err[-2000:]
        assert "interrupted (SIGINT); stopped (seed 1)" in err
        deadline = time.monotonic() + 10
        while _marked(str(private)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked(str(private)) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
