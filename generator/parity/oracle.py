"""The upstream PSA oracle: the pinned k8s.io/pod-security-admission policy package, driven from Python.

The Go program under ``conformance/oracle`` evaluates objects with PSA's own
evaluator; this module builds it once into the tools folder and streams
objects through one long-lived process, so a whole corpus costs seconds.
Every other engine is judged against what comes back from here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from generator.engines.base import json_default
from generator.policy.model import Result, Violation
from generator.tools import PSA_VERSION, TOOLS_DIR, ToolError

ORACLE_PACKAGE = "generator.parity.oracle_src"  # conformance/oracle, mapped in pyproject.toml
ORACLE_NAME = "psa-oracle"


class OracleError(ToolError):
    """The oracle process died, or answered something that breaks the protocol."""


@dataclass(frozen=True, slots=True)
class OracleVerdict:
    """PSA's answer for one (object, level, version); ``error`` is set when PSA could not evaluate it."""

    level: str
    version: str
    allowed: bool
    violations: tuple[Violation, ...]
    error: str | None = None

    @property
    def result(self) -> Result:
        """The verdict in the shape every pssgen engine returns, for direct comparison."""
        if self.error is not None:
            raise ValueError(f"the oracle could not evaluate this object: {self.error}")
        return Result(self.allowed, self.violations, self.level, self.version)

    @property
    def message(self) -> str:
        """PSA's enforce message: ``violates PodSecurity "<level>:<version>": reason (detail), ...``."""
        return self.result.message


def oracle_sources(package: str = ORACLE_PACKAGE) -> dict[str, bytes]:
    """The oracle's Go program (``*.go``, ``go.mod``, ``go.sum``) by file name, from package data.

    Read through ``importlib.resources``, so a wheel, an editable install and a
    checkout all build the same files.
    """
    try:
        root = files(package)
    except ModuleNotFoundError as exc:
        raise ToolError(
            f"psa-oracle sources missing: package {package} is not installed (in a checkout, re-run `pip install -e .`)"
        ) from exc
    found = {entry.name: entry.read_bytes() for entry in root.iterdir() if _is_source(entry)}
    missing = sorted({"go.mod", "go.sum"} - found.keys()) + ([] if any(n.endswith(".go") for n in found) else ["*.go"])
    if missing:
        raise ToolError(f"psa-oracle sources missing from package {package}: {', '.join(missing)}")
    return found


def _is_source(entry: Traversable) -> bool:
    return entry.is_file() and (entry.name.endswith(".go") or entry.name in ("go.mod", "go.sum"))


def oracle_binary(
    sources: Mapping[str, bytes], tools_dir: Path = TOOLS_DIR, name: str = ORACLE_NAME, version: str = PSA_VERSION
) -> Path:
    """Where the binary built from exactly these sources lives: keyed by the PSA pin and a hash of the sources.

    A content key, not mtimes: installed files carry the wheel's timestamps, and
    an edited checkout or a new release simply builds a new binary beside the old.
    """
    digest = hashlib.sha256()
    for file_name in sorted(sources):
        digest.update(f"{file_name}\0{len(sources[file_name])}\0".encode())
        digest.update(sources[file_name])
    return tools_dir / f"{name}-{version}-{digest.hexdigest()[:8]}" / name


def build_oracle(
    package: str = ORACLE_PACKAGE, tools_dir: Path = TOOLS_DIR, name: str = ORACLE_NAME, version: str = PSA_VERSION
) -> Path:
    """The oracle binary (or another of the project's Go programs) for its packaged sources, built unless one exists.

    The sources are copied to a temporary folder and built there (never beside
    installed files); the binary goes to a temporary name next to its final
    place and is renamed into it, so concurrent sessions never run a half-written one.
    """
    sources = oracle_sources(package)
    binary = oracle_binary(sources, tools_dir, name, version)
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", dir=binary.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    build_dir = Path(tempfile.mkdtemp(prefix=f"{name}-src-"))
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    try:
        for file_name, content in sources.items():
            (build_dir / file_name).write_bytes(content)
        proc = subprocess.run(
            ["go", "build", "-trimpath", "-o", str(tmp), "."],
            cwd=build_dir, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise ToolError(f"building {name} failed:\n{proc.stderr.strip()}")
        tmp.chmod(0o755)
        tmp.replace(binary)
    except FileNotFoundError as exc:
        raise ToolError(f"building {name} needs `go` on PATH") from exc
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(build_dir, ignore_errors=True)
    return binary


def _request_lines(first_id: int, batch: list[tuple[Mapping[str, Any], str, str]]) -> bytes:
    """The whole batch as JSON lines, built before anything is sent so a bad item fails cleanly."""
    lines = []
    for i, (obj, level, version) in enumerate(batch):
        request = {"id": first_id + i, "object": obj, "level": level, "version": version}
        try:
            lines.append(json.dumps(request, default=json_default).encode() + b"\n")
        except (TypeError, ValueError) as exc:
            raise OracleError(f"item {i} of the batch cannot be sent to the oracle as JSON: {exc}") from exc
    return b"".join(lines)


def _verdict(answer: Mapping[str, Any], level: str, version: str) -> OracleVerdict:
    if "error" in answer:
        return OracleVerdict(level, version, False, (), str(answer["error"]))
    violations = tuple(Violation(v["check"], v["reason"], v["detail"]) for v in answer["violations"])
    return OracleVerdict(level, version, bool(answer["allowed"]), violations)


class Oracle:
    """One long-lived ``psa-oracle`` process; use as a context manager so it never outlives its user."""

    def __init__(self, binary: Path | None = None) -> None:
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._next_id = 0
        self._lock = threading.Lock()
        self._broken: str | None = None

    def start(self) -> Oracle:
        """Build if needed, then start the process."""
        if self._proc is not None:
            return self
        binary = self._binary or build_oracle()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in close()
        self._proc = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
        )  # fmt: skip
        return self

    def close(self) -> None:
        """Close stdin so the process exits; terminate, then kill, if it does not."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):  # a dead process leaves a broken pipe
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Oracle:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def evaluate(self, obj: Mapping[str, Any], level: str, version: str) -> OracleVerdict:
        """PSA's verdict for a single object."""
        return self.evaluate_many([(obj, level, version)])[0]

    def evaluate_many(self, items: Iterable[tuple[Mapping[str, Any], str, str]]) -> list[OracleVerdict]:
        """PSA's verdicts for every (object, level, version), in order; all or an exception, never part.

        All lines are written by a separate thread while this one reads the
        answers, so neither side blocks on a full pipe.
        """
        with self._lock:
            proc = self._running()
            batch = list(items)
            first_id = self._next_id
            self._next_id += len(batch)
            payload = _request_lines(first_id, batch)
            write_error: list[BaseException] = []
            writer = threading.Thread(target=self._write, args=(proc, payload, write_error), daemon=True)
            writer.start()
            try:
                verdicts = self._read(proc, batch, first_id)
            except BaseException as exc:
                # Answers of this batch may still be in the pipe, and the writer may be blocked
                # on a process nobody reads from: stop it, it cannot be reused.
                self._broken = f"an earlier batch was interrupted: {exc!r}"
                proc.kill()
                raise
            finally:
                writer.join()
            if write_error:
                self._broken = f"writing to the oracle failed: {write_error[0]}"
                raise OracleError(self._broken) from write_error[0]
            return verdicts

    def _running(self) -> subprocess.Popen[bytes]:
        if self._broken is not None:
            raise OracleError(f"psa-oracle is unusable: {self._broken}")
        if self._proc is None:
            raise OracleError("psa-oracle is not started: use `with Oracle() as oracle:` or call start()")
        return self._proc

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], payload: bytes, errors: list[BaseException]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.flush()
        except OSError as exc:  # the reader reports the dead process; keep the cause
            errors.append(exc)

    def _read(
        self, proc: subprocess.Popen[bytes], batch: list[tuple[Mapping[str, Any], str, str]], first_id: int
    ) -> list[OracleVerdict]:
        assert proc.stdout is not None
        verdicts: list[OracleVerdict] = []
        for i, (_, level, version) in enumerate(batch):
            line = proc.stdout.readline()
            if not line:
                raise OracleError(
                    f"psa-oracle exited after {i} of {len(batch)} answers "
                    f"(exit status {proc.wait()}): {self._stderr_text()}"
                )
            try:
                answer = json.loads(line)
                if answer.get("id") != first_id + i:
                    raise OracleError(f"psa-oracle answered id {answer.get('id')!r}, expected {first_id + i}")
                verdicts.append(_verdict(answer, level, version))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise OracleError(f"psa-oracle answered malformed line {line[:200]!r}: {exc}") from exc
        return verdicts

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()[-2000:] or "(no stderr)"
