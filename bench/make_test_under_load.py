"""``make test``, several times in a row, with every core kept busy: the proof that the suite never hangs under load.

Usage: python bench/make_test_under_load.py [--runs N] [--command CMD] [--timeout S] [--busy CORES]

A hang that shows once in twenty runs on an idle laptop shows far more often on
a shared two-core machine, where every process waits for a core. So this
starts one CPU-bound loop per core (``--busy``, default ``os.cpu_count()``),
each a ``python -c`` loop that ends by itself after a time bound, in a process
group of its own, and killed at the end whatever happens. Then it runs
``--command`` (default ``make test``) ``--runs`` times (default 3), each in a
session of its own with ``--timeout`` seconds (default 3600) before its whole
session is killed, and prints each run's wall time and result.

Last it looks with ``ps`` for what a run may have left behind: the project's
pinned binaries (``.tools/``), ``pssgen`` and ``multiprocessing`` helpers and
workers (the fork server's workers show its command line). A process counts
when it started after this script did and is either still in a run's session
or an orphan (its parent gone); another user's live test run on the same
machine is neither. Exit 0 when every run passed and nothing was left, 1
otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
PROJECT_MARKS = (str(ROOT / ".tools"), "pssgen", "multiprocessing.forkserver", "multiprocessing.resource_tracker")
GRACE = 10.0  # how long a process already ending may take before it counts as left behind


@dataclass(frozen=True)
class Run:
    number: int
    seconds: float
    returncode: int | None  # None: timed out, its session killed
    session: int

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    @property
    def result(self) -> str:
        if self.returncode is None:
            return "HUNG (its session killed)"
        return "passed" if self.returncode == 0 else f"FAILED (exit {self.returncode})"


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def start_busy_loops(cores: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    """One loop per core, each in a group of its own and bounded in time even if this script is killed."""
    loops = []
    for _ in range(cores):
        loops.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=seconds)],
                                      stdin=subprocess.DEVNULL, start_new_session=True))  # fmt: skip
    return loops


def run_once(number: int, command: str, timeout: float) -> Run:
    """The command through ``/bin/sh -c`` in a session of its own; on timeout the whole session is killed."""
    started = time.monotonic()
    proc = subprocess.Popen(["/bin/sh", "-c", command], cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        kill_group(proc.pid)  # a timed-out run, or what a finished run left in its group
        proc.wait()
    return Run(number, time.monotonic() - started, code, proc.pid)


@dataclass(frozen=True)
class Ps:
    pid: int
    ppid: int
    sid: int
    age: int  # seconds since it started
    args: str


def ps() -> list[Ps]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,sid=,etimes=,args="], capture_output=True, text=True, check=True)
    rows = []
    for line in out.stdout.splitlines():
        pid, ppid, sid, age, *args = line.split(maxsplit=4)
        rows.append(Ps(int(pid), int(ppid), int(sid), int(age), args[0] if args else ""))
    return rows


def left_behind(runs: list[Run], since: float) -> list[Ps]:
    """Project processes a run left: in a run's session, or orphaned, and started after this script did."""
    sessions = {run.session for run in runs}
    age_limit = time.monotonic() - since
    table = ps()
    alive = {row.pid for row in table}
    me = os.getpid()
    return [
        row for row in table
        if row.pid != me and row.age <= age_limit + 1 and any(mark in row.args for mark in PROJECT_MARKS)
        and (row.sid in sessions or row.ppid == 1 or row.ppid not in alive)
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--command", default="make test", help="run through /bin/sh -c in the checkout")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run counts as hung")
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 1, help="busy loops (default: one per core)")
    args = parser.parse_args(argv)

    since = time.monotonic()
    runs: list[Run] = []
    loops = start_busy_loops(args.busy, args.runs * args.timeout + 60)
    print(f">> {args.busy} busy loop(s) started (pids {', '.join(str(p.pid) for p in loops)})", flush=True)
    try:
        for number in range(1, args.runs + 1):
            print(f">> run {number}/{args.runs}: {args.command}", flush=True)
            run = run_once(number, args.command, args.timeout)
            runs.append(run)
            print(f">> run {number}: {run.result} in {run.seconds:.1f}s", flush=True)
    finally:
        for loop in loops:
            kill_group(loop.pid)
            loop.wait()
        print(">> busy loops stopped", flush=True)

    deadline = time.monotonic() + GRACE
    while (left := left_behind(runs, since)) and time.monotonic() < deadline:
        time.sleep(0.5)
    print("\n   run  seconds  result")
    for run in runs:
        print(f"   {run.number:>3}  {run.seconds:>7.1f}  {run.result}")
    if left:
        print(f"\n!! {len(left)} process(es) left behind:")
        for row in left:
            print(f"   pid {row.pid} (parent {row.ppid}, session {row.sid}): {row.args[:200]}")
    else:
        print("\n   nothing left behind (.tools binaries, pssgen, multiprocessing workers)")
    return 0 if all(run.passed for run in runs) and not left else 1


if __name__ == "__main__":
    sys.exit(main())
