"""No input makes any engine allow what kubectl would send and Pod Security Admission would deny.

The reader-parity test shows pssgen reads files as kubectl does; this one
closes the loop through the verdict. For each file of the hostile reader corpus
and of the generated files, every object kubectl's reader would send is judged
by the upstream PSA oracle; the API server refuses an object its decoder cannot
read before PSA sees it, which counts as a denial too. Then ``pssgen check``
judges the same files with each engine: every object kubectl + PSA would deny
must be denied by pssgen, or its file must carry a pssgen error (exit 2, the
run fails either way). An allow is the one outcome that must never happen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from generated_yaml import write_generated
from test_reader_parity import READER_CORPUS, kubectl_readings

from generator.engines import ENGINE_NAMES
from generator.manifests.shape import ROOTS, conform
from generator.parity.oracle import Oracle

LEVEL, VERSION = "baseline", "latest"
GENERATED = 120
Denied = dict[str, list[tuple[str, str, str]]]  # source -> (kind, namespace, name) of each object refused


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return tuple(str(x) for x in (obj.get("kind"), meta.get("namespace") or "", meta.get("name")))  # type: ignore[return-value]


def _denied_by_kubectl_and_psa(files: list[Path], reader: Path, oracle: Oracle) -> Denied:
    """For each file, the objects kubectl would send that the API server (its decoder, then PSA) would refuse."""
    readings = kubectl_readings(files, reader)
    denied: Denied = {}
    for source, reading in readings.items():
        judged = [o for o in reading.objects if isinstance(o.get("kind"), str) and o["kind"] in ROOTS]
        decoded = [(o, conform(o)) for o in judged]
        verdicts = oracle.evaluate_many([(obj, LEVEL, VERSION) for obj, (_, problems) in decoded if not problems])
        answers = iter(verdicts)
        for obj, (_, problems) in decoded:
            verdict = None if problems else next(answers)
            if problems or verdict is None or verdict.error is not None or not verdict.allowed:
                denied.setdefault(source, []).append(_identity(obj))
    return denied


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    generated = write_generated(tmp_path_factory.mktemp("generated"), GENERATED, seed=21)
    return sorted(READER_CORPUS.iterdir()) + generated


@pytest.fixture(scope="module")
def denied(inputs: list[Path], kubectl_reader: Path, oracle: Oracle) -> Denied:
    found = _denied_by_kubectl_and_psa(inputs, kubectl_reader, oracle)
    assert sum(len(v) for v in found.values()) > 100, "the inputs hold too few objects PSA denies to prove anything"
    return found


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_no_engine_allows_what_kubectl_and_psa_deny(
    engine: str,
    inputs: list[Path],
    denied: Denied,
    run_bounded: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    pssgen = Path(sys.executable).with_name("pssgen")
    command = [pssgen, "check", "--engine", engine, "--level", LEVEL, "--output", "json", *inputs]
    proc = run_bounded(command, 900)
    assert proc.returncode in (1, 2), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    failing = {e["source"] for e in report["errors"]}
    verdicts: dict[str, dict[tuple[str, str, str], bool]] = {}
    for r in report["results"]:
        key = (str(r["kind"]), r.get("namespace") or "", str(r["name"]))
        verdicts.setdefault(r["source"], {})[key] = verdicts.get(r["source"], {}).get(key, True) and r["allowed"]
    let_through = [
        f"{Path(source).name}: {identity}"
        for source, identities in denied.items()
        if source not in failing
        for identity in identities
        if verdicts.get(source, {}).get(identity, True)
    ]
    checked = sum(len(v) for v in denied.values())
    print(f"engine {engine}: {checked} objects kubectl would send and PSA deny, in {len(denied)} files: "
          f"{checked - len(let_through)} denied or their file refused by pssgen")  # fmt: skip
    assert not let_through, f"{len(let_through)} allowed by pssgen --engine {engine}: {let_through[:20]}"
