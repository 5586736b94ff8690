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

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

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


# --------------------------------------------------------------------------- servers stopped however Python ends


class Stoppable(Protocol):
    def stop(self) -> None: ...


_LIVE: set[Stoppable] = set()  # strong refs: a forgotten server is still stopped at exit
_SIGTERM_LOCK = threading.Lock()
_sigterm_installed = False


def track(server: Stoppable) -> None:
    """Stop ``server`` at exit and on SIGTERM (if nobody else handles SIGTERM), until ``untrack``.

    One registry for every long-lived child (OPA servers, a local cluster), so
    one SIGTERM handler stops them all: with a handler per module, the second
    would see the first and install nothing.
    """
    install_sigterm_handler()
    _LIVE.add(server)


def untrack(server: Stoppable) -> None:
    _LIVE.discard(server)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Stop every tracked server, then die of SIGTERM as if no handler had been installed."""
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_sigterm_handler() -> None:
    """Only when nobody else handles SIGTERM (the CLI does) and we are on the main thread (else Python refuses)."""
    global _sigterm_installed
    with _SIGTERM_LOCK:
        if _sigterm_installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
        _sigterm_installed = True


def _stop_all_at_exit() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all_at_exit)


def _forget_in_forked_child() -> None:
    """A forked child owns none of its parent's servers.

    pssgen forks no Python child of its own (``--jobs`` workers come from a fork
    server, which runs none), but a program using this module may fork. Its
    child inherits the records of the parent's servers, our SIGTERM handler and
    our atexit hook: left as they are, the child's exit or a SIGTERM to it would
    stop the parent's servers, and the handler could block on a lock a parent
    thread held at the fork, so the child would never die.
    """
    global _SIGTERM_LOCK, _sigterm_installed
    _LIVE.clear()
    _SIGTERM_LOCK = threading.Lock()
    if _sigterm_installed and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _sigterm_installed = False


os.register_at_fork(after_in_child=_forget_in_forked_child)
