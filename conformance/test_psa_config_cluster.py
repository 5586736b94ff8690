"""PSA's configuration file, read by pssgen as the API server reads it, proven against a live kube-apiserver.

- Bad files: for each, kube-apiserver is started with it as ``--admission-control-config-file`` and refuses to
  start; ``pssgen check --psa-config`` refuses it with the same words (the part of the message that is PSA's).
- A good file (defaults, and each kind of exemption): kube-apiserver runs with it; for namespaces labelled in
  several ways, objects (privileged, an exempt runtime class, compliant, a workload) and two users (one exempt),
  every verdict, denial message and warning the API server gives, ``pssgen check --psa-config FILE
  --namespace-labels NS [--username U]`` gives offline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from generator import tools
from generator.engines.cluster import ClusterError, LocalCluster
from generator.engines.live import dry_run, object_path
from generator.manifests.psa_config import read_psa_config
from generator.policy.admission import Request, admit

pytestmark = [pytest.mark.tools, pytest.mark.slow]

PSSGEN = str(Path(sys.executable).with_name("pssgen"))
PSA = "pod-security.kubernetes.io"
EXEMPT_USER = "ci-bot"
_PSC = {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration"}


def _admission(configuration: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    psc = {**_PSC, "apiVersion": f"pod-security.admission.config.k8s.io/{version}", **configuration}
    plugins = [{"name": "PodSecurity", "configuration": psc}]
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration", "plugins": plugins}


BAD = {
    "levels-and-versions": {
        "defaults": {"enforce": "strict", "enforce-version": "v1.024", "warn": "Baseline", "audit-version": "1.2"}
    },
    "one-bad-level": {"defaults": {"audit": "baseline ", "warn-version": "latest"}},
    "exemptions": {
        "exemptions": {
            "usernames": ["", "a", "a"],
            "runtimeClasses": ["Bad_Name", "kata", "kata", "r" * 254],
            "namespaces": ["kube-system", "UPPER", "kube-system", "n" * 64, "-x", "a.b"],
        }
    },
    "unknown-fields": {"defaults": {"enforce": "baseline", "enforc": "x"}, "exemption": {}},
}
_APISERVER_ERROR = re.compile(r'err="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def binaries() -> tuple[Path, Path]:
    try:
        return tools.require(tools.ETCD), tools.require(tools.KUBE_APISERVER)
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_file_the_api_server_refuses_is_refused_with_its_words(
    name: str, binaries: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "admission.yaml"
    path.write_text(yaml.safe_dump(_admission(BAD[name]), sort_keys=False))
    monkeypatch.setattr("generator.engines.cluster.LOG_TAIL_LINES", 50)
    with pytest.raises(ClusterError) as refused:
        LocalCluster(*binaries, apiserver_args=(f"--admission-control-config-file={path}",)).start()
    found = _APISERVER_ERROR.search(str(refused.value))
    assert found, str(refused.value)
    theirs = json.loads(f'"{found.group(1)}"').split('admission plugin "PodSecurity": ', 1)[1]
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
    proc = subprocess.run(
        [PSSGEN, "check", str(pod), "--psa-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line == f"pssgen: error: {path}: plugins[PodSecurity].configuration: {theirs}"


def test_every_config_version_reads_the_same(tmp_path: Path) -> None:
    # v1, v1beta1 and v1alpha1 of PodSecurityConfiguration are one type (no field differs): the same file in each.
    body = {"defaults": {"enforce": "baseline", "warn": "restricted"}, "exemptions": {"namespaces": ["legacy"]}}
    read = []
    for version in ("v1", "v1beta1", "v1alpha1"):
        path = tmp_path / f"{version}.yaml"
        path.write_text(yaml.safe_dump(_admission(body, version)))
        read.append(read_psa_config(path))
    assert read[0] == read[1] == read[2]
    assert str(read[0].defaults.enforce) == "baseline:latest" and read[0].namespaces == ("legacy",)


GOOD = {
    "defaults": {"enforce": "baseline", "warn": "restricted", "audit": "restricted", "audit-version": "v1.30"},
    "exemptions": {"usernames": [EXEMPT_USER], "runtimeClasses": ["kata"], "namespaces": ["legacy"]},
}
NAMESPACES = {
    "unlabelled": {},
    "legacy": {f"{PSA}/enforce": "restricted"},  # exempt, whatever its labels say
    "strict": {f"{PSA}/enforce": "restricted", f"{PSA}/enforce-version": "v1.24"},
    "future": {f"{PSA}/enforce": "baseline", f"{PSA}/enforce-version": "v1.99", f"{PSA}/warn": "baseline"},
    "open": {f"{PSA}/enforce": "privileged", f"{PSA}/warn": "baseline", f"{PSA}/warn-version": "v1.0"},
}


def _pod(name: str, runtime_class: str | None = None, **security: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "registry.k8s.io/pause:3.10"}
    if security:
        container["securityContext"] = security
    spec: dict[str, Any] = {"containers": [container]}
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


OBJECTS = [
    _pod("privileged", privileged=True),
    _pod("kata", "kata", privileged=True),
    _pod("plain"),
    _pod(
        "hardened",
        allowPrivilegeEscalation=False,
        runAsNonRoot=True,
        capabilities={"drop": ["ALL"]},
        seccompProfile={"type": "RuntimeDefault"},
    ),
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": _pod("t", privileged=True)["spec"]},
        },
    },
]


@pytest.fixture(scope="module")
def configured(
    binaries: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCluster, Path]]:
    folder = tmp_path_factory.mktemp("psa-config")
    path = folder / "admission.yaml"
    path.write_text(yaml.safe_dump(_admission(GOOD), sort_keys=False))
    args = (f"--admission-control-config-file={path}",)
    with LocalCluster(*binaries, apiserver_args=args, users=(EXEMPT_USER,)) as cluster:
        api = cluster.api_client()
        rbac = k8s.RbacAuthorizationV1Api(api)
        rbac.create_cluster_role_binding(
            cast(
                Any,
                {
                    "metadata": {"name": EXEMPT_USER},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "User", "name": EXEMPT_USER, "apiGroup": "rbac.authorization.k8s.io"}],
                },
            )
        )
        k8s.NodeV1Api(api).create_runtime_class(cast(Any, {"metadata": {"name": "kata"}, "handler": "kata"}))
        for name, labels in NAMESPACES.items():
            cluster.ensure_namespace(name, labels or None)
        yield cluster, path


def _cluster_answers(cluster: LocalCluster, user: str | None) -> dict[tuple[str, str], tuple[bool, str, list[str]]]:
    """(namespace, object name) -> (admitted, denial message, PodSecurity warnings), asked of the API server."""
    api = (
        cluster.api_client()
        if user is None
        else k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig), context=user)  # type: ignore[no-untyped-call]
    )
    answers = {}
    for namespace in NAMESPACES:
        for obj in OBJECTS:
            path = object_path(obj, namespace)
            assert path is not None
            answer = dry_run(api, path, {**obj, "metadata": {**obj["metadata"], "namespace": namespace}})
            assert answer.status in (201, 403), answer
            warnings = [w for w in answer.warnings if "PodSecurity" in w]
            answers[(namespace, obj["metadata"]["name"])] = (answer.status == 201, answer.message, warnings)
    return answers


def _pssgen_answers(config: Path, folder: Path, user: str | None) -> dict[tuple[str, str], tuple[bool, str, list[str]]]:
    """The same, from ``pssgen check --psa-config --namespace-labels`` (a workload: only its warning, as PSA)."""
    objects = folder / "objects.yaml"
    objects.write_text(
        yaml.safe_dump_all(
            [{**obj, "metadata": {**obj["metadata"], "namespace": ns}} for ns in NAMESPACES for obj in OBJECTS]
        )
    )
    namespaces = folder / "namespaces.yaml"
    namespaces.write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, **({"labels": lb} if lb else {})}}
                for ns, lb in NAMESPACES.items()
            ]
        )
    )
    command = [
        PSSGEN,
        "check",
        str(objects),
        "--psa-config",
        str(config),
        f"--namespace-labels={namespaces}",
        "--output",
        "json",
        *(["--username", user] if user else []),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    answers = {}
    for entry in json.loads(proc.stdout)["results"]:
        warn = entry.get("warn") or {}
        warning = (
            [f'would violate PodSecurity "{warn["level"]}:{warn["version"]}": {_detail(warn)}']
            if (warn and not warn["allowed"])
            else []
        )
        if entry["kind"] == "Pod":
            enforce = entry["enforce"]
            answers[(entry["namespace"], entry["name"])] = (
                enforce["allowed"],
                enforce.get("message", ""),
                [] if not enforce["allowed"] else warning,
            )
        else:  # PSA never rejects a workload: its verdict is the warning
            answers[(entry["namespace"], entry["name"])] = (True, "", warning)
    return answers


def _detail(result: dict[str, Any]) -> str:
    return ", ".join(f"{v['reason']} ({v['detail']})" if v["detail"] else v["reason"] for v in result["violations"])


@pytest.mark.parametrize("user", [None, EXEMPT_USER], ids=["admin", "exempt-user"])
def test_offline_check_with_the_file_judges_as_the_configured_api_server(
    configured: tuple[LocalCluster, Path], user: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, config = configured
    live = _cluster_answers(cluster, user)
    offline = _pssgen_answers(config, tmp_path, user)
    assert offline == live
    rows = [
        f"{ns:<11}{name:<11}{'admitted' if ok else 'denied':<9}{len(w)} warning(s)"
        for (ns, name), (ok, _, w) in sorted(live.items())
    ]
    with capsys.disabled():
        print(f"\nuser {user or 'admin'}: {len(live)} requests agree\n  " + "\n  ".join(rows))
    denied = [key for key, (ok, _, _) in live.items() if not ok]
    assert (denied == []) == (user == EXEMPT_USER)  # the exempt user is never judged; others are


@pytest.mark.parametrize("user", [None, EXEMPT_USER], ids=["admin", "exempt-user"])
def test_the_admission_model_the_bundle_is_held_to_answers_as_the_api_server(
    configured: tuple[LocalCluster, Path], user: str | None
) -> None:
    """generator.policy.admission, which the Gatekeeper bundle's suite and Rego are checked against, gives each
    request the API server's own denial and warning, word for word."""
    cluster, path = configured
    config = read_psa_config(path)
    live = _cluster_answers(cluster, user)
    for obj in OBJECTS:
        for namespace, labels in NAMESPACES.items():
            request = Request({**obj, "metadata": {**obj["metadata"], "namespace": namespace}}, namespace,
                              username=user or "system:admin")  # fmt: skip
            decision = admit(request, labels, config)
            admitted, message, warnings = live[(namespace, obj["metadata"]["name"])]
            where = (namespace, obj["metadata"]["name"])
            assert admitted == decision.allowed, where
            if decision.denial is not None:
                assert message.endswith(f": {decision.denial}"), (where, message, decision.denial)
            assert warnings == ([decision.warning] if decision.warning else []), where
