"""PSA's modes, built in, as the Gatekeeper bundle and as the VAP bundle, in live clusters configured from one PSA file.

- PSA cluster: kube-apiserver with ``--admission-control-config-file`` holding the suite's sample PSA
  configuration (defaults enforce=baseline, audit and warn restricted; a username, a runtime class and a
  namespace exempt), and an audit log, where PSA writes its ``audit-violations`` annotation.
- Bundle cluster: kube-apiserver without the PodSecurity plugin, Gatekeeper, and the bundle ``pssgen generate
  --psa-config`` renders from the same file. (PSA configured privileged is not enough: that is only its default
  for unlabelled namespaces, and it would still enforce the labels the bundle reads. A migrated cluster turns
  the plugin off, or keeps both judging the same labels.)

- VAP cluster: kube-apiserver without the PodSecurity plugin, with ``out/vap`` as ``pssgen generate --psa-config``
  renders it from the same file (its ConfigMaps hold the defaults and exemptions), and an audit log, where the
  policy writes its ``pssgen-pod-security/audit-violations`` annotation.

Every request of the generated gator suite that a cluster can make (namespaces labelled in several ways,
versions above the newest, an exempt and a non-exempt user, an exempt runtime class, an exempt namespace, Pods
and workloads, CREATE, UPDATE of labels, of pods/ephemeralcontainers and of pods/status, DELETE) goes to both.
The denial, the warnings and the audit text must be the same in both, and the same as
``generator.policy.admission`` says (which the generated suite holds the template to). Audit is compared the
way each records it: PSA annotates each request in the audit log; Gatekeeper's audit lists each stored object
(so it cannot know who created it: an object an exempt user created is listed; see the note at the end).

A namespace labelled ``enforce=strict`` cannot be created while the PodSecurity plugin runs (it refuses invalid
labels), so that case goes to the bundle cluster only; a namespace the policy cannot see does not exist in a
cluster. Both are also in the gator suite and the template's OPA tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from generator import tools
from generator.engines.cluster import LocalCluster
from generator.engines.live import _warnings, object_path
from generator.policy.admission import Decision
from generator.policy.model import Result, Violation
from generator.render import gatekeeper as gk
from generator.render import vap
from generator.render.outdir import write_tree

pytestmark = [pytest.mark.tools, pytest.mark.slow, pytest.mark.timeout(900)]

CONFIG = gk.configured_sample()
EXCLUSIONS = gk.sample_exclusions()  # the bundle's only: one of each form
USERS = (gk.USER, gk.EXEMPT_USER)
BUNDLE_CASES = [c for c in gk.cases() if c.name != "pod-unknown-namespace"]
CASES = [c for c in BUNDLE_CASES if c.namespace != "invalid-labels"]  # the PodSecurity plugin refuses the namespace
AUDIT_KEY = "pod-security.kubernetes.io/audit-violations"
VAP_AUDIT_KEY = f"{vap.POLICY_NAME}/{vap.AUDIT_ANNOTATION}"
VAP_DENIAL = (
    f"ValidatingAdmissionPolicy '{vap.POLICY_NAME}' with binding '{vap.binding_name('enforce')}' denied request: "
)
VAP_WARNING = (
    f"Validation failed for ValidatingAdmissionPolicy '{vap.POLICY_NAME}' with binding '{vap.binding_name('warn')}': "
)
VAP_CASES = [c for c in BUNDLE_CASES if c.group != "exclusions"]  # the VAP bundle has no per-check exclusions
GATEKEEPER_DENIAL = 'admission webhook "validation.gatekeeper.sh" denied the request: [pod-security-enforce] '
GATEKEEPER_WARNING = "[pod-security-warn] "
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {
            "level": "Metadata",
            "resources": [
                {"group": "", "resources": ["pods", "pods/ephemeralcontainers", "pods/status"]},
                {"group": "apps", "resources": ["deployments"]},
                {"group": "batch", "resources": ["cronjobs"]},
            ],
        },
        {"level": "None"},
    ],
}


@dataclass(frozen=True)
class Answer:
    """What one request got, in PSA's words: the denial, the PodSecurity warnings, and the audit text."""

    denial: str | None
    warnings: tuple[str, ...]
    audit: str | None = None


def _expected(case: gk.Case, *, bundle: bool = False) -> Answer:
    """What PSA answers; for the bundle, with its exclusions too (which PSA cannot express)."""
    decision: Decision = case.decision(CONFIG, exclusions=EXCLUSIONS if bundle else ())
    return Answer(decision.denial, (decision.warning,) if decision.warning else (), decision.audit)


@pytest.fixture(scope="module")
def binaries() -> dict[str, Path]:
    try:
        return {
            "etcd": tools.require(tools.ETCD),
            "kube-apiserver": tools.require(tools.KUBE_APISERVER),
            "gatekeeper": tools.require(tools.GATEKEEPER),
            "kubectl": tools.require(tools.KUBECTL),
        }
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")


def _prepare(cluster: LocalCluster, *, psa: bool) -> None:
    """The users (cluster-admin, so only PSA or the bundle says no), the exempt runtime class, the namespaces."""
    api = cluster.api_client()
    rbac = k8s.RbacAuthorizationV1Api(api)
    for user in USERS:
        rbac.create_cluster_role_binding(cast(Any, {
            "metadata": {"name": f"admin-{user.replace('@', '-')}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        }))  # fmt: skip
    k8s.NodeV1Api(api).create_runtime_class(
        cast(Any, {"metadata": {"name": gk.EXEMPT_RUNTIME_CLASS}, "handler": "kata"})
    )
    core = k8s.CoreV1Api(api)
    for name, labels in gk.sample_namespaces().items():
        if name == "invalid-labels" and psa:
            continue
        if name == "kube-system":  # the API server made it: label it, and give it the ServiceAccount Pods need
            core.patch_namespace(name, {"metadata": {"labels": dict(labels)}})
            cluster.ensure_service_account(name)
        else:
            cluster.ensure_namespace(name, dict(labels) or None)


def _client(cluster: LocalCluster, user: str) -> k8s.ApiClient:
    return k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig), context=user)  # type: ignore[no-untyped-call]


def _call(api: k8s.ApiClient, method: str, path: str, body: Mapping[str, Any] | None, *, dry: bool = True,
          content_type: str = "application/json") -> tuple[int, str, list[str], str]:  # fmt: skip
    """(status, refusal message, Warning texts, Audit-Id) of one request."""
    verb, url, headers, payload = api.param_serialize(
        method, path, query_params=[("dryRun", "All")] if dry else [], body=body,
        header_params={"Content-Type": content_type, "Accept": "application/json"}, auth_settings=["BearerToken"],
    )[:4]  # fmt: skip
    response = api.call_api(verb, url, header_params=headers, body=payload, _request_timeout=30)
    response.read()  # type: ignore[no-untyped-call]
    text = (response.data or b"").decode()
    message = "" if response.status < 300 else str(json.loads(text or "{}").get("message", text))
    warnings = _warnings(response.headers)
    return int(response.status), message, warnings, str(response.headers.get("Audit-Id", ""))


def _path(case: gk.Case) -> str:
    obj = case.request().obj
    found = object_path(obj, case.namespace)
    assert found is not None
    return found


Reply = tuple[int, str, list[str], str]


def _ask(cluster: LocalCluster, case: gk.Case, stored: Callable[[gk.Case], dict[str, Any]]) -> Reply:
    """Make the case's request as its user."""
    api = _client(cluster, case.username)
    request = case.request()
    if case.operation == "CREATE":
        return _call(api, "POST", _path(case), gk._in_namespace(request.obj, case.namespace))
    old = stored(case)
    item = f"{_path(case)}/{old['metadata']['name']}"
    if case.operation == "DELETE":
        return _call(api, "DELETE", item, None)
    if case.subresource == "ephemeralcontainers":
        body = {**old, "spec": {**old["spec"], "ephemeralContainers": request.obj["spec"]["ephemeralContainers"]}}
        return _call(api, "PUT", f"{item}/ephemeralcontainers", body)
    if case.subresource == "status":
        return _call(api, "PUT", f"{item}/status", old)
    assert case.subresource == "" and case.operation == "UPDATE"
    labels = request.obj["metadata"].get("labels") or {}
    return _call(api, "PATCH", item, {"metadata": {"labels": labels}}, content_type="application/merge-patch+json")


def _stored(cluster: LocalCluster) -> Callable[[gk.Case], dict[str, Any]]:
    """The old object of an UPDATE or DELETE, created once for real by the exempt user (so nothing refuses it)."""
    made: dict[tuple[str, str], dict[str, Any]] = {}

    def get(case: gk.Case) -> dict[str, Any]:
        old = case.request().old
        assert old is not None
        key = (case.namespace, old["metadata"]["name"])
        if key not in made:
            api = _client(cluster, gk.EXEMPT_USER)
            path = object_path(old, case.namespace)
            assert path is not None
            status, message, _, _ = _call(api, "POST", path, gk._in_namespace(old, case.namespace), dry=False)
            assert status == 201, message
            found = api.call_api(*api.param_serialize("GET", f"{path}/{key[1]}", auth_settings=["BearerToken"])[:4])
            found.read()  # type: ignore[no-untyped-call]
            made[key] = json.loads(found.data)
        return made[key]

    return get


def _run_cases(cluster: LocalCluster, cases: list[gk.Case], denial_prefix: Callable[[str], str | None],
               warning: Callable[[str], str | None]) -> tuple[dict[str, Answer], dict[str, str]]:  # fmt: skip
    """Each case's answer (without audit), and each case's Audit-Id. CREATEs first: the old objects of the
    UPDATEs share names with them."""
    stored = _stored(cluster)
    answers, audit_ids = {}, {}
    for case in sorted(cases, key=lambda c: c.operation != "CREATE"):
        status, message, warnings, audit_id = _ask(cluster, case, stored)
        assert status < 300 or status == 403, (case.name, status, message)
        denial = None if status < 300 else denial_prefix(message)
        assert status < 300 or denial is not None, (case.name, message)  # refused by PSA or the bundle only
        found = tuple(w for w in (warning(text) for text in warnings) if w is not None)
        answers[case.name] = Answer(denial, found)
        audit_ids[case.name] = audit_id
    return answers, audit_ids


def _psa_denial(message: str) -> str | None:
    _, sep, rest = message.partition(" is forbidden: ")
    return rest if sep and rest.startswith("violates PodSecurity") else None


def _psa_warning(text: str) -> str | None:
    return text if text.startswith("would violate PodSecurity") else None


def _bundle_denial(message: str) -> str | None:
    return message[len(GATEKEEPER_DENIAL) :] if message.startswith(GATEKEEPER_DENIAL) else None


def _bundle_warning(text: str) -> str | None:
    assert not text.startswith("would violate PodSecurity"), text  # built-in PSA is privileged here
    return text[len(GATEKEEPER_WARNING) :] if text.startswith(GATEKEEPER_WARNING) else None


def _vap_denial(message: str) -> str | None:
    _, sep, rest = message.partition(" is forbidden: ")
    return rest[len(VAP_DENIAL) :] if sep and rest.startswith(VAP_DENIAL) else None


def _vap_warning(text: str) -> str | None:
    assert not text.startswith("would violate PodSecurity"), text  # built-in PSA is off here
    return text[len(VAP_WARNING) :] if text.startswith(VAP_WARNING) else None


def _psa_audit(log: Path, audit_ids: Mapping[str, str], key: str = AUDIT_KEY) -> dict[str, str | None]:
    """Each case's audit-violations annotation (``key``), from the API server's audit log."""
    wanted = {audit_id: name for name, audit_id in audit_ids.items()}
    found: dict[str, str | None] = dict.fromkeys(audit_ids)
    seen = set()
    for line in log.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        name = wanted.get(event.get("auditID"))
        if name is not None and event.get("stage") == "ResponseComplete":
            seen.add(name)
            found[name] = (event.get("annotations") or {}).get(key)
    assert seen == set(audit_ids), sorted(set(audit_ids) - seen)
    return found


@pytest.fixture(scope="module")
def psa(binaries: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Answer]:
    folder = tmp_path_factory.mktemp("psa-modes")
    config, policy, log = folder / "admission.yaml", folder / "audit-policy.yaml", folder / "audit.log"
    config.write_text(yaml.safe_dump(gk.admission_configuration(CONFIG)))
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    args = (f"--admission-control-config-file={config}", f"--audit-policy-file={policy}", f"--audit-log-path={log}",
            "--audit-log-format=json", "--audit-log-mode=blocking")  # fmt: skip
    with LocalCluster(binaries["etcd"], binaries["kube-apiserver"], apiserver_args=args, users=USERS) as cluster:
        _prepare(cluster, psa=True)
        answers, audit_ids = _run_cases(cluster, CASES, _psa_denial, _psa_warning)
        audits = _psa_audit(log, audit_ids)
    return {name: Answer(a.denial, a.warnings, audits[name]) for name, a in answers.items()}


@pytest.fixture(scope="module")
def vap_cluster(binaries: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Answer]:
    folder = tmp_path_factory.mktemp("vap-modes")
    policy, log, rendered = folder / "audit-policy.yaml", folder / "audit.log", folder / "vap"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    write_tree(rendered, vap.vap_bundle(CONFIG, source="the sample configuration"))
    args = ("--disable-admission-plugins=PodSecurity", f"--audit-policy-file={policy}", f"--audit-log-path={log}",
            "--audit-log-format=json", "--audit-log-mode=blocking")  # fmt: skip
    with LocalCluster(binaries["etcd"], binaries["kube-apiserver"], apiserver_args=args, users=USERS) as cluster:
        _prepare(cluster, psa=False)
        applied = cluster.kubectl("apply", "-k", str(rendered), kubectl=binaries["kubectl"])
        assert applied.returncode == 0, applied.stderr
        probe = next(c for c in VAP_CASES if c.name == "pod-privileged-restricted")
        cluster.wait_until(  # the policy and its bindings take a moment to reach the admission plugin
            "the VAP bundle to deny a privileged Pod",
            lambda: _ask(cluster, probe, _stored(cluster))[0] == 403,
            timeout=60,
        )
        answers, audit_ids = _run_cases(cluster, VAP_CASES, _vap_denial, _vap_warning)
        audits = _psa_audit(log, audit_ids, VAP_AUDIT_KEY)
    return {name: Answer(a.denial, a.warnings, audits[name]) for name, a in answers.items()}


def test_enforce_warn_and_audit_agree_between_built_in_psa_and_the_vap(
    psa: dict[str, Answer], vap_cluster: dict[str, Answer]
) -> None:
    for case in VAP_CASES:
        want, ours = _expected(case), vap_cluster[case.name]
        assert ours == want, (case.name, ours, want)
        if case in CASES:
            assert psa[case.name] == want, ("PSA", case.name)


MESSAGE_LIMIT = 256  # Gatekeeper's audit cuts each message in a Constraint's status (and its log) to this many bytes


def _cut(message: str) -> str:
    """What Gatekeeper's audit keeps of a longer message (its truncateString)."""
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


def _audited_details(cluster: LocalCluster) -> dict[str, str]:
    """The audit Constraint's verdicts as Gatekeeper's audit logs them, whole: the template's details (mode, level,
    version, violations) put back into PSA's words, by object name."""
    assert cluster.workdir is not None
    found = {}
    for line in (cluster.workdir / "gatekeeper.log").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("event_type") == "violation_audited" and entry.get("constraint_name") == "pod-security-audit":
            details = entry["details"]
            violations = tuple(Violation(v["check"], v["reason"], v["detail"]) for v in details["violations"])
            result = Result(False, violations, details["level"], details["version"])
            found[entry["resource_name"]] = result.mode_message(details["mode"])
    return found


def _audit_listing(cluster: LocalCluster) -> dict[str, str]:
    """The audit Constraint's violations, by object name: Gatekeeper's audit of what is stored."""
    custom = k8s.CustomObjectsApi(cluster.api_client())
    found = custom.get_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", "k8spodsecurity",
                                             gk.constraint_name("audit"))  # fmt: skip
    status = cast(dict[str, Any], found).get("status", {})
    return {v["name"]: v["message"] for v in status.get("violations") or []} if "auditTimestamp" in status else {}


@pytest.fixture(scope="module")
def bundle(binaries: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bundle-modes")
    rendered = folder / "gatekeeper"
    write_tree(rendered, gk.gatekeeper_bundle(CONFIG, source="the sample configuration", exclusions=EXCLUSIONS))
    args = ("--disable-admission-plugins=PodSecurity",)
    with LocalCluster(binaries["etcd"], binaries["kube-apiserver"], apiserver_args=args, users=USERS) as cluster:
        _prepare(cluster, psa=False)
        cluster.start_gatekeeper(binaries["gatekeeper"], audit_interval=5)
        cluster.apply_bundle(rendered, kubectl=binaries["kubectl"])
        answers, _ = _run_cases(cluster, BUNDLE_CASES, _bundle_denial, _bundle_warning)
        # Audit: each CREATE the bundle admits, made for real under its own name, then Gatekeeper's audit of them.
        creates = {c.name: c for c in BUNDLE_CASES if c.operation == "CREATE" and answers[c.name].denial is None}
        for name, case in creates.items():
            obj = gk._in_namespace(case.request().obj, case.namespace)
            obj["metadata"]["name"] = name
            status, message, _, _ = _call(_client(cluster, case.username), "POST", _path(case), obj, dry=False)
            assert status == 201, (name, message)
        started = time.monotonic()
        settled = lambda: bool(_audit_listing(cluster)) and time.monotonic() - started > 12  # noqa: E731
        cluster.wait_until("Gatekeeper's audit of the stored objects", settled, timeout=180)
        listing, whole = _audit_listing(cluster), _audited_details(cluster)
        yield {"answers": answers, "audited": {n: (listing.get(n), whole.get(n)) for n in creates}}


def test_enforce_and_warn_agree_between_built_in_psa_and_the_bundle(
    psa: dict[str, Answer], bundle: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = []
    for case in BUNDLE_CASES:
        want, ours = _expected(case, bundle=True), bundle["answers"][case.name]
        assert (ours.denial, ours.warnings) == (want.denial, want.warnings), ("bundle", case.name)
        if case in CASES:
            psas, theirs = _expected(case), psa[case.name]
            assert (theirs.denial, theirs.warnings) == (psas.denial, psas.warnings), ("PSA", case.name)
            assert theirs.audit == psas.audit, ("PSA audit", case.name)
            if case.group == "exclusions":  # what PSA cannot express: it judges both Pods of each pair
                assert theirs.denial is not None, case.name
        verdict = "denied" if want.denial else "allowed"
        built_in = "-" if case not in CASES else "denied" if psa[case.name].denial else "allowed"
        rows.append(f"{case.name:<38}{case.namespace:<26}{case.username:<18}{case.operation:<7}{built_in:<8}"
                    f"{verdict:<8}{len(want.warnings)} warning(s)  audit: {'yes' if want.audit else 'no'}")  # fmt: skip
    with capsys.disabled():
        print(
            f"\n{len(BUNDLE_CASES)} requests ({len(CASES)} to built-in PSA too): each judge agrees with "
            "generator.policy.admission (columns: case, namespace, user, operation, built-in PSA, the bundle "
            "with its exclusions, the bundle's warnings and audit):\n  " + "\n  ".join(rows)
        )


def test_audit_agrees_except_for_who_made_the_object(psa: dict[str, Answer], bundle: dict[str, Any]) -> None:
    """Gatekeeper's audit judges stored objects, as PSA's audit mode judges requests; only an exemption by user
    cannot carry over (a stored object does not say who created it), and the listing shows that difference."""
    audited = bundle["audited"]
    assert audited, "no object was stored to audit"
    for name, (listed, whole) in audited.items():
        case = next(c for c in BUNDLE_CASES if c.name == name)
        want = _expected(case, bundle=True).audit
        if case.username == gk.EXEMPT_USER:
            assert psa[name].audit is None and whole is not None, name  # the one difference, made visible
            continue
        if case in CASES and case.group == "admission":
            assert psa[name].audit == want, name
        assert whole == want, name  # the audit's details, in PSA's words
        assert listed == (None if want is None else _cut(want)), name  # the status, as Gatekeeper cuts it
