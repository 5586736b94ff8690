"""``pssgen check --namespace-labels``: each object judged as PSA would judge it in its namespace.

The enforce, audit and warn level/version come from the Namespace's
``pod-security.kubernetes.io`` labels, resolved as PSA resolves them
(``generator.namespaces``, tested on its own in test_namespaces.py); objects
elsewhere take ``--level``/``--version`` for enforce and privileged:latest for
audit and warn. The exit code follows enforce only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.engines import ENGINE_NAMES, PythonEngine, Request
from generator.manifests import ReadError, read_text
from generator.manifests import pieces as manifests
from generator.policy.model import Result
from generator.policy.namespaces import default_policy
from generator.policy.versions import LATEST, Version, parse_version
from generator.scan import Outcome, Policies, might_hold, scan

P = "pod-security.kubernetes.io/"


def namespace(name: str, **labels: str) -> str:
    rendered = ", ".join(f"{P}{key.replace('_', '-')}: {value}" for key, value in labels.items())
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{{rendered}}}\n"


def pod(name: str, ns: str | None, spec: str = "containers: [{name: c, image: nginx}]") -> str:
    where = f", namespace: {ns}" if ns else ""
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}{where}}}\nspec: {{{spec}}}\n"


RESTRICTED_OK = (
    "securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}, containers: "
    "[{name: c, image: nginx, securityContext: {allowPrivilegeEscalation: false, "
    "capabilities: {drop: [ALL]}}}]"
)
BASELINE_ONLY = "containers: [{name: c, image: nginx}]"  # allowed at baseline, not at restricted
HOST_PID = "hostPID: true, containers: [{name: c, image: nginx}]"  # denied at baseline


def docs(*parts: str) -> str:
    return "---\n".join(parts)


def check(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def check_json(*args: str, stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    code, out, _ = check(*args, "--output", "json", stdin=stdin)
    return code, json.loads(out)


def by_name(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in payload["results"]}


# ---------------------------------------------------------------- levels and versions per namespace


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_labels_pick_level_and_version_per_namespace(engine: str) -> None:
    text = docs(
        namespace("strict", enforce="restricted", enforce_version="v1.30"),
        namespace("base", enforce="baseline"),
        namespace("open", enforce="privileged"),
        pod("a", "strict", BASELINE_ONLY),
        pod("b", "base", BASELINE_ONLY),
        pod("c", "open", HOST_PID),
        pod("d", "base", HOST_PID),
    )
    code, payload = check_json("-", "--namespace-labels", "--engine", engine, stdin=text)
    assert code == 1
    results = by_name(payload)
    assert {n: (r["level"], r["version"], r["allowed"]) for n, r in results.items() if n in "abcd"} == {
        "a": ("restricted", "v1.30", False),
        "b": ("baseline", "latest", True),
        "c": ("privileged", "latest", True),
        "d": ("baseline", "latest", False),
    }
    assert results["a"]["policy"] == {
        "source": "namespace",
        "enforce": "restricted:v1.30",
        "audit": "privileged:latest",
        "warn": "restricted:v1.30",
    }
    assert results["a"]["enforce"]["message"].startswith(
        'pods "a" is forbidden: violates PodSecurity "restricted:v1.30": '
    )
    assert payload["namespace_labels"]["source"] == "input"
    assert sorted(payload["namespace_labels"]["namespaces"]) == ["base", "open", "strict"]
    assert payload["level"] == "restricted" and payload["version"] == "latest"  # the contract's keys: the defaults


def test_objects_elsewhere_use_the_defaults() -> None:
    text = docs(
        namespace("strict", enforce="restricted"),
        pod("free", None, HOST_PID),
        pod("lost", "nowhere", HOST_PID),
        pod("fine", None, BASELINE_ONLY),
    )
    code, payload = check_json("-", "--namespace-labels", "--level", "baseline", "--version", "v1.25", stdin=text)
    assert code == 1
    results = by_name(payload)
    for name in ("free", "lost", "fine"):
        assert results[name]["policy"] == {
            "source": "default",
            "enforce": "baseline:v1.25",
            "audit": "privileged:latest",
            "warn": "privileged:latest",
        }
    assert [results[n]["allowed"] for n in ("free", "lost", "fine")] == [False, False, True]


def test_a_namespace_read_after_its_objects() -> None:
    """Namespaces come last in `kubectl get pods,ns -A`: the input is read twice (stdin kept once)."""
    text = docs(pod("early", "strict", BASELINE_ONLY), namespace("strict", enforce="restricted"))
    code, payload = check_json("-", "--namespace-labels", "--level", "baseline", stdin=text)
    assert code == 1
    assert by_name(payload)["early"]["level"] == "restricted"


def test_a_namespace_takes_effect_where_kubectl_applies_it(tmp_path: Path) -> None:
    """Relabelling a Namespace after its Pods cannot change their verdict: each is judged as it stood before them."""
    text = docs(
        namespace("shop", enforce="restricted"),
        pod("before", "shop", BASELINE_ONLY),
        namespace("shop", enforce="baseline"),
        pod("after", "shop", BASELINE_ONLY),
    )
    code, payload = check_json("-", "--namespace-labels", "--level", "privileged", stdin=text)
    assert code == 1
    assert by_name(payload)["before"]["level"] == "restricted" and by_name(payload)["before"]["allowed"] is False
    assert by_name(payload)["after"]["level"] == "baseline" and by_name(payload)["after"]["allowed"] is True
    # The same across files, in the order they are read: a.yaml's Pod stands before b.yaml's relabelling.
    (tmp_path / "a.yaml").write_text(docs(namespace("shop", enforce="restricted"), pod("first", "shop", BASELINE_ONLY)))
    (tmp_path / "b.yaml").write_text(docs(namespace("shop", enforce="baseline"), pod("second", "shop", BASELINE_ONLY)))
    for jobs in ("1", "2"):
        code, payload = check_json(str(tmp_path), "--namespace-labels", "--level", "privileged", "--jobs", jobs)
        assert (by_name(payload)["first"]["level"], by_name(payload)["second"]["level"]) == ("restricted", "baseline")


def test_a_namespace_with_items_is_a_list_and_sets_no_labels() -> None:
    """kubectl reads any object with items as a List: such a "Namespace" is never applied, its labels never count."""
    text = docs(namespace("open", enforce="privileged") + "items: []\n", pod("host", "open", HOST_PID))
    code, payload = check_json("-", "--namespace-labels", "--level", "baseline", stdin=text)
    assert code == 1
    assert by_name(payload)["host"]["level"] == "baseline" and by_name(payload)["host"]["allowed"] is False
    assert payload["namespace_labels"]["namespaces"] == {}


def test_a_deployment_in_a_restricted_namespace() -> None:
    """PSA never enforces on workloads (it warns and audits them); pssgen judges them by enforce all the same."""
    deployment = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: strict}\n"
        "spec: {template: {spec: {containers: [{name: app, image: nginx}]}}}\n"
    )
    text = docs(namespace("strict", enforce="restricted", audit="restricted"), deployment)
    code, out, _ = check("-", "--namespace-labels", "--level", "privileged", stdin=text)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(
        '<stdin>: document 1: deployments.apps "api": would violate PodSecurity '
        '"restricted:latest": allowPrivilegeEscalation != false'
    )
    assert not any(line.startswith("warning:") for line in lines)  # the same words as the line above: said once
    code, payload = check_json("-", "--namespace-labels", "--level", "privileged", stdin=text)
    api = by_name(payload)["api"]
    assert api["enforce"]["allowed"] is False and api["audit"]["allowed"] is False
    assert api["warn"]["message"].startswith(
        'would violate PodSecurity "restricted:latest": '
    )  # PSA warns on workloads


# ---------------------------------------------------------------- warn and audit


def test_warn_and_audit_are_reported_and_the_exit_code_follows_enforce() -> None:
    text = docs(
        namespace("shop", enforce="baseline", warn="restricted", warn_version="v1.29", audit="restricted"),
        pod("web", "shop", BASELINE_ONLY),
        pod("ok", "shop", RESTRICTED_OK),
    )
    code, out, err = check("-", "--namespace-labels", stdin=text)
    assert code == 0, out + err  # only warn and audit object: enforce (baseline) allows both
    (warning,) = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warning.startswith(
        'warning: <stdin>: document 1: pods "web": would violate PodSecurity '
        '"restricted:v1.29": allowPrivilegeEscalation != false'
    )
    assert out.splitlines()[-1] == (
        "3 objects: 2 allowed, 0 denied, 1 skipped, 0 errors, 1 warnings (1 Namespaces "
        "read from the input; elsewhere restricted:latest; engine python)"
    )
    code, payload = check_json("-", "--namespace-labels", stdin=text)
    web = by_name(payload)["web"]
    assert web["allowed"] is True and web["violations"] == []
    assert web["warn"]["level"] == "restricted" and web["warn"]["version"] == "v1.29"
    assert web["warn"]["allowed"] is False and web["warn"]["message"].startswith(
        'would violate PodSecurity "restricted:v1.29": '
    )
    assert web["audit"]["version"] == "latest" and [v["check"] for v in web["audit"]["violations"]] == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "runAsNonRoot",
        "seccompProfile_restricted",
    ]
    ok = by_name(payload)["ok"]
    assert ok["warn"] == {"level": "restricted", "version": "v1.29", "allowed": True, "violations": []}


def test_a_pod_enforce_denies_gets_no_warning() -> None:
    """PSA adds no warning to a request it rejects."""
    text = docs(namespace("shop", enforce="baseline", warn="restricted"), pod("bad", "shop", HOST_PID))
    code, payload = check_json("-", "--namespace-labels", stdin=text)
    assert code == 1
    bad = by_name(payload)["bad"]
    assert bad["enforce"]["allowed"] is False and bad["warn"] is None
    assert bad["audit"] == {"level": "privileged", "version": "latest", "allowed": True, "violations": []}


def test_warn_follows_a_stricter_enforce() -> None:
    text = docs(namespace("shop", enforce="restricted", enforce_version="v1.25"), pod("web", "shop", RESTRICTED_OK))
    _, payload = check_json("-", "--namespace-labels", stdin=text)
    assert by_name(payload)["web"]["policy"]["warn"] == "restricted:v1.25"


# ---------------------------------------------------------------- invalid labels


def test_invalid_labels_are_one_error_each_and_objects_are_judged_as_psa_would() -> None:
    text = docs(
        namespace("typo", enforce="strict"),
        namespace("old", enforce="baseline", enforce_version="v1.05", audit="loud"),
        pod("a", "typo", BASELINE_ONLY),
        pod("b", "old", BASELINE_ONLY),
    )
    code, _, err = check("-", "--namespace-labels", stdin=text)
    assert code == 2  # the API server refuses such Namespaces
    assert err.splitlines() == [
        'error: <stdin>: document 0: Namespace "typo": metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted (its '
        "objects are judged as PSA would: enforce=restricted:latest, audit=privileged:latest, "
        "warn=privileged:latest)",
        'error: <stdin>: document 1: Namespace "old": metadata.labels[pod-security.kubernetes.io/enforce-version]: '
        'Invalid value: "v1.05": must be "latest" or "v1.x"; '
        'metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "loud": must be one '
        "of privileged, baseline, restricted (its objects are judged as PSA would: enforce=baseline:latest, "
        "audit=privileged:latest, warn=baseline:latest)",  # warn follows the stricter enforce, as in PSA
    ]
    code, payload = check_json("-", "--namespace-labels", stdin=text)
    results = by_name(payload)
    assert (results["a"]["level"], results["a"]["allowed"]) == ("restricted", False)  # an invalid enforce: restricted
    assert (results["b"]["level"], results["b"]["version"], results["b"]["allowed"]) == ("baseline", "latest", True)
    assert len(results["a"]["policy"]["errors"]) == 1  # as PSA's `error` audit annotation on each request
    assert [e["document"] for e in payload["errors"]] == [0, 1]


def test_labels_that_are_fine_are_no_error() -> None:
    text = docs(
        namespace(
            "shop",
            enforce="baseline",
            enforce_version="v1.37",
            audit="restricted",
            warn="restricted",
            warn_version="latest",
        ),
        pod("a", "shop"),
    )
    code, _, err = check("-", "--namespace-labels", stdin=text)
    assert code == 0 and err == ""


# ---------------------------------------------------------------- Namespaces from a file


def test_namespaces_from_a_separate_file(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(
        "apiVersion: v1\nitems:\n"
        + "".join(
            "- " + namespace(n, **labels).replace("\n", "\n  ").rstrip() + "\n"
            for n, labels in [("strict", {"enforce": "restricted"}), ("typo", {"warn": "nope"})]
        )
        + "kind: List\n"
    )
    (tmp_path / "app.yaml").write_text(
        docs(
            pod("a", "strict", BASELINE_ONLY),
            namespace("strict", enforce="privileged"),
            pod("b", "typo", BASELINE_ONLY),
        )
    )
    for option in ([f"--namespace-labels={tmp_path / 'ns.yaml'}"], ["--namespace-labels", str(tmp_path / "ns.yaml")]):
        code, payload = check_json(*option, str(tmp_path / "app.yaml"), "--level", "baseline")
        assert code == 2
        results = by_name(payload)
        assert results["a"]["level"] == "restricted"  # the file's Namespace, not the input's
        assert results["b"]["policy"]["warn"] == "privileged:latest"
        assert [(e["source"], e["item"]) for e in payload["errors"]] == [(str(tmp_path / "ns.yaml"), 1)]
        assert payload["namespace_labels"]["source"] == str(tmp_path / "ns.yaml")


def test_namespaces_file_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(pod("a", "shop"))
    code, _, err = check(str(tmp_path / "app.yaml"), f"--namespace-labels={tmp_path / 'missing.yaml'}")
    assert code == 2 and err == f"error: {tmp_path / 'missing.yaml'}: no such file or directory\n"
    code, _, err = check("-", "--namespace-labels=-", stdin=pod("a", "shop"))
    assert code == 2 and "stdin cannot be both the input and the Namespaces" in err


def test_without_the_option_nothing_changes() -> None:
    text = docs(namespace("strict", enforce="restricted"), pod("a", "strict", BASELINE_ONLY))
    code, payload = check_json("-", "--level", "baseline", stdin=text)
    assert code == 0
    (result,) = [r for r in payload["results"] if r["kind"] == "Pod"]
    assert "policy" not in result and "warn" not in result and "namespace_labels" not in payload


def test_jobs_give_the_same_report(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_text(
        docs(
            *[pod(f"p{i}", ["strict", "base", "none"][i % 3], BASELINE_ONLY) for i in range(30)],
            namespace("strict", enforce="restricted"),
            namespace("base", enforce="baseline", warn="restricted"),
        )
    )
    alone = check(str(path), "--namespace-labels", "--output", "json")
    pieces = check(str(path), "--namespace-labels", "--output", "json", "--jobs", "2")
    assert alone == pieces and alone[0] == 1


# ---------------------------------------------------------------- the library: one engine call per batch


class Recording(PythonEngine):
    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        self.calls.append([(level, str(version)) for _, level, version in requests])
        return super().evaluate_many(requests)


def scanned(text: str, engine: PythonEngine, batch: int = 500) -> list[Outcome | ReadError]:
    policies = Policies(default_policy("baseline", Version(30)))
    policies.read(read_text("ns", text.encode(), kinds={"Namespace"}))
    return list(scan(read_text("in", text.encode()), engine, "baseline", Version(30), batch, policies=policies))


def test_every_mode_is_an_engine_request_asked_once_per_level_and_version() -> None:
    text = docs(
        namespace("shop", enforce="restricted", enforce_version="latest", audit="restricted", warn="baseline"),
        *[pod(f"p{i}", "shop" if i % 2 else None) for i in range(5)],
    )
    engine = Recording()
    outcomes = [o for o in scanned(text, engine, batch=2) if isinstance(o, Outcome) and not o.skipped]
    assert len(engine.calls) == 3  # batches of two objects, and the last one
    assert engine.calls[0] == [
        ("baseline", "v1.30"),
        ("privileged", "latest"),  # p0: the defaults
        ("restricted", "latest"),
        ("baseline", "latest"),
    ]  # p1: enforce and audit are one
    shop = [o for o in outcomes if o.namespace == "shop"]
    assert all(o.audit is not None and o.audit.level == "restricted" for o in shop)
    assert all(o.warn is None for o in shop)  # denied at enforce: no warning


def test_policies_lookup() -> None:
    policies = Policies(default_policy("restricted", LATEST))
    assert policies.lookup(None).source == "default" and policies.lookup("x").source == "default"
    errors = policies.read(read_text("ns", namespace("x", enforce="baseline", enforce_version="v1.2").encode()))
    assert errors == []
    applied = policies.lookup("x")
    assert applied.source == "namespace" and str(applied.policy.enforce) == "baseline:v1.2"
    assert parse_version("v1.2") == applied.policy.enforce.version


# ---------------------------------------------------------------- the first reading skims


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("kind: Namespace", True),
        ("schedule: '*/15 * * * *'", False),  # quoted stars are no alias
        ('note: "say \\"hi\\""', False),  # escaped quotes spell no letters
        ('kind: "Name\\x73pace"', True),
        ('kind: "Name\\\nspace"', True),  # an escaped line break joins the halves
        ("kind: *k", True),
        ("data: !!binary TmFtZXNwYWNl", True),
        ("kind: Pod", False),
    ],
)
def test_what_might_hold_a_namespace(text: str, holds: bool) -> None:
    assert might_hold(text.encode(), {"Namespace"}) is holds


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_namespaces_written_otherwise_are_found(jobs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skimming skips only text that cannot hold a Namespace; escapes and aliases are read (whole, if need be)."""
    monkeypatch.setattr(manifests, "PIECE_SIZE", 1024)

    def listed(text: str) -> str:
        return "- " + text.rstrip().replace("\n", "\n  ") + "\n"

    pods = [listed(pod(f"p{i}", ["hex", "alias"][i % 2], BASELINE_ONLY)) for i in range(40)]
    hex_ns = listed(namespace("hex", enforce="restricted").replace("kind: Namespace", 'kind: "Name\\x73pace"'))
    anchor = listed(pod("anchor", None).replace("name: anchor", "name: anchor, note: &nk Namespace"))
    alias_ns = listed(namespace("alias", enforce="restricted").replace("kind: Namespace", "kind: *nk"))
    path = tmp_path / "export.yaml"
    path.write_text("apiVersion: v1\nitems:\n" + anchor + "".join(pods) + hex_ns + alias_ns + "kind: List\n")
    code, payload = check_json(str(path), "--namespace-labels", "--level", "baseline", "--jobs", jobs)
    assert code == 1
    assert sorted(payload["namespace_labels"]["namespaces"]) == ["alias", "hex"]
    assert {r["level"] for r in payload["results"] if r["name"].startswith("p")} == {"restricted"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_relabelling_in_a_skimmed_region_stays_after_its_pods(
    jobs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first reading skips pieces with no Namespace in them; the Namespaces after them keep their place."""
    monkeypatch.setattr(manifests, "PIECE_SIZE", 200)
    filler = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: filler-{}}}\ndata: {{x: '{}'}}\n"
    parts = [namespace("shop", enforce="restricted") + "# " + "p" * 250 + "\n"]
    parts += [filler.format(i, "a" * 200) for i in range(3)]
    parts += [pod("web", "shop", BASELINE_ONLY), namespace("shop", enforce="privileged")]
    path = tmp_path / "in-order.yaml"
    path.write_text(docs(*parts))
    code, payload = check_json(str(path), "--namespace-labels", "--level", "privileged", "--jobs", jobs)
    assert code == 1
    assert by_name(payload)["web"]["level"] == "restricted"
