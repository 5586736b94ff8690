"""A throwaway OPA server for tests and the CLI, driven through opa-python-client.

Why a server rather than ``opa eval`` per input: one process compiles the policies once and
answers many queries over HTTP, which is what the parity suite and benchmarks need.

Why so much process care: a harness that leaves OPA running, or that keeps querying a dead
OPA and reports "no violations", would make a run pass that should fail. So the process is
checked before every query and after every connection error (``OpaDied``), it runs in its own
session (Ctrl-C in a terminal reaches Python, which then stops it in order), it gets
``PR_SET_PDEATHSIG`` on Linux through ``generator.engines.children``'s wrapper, not a
``preexec_fn`` (it dies even if Python is SIGKILLed), and ``stop()`` is registered with
``atexit`` and with a SIGTERM handler. Its log is an anonymous temporary file: nothing
named is left on disk.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests
from opa_client import OpaClient
from opa_client.errors import RegoParseError

from generator.engines.children import dies_with_us, install_sigterm_handler, track, untrack
from generator.errors import PssgenError
from generator.tools import OPA, require

__all__ = [
    "OpaDied",
    "OpaError",
    "OpaPolicyError",
    "OpaServer",
    "OpaUndefined",
]

HOST = "127.0.0.1"
DEFAULT_START_TIMEOUT = 20.0
DEFAULT_CLIENT_TIMEOUT = 600.0  # big batched queries over a whole corpus can take a while
STOP_GRACE = 3.0
STDERR_TAIL = 4000
_PORT_ATTEMPTS = 3


class OpaError(PssgenError, RuntimeError):
    """OPA misbehaved: it did not start, refused a request, or failed to evaluate."""


class OpaDied(OpaError):
    """The OPA process exited while the harness still needed it; the run must fail."""

    def __init__(self, message: str, returncode: int | None, stderr_tail: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class OpaPolicyError(OpaError):
    """OPA rejected a policy module (parse or compile error); ``errors`` holds OPA's details."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class OpaUndefined(OpaError):
    """The queried document is undefined for this input (no ``result`` in OPA's answer)."""


# --------------------------------------------------------------------------- process safety

# Stopped at exit and on SIGTERM through generator.engines.children's one registry (track, untrack).


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- the server


class OpaServer:
    """``opa run --server`` on a free 127.0.0.1 port, with ``client`` (an ``OpaClient``) bound to it.

    Use as a context manager::

        with OpaServer() as opa:
            opa.load_policies({"pss/baseline.rego": text})
            opa.query("pss/baseline/violation", {"review": ...})
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        client_timeout: float = DEFAULT_CLIENT_TIMEOUT,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = Path(binary) if binary is not None else require(OPA)
        self.start_timeout = start_timeout
        self.client_timeout = client_timeout
        self.extra_args = extra_args
        self.port: int | None = None
        self.last_metrics: dict[str, Any] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._client: OpaClient | None = None
        self._policy_ids: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> OpaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        if self.port is None:
            raise OpaError("OPA server is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def client(self) -> OpaClient:
        if self._client is None:
            raise OpaError("OPA server is not started")
        return self._client

    @property
    def policy_ids(self) -> list[str]:
        """The module ids loaded through ``load_policies`` (in load order)."""
        return list(self._policy_ids)

    def start(self) -> None:
        """Start OPA and wait for ``/health``; retry on a lost port race; raise with OPA's stderr."""
        if self._proc is not None:
            raise OpaError("OPA server already started")
        install_sigterm_handler()
        last: OpaError | None = None
        for _ in range(_PORT_ATTEMPTS):
            try:
                self._start_once()
                return
            except BaseException as exc:  # Ctrl-C or SIGTERM while starting: not a half-started server left
                if not isinstance(exc, OpaError):
                    self.stop()
                    raise
                last = exc
                tail = getattr(exc, "stderr_tail", "")
                self.stop()
                if "address already in use" not in tail:
                    raise
        assert last is not None
        raise last

    def _start_once(self) -> None:
        self.port = _free_port()
        self._log = tempfile.TemporaryFile(prefix="opa-", suffix=".log")  # noqa: SIM115 (closed by stop())
        cmd = [
            str(self.binary), "run", "--server",
            "--addr", f"{HOST}:{self.port}",
            "--log-level", "error",
            "--log-level-request", "error",
            "--skip-version-check",
            "--set", "decision_logs.console=false",
            "--shutdown-grace-period", "1",
            *self.extra_args,
        ]  # fmt: skip
        try:
            self._proc = subprocess.Popen(
                dies_with_us(cmd),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise OpaError(f"cannot start {self.binary}: {exc}") from exc
        track(self)
        self._client = OpaClient(host=HOST, port=self.port, timeout=self.client_timeout, retries=0)

        deadline = time.monotonic() + self.start_timeout
        while True:
            self._ensure_alive("while starting")
            if self._healthy():
                break
            if time.monotonic() >= deadline:
                raise OpaDied(
                    f"OPA ({self.binary}) did not become healthy on {self.url} within "
                    f"{self.start_timeout:.0f}s; output tail:\n{self.stderr_tail()}",
                    None,
                    self.stderr_tail(),
                )
            time.sleep(0.05)
        # A generous timeout for queries, but a client that retries connection failures would
        # only delay the OpaDied diagnosis; one retry covers a transient reset.
        self._client.close_connection()
        self._client = OpaClient(host=HOST, port=self.port, timeout=self.client_timeout, retries=1)

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after a short grace; idempotent."""
        proc, self._proc = self._proc, None
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close_connection()
            self._client = None
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc, signal.SIGKILL)
                    proc.wait()
                except KeyboardInterrupt:  # a second Ctrl-C during shutdown: be quick, not sloppy
                    self._signal_group(proc, signal.SIGKILL)
                    proc.wait()
                    raise
            else:
                proc.wait()
        untrack(self)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        self._policy_ids.clear()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        """The group is OPA's own (``start_new_session``); fall back to the pid alone."""
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    # -- liveness -------------------------------------------------------------------------

    def stderr_tail(self, limit: int = STDERR_TAIL) -> str:
        """About ``limit`` bytes of what OPA wrote (stdout and stderr share one file).

        When the output is longer, its head is kept too: a CLI error comes first and is
        followed by the usage text, while a panic comes last.
        """
        if self._log is None:
            return ""
        try:
            size = self._log.seek(0, os.SEEK_END)
            self._log.seek(0)
            if size <= limit:
                return self._log.read().decode("utf-8", "replace")
            head = self._log.read(limit // 4).decode("utf-8", "replace")
            self._log.seek(size - (limit - limit // 4))
            tail = self._log.read().decode("utf-8", "replace")
            return f"{head}\n[... {size - limit} bytes omitted ...]\n{tail}"
        except (OSError, ValueError):
            return ""

    def _ensure_alive(self, when: str) -> None:
        proc = self._proc
        if proc is None:
            raise OpaError(f"OPA server is not running ({when})")
        code = proc.poll()
        if code is not None:
            tail = self.stderr_tail()
            raise OpaDied(
                f"OPA (pid {proc.pid}) exited with code {code} {when}; output tail:\n{tail or '(empty)'}",
                code,
                tail,
            )

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Check liveness before the request; turn a connection failure into OpaDied if OPA is gone."""
        self._ensure_alive(f"before {what}")
        try:
            yield
        except requests.HTTPError:
            raise
        except requests.RequestException as exc:
            # Reset, refused, truncated or timed out: the socket may break a moment before the
            # exit status is reapable, so give the process a moment to be reaped.
            proc = self._proc
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1.0)
            self._ensure_alive(f"during {what}")
            raise OpaError(f"OPA (pid {self.pid}) is running but failed during {what}: {exc}") from exc

    # -- policies -------------------------------------------------------------------------

    def load_policies(self, modules: Mapping[str, str]) -> None:
        """PUT each module (id → Rego v1 text); raise ``OpaPolicyError`` with OPA's messages.

        OPA compiles all loaded modules on every PUT, so a module that calls a function of a
        module not yet loaded is rejected; failed modules are retried after the others until
        no progress is made, which makes the order of ``modules`` irrelevant.
        """
        pending = dict(modules)
        while pending:
            failures: dict[str, OpaPolicyError] = {}
            for module_id, text in pending.items():
                try:
                    self._put_policy(module_id, text)
                except OpaPolicyError as exc:
                    failures[module_id] = exc
                else:
                    if module_id not in self._policy_ids:
                        self._policy_ids.append(module_id)
            if not failures:
                return
            if len(failures) == len(pending):
                errors = [err for exc in failures.values() for err in exc.errors]
                detail = "\n".join(f"  [{mid}] {exc}" for mid, exc in failures.items())
                raise OpaPolicyError(f"OPA rejected {len(failures)} policy module(s):\n{detail}", errors)
            pending = {mid: modules[mid] for mid in failures}

    def _put_policy(self, module_id: str, text: str) -> None:
        with self._guard(f"loading policy {module_id!r}"):
            try:
                self.client.update_policy_from_string(text, module_id, rego_compat=False)
            except RegoParseError as exc:
                errors = [e for e in exc.errors if isinstance(e, dict)]
                lines = [_format_opa_error(e) for e in errors] or [f"{exc.expression}: {exc.message}"]
                raise OpaPolicyError(
                    f"{exc.message or 'rejected'}\n" + "\n".join(f"    {ln}" for ln in lines),
                    errors,
                ) from exc
            except requests.HTTPError as exc:
                raise OpaError(f"loading policy {module_id!r}: {_http_error_text(exc)}") from exc
            except ValueError as exc:  # a non-JSON error body
                raise OpaError(f"loading policy {module_id!r}: unexpected OPA answer: {exc}") from exc

    def delete_policy(self, module_id: str) -> None:
        with self._guard(f"deleting policy {module_id!r}"):
            self.client.delete_policy(module_id)
        with contextlib.suppress(ValueError):
            self._policy_ids.remove(module_id)

    # -- queries --------------------------------------------------------------------------

    def query_raw(self, path: str, input_data: Any, *, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST ``/v1/data/<path>`` with ``{"input": input_data}``; OPA's whole JSON answer."""
        what = f"query {path!r}"
        with self._guard(what):
            try:
                answer: dict[str, Any] = self.client.query_rule(
                    input_data, _data_path(path), query_params=dict(params) if params else None
                )
                return answer
            except requests.HTTPError as exc:
                raise OpaError(f"{what}: {_http_error_text(exc)}") from exc

    def query(self, path: str, input_data: Any, *, metrics: bool = False) -> Any:
        """The ``result`` of ``data.<path>`` for this input; ``OpaUndefined`` if there is none.

        ``path`` may use dots or slashes (``pss.baseline.violation`` or ``pss/baseline/violation``).
        With ``metrics=True`` OPA's per-query timers are kept in ``last_metrics``.
        """
        answer = self.query_raw(path, input_data, params={"metrics": "true"} if metrics else None)
        self.last_metrics = answer.get("metrics")
        if "result" not in answer:
            raise OpaUndefined(f"data.{_data_path(path).replace('/', '.')} is undefined for this input")
        return answer["result"]

    def prometheus_metrics(self) -> str:
        """OPA's ``/metrics`` text (Prometheus format)."""
        with self._guard("reading /metrics"):
            text: str = self.client.get_metrics()
            return text


def _data_path(path: str) -> str:
    cleaned = path.strip().strip("/")
    if cleaned.startswith("data.") or cleaned.startswith("data/"):
        cleaned = cleaned[5:]
    return cleaned.replace(".", "/")


def _format_opa_error(err: Mapping[str, Any]) -> str:
    loc = err.get("location") or {}
    where = f"{loc.get('file', '?')}:{loc.get('row', '?')}:{loc.get('col', '?')}: " if loc else ""
    return f"{where}{err.get('code', 'error')}: {err.get('message', '')}"


def _http_error_text(exc: requests.HTTPError) -> str:
    response = exc.response
    if response is None:
        return str(exc)
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:2000]}"
    parts = [f"HTTP {response.status_code} {body.get('code', '')}: {body.get('message', '')}".rstrip()]
    parts += [_format_opa_error(e) for e in body.get("errors", []) if isinstance(e, dict)]
    return "\n    ".join(parts)
