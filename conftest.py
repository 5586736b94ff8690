"""Process hygiene for every suite (``tests/`` and ``conformance/``): no child outlives its test or the session.

A test that starts processes (a ``pssgen`` or Python child, OPA, gator, the
oracle) and then fails or hangs must not leave them running: on a shared
machine a stray busy process slows every later run, and one that holds a pipe
makes the run hang. So children are run by ``run_bounded`` (each in its own
session, the whole session killed on timeout, on any failure, and when it
leaves anything behind), and at the end of the session every process this
pytest started is accounted for: any still alive is killed and the run fails,
naming it.

The two helpers ``multiprocessing`` starts for ``--jobs`` (the fork server and
the resource tracker) are the exception: they serve the whole session and end
with it (each exits when its pipe to this process closes). The workers the
fork server forks are not: ``scan_parallel`` must have ended them.

It lives in the root conftest, the one plugin both suites load; ``/proc`` is
read directly (Linux), so nothing else needs installing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

LEFTOVER_GRACE = 5.0  # how long a process that is already ending may take to be gone
DRAIN_TIMEOUT = 10.0  # reading what a killed child wrote; longer means something outside its group holds the pipes
TAIL = 4000

# What `multiprocessing` runs in its helpers (their whole command line is `python -c "<this>; main(...)"`).
MULTIPROCESSING_HELPERS = (
    "from multiprocessing.forkserver import main",
    "from multiprocessing.resource_tracker import main",
)

# A run started without a terminal in the background (`nohup make test &`, some CI runners) inherits SIGINT
# ignored, and so would every pssgen the tests start: their Ctrl-C tests would then test nothing, and fail. A Python
# handler here is reset to the default in each child, as a shell with a terminal would start them.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_SESSIONS: set[int] = set()  # sessions run_bounded started: their orphans are no descendants of ours any more


@dataclass(frozen=True, slots=True)
class Proc:
    """One process as ``/proc/<pid>/stat`` and ``cmdline`` describe it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: str

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")  # a zombie only waits for its parent to reap it

    def __str__(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}, group {self.pgid}, session {self.sid}): {self.cmdline[:300]}"


def processes() -> list[Proc]:
    """Every process visible now; those that end while being read are left out."""
    found: list[Proc] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # the name before ")" may hold spaces and parentheses
        shown = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip() or stat.split(" ", 1)[1]
        found.append(Proc(int(entry.name), int(fields[1]), int(fields[2]), int(fields[3]), fields[0], shown))
    return found


def descendants(root: int, table: Sequence[Proc] | None = None) -> list[Proc]:
    """The living processes below ``root`` (children, their children, ...)."""
    table = processes() if table is None else table
    children: dict[int, list[Proc]] = {}
    for proc in table:
        children.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return [proc for proc in found if proc.alive]


def is_multiprocessing_helper(proc: Proc) -> bool:
    return any(helper in proc.cmdline for helper in MULTIPROCESSING_HELPERS)


def pool_workers(root: int | None = None) -> list[Proc]:
    """The living processes forked by a ``multiprocessing`` fork server below ``root`` (this process by default).

    Outside a ``scan_parallel`` run there must be none.
    """
    table = processes()
    servers = [p for p in descendants(os.getpid() if root is None else root, table) if is_multiprocessing_helper(p)]
    return [worker for server in servers for worker in descendants(server.pid, table)]


def in_session(sid: int) -> list[Proc]:
    return [proc for proc in processes() if proc.sid == sid and proc.alive]


def kill_session(sid: int) -> None:
    """SIGKILL everything in session ``sid``: its leader's group, and any member that moved to a group of its own."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)
    for _ in range(3):  # a member may fork while it is being killed
        members = in_session(sid)
        if not members:
            return
        for proc in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
        time.sleep(0.05)


def _wait_until_empty(find: Callable[[], list[Proc]], grace: float) -> list[Proc]:
    """What ``find`` still finds after up to ``grace`` seconds: processes already ending get that long."""
    deadline = time.monotonic() + grace
    while True:
        found = find()
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def _tail(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= TAIL else f"[... {len(text) - TAIL} characters ...]\n{text[-TAIL:]}"


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """What a killed child wrote, without waiting on a pipe something outside its group may still hold."""
    try:
        out, err = proc.communicate(timeout=DRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        return "", "(output lost: a process outside the child's group kept its pipes open)"
    return out or "", err or ""


def run_bounded(
    cmd: Sequence[str | os.PathLike[str]],
    timeout: float,
    *,
    check: bool = False,
    input: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)``, but nothing it starts survives.

    The child leads a session of its own. On timeout the session is killed and
    the test fails with what the child wrote; on any other exception (a
    pytest-timeout expiry, Ctrl-C) it is killed before the exception goes on.
    When the child has exited, anything still in its session gets
    ``LEFTOVER_GRACE`` to end, then is killed and fails the test. ``check``
    fails the test, with the child's stderr, on a non-zero exit.
    """
    args = [os.fspath(part) for part in cmd]
    shown = " ".join(args)[:300]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=None if env is None else dict(env),
        start_new_session=True,
    )
    _SESSIONS.add(proc.pid)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        out, err = _drain(proc)
        pytest.fail(f"{shown} did not finish within {timeout:g}s; its session was killed\n"
                    f"--- stdout\n{_tail(out)}\n--- stderr\n{_tail(err)}", pytrace=False)  # fmt: skip
    except BaseException:
        kill_session(proc.pid)
        _drain(proc)
        raise
    left = _wait_until_empty(lambda: in_session(proc.pid), LEFTOVER_GRACE)
    if left:
        kill_session(proc.pid)
        pytest.fail(f"{shown} exited {proc.returncode} but left processes behind (killed):\n"
                    + "\n".join(f"  {p}" for p in left), pytrace=False)  # fmt: skip
    if check and proc.returncode != 0:
        pytest.fail(f"{shown} exited {proc.returncode}\n--- stderr\n{_tail(err)}", pytrace=False)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


RunBounded = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(name="run_bounded")
def run_bounded_fixture() -> RunBounded:
    """``run_bounded(cmd, timeout, check=..., input=..., cwd=..., env=...)`` for tests that run a child."""
    return run_bounded


@pytest.fixture(name="pool_workers")
def pool_workers_fixture() -> Callable[[], list[Proc]]:
    """``pool_workers()``: the fork server's workers alive now, for tests that check a pool was shut down."""
    return pool_workers


def leftovers(me: int | None = None) -> list[Proc]:
    """What this pytest started that still runs: its descendants, members of its session (if it leads one) or of a
    session run_bounded started. Not its process group: a shell puts ``pytest | tee log`` in one."""
    me = os.getpid() if me is None else me
    table = processes()
    below = {proc.pid for proc in descendants(me, table)}
    return [
        proc for proc in table
        if proc.alive and proc.pid != me
        and (proc.pid in below or proc.sid == me or proc.sid in _SESSIONS)
        and not (proc.ppid == me and is_multiprocessing_helper(proc))
    ]  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_session() -> Iterator[None]:
    """Torn down last (the first autouse fixture set up): every other fixture has stopped its processes by then."""
    yield
    left = _wait_until_empty(leftovers, LEFTOVER_GRACE)
    if not left:
        return
    me = os.getpgid(0)
    for proc in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if proc.pgid not in (me, 0) and proc.pgid == proc.pid:
                os.killpg(proc.pgid, signal.SIGKILL)  # a group leader: its group goes with it
            else:
                os.kill(proc.pid, signal.SIGKILL)
    pytest.fail("processes started by this test session were still running at its end (now killed):\n"
                + "\n".join(f"  {p}" for p in left), pytrace=False)  # fmt: skip
