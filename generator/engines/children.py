"""Tool processes (gator, OPA) that die with pssgen however it ends, and leave no file behind.

Design, and why:

* **SIGKILL of pssgen** runs no handler, so only the kernel can end the
  children: each is started through a tiny wrapper (this Python, ``-I -S``)
  that sets ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on itself, checks that its
  parent is still the pssgen that started it (else it exits: the parent died
  before the setting took), and then ``exec``s the tool, which keeps the
  setting. ``preexec_fn`` would do the same, but it runs Python code between
  fork and exec, which is unsafe in a process with threads (the gatekeeper
  engine starts gator from worker threads); with the wrapper, ``subprocess``
  forks and execs in C (vfork), with no Python in between. PDEATHSIG follows
  the *thread* that started the child: children are started from threads that
  wait for them (or from the main thread), never from one that ends first.
* **SIGTERM and SIGINT** are turned into exceptions by the CLI; every child
  started here leads its own process group (a terminal's Ctrl-C does not reach
  it half-way) and is SIGKILLed, with its group, when the exception passes
  (``run``) or when ``cancel`` is called.
* **No temporary files**: gator reads its templates, constraints and objects
  on stdin, and OPA's log is an anonymous (unlinked) temporary file; nothing
  has a name on disk that a SIGKILL could leave behind.

On other systems than Linux the wrapper is left out (no PDEATHSIG there).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from generator.engines.base import EngineError

_PDEATHSIG_WRAPPER = """\
import ctypes, os, sys
parent = int(sys.argv[1])
if ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG, SIGKILL
    sys.stderr.write("pssgen: prctl(PR_SET_PDEATHSIG) failed\\n"); os._exit(126)
if os.getppid() != parent:  # the parent died before the setting took
    os._exit(1)
try:
    os.execv(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"pssgen: cannot run {sys.argv[2]}: {exc}\\n"); os._exit(127)
"""


class ChildCancelled(EngineError):
    """A child was not started, or was killed, because the run is ending."""


def dies_with_us(command: Sequence[str]) -> list[str]:
    """``command``, wrapped so that the kernel SIGKILLs it when this process (its starting thread) dies."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-I", "-S", "-c", _PDEATHSIG_WRAPPER, str(os.getpid()), *command]


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (its own: see ``spawn``), or the child alone; then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    proc.wait()


class Children:
    """The children of one engine: started through ``dies_with_us``, tracked, killed together on ``cancel``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()
        self._cancelled = False

    def reset(self) -> None:
        """Allow new children again (a new batch after a cancelled one)."""
        with self._lock:
            self._cancelled = False

    def cancel(self) -> None:
        """Kill every live child and refuse new ones until ``reset``: the run is being stopped."""
        with self._lock:
            self._cancelled = True
            live = list(self._live)
        for proc in live:
            kill_group(proc)

    def run(self, command: Sequence[str], stdin: bytes, timeout: float) -> subprocess.CompletedProcess[bytes]:
        """``subprocess.run(command, input=stdin, capture_output=True, timeout=timeout)``, tracked and bounded.

        Whatever interrupts the wait (a timeout, KeyboardInterrupt, the CLI's SIGTERM exception, ``cancel``
        from another thread) kills the child's group before it goes on.
        """
        with self._lock:
            if self._cancelled:
                raise ChildCancelled(f"{command[0]} not started: the run is being stopped")
            proc = subprocess.Popen(
                dies_with_us(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
            self._live.add(proc)
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except BaseException:
            kill_group(proc)
            raise
        finally:
            with self._lock:
                self._live.discard(proc)
        with self._lock:
            if self._cancelled:
                raise ChildCancelled(f"{command[0]} was stopped: the run is being stopped")
        return subprocess.CompletedProcess(list(command), proc.returncode, out, err)
