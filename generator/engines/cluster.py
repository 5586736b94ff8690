"""A throw-away Kubernetes control plane on loopback: the pinned etcd and kube-apiserver, one temporary folder.

Why: built-in Pod Security Admission in a real API server is the live judge the
in-cluster parity suite compares pssgen with, and what a user without a cluster
can try the bundle against. Only etcd and kube-apiserver run: no scheduler, no
controller-manager (so no ServiceAccount controller: ``ensure_namespace``
creates each namespace's ``default`` ServiceAccount, which the ServiceAccount
admission plugin wants before it admits a Pod).

Everything lives in one temporary folder (keys, certificates, the token file,
etcd's data, logs, the kubeconfig) and nothing outlives the cluster: each
process is started through ``children.dies_with_us`` (PR_SET_PDEATHSIG: the
kernel kills it if this process dies, even by SIGKILL), leads its own process
group, and is killed with it by ``stop``, which runs on leaving the ``with``
block (an exception, Ctrl-C's KeyboardInterrupt, the CLI's SIGTERM exception),
at interpreter exit, and from a SIGTERM handler when nobody else handles
SIGTERM. Start and stop a cluster from one long-lived thread: PDEATHSIG follows
the thread that started the child.

The API is driven with the official ``kubernetes`` client, as users drive theirs.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from generator.engines.base import EngineError
from generator.engines.children import dies_with_us, install_sigterm_handler, kill_group, track, untrack
from generator.tools import ETCD, GATEKEEPER, KUBE_APISERVER, KUBECTL, gatekeeper_module_dir, require

HOST = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"  # no Service gets an address here that anything routes; it must not clash
CONTEXT = "pssgen-local"
ADMIN = "pssgen-admin"
DEFAULT_START_TIMEOUT = 180.0  # a cold kube-apiserver on a busy 2-core machine takes 10-40 s
STOP_GRACE = 5.0
LOG_TAIL_LINES = 3
GATEKEEPER_NAMESPACE = "gatekeeper-system"  # the controller's POD_NAMESPACE, as in its reference install
GATEKEEPER_SERVICE_DNS = "gatekeeper-webhook-service.gatekeeper-system.svc"


class ClusterError(EngineError):
    """The local cluster could not be started, or one of its processes died while it was needed."""


@dataclass(frozen=True, slots=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int


# --------------------------------------------------------------------------- process safety

# Stopped at exit and on SIGTERM through generator.engines.children's one registry (track, untrack).


# --------------------------------------------------------------------------- keys and files


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free now (held open together, so they differ)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    sans: list[x509.GeneralName],
) -> x509.Certificate:
    """A CA (``issuer`` None: self-signed) or a server certificate for ``sans``, valid for a day."""
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)  # sign certs and CRLs
    else:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False).add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


@dataclass(frozen=True, slots=True)
class ServingCertificate:
    """A CA and a server certificate it signed, as PEM files: what a webhook or the API server serves with."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def write_serving_certificate(folder: Path, name: str, ips: list[str], dns: list[str]) -> ServingCertificate:
    """A fresh CA and a server certificate for ``ips``/``dns`` in ``folder`` (``<name>-ca.crt``, ``<name>.crt``,
    ``<name>.key``); the keys are readable by their owner only."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(f"{name}-ca", ca_key, None, [])
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    sans += [x509.DNSName(d) for d in dns]
    cert = _certificate(name, key, (ca, ca_key), sans)
    files = ServingCertificate(folder / f"{name}-ca.crt", folder / f"{name}.crt", folder / f"{name}.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(files.key_file, _pem_key(key))
    return files


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)


# A line that says why a component stopped: Go's flag package and cobra ("Error: ..."), klog's E/F lines, zap's JSON.
_ERROR_LINE = re.compile(r'^(Error:|error:|flag provided but not defined|[EF]\d{4} )|"level":"(error|fatal|panic)"')


def _http_ok(url: str) -> bool:
    """Whether a component's own health endpoint (plain HTTP on loopback, not the Kubernetes API) answers 200."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _api_error(exc: ApiException) -> str:
    """The API server's own message for a refused request, on one line."""
    try:
        message = json.loads(exc.body or "")["message"]
    except (ValueError, KeyError, TypeError):
        message = exc.reason
    return f"{exc.status} {' '.join(str(message).split())}"


def _log_tail(path: Path) -> str:
    """Why a component stopped, on one line: its last error line, else its last few lines (usage text follows a
    refused flag, so the error is often not at the end)."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return errors[-1] if errors else " | ".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"


# --------------------------------------------------------------------------- the cluster


class LocalCluster:
    """etcd and kube-apiserver on free loopback ports; use as a context manager so neither outlives its user.

    ``kubeconfig`` (a file in the temporary folder, context ``pssgen-local``, a cluster-admin token) is what
    kubectl and the ``kubernetes`` client are given; ``api_client()`` is a client on it.
    """

    def __init__(
        self,
        etcd: Path | None = None,
        kube_apiserver: Path | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        apiserver_args: tuple[str, ...] = (),
        users: tuple[str, ...] = (),
    ) -> None:
        self._etcd_bin = etcd
        self._apiserver_bin = kube_apiserver
        self.start_timeout = start_timeout
        self.apiserver_args = apiserver_args
        self.users = users  # more users, in no group (so RBAC lets them do nothing): each a kubeconfig context
        self.workdir: Path | None = None
        self.ports: Ports | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._client: k8s.ApiClient | None = None
        self._lock = threading.RLock()

    # -- public

    @property
    def kubeconfig(self) -> Path:
        if self.workdir is None:
            raise ClusterError("the local cluster is not running")
        return self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        if self.ports is None:
            raise ClusterError("the local cluster is not running")
        return f"https://{HOST}:{self.ports.apiserver}"

    @property
    def pids(self) -> dict[str, int]:
        """The component processes by name (``etcd``, ``kube-apiserver``): what a test checks is gone after stop."""
        return {name: proc.pid for name, proc in self._procs.items()}

    def start(self) -> LocalCluster:
        """Write keys and configuration, start etcd and kube-apiserver, and wait until ``/readyz`` answers ok."""
        with self._lock:
            if self.workdir is not None:
                return self
            etcd_bin = self._etcd_bin or require(ETCD)
            apiserver_bin = self._apiserver_bin or require(KUBE_APISERVER)
            install_sigterm_handler()
            track(self)
            try:
                self.workdir = Path(tempfile.mkdtemp(prefix="pssgen-cluster-"))
                self.ports = Ports(*_free_ports(3))
                tokens = self._write_files(self.workdir)
                self._spawn("etcd", self._etcd_command(etcd_bin))
                self._spawn("kube-apiserver", self._apiserver_command(apiserver_bin))
                self._write_kubeconfig(tokens)
                self._wait_ready()
            except BaseException:
                self.stop()
                raise
            return self

    def api_client(self) -> k8s.ApiClient:
        """A ``kubernetes`` client on the kubeconfig (one per cluster; closed by ``stop``)."""
        with self._lock:
            if self._client is None:
                self._client = k8s_config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
            return self._client

    def ensure_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        """Create namespace ``name`` with ``labels`` and its ``default`` ServiceAccount (no controller makes it)."""
        core = k8s.CoreV1Api(self.api_client())
        namespace = k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=labels or None))
        try:
            core.create_namespace(namespace)
            core.create_namespaced_service_account(
                name, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="default"))
            )
        except ApiException as exc:
            raise ClusterError(f"creating namespace {name!r} in the local cluster failed: {_api_error(exc)}") from exc

    def ensure_service_account(self, namespace: str) -> None:
        """The ``default`` ServiceAccount of an existing namespace (``default``, say): no controller makes it here."""
        core = k8s.CoreV1Api(self.api_client())
        try:
            core.create_namespaced_service_account(
                namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="default"))
            )
        except ApiException as exc:
            if exc.status != 409:
                raise ClusterError(f"creating {namespace}/default ServiceAccount failed: {_api_error(exc)}") from exc

    def check_alive(self) -> None:
        """Raise ``ClusterError`` naming the component (and its last log lines) if one has exited."""
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise ClusterError(f"{name} exited with {proc.returncode}: {self._tail(name)}")

    def stop(self) -> None:
        """SIGTERM kube-apiserver, then etcd; SIGKILL each group still there after the grace; remove the folder."""
        with self._lock:
            untrack(self)
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()  # type: ignore[no-untyped-call]
            # Gatekeeper, then the API server (it would retry a vanished etcd), then etcd.
            for name in ("gatekeeper", "kube-apiserver", "etcd"):
                _stop(self._procs.pop(name, None))
            for log in self._logs.values():
                log.close()
            self._logs.clear()
            workdir, self.workdir, self.ports = self.workdir, None, None
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start_gatekeeper(
        self, binary: Path | None = None, manifest: Path | None = None, *, audit_interval: int = 60
    ) -> None:
        """Run the pinned Gatekeeper controller out of cluster, as the reference install would run it in one.

        From the module's ``deploy/gatekeeper.yaml``: its Namespace and CRDs, then, once the controller answers
        ``/readyz``, its ValidatingWebhookConfiguration with each ``clientConfig`` pointed at the controller on
        127.0.0.1 (rules, failure policy and namespace selectors kept). The controller runs every operation
        (webhook, audit, status, generate: the one that creates each Constraint kind from its template), with a
        fake Pod name (it runs in no Pod) and a certificate of ours instead of its own rotation. ``audit_interval``
        is seconds between audits (Gatekeeper's default, 60, unless a test wants results sooner).
        """
        with self._lock:
            if self.workdir is None:
                raise ClusterError("start the local cluster before Gatekeeper")
            binary = binary or require(GATEKEEPER)
            manifest = manifest or gatekeeper_module_dir() / "deploy" / "gatekeeper.yaml"
            try:
                docs = [d for d in yaml.safe_load_all(manifest.read_text(encoding="utf-8")) if isinstance(d, dict)]
            except (OSError, yaml.YAMLError) as exc:
                raise ClusterError(f"{manifest}: cannot read Gatekeeper's manifest: {exc}") from exc
            webhook_port, health_port = _free_ports(2)
            api = self.api_client()
            # Upstream's documents go as plain dicts (the client sends them as they are): a round trip through the
            # client's models could drop or reshape what the models do not know.
            try:
                for doc in docs:
                    if doc.get("kind") == "Namespace":
                        k8s.CoreV1Api(api).create_namespace(cast(Any, doc))
                    elif doc.get("kind") == "CustomResourceDefinition":
                        k8s.ApiextensionsV1Api(api).create_custom_resource_definition(cast(Any, doc))
                self._wait_for("Gatekeeper's CRDs to be established", self._crds_established, docs)
                certs = self.workdir / "gatekeeper-certs"
                certs.mkdir(mode=0o700)
                (self.workdir / "gatekeeper-audit").mkdir(mode=0o700)
                serving = write_serving_certificate(certs, "tls", [HOST], [GATEKEEPER_SERVICE_DNS])
                self._spawn("gatekeeper", [
                    str(binary), f"--kubeconfig={self.kubeconfig}", "--debug-use-fake-pod", "--disable-cert-rotation",
                    f"--cert-dir={certs}", f"--host={HOST}", f"--port={webhook_port}",
                    f"--health-addr={HOST}:{health_port}", "--metrics-addr=0",
                    f"--exempt-namespace={GATEKEEPER_NAMESPACE}", "--disable-opa-builtin={http.send}",
                    "--shutdown-delay=0",  # it waits 10 s for a Pod's endpoints to go; there are none
                    f"--audit-interval={audit_interval}",
                    f"--api-cache-dir={self.workdir / 'gatekeeper-audit'}",  # else /tmp/audit, shared and never removed
                ], env={"POD_NAMESPACE": GATEKEEPER_NAMESPACE})  # fmt: skip
                self._wait_for("Gatekeeper to answer /readyz", _http_ok, f"http://{HOST}:{health_port}/readyz")
                ca_bundle = base64.b64encode(serving.ca_file.read_bytes()).decode()
                for doc in docs:
                    if doc.get("kind") == "ValidatingWebhookConfiguration":
                        for hook in doc.get("webhooks", []):
                            path = hook["clientConfig"]["service"].get("path", "/")
                            hook["clientConfig"] = {
                                "url": f"https://{HOST}:{webhook_port}{path}",
                                "caBundle": ca_bundle,
                            }
                        k8s.AdmissionregistrationV1Api(api).create_validating_webhook_configuration(cast(Any, doc))
            except ApiException as exc:
                raise ClusterError(f"installing Gatekeeper from {manifest} failed: {_api_error(exc)}") from exc

    def stop_gatekeeper(self) -> None:
        """Stop the Gatekeeper controller only (its webhook configuration stays, as when its Pods are gone)."""
        with self._lock:
            _stop(self._procs.pop("gatekeeper", None))

    def kubectl(
        self, *args: str, kubectl: Path | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl on this cluster's kubeconfig (tied to us like the components; output captured)."""
        command = [str(kubectl or require(KUBECTL)), f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.Popen(
            dies_with_us(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise ClusterError(f"kubectl {' '.join(args)} did not finish within {timeout:g}s") from None
        except BaseException:
            kill_group(proc)
            raise
        return subprocess.CompletedProcess(
            command, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        )

    def apply_bundle(self, bundle: Path, kubectl: Path | None = None) -> None:
        """``kubectl apply -k bundle`` as the bundle's kustomization.yaml says: apply; if that fails (a Constraint kind
        not created yet), wait for every template's ``status.created`` and apply again. Then wait until every
        Constraint reports itself enforced, so the next request is judged by it."""
        first = self.kubectl("apply", "-k", str(bundle), kubectl=kubectl)
        if first.returncode != 0:
            waited = self.kubectl(
                "wait", "--for=jsonpath={.status.created}=true", "constrainttemplate", "--all", "--timeout=60s",
                kubectl=kubectl,
            )  # fmt: skip
            again = self.kubectl("apply", "-k", str(bundle), kubectl=kubectl)
            if again.returncode != 0:
                detail = (again.stderr or waited.stderr or first.stderr).strip().splitlines()
                raise ClusterError(f"kubectl apply -k {bundle} failed twice: {detail[-1] if detail else '?'}")
        self._wait_for("the Constraints to be enforced", self._constraints_enforced, None)

    # -- start-up

    def _write_files(self, workdir: Path) -> dict[str, str]:
        """Keys, the API server's certificate, a token for the admin and each user; returns the tokens by user."""
        for sub in ("pki", "etcd", "apiserver-certs"):
            (workdir / sub).mkdir(mode=0o700)
        pki = workdir / "pki"
        write_serving_certificate(
            pki, "apiserver", [HOST, str(next(ipaddress.ip_network(SERVICE_CLUSTER_IP_RANGE).hosts()))],
            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
        )  # fmt: skip
        sa_key = ec.generate_private_key(ec.SECP256R1())
        _write_private(pki / "service-account.key", _pem_key(sa_key))
        (pki / "service-account.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        tokens = {user: secrets.token_urlsafe(32) for user in (ADMIN, *self.users)}
        lines = [f"{tokens[ADMIN]},{ADMIN},{ADMIN},system:masters"]
        lines += [f"{tokens[user]},{user},{user}" for user in self.users]
        _write_private(pki / "tokens.csv", ("\n".join(lines) + "\n").encode())
        return tokens

    def _etcd_command(self, binary: Path) -> list[str]:
        assert self.workdir is not None and self.ports is not None
        return [
            str(binary), "--name=pssgen", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://{HOST}:{self.ports.etcd_client}",
            f"--advertise-client-urls=http://{HOST}:{self.ports.etcd_client}",
            f"--listen-peer-urls=http://{HOST}:{self.ports.etcd_peer}",
            f"--initial-advertise-peer-urls=http://{HOST}:{self.ports.etcd_peer}",
            f"--initial-cluster=pssgen=http://{HOST}:{self.ports.etcd_peer}",
            "--unsafe-no-fsync",  # a throw-away data dir: fsync only slows every write down
            "--log-level=warn",
        ]  # fmt: skip

    def _apiserver_command(self, binary: Path) -> list[str]:
        assert self.workdir is not None and self.ports is not None
        pki = self.workdir / "pki"
        return [
            str(binary),
            f"--etcd-servers=http://{HOST}:{self.ports.etcd_client}",
            f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={self.ports.apiserver}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={pki / 'service-account.pub'}",
            f"--service-account-signing-key-file={pki / 'service-account.key'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--endpoint-reconciler-type=none",  # else 127.0.0.1 is refused as the advertise address
            "--allow-privileged=true",  # else a privileged Pod fails validation before PodSecurity sees it
            "--profiling=false",
            *self.apiserver_args,
        ]  # fmt: skip

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        assert self.workdir is not None
        log = (self.workdir / f"{name}.log").open("wb")
        self._logs[name] = log
        self._procs[name] = subprocess.Popen(
            dies_with_us(command), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=None if env is None else {**os.environ, **env},
        )  # fmt: skip

    def _write_kubeconfig(self, tokens: dict[str, str]) -> None:
        """Context ``pssgen-local`` (the admin, current) and one context per extra user, named after it."""
        assert self.workdir is not None
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {
                "server": self.server, "certificate-authority": str(self.workdir / "pki" / "apiserver-ca.crt"),
            }}],
            "users": [{"name": user, "user": {"token": token}} for user, token in tokens.items()],
            "contexts": [{"name": CONTEXT if user == ADMIN else user, "context": {"cluster": CONTEXT, "user": user}}
                         for user in tokens],
            "current-context": CONTEXT,
        }  # fmt: skip
        _write_private(self.kubeconfig, yaml.safe_dump(config, sort_keys=False).encode())

    def _wait_ready(self) -> None:
        """Poll ``/readyz`` until it answers 200 ok (every post-start hook done), or fail naming who died."""
        api = self.api_client()
        deadline = time.monotonic() + self.start_timeout
        last = "no answer yet"
        while True:
            self.check_alive()
            try:
                method, url, headers, body = api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])[:4]
                response = api.call_api(method, url, header_params=headers, body=body, _request_timeout=5)
                response.read()  # type: ignore[no-untyped-call]
                text = (response.data or b"").decode(errors="replace").strip()
                if response.status == 200 and text == "ok":
                    return
                last = f"HTTP {response.status}: {text.splitlines()[-1] if text else ''}"
            except (HTTPError, OSError, ApiException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise ClusterError(
                    f"kube-apiserver at {self.server} was not ready within {self.start_timeout:g}s ({last}): "
                    f"{self._tail('kube-apiserver')}"
                )
            time.sleep(0.25)

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float = 120.0) -> None:
        """Poll ``ready`` until it is true, failing (with Gatekeeper's last log lines) if a component dies first."""
        self._wait_for(what, lambda _: ready(), None, timeout)

    def _wait_for(self, what: str, ready: Callable[[Any], bool], arg: Any, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready(arg):
            self.check_alive()
            if time.monotonic() >= deadline:
                raise ClusterError(f"timed out after {timeout:g}s waiting for {what}: {self._tail('gatekeeper')}")
            time.sleep(0.25)

    def _crds_established(self, docs: list[dict[str, Any]]) -> bool:
        ext = k8s.ApiextensionsV1Api(self.api_client())
        for doc in docs:
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            status = ext.read_custom_resource_definition(doc["metadata"]["name"]).status
            conditions = (status.conditions if status else None) or []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    def _constraints_enforced(self, _: object) -> bool:
        """Every Constraint of every kind Gatekeeper serves says, for every Gatekeeper it knows, ``enforced``."""
        custom = k8s.CustomObjectsApi(self.api_client())
        listed = custom.list_cluster_custom_object("templates.gatekeeper.sh", "v1", "constrainttemplates")
        templates = cast(dict[str, Any], listed)["items"]
        if not templates:
            return False
        for template in templates:
            kind = template["spec"]["crd"]["spec"]["names"]["kind"]
            try:
                constraints = cast(
                    dict[str, Any],
                    custom.list_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", kind.lower()),
                )
            except ApiException:
                return False  # the Constraint kind is not served yet
            for constraint in constraints["items"]:
                by_pod = constraint.get("status", {}).get("byPod") or []
                if not by_pod or not all(p.get("enforced") for p in by_pod):
                    return False
        return True

    def _tail(self, name: str) -> str:
        if self.workdir is None:
            return "(no log)"
        log = self._logs.get(name)
        if log is not None:
            log.flush()
        return _log_tail(self.workdir / f"{name}.log")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, a grace period, then SIGKILL for whatever is left in the process's group."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE)
    kill_group(proc)
