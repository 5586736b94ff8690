"""The rendered admission library (out/rego/lib/pss/admission.rego) in the pinned OPA, against Python and PSA.

Label resolution is compared with ``policy_from_labels`` over every combination of each mode's level and version
labels, and ``policy_from_labels`` with upstream's own ``api.PolicyToEvaluate`` on the same label sets
(conformance/psa_labels, built on the oracle's go.mod), so the Rego is held to PSA itself; exemptions are compared
with ``PsaConfiguration.exempt_request``, and messages with the PSA oracle's verdicts: the violations come from
upstream's evaluator, the Rego words them from its own evaluation. A few cases are written out by hand from
upstream's source, so that Python and Rego agreeing on a wrong answer still fails.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from generator.engines.opa_server import OpaServer
from generator.parity.fixtures import project_corpus
from generator.parity.oracle import Oracle
from generator.policy.namespaces import (
    LevelVersion,
    NamespacePolicy,
    level_label,
    policy_data,
    policy_from_labels,
    version_label,
)
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration
from generator.policy.versions import LATEST, Version
from generator.render.rego import rego_modules

ROOT = Path(__file__).resolve().parents[1]

PROBE = """package pssgen_admission_probe

import data.lib.pss.admission
import data.lib.pss.levels

policies := [admission.policy_to_evaluate(c.labels, c.defaults) | some c in input.cases]

exemptions := [admission.exemption(r, input.exemptions) | some r in input.requests]

# From labels to words, as a namespace-aware policy will run it: resolve, evaluate each mode, word it.
verdicts := [_verdict(c) | some c in input.cases]

_verdict(c) := {mode: _words(c.object, mode, policy[mode]) | some mode in ["enforce", "audit", "warn"]} if {
	policy := admission.policy_to_evaluate(c.labels, c.defaults)
}

_words(obj, mode, lv) := admission.message(mode, lv, result.violations) if {
	result := levels.evaluate(obj, lv.level, lv.version)
	not result.allowed
} else := null
"""

P = "pod-security.kubernetes.io/"
ABSENT = object()  # the label is not set
LEVEL_VALUES: tuple[Any, ...] = (ABSENT, "privileged", "baseline", "restricted", "strict", "")
# valid, old, above the newest, invalid (a leading zero), and "latest"
VERSION_VALUES: tuple[Any, ...] = (ABSENT, "v1.25", "v1.0", "v1.99", "v1.05", "latest")
# Version strings at the edges of ParseVersion: its regexp (anchored, ASCII digits, no leading zero) and Atoi's range.
ODD_VERSIONS = (
    "v1.9223372036854775807",
    "v1.9223372036854775808",
    "v1.99999999999999999999",
    "v1.10000000000000000000",
    "v1.0000000000000000001",
    "V1.2",
    "v1.2 ",
    " v1.2",
    "v1.2\n",
    "v2.0",
    "v1.",
    "1.2",
    "v1.2.3",
    "v1.-1",
    "v1.+2",
    "v1.\u0662",
    "LATEST",
    "Latest",
    "",
)
ODD_LEVELS = ("Baseline", "RESTRICTED", "restricted ", "\u00a0baseline", 'pri"vileged', "priv\\ileged", "\u2028")


def lv(level: str, version: Version = LATEST) -> LevelVersion:
    return LevelVersion(level, version)


DEFAULTS = (
    PSA_DEFAULTS.defaults,  # no configuration file: privileged:latest everywhere
    NamespacePolicy(lv("baseline", Version(30)), lv("restricted"), lv("privileged")),
    NamespacePolicy(lv("restricted", Version(99)), lv("baseline", Version(0)), lv("baseline", Version(20))),
    NamespacePolicy(lv("privileged"), lv("privileged"), lv("restricted", Version(25))),  # warn stricter than enforce
)


def _labels(values: Mapping[str, Any]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not ABSENT}


def label_matrix() -> Iterator[dict[str, str]]:
    """Every combination of the six labels' values: 36 per mode, 46,656 in all."""
    keys = [key for mode in ("enforce", "audit", "warn") for key in (level_label(mode), version_label(mode))]
    options = [LEVEL_VALUES if i % 2 == 0 else VERSION_VALUES for i in range(len(keys))]
    for values in itertools.product(*options):
        yield _labels(dict(zip(keys, values, strict=True)))


def odd_label_sets() -> Iterator[Any]:
    yield None
    yield {}
    yield {"app": "web", P + "enforcement": "restricted", "pod-security.kubernetes.io": "baseline"}
    for value in ODD_VERSIONS:
        yield {P + "enforce": "restricted", P + "enforce-version": value, P + "warn-version": value}
        yield {P + "audit-version": value}
    for value in ODD_LEVELS:
        yield {P + "enforce": value, P + "audit": value, P + "warn": value}
        yield {P + "enforce": "baseline", P + "warn": value}


def expected_policy(policy: NamespacePolicy) -> dict[str, Any]:
    return {**policy_data(policy), "errors": list(policy.errors)}


@pytest.fixture(scope="module")
def opa() -> Iterator[OpaServer]:
    modules = {path: text for path, text in rego_modules().items() if path.startswith("lib/")}
    with OpaServer() as server:
        server.load_policies({**modules, "probe.rego": PROBE})
        yield server


def _policies(opa: OpaServer, cases: list[dict[str, Any]]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(cases), 10_000):  # bounded requests
        found += opa.query("pssgen_admission_probe/policies", {"cases": cases[start : start + 10_000]})
    return found


@pytest.mark.tools
@pytest.mark.parametrize("defaults", DEFAULTS, ids=["psa-defaults", "baseline-v1.30", "restricted-v1.99", "warn-only"])
def test_policy_to_evaluate_equals_python_on_every_label_combination(opa: OpaServer, defaults: NamespacePolicy) -> None:
    label_sets = [*label_matrix(), *odd_label_sets()]
    data = policy_data(defaults)
    got = _policies(opa, [{"labels": labels, "defaults": data} for labels in label_sets])
    expected = [expected_policy(policy_from_labels(labels, defaults)) for labels in label_sets]
    mismatches = [(labels, g, e) for labels, g, e in zip(label_sets, got, expected, strict=True) if g != e]
    assert not mismatches, f"{len(mismatches)} label sets differ; first: {mismatches[0]}"
    # The matrix reaches every rule: fallbacks, each kind of error, warn following enforce with and without its version.
    assert sum(bool(e["errors"]) for e in expected) > len(label_sets) // 2
    assert any(e["warn"] == e["enforce"] != data["warn"] for e in expected)


@pytest.fixture
def psa_labels(tmp_path: Path, run_bounded: Callable[..., Any]) -> Path:
    """conformance/psa_labels built on the oracle's go.mod and go.sum (the pinned PSA module), in a temporary folder."""
    if shutil.which("go") is None:
        pytest.fail("go is not on PATH (make test builds the PSA oracle with it too)")
    src = tmp_path
    shutil.copy(ROOT / "conformance" / "psa_labels" / "main.go", src / "main.go")
    go_mod = (ROOT / "conformance" / "oracle" / "go.mod").read_text(encoding="utf-8")
    (src / "go.mod").write_text(go_mod.replace("module pssgen.local/oracle", "module pssgen.local/psalabels", 1))
    shutil.copy(ROOT / "conformance" / "oracle" / "go.sum", src / "go.sum")
    env = {**os.environ, "GOFLAGS": "-mod=mod -buildvcs=false"}
    run_bounded(["go", "build", "-o", src / "psa-labels", "."], 600, check=True, cwd=src, env=env)
    return src / "psa-labels"


@pytest.mark.tools
def test_policy_from_labels_equals_upstream_policy_to_evaluate(
    psa_labels: Path, run_bounded: Callable[..., Any]
) -> None:
    label_sets = [labels for labels in [*label_matrix(), *odd_label_sets()] if labels is not None]
    cases = [(labels, defaults) for defaults in DEFAULTS for labels in label_sets]
    lines = "".join(json.dumps({"labels": labels, "defaults": policy_data(d)}) + "\n" for labels, d in cases)
    proc = run_bounded([psa_labels], 600, check=True, input=lines)
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    expected = [expected_policy(policy_from_labels(labels, defaults)) for labels, defaults in cases]
    assert len(got) == len(expected)
    mismatches = [(c[0], g, e) for c, g, e in zip(cases, got, expected, strict=True) if g != e]
    assert not mismatches, f"{len(mismatches)} label sets differ from upstream; first: {mismatches[0]}"
    assert policy_from_labels(None, DEFAULTS[1]) == DEFAULTS[1]  # a namespace without labels: PSA's len(labels) == 0


@pytest.mark.tools
def test_policy_to_evaluate_pins_upstream_rules_written_out(opa: OpaServer) -> None:
    # Read off api/helpers.go's PolicyToEvaluate, not computed: if Python and Rego both drifted, this still fails.
    defaults = {mode: {"level": "baseline", "version": "v1.30"} for mode in ("enforce", "audit", "warn")}
    cases = [
        ({P + "enforce": "strict", P + "audit": "strict", P + "warn": "strict"}, None),
        ({P + "enforce": "restricted", P + "enforce-version": "v1.99"}, None),
        ({P + "enforce": "restricted", P + "warn-version": "v1.2"}, None),
        ({P + "enforce-version": "v1.9223372036854775808"}, None),
    ]
    got = _policies(opa, [{"labels": labels, "defaults": defaults} for labels, _ in cases])
    level_error = (
        'metadata.labels[pod-security.kubernetes.io/{}]: Invalid value: "strict": '
        "must be one of privileged, baseline, restricted"
    )
    assert got[0] == {
        "enforce": {"level": "restricted", "version": "v1.30"},
        "audit": {"level": "privileged", "version": "v1.30"},
        "warn": {"level": "privileged", "version": "v1.30"},
        "errors": [level_error.format(mode) for mode in ("enforce", "audit", "warn")],
    }
    assert got[1]["warn"] == got[1]["enforce"] == {"level": "restricted", "version": "v1.99"}
    assert got[2]["warn"] == {"level": "restricted", "version": "v1.2"}
    assert got[3]["enforce"] == {"level": "baseline", "version": "latest"}
    assert got[3]["errors"] == [
        "metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "
        '"v1.9223372036854775808": must be "latest" or "v1.x"'
    ]


# ---------------------------------------------------------------- exemptions

CONFIG = PsaConfiguration(
    PSA_DEFAULTS.defaults,
    usernames=("system:serviceaccount:ci:deployer", "alice"),
    namespaces=("kube-system", "legacy"),
    runtime_classes=("kata", "gvisor"),
)


def _pod(runtime_class: Any = ABSENT) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    if runtime_class is not ABSENT:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def _objects() -> Iterator[dict[str, Any]]:
    for runtime_class in (ABSENT, "kata", "gvisor", "runc", "", None, "Kata", "kata "):
        pod = _pod(runtime_class)
        yield pod
        template = {"metadata": {}, "spec": pod["spec"]}
        yield {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": template}}
        job = {"spec": {"template": template}}
        yield {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": job}}
        yield {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
    # Kinds PSA does not evaluate have no runtime class, whatever they hold.
    yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "spec": {"runtimeClassName": "kata"}}
    yield {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}


def _requests() -> Iterator[tuple[dict[str, Any], Any, Any, dict[str, Any]]]:
    for namespace, username, obj in itertools.product(
        (ABSENT, "kube-system", "legacy", "team-a", "", "Legacy"),
        (ABSENT, "alice", "system:serviceaccount:ci:deployer", "bob", "", "alice "),
        list(_objects()),
    ):
        request: dict[str, Any] = {"operation": "CREATE", "object": obj}
        if namespace is not ABSENT:
            request["namespace"] = namespace
        if username is not ABSENT:
            request["userInfo"] = {"username": username, "groups": ["system:authenticated"]}
        yield request, namespace, username, obj


@pytest.mark.tools
def test_exemption_equals_python_in_psa_order(opa: OpaServer) -> None:
    cases = list(_requests())
    got = opa.query(
        "pssgen_admission_probe/exemptions",
        {"requests": [r for r, *_ in cases], "exemptions": CONFIG.exemptions_data()},
    )
    expected = [
        CONFIG.exempt_request(
            namespace=None if ns is ABSENT else ns, username=None if user is ABSENT else user, obj=obj
        )
        for _, ns, user, obj in cases
    ]
    mismatches = [(r, g, e) for (r, *_), g, e in zip(cases, got, expected, strict=True) if g != e]
    assert not mismatches, f"{len(mismatches)} requests differ; first: {mismatches[0]}"
    assert set(expected) == {"namespace", "user", "runtimeClass", None}


@pytest.mark.tools
def test_exemption_pins_upstream_order_written_out(opa: OpaServer) -> None:
    # ValidatePod tests the namespace, then the user; EvaluatePod then the runtime class; "" never matches.
    exemptions = {"namespaces": ["legacy", ""], "usernames": ["alice", ""], "runtimeClasses": ["kata", ""]}
    requests = [
        {"namespace": "legacy", "userInfo": {"username": "alice"}, "object": _pod("kata")},
        {"namespace": "team", "userInfo": {"username": "alice"}, "object": _pod("kata")},
        {"namespace": "team", "userInfo": {"username": "bob"}, "object": _pod("kata")},
        {"namespace": "", "userInfo": {"username": ""}, "object": _pod("")},
        {"namespace": "team", "object": _pod()},
    ]
    got = opa.query("pssgen_admission_probe/exemptions", {"requests": requests, "exemptions": exemptions})
    assert got == ["namespace", "user", "runtimeClass", None, None]


# ---------------------------------------------------------------- messages


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


# Namespaces as users label them, and the ones PSA corrects: each mode at its own level and version.
NAMESPACES = (
    {P + "enforce": "baseline", P + "warn": "restricted", P + "audit": "restricted", P + "audit-version": "v1.22"},
    {P + "enforce": "restricted", P + "enforce-version": "v1.99"},
    {P + "enforce": "strict", P + "enforce-version": "v1.05", P + "warn": "baseline", P + "warn-version": "v1.0"},
    {P + "enforce-version": "v1.24", P + "audit": "baseline", P + "audit-version": "latest"},
)


# Where the rendered checks are known to part from PSA (not the admission library): fixture -> why. Each entry must
# still part, so that a fix removes it. Empty since seccompProfile_restricted names a null container.
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.tools
@pytest.mark.slow
def test_messages_equal_psa_for_every_mode_of_labelled_namespaces(opa: OpaServer, oracle: Oracle) -> None:
    fixtures = project_corpus()
    gaps = {f.object["metadata"]["name"] for f in fixtures if any(str(f.path).endswith(g) for g in KNOWN_GAPS)}
    assert len(gaps) == len(KNOWN_GAPS)
    objects = [f.object for f in fixtures]
    defaults = DEFAULTS[1]
    cases = [
        {"object": obj, "labels": labels, "defaults": policy_data(defaults)} for obj in objects for labels in NAMESPACES
    ]
    got: list[Any] = []
    for start in range(0, len(cases), 2_000):
        got += opa.query("pssgen_admission_probe/verdicts", {"cases": cases[start : start + 2_000]})
    requests, where = [], []
    for i, case in enumerate(cases):
        policy = policy_from_labels(case["labels"], defaults)
        for mode, mode_lv in zip(
            ("enforce", "audit", "warn"), (policy.enforce, policy.audit, policy.warn), strict=True
        ):
            requests.append((case["object"], mode_lv.level, str(mode_lv.version)))
            where.append((i, mode))
    verdicts = oracle.evaluate_many(requests)
    expected: list[dict[str, Any]] = [{} for _ in cases]
    for (i, mode), verdict in zip(where, verdicts, strict=True):
        if verdict.error is not None:
            expected[i][mode] = "error"
        else:
            expected[i][mode] = None if verdict.allowed else verdict.result.mode_message(mode)
    compared = [(c, g, e) for c, g, e in zip(cases, got, expected, strict=True) if "error" not in e.values()]
    mismatches = [(c["object"]["metadata"]["name"], c["labels"], g, e) for c, g, e in compared if g != e]
    assert not [m for m in mismatches if m[0] not in gaps], f"{len(mismatches)} differ; first: {mismatches[0]}"
    assert {m[0] for m in mismatches} == gaps, "a known gap is fixed: remove it from KNOWN_GAPS"
    denied = [text for _, g, _ in compared for text in g.values() if text is not None]
    assert len(compared) > 0.9 * len(cases) and len(denied) > 1_000
    assert any(t.startswith('violates PodSecurity "restricted:v1.99": ') for t in denied)
    assert any(t.startswith('would violate PodSecurity "restricted:latest": ') for t in denied)


@pytest.mark.tools
def test_message_format_written_out(opa: OpaServer) -> None:
    # admission.go's EvaluatePod and policy.AggregateCheckResults, read off the source: reasons in check order
    # (never sorted), " (detail)" only when there is one, an empty reason as "unknown forbidden reason".
    privileged = _pod()
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    privileged["spec"]["hostNetwork"] = True
    cases = [
        {
            "object": privileged,
            "labels": {P + "enforce": "baseline", P + "warn": "restricted"},
            "defaults": policy_data(DEFAULTS[0]),
        }
    ]
    got = opa.query("pssgen_admission_probe/verdicts", {"cases": cases})[0]
    assert got["enforce"] == (
        'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'privileged (container "app" must not set securityContext.privileged=true)'
    )
    assert got["audit"] is None
    assert got["warn"].startswith(
        'would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), privileged (container '
    )
    module = (
        "package pssgen_admission_words\n\nimport data.lib.pss.admission\n\n"
        'words := admission.message("warn", {"level": "restricted", "version": "v1.2"}, input.violations)\n'
    )
    opa.load_policies({"words.rego": module})
    violations = [{"check": "a", "reason": "", "detail": "x"}, {"check": "b", "reason": "b reason", "detail": ""}]
    assert opa.query("pssgen_admission_words/words", {"violations": violations}) == (
        'would violate PodSecurity "restricted:v1.2": unknown forbidden reason (x), b reason'
    )
