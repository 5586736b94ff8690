"""A long-lived Go tool spoken to in JSON lines: numbered requests in, answers in the same order out.

Why one class: the gatekeeper and vap engines both run such a tool (``gatekeeper-engine``, ``vap-engine``) and
both need the same care. It is started on first use from the thread that uses it (``PR_SET_PDEATHSIG`` follows
that thread), in its own session, tracked so that exit and SIGTERM stop it; a batch is written by a separate
thread while this one reads, so neither side blocks on a full pipe; anything that leaves the pipes out of step (a
dead process, a wrong id, an interruption) kills it, and the next batch starts a new one. Its stderr goes to an
unlinked temporary file, kept for the error that ends it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from typing import IO, Any

from generator.engines.base import EngineError, EngineUnavailable
from generator.engines.children import dies_with_us, kill_group, track, untrack

STOP_GRACE = 5.0  # seconds a tool has to end once its stdin is closed
STDERR_TAIL = 4000  # characters of its stderr an error quotes


class LinesProcess:
    """One tool process. ``setup`` (a JSON line) is written first; with ``ready``, the tool answers it with a
    ``{"ready": true, ...}`` line, kept as ``greeting``. Errors are ``error`` (an EngineError), one line each."""

    def __init__(self, name: str, command: Sequence[str], error: type[EngineError], *, setup: bytes | None = None,
                 ready: bool = False) -> None:  # fmt: skip
        self.name = name
        self.command = list(command)
        self.error = error
        self.greeting: dict[str, Any] = {}
        self._setup = setup
        self._ready = ready
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._next_id = 0
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The running process's id, None when none runs (for tests that kill it)."""
        return self._proc.pid if self._proc is not None else None

    def ask(self, lines: Sequence[bytes]) -> list[dict[str, Any]]:
        """The answers to ``lines`` (requests without their ``{"id":N,`` head: they are numbered here), in order."""
        with self._lock:
            proc = self._proc or self._start()
            first = self._next_id
            self._next_id += len(lines)
            payload = b"".join(b'{"id":%d,%s' % (first + n, line) for n, line in enumerate(lines))
            failed: list[OSError] = []
            writer = threading.Thread(target=self._write, args=(proc, payload, failed), daemon=True)
            writer.start()
            try:
                answers = self._read(proc, first, len(lines))
            except BaseException:
                self._broken(proc, writer)
                raise
            writer.join()
            if failed:
                self._broken(proc, writer)
                raise self.error(f"writing to {self.name} failed: {failed[0]}")
            return answers

    def kill(self) -> None:
        """Kill the process as a crash would (for tests): the next batch fails, the one after starts anew."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()

    def stop(self) -> None:
        """Close stdin so the process ends; kill its group if it does not. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                kill_group(proc)
            except BaseException:
                kill_group(proc)
                raise
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
        untrack(self)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stderr_text(self) -> str:
        """The end of the process's stderr, on one line (errors are one line)."""
        if self._stderr is None:
            return "(no stderr)"
        self._stderr.seek(0)
        text = " ".join(self._stderr.read().decode("utf-8", "replace").split())
        return ("[...] " + text[-STDERR_TAIL:] if len(text) > STDERR_TAIL else text) or "(no stderr)"

    def _start(self) -> subprocess.Popen[bytes]:
        if self._stderr is not None:  # the last process's, kept for the error that ended it
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop(); unlinked, so nothing is left
        try:
            proc = subprocess.Popen(
                dies_with_us(self.command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            self.stop()
            raise EngineUnavailable(f"cannot start {self.command[0]}: {exc}") from exc
        self._proc = proc
        track(self)
        if self._setup is not None and self._ready:
            self._greet(proc, self._setup)
        elif self._setup is not None:  # read with the first batch; a dead process shows in its answers
            failed: list[OSError] = []
            self._write(proc, self._setup, failed)
        return proc

    def _greet(self, proc: subprocess.Popen[bytes], setup: bytes) -> None:
        assert proc.stdout is not None
        self._write(proc, setup, [])  # a process that is gone shows as the missing ready line
        ready = proc.stdout.readline()
        try:
            answer = json.loads(ready) if ready else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("ready") is not True:
            self._broken(proc)
            answered = f" (it answered {ready[:200]!r})" if ready else ""
            raise self.error(f"{self.name} did not start: {self.stderr_text()}{answered}")
        self.greeting = answer

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], payload: bytes, failed: list[OSError]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.flush()
        except OSError as exc:  # the reader reports the dead process
            failed.append(exc)

    def _read(self, proc: subprocess.Popen[bytes], first: int, count: int) -> list[dict[str, Any]]:
        assert proc.stdout is not None
        answers: list[dict[str, Any]] = []
        for n in range(count):
            line = proc.stdout.readline()
            if not line:
                status = proc.wait()
                raise self.error(f"{self.name} exited (status {status}) after {n} of {count} answers: "
                                 f"{self.stderr_text()}")  # fmt: skip
            try:
                answer = json.loads(line)
            except ValueError as exc:
                raise self.error(f"{self.name} answered a line that is not JSON: {line[:200]!r}") from exc
            if not isinstance(answer, dict) or answer.get("id") != first + n:
                raise self.error(f"{self.name} answered {line[:200]!r}, expected id {first + n}")
            answers.append(answer)
        return answers

    def _broken(self, proc: subprocess.Popen[bytes], writer: threading.Thread | None = None) -> None:
        """Kill a process whose pipes may be out of step (which ends a blocked writer), and forget it; its stderr
        is kept for the error being raised."""
        kill_group(proc)
        if writer is not None:
            writer.join()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._proc = None
        untrack(self)
