"""The ``cluster`` engine: a live API server's own Pod Security admission judges every object.

Why: pssgen's answers are only as good as their agreement with the Kubernetes a
team actually runs. This engine asks that Kubernetes: each (level, version) gets
a temporary namespace labelled ``pod-security.kubernetes.io/enforce`` and
``warn`` with that level and version; each object is created there with
server-side dry run (``dryRun=All``: every admission plugin runs, nothing is
stored); the verdict and message are PSA's, read from the answer.

- A Pod PSA rejects comes back as 403 ``pods "x" is forbidden: violates PodSecurity
  "l:v": ...``. PSA never rejects a workload (Deployment, CronJob, ...): it warns,
  and that ``Warning`` header (``would violate PodSecurity ...``) is its verdict,
  as pssgen judges workloads by the pods they will create.
- The denial text is read back into checks (``generator.policy.messages``); text
  that cannot be read stays as PSA wrote it, under the check name ``unattributed``.
- Anything else that refuses the object (validation, another admission plugin
  or webhook, a missing ServiceAccount PSA does not care about is created first)
  is a ``Refused`` result: an error for that object, never an allow.
- Before judging anything, a privileged Pod is sent into a namespace labelled
  ``enforce: restricted``; a cluster that admits it has no PodSecurity admission
  (or exempts this user) and is refused as a judge.

Every namespace it creates is named ``pssgen-check-...``, labelled
``app.kubernetes.io/managed-by: pssgen``, and deleted on close, which also runs at
exit and on SIGTERM (``children.track``).

Objects are sent as written, except fields only the API server may set on create
(``metadata`` resourceVersion, uid, creationTimestamp, generation, selfLink,
managedFields, ownerReferences, deletionTimestamp; ``status``; a Pod's
``spec.priority``, which Priority admission computes from its class) and the
name, which PSA never reads (``generateName: pssgen-`` instead): a ``kubectl
get -o yaml`` export, or a fixture named ``privileged_0``, is judged as it is.

What PSA judges is the object after the API server's own defaulting, so its
text can differ from an offline engine's for the same manifest: since v1.30 the
API server copies a container's AppArmor annotation into the
``securityContext.appArmorProfile`` field (and back), and PSA then names both.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from generator.engines.base import (
    EngineBase,
    EngineError,
    EngineUnavailable,
    Refused,
    Request,
    psa_result,
)
from generator.engines.children import track, untrack
from generator.policy.messages import split_head
from generator.policy.model import Result
from generator.policy.versions import Version

PSA = "pod-security.kubernetes.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "pssgen"}
NAMESPACE_PREFIX = "pssgen-check"
DEFAULT_WORKERS = 8  # requests in flight: dry-run admission is cheap, round trips are not
REQUEST_TIMEOUT = 30.0
RETRIES = 4  # for answers that say "try again" (429, 5xx, a dropped connection)

# What PSA evaluates (its DefaultPodSpecExtractor), by kind: the resource to POST to.
RESOURCES: Mapping[str, str] = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "PodTemplate": "podtemplates",
    "ReplicaSet": "replicasets",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}
_SERVER_SET_METADATA = (
    "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink", "managedFields", "ownerReferences",
    "deletionTimestamp", "deletionGracePeriodSeconds",
)  # fmt: skip
_API_VERSION = re.compile(r"^(?:[a-z0-9]([a-z0-9.-]*[a-z0-9])?/)?v[0-9]+[a-z0-9]*$")
_WARNING = re.compile(r'^[0-9]{3} \S+ "((?:[^"\\]|\\.)*)"')
_MISSING_SERVICE_ACCOUNT = re.compile(r'serviceaccount "([^"]+)" not found')
# How the API server words a ValidatingAdmissionPolicy's warning (dispatcher.go), before the policy's message: a
# cluster judged by pssgen's VAP bundle warns with PSA's text after it.
_VAP_WARNING = re.compile(r"Validation failed for ValidatingAdmissionPolicy '[^']*' with binding '[^']*': ")


def psa_warning(warning: str) -> str | None:
    """PSA's text in a warning, PSA's own or a ValidatingAdmissionPolicy's carrying it; None for other warnings."""
    vap = _VAP_WARNING.match(warning)
    text = warning[vap.end() :] if vap else warning
    return text if split_head(text) is not None else None


_PROBE_POD: Mapping[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "pssgen-probe"},
    "spec": {
        "containers": [{"name": "probe", "image": "pssgen.invalid/probe", "securityContext": {"privileged": True}}]
    },
}


def _status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or exc.body or exc.reason or f"HTTP {exc.status}").strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _warnings(headers: Any) -> list[str]:
    """The texts of the ``Warning`` headers of an answer (RFC 7234 ``299 - "text"``, unquoted)."""
    values = headers.getlist("Warning") if headers is not None and hasattr(headers, "getlist") else []
    texts = []
    for value in values:
        match = _WARNING.match(value)
        if match:
            texts.append(re.sub(r"\\(.)", r"\1", match.group(1)))
    return texts


def creatable(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The object as a create request into ``namespace``: server-set fields dropped, nothing else changed."""
    body = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(cast(Mapping[str, Any], obj.get("metadata") or {}))
    for key in _SERVER_SET_METADATA:
        meta.pop(key, None)
    meta["namespace"] = namespace
    meta.pop("name", None)  # PSA never reads it; a name the API would refuse must not hide PSA's verdict
    meta["generateName"] = "pssgen-"
    body["metadata"] = meta
    spec = obj.get("spec")
    if obj.get("kind") == "Pod" and isinstance(spec, Mapping) and "priority" in spec:
        body["spec"] = {k: v for k, v in spec.items() if k != "priority"}
    return body


@dataclass(frozen=True, slots=True)
class DryRun:
    """A dry-run create's answer: the object as the API server would have stored it, or why it refused it."""

    status: int
    object: Mapping[str, Any] | None  # the stored form (after defaulting and mutation), when admitted
    message: str  # the refusal's Status message, when refused
    warnings: list[str]  # the Warning headers' texts, either way


def object_path(obj: Mapping[str, Any], namespace: str) -> str | None:
    """Where to POST ``obj`` in ``namespace``: None when it is not a kind PSA evaluates (or not a sane apiVersion)."""
    kind, api_version = str(obj.get("kind")), str(obj.get("apiVersion") or "")
    if kind not in RESOURCES or not _API_VERSION.match(api_version):
        return None
    return f"{'/apis' if '/' in api_version else '/api'}/{api_version}/namespaces/{namespace}/{RESOURCES[kind]}"


def dry_run(
    api: k8s.ApiClient, path: str, body: Mapping[str, Any], server: str = "the API server", *, method: str = "POST",
    content_type: str = "application/json",
) -> DryRun:  # fmt: skip
    """POST (or PATCH, PUT) ``body`` to ``path`` with dryRun=All (every admission step runs, nothing is stored);
    retried when the answer says "try again" (429, 5xx, a dropped connection)."""
    for attempt in range(RETRIES + 1):
        try:
            verb, url, headers, payload = api.param_serialize(
                method, path, query_params=[("dryRun", "All")], body=body,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                auth_settings=["BearerToken"],
            )[:4]  # fmt: skip
            response = api.call_api(verb, url, header_params=headers, body=payload, _request_timeout=REQUEST_TIMEOUT)
            response.read()  # type: ignore[no-untyped-call]
            status = int(response.status)
            if status < 300:
                stored = json.loads(response.data or b"{}")
                return DryRun(status, stored if isinstance(stored, dict) else None, "", _warnings(response.headers))
            exc = ApiException(http_resp=response)
        except ApiException as raised:
            exc = raised
        except (HTTPError, OSError, ValueError) as failed:
            if attempt == RETRIES:
                raise EngineError(f"{server}: {type(failed).__name__}: {_one_line(str(failed))}") from None
            time.sleep(0.2 * 2**attempt)
            continue
        if exc.status in (429, 500, 502, 503, 504) and attempt < RETRIES:
            time.sleep(0.2 * 2**attempt)
            continue
        return DryRun(int(exc.status or 0), None, _status_message(exc), _warnings(exc.headers))
    raise AssertionError("unreachable")


def _reviewer(authz: k8s.AuthorizationV1Api, review: Mapping[str, Any]) -> Callable[[], object]:
    return lambda: authz.create_self_subject_access_review(cast(Any, review), _request_timeout=REQUEST_TIMEOUT)


class ClusterEngine(EngineBase):
    """A live API server's Pod Security admission as an engine (see the module doc)."""

    name = "cluster"

    def __init__(
        self, kubeconfig: str | None = None, context: str | None = None, *, workers: int = DEFAULT_WORKERS
    ) -> None:
        self.workers = workers
        try:
            configuration = k8s.Configuration()
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            where = kubeconfig or "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
            raise EngineUnavailable(f"cannot load {where}: {_one_line(str(exc))}") from None
        configuration.connection_pool_maxsize = max(workers, 4)
        configuration.retries = False
        self.server = str(configuration.host)
        self._api = k8s.ApiClient(configuration)
        self._lock = threading.Lock()
        self._namespaces: dict[tuple[str, str], str] = {}  # (level, version) -> its namespace
        self._created: list[str] = []  # every namespace made, the probe's too: all deleted on close
        self._accounts: set[tuple[str, str]] = set()
        self._closed = False
        self.requests = 0  # API requests sent, for reports (requests per second)
        track(self)
        try:
            self.version = self._server_version()
            self._require_permissions()
            self._probe()
        except BaseException:
            self.close()
            raise

    # -- the engine

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        for _, level, version in requests:
            self._namespace(level, str(version))
        if len(requests) <= 1:
            return [self._judge(*r) for r in requests]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="pssgen-cluster") as pool:
            return list(pool.map(lambda r: self._judge(*r), requests))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            names, self._created = self._created, []
            self._namespaces.clear()
        untrack(self)
        core = k8s.CoreV1Api(self._api)
        for name in names:
            with contextlib.suppress(ApiException, HTTPError, OSError):
                core.delete_namespace(name, _request_timeout=REQUEST_TIMEOUT)
        with contextlib.suppress(Exception):
            self._api.close()  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        """What the exit and SIGTERM hooks call (``children.track``)."""
        self.close()

    # -- one object

    def _judge(self, obj: Mapping[str, Any], level: str, version: Version | str) -> Result:
        version = str(version)
        namespace = self._namespace(level, version)
        kind = str(obj.get("kind"))
        path = object_path(obj, namespace)
        if path is None:
            return Refused(False, (), level, version, f"{obj.get('apiVersion')} {kind} is not a kind PSA evaluates")
        body = creatable(obj, namespace)
        for _ in range(2):  # a second time after creating a ServiceAccount the object names
            status, text, warnings = self._post(path, body)
            if status < 300:
                found = [said for w in warnings if (said := psa_warning(w)) is not None]
                if kind == "Pod" or not found:
                    return Result(True, (), level, version)
                return psa_result(found[0], level, version)
            if status == 403 and 'violates PodSecurity "' in text:
                return psa_result(text[text.index("violates PodSecurity") :], level, version)
            missing = _MISSING_SERVICE_ACCOUNT.search(text) if status == 403 else None
            if missing is None or not self._create_account(namespace, missing.group(1)):
                break
        if status == 403 and "cannot create resource" in text:
            raise EngineUnavailable(f"{self.server}: not permitted: {_one_line(text)} (see the README: RBAC)")
        return Refused(False, (), level, version, f"the API server refused it (HTTP {status}): {_one_line(text)}")

    def _post(self, path: str, body: Mapping[str, Any]) -> tuple[int, str, list[str]]:
        with self._lock:
            self.requests += 1
        answer = dry_run(self._api, path, body, self.server)
        return answer.status, answer.message, answer.warnings

    # -- namespaces

    def _namespace(self, level: str, version: str) -> str:
        """The temporary namespace for (level, version), created (with its default ServiceAccount) when first asked."""
        key = (level, version)
        with self._lock:
            if self._closed:
                raise EngineError("the cluster engine was closed")
            found = self._namespaces.get(key)
        if found is not None:
            return found
        name = self._create_namespace(
            f"{level}-{version}",
            {f"{PSA}/enforce": level, f"{PSA}/enforce-version": version, f"{PSA}/warn": level,
             f"{PSA}/warn-version": version},
        )  # fmt: skip
        with self._lock:
            self._namespaces.setdefault(key, name)
            return self._namespaces[key]

    def _create_namespace(self, what: str, labels: dict[str, str]) -> str:
        core = k8s.CoreV1Api(self._api)
        name = f"{NAMESPACE_PREFIX}-{what.replace('.', '-')}-{secrets.token_hex(3)}"
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {**labels, **MANAGED_BY}},
        }
        self._call(f"creating namespace {name}", lambda: core.create_namespace(cast(Any, namespace)))
        with self._lock:
            self._created.append(name)  # deleted on close, whatever else happens
        self._create_account(name, "default")
        return name

    def _create_account(self, namespace: str, name: str) -> bool:
        """Make ServiceAccount ``name`` exist (a cluster's controller may have made ``default`` already)."""
        if (namespace, name) in self._accounts:
            return False
        core = k8s.CoreV1Api(self._api)
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
        try:
            core.create_namespaced_service_account(namespace, cast(Any, account), _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status != 409:  # AlreadyExists is what we wanted
                raise EngineUnavailable(
                    f"{self.server}: creating ServiceAccount {namespace}/{name} failed: {_status_message(exc)}"
                ) from None
        except (HTTPError, OSError) as exc:
            raise EngineError(f"{self.server}: {type(exc).__name__}: {_one_line(str(exc))}") from None
        self._accounts.add((namespace, name))
        return True

    def _call(self, what: str, call: Callable[[], object]) -> object:
        try:
            return call()
        except ApiException as exc:
            raise EngineUnavailable(f"{self.server}: {what} failed: {_one_line(_status_message(exc))}") from None
        except (HTTPError, OSError) as exc:
            raise EngineUnavailable(f"{self.server}: {what} failed: {type(exc).__name__}: {exc}") from None

    # -- before judging anything

    def _server_version(self) -> str:
        try:
            info = k8s.VersionApi(self._api).get_code(_request_timeout=10)
        except ApiException as exc:
            raise EngineUnavailable(f"{self.server}: {_one_line(_status_message(exc))}") from None
        except (HTTPError, OSError) as exc:
            reason = _one_line(str(getattr(exc, "reason", None) or exc))
            raise EngineUnavailable(f"cannot reach the API server at {self.server}: {reason}") from None
        return str(info.git_version)

    def _require_permissions(self) -> None:
        """One line naming every permission missing for what this engine does (SelfSubjectAccessReview)."""
        authz = k8s.AuthorizationV1Api(self._api)
        needed = [("create", "", "namespaces"), ("delete", "", "namespaces"), ("create", "", "serviceaccounts"),
                  ("create", "", "pods")]  # fmt: skip
        missing = []
        for verb, group, resource in needed:
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}}}  # fmt: skip
            answer = cast(Any, self._call("asking what this user may do", _reviewer(authz, review)))
            if not answer.status.allowed:
                missing.append(f"{verb} {resource}")
        if missing:
            raise EngineUnavailable(
                f"{self.server}: this user may not {', '.join(missing)} (the cluster engine needs them; see the README)"
            )

    def _probe(self) -> None:
        """Refuse a cluster whose PodSecurity admission would not reject a privileged Pod at restricted."""
        name = self._create_namespace("probe", {f"{PSA}/enforce": "restricted", f"{PSA}/enforce-version": "latest"})
        status, text, _ = self._post(f"/api/v1/namespaces/{name}/pods", creatable(_PROBE_POD, name))
        if status < 300:
            raise EngineUnavailable(
                f"{self.server} admitted a privileged Pod in a namespace labelled {PSA}/enforce=restricted: "
                "it runs no PodSecurity admission, or exempts this user"
            )
        if 'violates PodSecurity "restricted:latest"' not in text:
            raise EngineUnavailable(
                f"{self.server}: the probe Pod was refused, but not by PodSecurity: {_one_line(text)}"
            )
