"""Stopping ``pssgen check`` mid-run leaves nothing behind: no process, no temporary file.

Each run gets a private TMPDIR, which every process it starts inherits in its
environment: a process whose environment still names it after pssgen ended is
a leftover of the run, wherever it was reparented; the directory itself must
be empty. SIGINT exits 130 and SIGTERM 143 (after cleaning up); SIGKILL runs
no handler at all, so only the kernel (PR_SET_PDEATHSIG) can end the children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PSSGEN = Path(sys.executable).with_name("pssgen")
ENDS_WITHIN = 10.0  # seconds for pssgen to exit, and for its children to be gone
STARTS_WITHIN = 120.0  # seconds for the engine's tool to be running (a loaded machine)

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def _pods(count: int) -> str:
    """A List of privileged Pods, big enough that the engine is still judging when the signal comes."""
    item = (
        "- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{i}, namespace: ns{ns}}}\n  spec:\n"
        "    containers: [{{name: c, image: nginx, securityContext: {{privileged: true}}}}]\n"
    )
    return "apiVersion: v1\nkind: List\nitems:\n" + "".join(item.format(i=i, ns=i % 7) for i in range(count))


def _marked(marker: str) -> list[tuple[int, str]]:
    """Living processes whose environment holds ``marker`` (the run's TMPDIR): the run's, wherever they went."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            if marker.encode() in (entry / "environ").read_bytes():
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, IndexError):
            continue
    return found


def _wait_for(tool: str, marker: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTS_WITHIN
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pssgen ended ({proc.returncode}) before {tool} ran: {proc.communicate()[1][-2000:]}")
        if any(f"/{tool} " in cmd or cmd.startswith(f"{tool} ") for _, cmd in _marked(marker)):
            return
        time.sleep(0.05)
    pytest.fail(f"{tool} did not start within {STARTS_WITHIN:g}s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
@pytest.mark.parametrize(
    ("engine", "tool", "count"),
    [("gatekeeper", "gator", 4000), ("opa", "opa", 30000), ("gatekeeper", "gatekeeper-engine", 30000)],
)
def test_a_stopped_check_leaves_no_process_and_no_file(
    engine: str, tool: str, count: int, sig: signal.Signals, tmp_path: Path
) -> None:
    """Every long-lived child (gator runs, the OPA server, gatekeeper-engine) dies with pssgen, leaving no file."""
    manifest = tmp_path / "pods.yaml"
    manifest.write_text(_pods(count))
    private = tmp_path / "tmp"
    private.mkdir()
    marker = str(private)
    env = {k: v for k, v in os.environ.items() if k != "PSSGEN_GATEKEEPER_MODE"} | {"TMPDIR": marker}
    if tool == "gator":
        env["PSSGEN_GATEKEEPER_MODE"] = "gator"
    proc = subprocess.Popen(
        [str(PSSGEN), "check", str(manifest), "--engine", engine],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=env, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(tool, marker, proc)
        time.sleep(0.3)  # well into the tool's work
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"pssgen did not end within {ENDS_WITHIN:g}s of {sig.name}")
        assert code == EXIT[sig], (code, proc.communicate()[1][-2000:])
        deadline = time.monotonic() + ENDS_WITHIN
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _marked(marker) == [], f"left running after {sig.name}"
        assert sorted(p.name for p in private.iterdir()) == [], f"left in TMPDIR after {sig.name}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid, _ in _marked(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ValueError):  # read already
            proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_the_python_engine_exits_with_the_signal_s_code(sig: signal.Signals, tmp_path: Path) -> None:
    manifest = tmp_path / "pods.yaml"
    manifest.write_text(_pods(60000))
    private = tmp_path / "tmp"
    private.mkdir()
    proc = subprocess.Popen(
        [str(PSSGEN), "check", str(manifest)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(private)}, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(2.0)
        assert proc.poll() is None, "the run ended before the signal: make the input bigger"
        proc.send_signal(sig)
        assert proc.wait(timeout=ENDS_WITHIN) == EXIT[sig]
        assert f"({sig.name}); stopped" in proc.communicate()[1]
        assert list(private.iterdir()) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ValueError):  # read already
            proc.communicate()
