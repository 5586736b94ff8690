"""kubectl's own reader as an oracle: what ``kubectl apply -f PATH...`` would send, from k8s.io/cli-runtime.

The Go program under ``conformance/reader`` reads paths with cli-runtime's
resource builder exactly as ``kubectl apply -f`` does (local, unstructured,
continue on error, flatten) and prints one JSON line per object kubectl would
send and one per error it would report. pssgen's reader is judged against it.

It is built once, by the PSA oracle's helpers, into the tools folder under a
name keyed by a hash of its sources; it is a tool of a checkout (its sources
are the package ``conformance.reader``), never shipped in the wheel.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.parity.oracle import build_oracle
from generator.tools import PSA_VERSION, TOOLS_DIR, ToolError

READER_PACKAGE = "conformance.reader"  # importable from a checkout's root, as pytest's rootdir makes it
READER_NAME = "kubectl-reader"
CLI_RUNTIME_VERSION = PSA_VERSION  # k8s.io/cli-runtime is released with the PSA module: one pin for both
READER_TIMEOUT = 600.0  # seconds for one reading; a few hundred files take a few seconds


class ReaderOracleError(ToolError):
    """The reader oracle could not be built or run, or printed something outside its protocol."""


@dataclass(frozen=True, slots=True)
class SentObject:
    """One object kubectl would send: its file, its place in kubectl's order, the object as JSON values."""

    source: str
    order: int
    obj: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KubectlError:
    """One error kubectl would report; ``source`` is None for an error of the whole run (a missing path)."""

    source: str | None
    message: str


def build_reader(tools_dir: Path = TOOLS_DIR) -> Path:
    """The reader binary for the current sources, built unless one for the same sources exists.

    The PSA oracle's builder does the work (hash-keyed folder, build in a temporary copy, atomic rename),
    under the reader's own name: ``kubectl-reader-<version>-<hash>/kubectl-reader``.
    """
    try:
        return build_oracle(READER_PACKAGE, tools_dir, READER_NAME, CLI_RUNTIME_VERSION)
    except ToolError as exc:
        raise ReaderOracleError(f"{READER_NAME}: {exc}") from exc


def read_like_kubectl(
    paths: Sequence[str | Path], binary: Path, *, recursive: bool = False, timeout: float = READER_TIMEOUT
) -> list[SentObject | KubectlError]:
    """What kubectl would send for ``paths`` (and the errors it would report), in kubectl's order.

    One process for every path; it is killed if it outlives ``timeout``.
    """
    command = [str(binary), *(["-R"] if recursive else []), "--", *map(str, paths)]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ReaderOracleError(f"{READER_NAME} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise ReaderOracleError(f"{READER_NAME} could not start: {exc}") from exc
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()[-2000:] or "(no stderr)"
        raise ReaderOracleError(f"{READER_NAME} exited with status {proc.returncode}: {stderr}")
    return [_answer(number, line) for number, line in enumerate(proc.stdout.splitlines(), 1)]


def _answer(number: int, line: bytes) -> SentObject | KubectlError:
    try:
        answer = json.loads(line)
        if answer["type"] == "object":
            obj = answer["object"]
            if not isinstance(obj, dict):
                raise TypeError("the object is not a JSON object")
            return SentObject(str(answer["source"]), int(answer["order"]), obj)
        if answer["type"] == "error":
            return KubectlError(str(answer["source"]) or None, str(answer["message"]))
        raise ValueError(f"unknown type {answer['type']!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise ReaderOracleError(f"{READER_NAME} printed malformed line {number} {line[:200]!r}: {exc}") from exc
