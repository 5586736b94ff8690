"""Smoke tests of generator.engines.opa_server against the real pinned OPA binary.

They prove the harness can fail: compile errors raise, a dead OPA raises OpaDied instead of
answering "undefined"/"allowed", and no OPA process outlives its server (not even when the
Python process is SIGKILLed or SIGTERMed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from generator.engines.opa_server import OpaDied, OpaPolicyError, OpaServer, OpaUndefined

ROOT = Path(__file__).resolve().parent.parent

SMOKE = "package smoke\n\nallow if input.x == 1\n"
SMOKE_DEFAULT = "package smoke_default\n\ndefault allow := false\n\nallow if input.x == 1\n"


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` no longer exists (or is only a zombie waiting for a foreign reaper)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            state = "?"
        if state == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@pytest.fixture(scope="module")
def opa():
    with OpaServer() as server:
        server.load_policies({"smoke.rego": SMOKE, "smoke_default.rego": SMOKE_DEFAULT})
        pid = server.pid
        yield server
    assert pid is not None and _gone(pid)


def test_query_allowed_and_denied_through_opa_python_client(opa):
    # the raw opa-python-client API against our server
    assert opa.client.query_rule({"x": 1}, "smoke", "allow") == {"result": True}
    assert "result" not in opa.client.query_rule({"x": 2}, "smoke", "allow")
    assert opa.client.query_rule({"x": 2}, "smoke_default", "allow") == {"result": False}
    # the harness wrapper
    assert opa.query("smoke/allow", {"x": 1}) is True
    assert opa.query("smoke.allow", {"x": 1}) is True
    assert opa.query("smoke_default/allow", {"x": 2}) is False
    with pytest.raises(OpaUndefined, match=r"data\.smoke\.allow is undefined"):
        opa.query("smoke/allow", {"x": 2})


def test_query_metrics(opa):
    assert opa.query("smoke_default", {"x": 1}, metrics=True) == {"allow": True}
    assert opa.last_metrics and "timer_rego_query_eval_ns" in opa.last_metrics
    assert "go_goroutines" in opa.prometheus_metrics()


def test_compile_error_is_a_clear_exception(opa):
    with pytest.raises(OpaPolicyError) as info:
        opa.load_policies({"broken.rego": "package broken\n\nallow if y\n"})
    text = str(info.value)
    assert "broken.rego:3" in text and "rego_unsafe_var_error" in text and "var y is unsafe" in text
    assert info.value.errors and info.value.errors[0]["code"] == "rego_unsafe_var_error"
    # v0 syntax is not silently rewritten (rego_compat=False)
    with pytest.raises(OpaPolicyError, match="`if` keyword is required"):
        opa.load_policies({"v0.rego": "package v0\n\nallow {\n  true\n}\n"})
    assert "broken.rego" not in opa.policy_ids
    assert opa.query("smoke/allow", {"x": 1}) is True  # the server is still fine


def test_modules_load_in_any_order(opa):
    opa.load_policies(
        {
            "uses_lib.rego": "package uses_lib\n\nimport data.lib.h\n\nallow if h.one(input.x)\n",
            "lib.rego": "package lib.h\n\none(x) if x == 1\n",
        }
    )
    assert opa.query("uses_lib/allow", {"x": 1}) is True


@pytest.mark.parametrize("wait_for_exit", [True, False], ids=["reaped", "racing"])
def test_killed_opa_raises_opadied_not_a_result(wait_for_exit):
    with OpaServer() as server:
        server.load_policies({"smoke.rego": SMOKE})
        assert server.query("smoke/allow", {"x": 1}) is True
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        if wait_for_exit:
            assert _gone(pid)
        with pytest.raises(OpaDied) as info:
            server.query("smoke/allow", {"x": 1})
        assert info.value.returncode == -signal.SIGKILL
        assert "exited with code -9" in str(info.value)
        with pytest.raises(OpaDied):  # and it stays failed
            server.load_policies({"other.rego": "package other\n\nallow := true\n"})
    assert _gone(pid)


def test_no_process_left_after_context():
    with OpaServer() as server:
        pid = server.pid
        assert pid is not None and server.is_alive()
    assert not server.is_alive()
    assert _gone(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_startup_failure_reports_opa_output():
    with pytest.raises(OpaDied) as info:
        OpaServer(extra_args=("--no-such-flag",)).start()
    assert info.value.returncode not in (None, 0)
    assert "unknown flag: --no-such-flag" in str(info.value)


_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from generator.engines.opa_server import OpaServer
    server = OpaServer()
    server.start()
    print(server.pid, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_opa_dies_with_its_python_process(sig):
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its group is its own: the finally below kills all of it
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read() if child.stderr else line
        opa_pid = int(line)
        assert not _gone(opa_pid, timeout=0)
        child.send_signal(sig)
        assert child.wait(timeout=10) == -sig
        assert _gone(opa_pid), f"OPA pid {opa_pid} outlived its Python parent ({sig.name})"
        # After SIGKILL the orphan is reaped by init, which may take a moment; wait for that
        # (best effort) so the run leaves not even a zombie behind.
        deadline = time.monotonic() + 10
        while Path(f"/proc/{opa_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()


def test_a_forked_child_leaves_the_parents_opa_alone(opa):
    # pssgen forks no Python child, but a program using the harness may: its child must not inherit
    # the duty to stop this process's OPA (at its exit, or on SIGTERM through our handler).
    import generator.engines.children as harness  # the one registry OPA servers (and clusters) are stopped through

    assert harness._LIVE and signal.getsignal(signal.SIGTERM) is harness._on_sigterm
    pid = os.fork()
    if pid == 0:  # the child: report by exit status only, never return into pytest
        if harness._LIVE or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            os._exit(3)
        harness._stop_all_at_exit()  # what its atexit would run
        os.kill(os.getpid(), signal.SIGTERM)
        os._exit(4)  # not reached: SIGTERM kills, as it must
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
    assert opa.query("smoke/allow", {"x": 1}) is True  # the parent's OPA still answers


JOBS_WITH_OPA = """
import os, sys
from pathlib import Path
from generator.engines.opa_server import OpaServer
from generator.policy.versions import parse_version
from generator.scan import scan_parallel


def workers():
    # The living processes forked by this process's fork server: between scans there must be none.
    table = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            table[int(entry.name)] = (int(stat[1]), stat[0], (entry / "cmdline").read_bytes())
        except (OSError, ValueError):
            continue
    servers = {pid for pid, (ppid, _, cmd) in table.items() if ppid == os.getpid() and b"forkserver" in cmd}
    return [pid for pid, (ppid, state, _) in table.items() if ppid in servers and state != "Z"]


if __name__ == "__main__":
    with OpaServer() as server:
        server.load_policies({"up.rego": "package up\\n\\nok := true\\n"})
        print(server.pid, flush=True)
        for run in range(6):
            found = scan_parallel([sys.argv[1]], 2, "python", "baseline", parse_version("latest"))
            if run % 2:  # a consumer that stops early
                next(found)
                assert len(workers()) == 2, workers()
                found.close()
            else:
                assert len(list(found)) == 20
            assert workers() == [], workers()
        assert server.query("up/ok", {}) is True
    print("ok")
"""


def test_jobs_finish_while_an_opa_server_is_live(tmp_path, run_bounded):
    # A --jobs scan in a process that runs OPA (and so an HTTP client and our SIGTERM handler)
    # finishes, read to the end or stopped early; each leaves no worker, and the process no
    # fork server, resource tracker or OPA once it exits (run_bounded checks its session).
    pod = "kind: Pod\nmetadata: {{name: p{}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n"
    for i in range(20):
        (tmp_path / f"p{i:02}.yaml").write_text(pod.format(i))
    proc = run_bounded([sys.executable, "-c", JOBS_WITH_OPA, str(tmp_path)], timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    opa_pid, verdict = proc.stdout.split()
    assert verdict == "ok"
    assert _gone(int(opa_pid))
