"""The Gatekeeper bundle (out/gatekeeper) and the gatekeeper engine.

The bundle is judged by Gatekeeper's own tools: ``gator verify`` runs the
generated suite (and fails when an expectation is wrong, so the check can fail),
the ephemeral-container UPDATE is denied under gator, and the engine agrees
with the Python evaluator on a spread of upstream fixtures through both of its
paths (gatekeeper-engine, gator). The rest proves the bundle's shape: YAML, headers, Gatekeeper's Rego
restrictions, one source for the libs, and a kustomization naming exactly the
templates and constraints.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.engines import EngineUnavailable, PythonEngine
from generator.engines.gatekeeper import GatekeeperEngine, GatorError, gatekeeper_review
from generator.engines.opa_server import OpaServer
from generator.parity.corpus import Fixture, upstream_corpus
from generator.policy.pod import EVALUATED_KINDS
from generator.policy.versions import VERSION_PATTERN, parse_version
from generator.render import gatekeeper as gk
from generator.render import render_all
from generator.render.environment import environment
from generator.render.literals import HEADER
from generator.render.rego import rego_modules
from generator.tools import GATEKEEPER_VERSION, GATOR, gatekeeper_module_dir, require


@pytest.fixture(scope="module")
def bundle() -> dict[str, str]:
    return gk.gatekeeper_bundle()


@pytest.fixture(scope="module")
def docs(bundle) -> dict[str, Any]:
    return {path: yaml.safe_load(text) for path, text in bundle.items()}


@pytest.fixture(scope="module")
def gator() -> Path:
    return require(GATOR)


def _write(bundle: dict[str, str], root: Path) -> Path:
    for rel, text in bundle.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def rendered(bundle, tmp_path_factory) -> Path:
    """A fresh render on disk: gator judges what gatekeeper_bundle produces now."""
    return _write(bundle, tmp_path_factory.mktemp("gatekeeper"))


def _code(template: dict[str, Any]) -> dict[str, Any]:
    (target,) = template["spec"]["targets"]
    (code,) = target["code"]
    return code


def _run(gator: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gator), *map(str, args)], capture_output=True, text=True, timeout=300, check=False)


# --- shape ---------------------------------------------------------------------------------------


def test_layout(bundle):
    expected = {
        "kustomization.yaml",
        "suite.yaml",
        *(gk.template_path(level) for level in gk.TEMPLATE_LEVELS),
        *(gk.constraint_path(level) for level in gk.TEMPLATE_LEVELS),
        *(s.path for s in gk.samples()),
        *(p.constraint_path for p in gk.pinned_tests()),
        "samples/constraints/invalid-version.yaml",
    }
    assert set(bundle) == expected
    assert {p for p in render_all() if p.startswith("gatekeeper/")} == {f"gatekeeper/{p}" for p in expected}


def test_every_file_is_yaml_with_the_header(bundle):
    for path, text in bundle.items():
        assert text.startswith(HEADER + "\n"), path
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        documents = list(yaml.safe_load_all(text))
        assert len(documents) == 1 and isinstance(documents[0], dict), path


def test_templates_use_the_rego_v1_code_form(docs):
    for level in gk.TEMPLATE_LEVELS:
        template = docs[gk.template_path(level)]
        assert template["apiVersion"] == "templates.gatekeeper.sh/v1"
        assert template["kind"] == "ConstraintTemplate"
        kind = template["spec"]["crd"]["spec"]["names"]["kind"]
        assert template["metadata"]["name"] == kind.lower() == f"k8spss{level}"
        (target,) = template["spec"]["targets"]
        assert target["target"] == "admission.k8s.gatekeeper.sh"
        assert "rego" not in target and "libs" not in target  # the legacy field would force Rego v0
        code = _code(template)
        assert code["engine"] == "Rego" and code["source"]["version"] == "v1"


def test_version_parameter_schema(docs):
    for level in gk.TEMPLATE_LEVELS:
        schema = docs[gk.template_path(level)]["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
        assert schema["type"] == "object" and list(schema["properties"]) == ["version"]
        version = schema["properties"]["version"]
        assert version["type"] == "string"
        pattern = re.compile(version["pattern"])
        assert VERSION_PATTERN[1:-1] in version["pattern"]
        for good in ("latest", "v1.0", "v1.27", "v1.99"):
            assert pattern.search(good), good
        for bad in ("v1.026", "1.27", "v1.27.1", "v2.0", "Latest", "", "v1."):
            assert not pattern.search(bad), bad


def test_libs_are_the_rendered_lib_modules_verbatim(docs):
    # One source: the libs are rego_modules()'s lib/ modules, in order, byte for byte.
    want = [text for path, text in rego_modules().items() if path.startswith("lib/")]
    assert want
    for level in gk.TEMPLATE_LEVELS:
        source = _code(docs[gk.template_path(level)])["source"]
        assert source["libs"] == want
        assert source["rego"] == gk.entry_module(environment(), level)


def _rego_code(text: str) -> str:
    """Rego without comments and strings, to look at references only."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    text = re.sub(r"`[^`]*`", "``", text)
    return re.sub(r"#.*", "", text)


def test_rego_meets_gatekeepers_restrictions(docs):
    for level in gk.TEMPLATE_LEVELS:
        source = _code(docs[gk.template_path(level)])["source"]
        for text in [source["rego"], *source["libs"]]:
            assert "rego.v1" not in text  # Gatekeeper rejects `import rego.v1`
            code = _rego_code(text)
            for imported in re.findall(r"^import (\S+)", code, re.MULTILINE):
                assert imported.startswith("data.lib."), imported
        for lib in source["libs"]:
            package = re.search(r"^package (\S+)$", lib, re.MULTILINE)
            assert package is not None and package.group(1).startswith("lib."), package
        main = re.sub(r"^import .*$", "", _rego_code(source["rego"]), flags=re.MULTILINE)
        assert re.search(r"^package k8spss", main, re.MULTILINE)
        assert re.search(r"^violation contains ", main, re.MULTILINE)
        roots = set(re.findall(r"\b(data|input)\.", main))
        assert roots <= {"input"}, roots  # data.lib only through imports


def test_libs_reach_other_libs_only_through_imports(docs):
    # Gatekeeper rewrites `data.lib.x` to where it stores libs, but its rewriter (frameworks
    # regorewriter.Rewrite) stops at the first term of each expression: a `data.lib...` reference
    # nested in a call, array or comprehension is left as is, and the template fails to compile
    # ("undefined function data.lib..."). Imports are always rewritten, so libs must use them.
    for level in gk.TEMPLATE_LEVELS:
        for lib in _code(docs[gk.template_path(level)])["source"]["libs"]:
            body = re.sub(r"^import .*$", "", _rego_code(lib), flags=re.MULTILINE)
            package = re.search(r"^package (\S+)$", lib, re.MULTILINE)
            nested = sorted(set(re.findall(r"\bdata\.[\w.]+", body)))
            assert not nested, f"{package and package.group(1)} references {nested} without an import"


def test_constraints(docs):
    kinds = {k for group in docs[gk.constraint_path("baseline")]["spec"]["match"]["kinds"] for k in group["kinds"]}
    assert kinds == set(EVALUATED_KINDS)
    for level in gk.TEMPLATE_LEVELS:
        constraint = docs[gk.constraint_path(level)]
        assert constraint["apiVersion"] == "constraints.gatekeeper.sh/v1beta1"
        assert constraint["kind"] == docs[gk.template_path(level)]["spec"]["crd"]["spec"]["names"]["kind"]
        spec = constraint["spec"]
        assert spec["enforcementAction"] == gk.ENFORCEMENT[level][0]
        assert spec["parameters"] == {"version": "latest"}
        assert spec["match"]["excludedNamespaces"] == ["kube-system", "gatekeeper-system"]
        groups = {g: set(k) for entry in spec["match"]["kinds"] for g in entry["apiGroups"] for k in [entry["kinds"]]}
        assert groups == {"": {"Pod", "ReplicationController", "PodTemplate"},
                          "apps": {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet"},
                          "batch": {"Job", "CronJob"}}  # fmt: skip
    assert docs[gk.constraint_path("baseline")]["spec"]["enforcementAction"] == "deny"
    assert docs[gk.constraint_path("restricted")]["spec"]["enforcementAction"] == "warn"


def test_constraints_explain_their_choices(bundle):
    for level in gk.TEMPLATE_LEVELS:
        comments = "\n".join(ln for ln in bundle[gk.constraint_path(level)].splitlines() if ln.startswith("#"))
        assert f"enforcementAction {gk.ENFORCEMENT[level][0]}:" in comments
        assert "excludedNamespaces: kube-system" in comments and "gatekeeper-system" in comments


def test_kustomization_lists_every_template_and_constraint(docs, rendered):
    kustomization = docs["kustomization.yaml"]
    assert kustomization["kind"] == "Kustomization"
    templates = sorted(p for p in docs if p.startswith("templates/"))
    constraints = sorted(p for p in docs if p.startswith("constraints/"))
    assert sorted(kustomization["resources"]) == sorted(templates + constraints)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return
    proc = subprocess.run([kubectl, "kustomize", str(rendered)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    built = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert sorted(d["kind"] for d in built) == ["ConstraintTemplate", "ConstraintTemplate", "K8sPSSBaseline",
                                                "K8sPSSRestricted"]  # fmt: skip


def test_suite_names_only_files_of_the_bundle(docs):
    suite = docs["suite.yaml"]
    assert suite["kind"] == "Suite" and suite["apiVersion"] == "test.gatekeeper.sh/v1alpha1"
    for test in suite["tests"]:
        assert test["template"] in docs and test["constraint"] in docs
        for case in test.get("cases", []):
            assert case["object"] in docs, case
            assert all(isinstance(a["violations"], int) for a in case["assertions"])


def _case(suite: dict[str, Any], test: str, case: str) -> dict[str, Any]:
    (found,) = [c for t in suite["tests"] if t["name"] == test for c in t["cases"] if c["name"] == case]
    return found


def test_suite_expectations_follow_psa(docs):
    suite = docs["suite.yaml"]
    ephemeral = _case(suite, "baseline", "update-ephemeral-privileged")["assertions"]
    assert ephemeral[0]["violations"] >= 1
    assert any("debugger" in a.get("message", "") for a in ephemeral)
    assert _case(suite, "baseline", "update-labels-only")["assertions"] == [{"violations": 0}]
    assert _case(suite, "baseline", "delete-privileged")["assertions"] == [{"violations": 0}]
    assert _case(suite, "baseline", "pod-sysctl")["assertions"] == [{"violations": 0}]
    pinned = [t for t in suite["tests"] if t["name"].startswith("baseline-v")]
    assert [c["assertions"][0]["violations"] for c in pinned[0]["cases"]] == [0, 1]
    (invalid,) = [t for t in suite["tests"] if t["name"] == "invalid-version"]
    assert invalid["invalid"] is True


def test_significant_pod_update_mirrors_psa():
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "d", "image": "y"}]}}
    relabelled = {**pod, "metadata": {"labels": {"a": "b"}}}
    assert not gk.significant_pod_update(relabelled, pod)
    assert gk.significant_pod_update({"spec": {"containers": [{"name": "a", "image": "z"}]}}, {"spec": pod["spec"]})
    assert gk.significant_pod_update({"spec": {**pod["spec"], "initContainers": [{"name": "i"}]}}, pod)
    added = {"spec": {**pod["spec"], "ephemeralContainers": [*pod["spec"]["ephemeralContainers"], {"name": "e"}]}}
    assert gk.significant_pod_update(added, pod)
    changed = {"spec": {**pod["spec"], "ephemeralContainers": [{"name": "d", "image": "other"}]}}
    assert gk.significant_pod_update(changed, pod)


# --- gator ---------------------------------------------------------------------------------------


def test_gator_verify_passes_on_the_generated_suite(gator, rendered, docs):
    proc = _run(gator, "verify", "-v", rendered)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert f"ok\t{rendered / 'suite.yaml'}" in out, out  # the suite ran (gator passes vacuously without one)
    assert "FAIL" not in out, out
    cases = sum(len(t.get("cases", [])) for t in docs["suite.yaml"]["tests"])
    assert out.count("    --- PASS: ") == cases, out
    assert "--- PASS: invalid-version" in out, out


@pytest.mark.parametrize("mutation", ["ephemeral-allowed", "invalid-version-valid"])
def test_gator_verify_fails_on_a_wrong_expectation(gator, bundle, tmp_path, mutation):
    changed = dict(bundle)
    if mutation == "ephemeral-allowed":
        suite = yaml.safe_load(bundle["suite.yaml"])
        _case(suite, "baseline", "update-ephemeral-privileged")["assertions"] = [{"violations": 0}]
        changed["suite.yaml"] = yaml.safe_dump(suite, sort_keys=False)
        expected = "--- FAIL: update-ephemeral-privileged"
    else:
        path = "samples/constraints/invalid-version.yaml"
        changed[path] = bundle[path].replace(f'"{gk.INVALID_VERSION}"', '"v1.26"')
        assert changed[path] != bundle[path]
        expected = "--- FAIL: invalid-version"
    proc = _run(gator, "verify", "-v", _write(changed, tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert expected in out, out


def test_ephemeral_container_update_is_denied_under_gator(gator, bundle, tmp_path):
    """kubectl debug's UPDATE of pods/ephemeralcontainers, reviewed as Gatekeeper's webhook would.

    ``gator test`` reviews plain objects with no operation; ``gator verify`` is where gator turns an
    AdmissionReview into an admission request (pkg/gator/verify/runner.go), so the UPDATE is judged there.
    """
    sample = "samples/update-ephemeral-privileged.yaml"
    review = yaml.safe_load(bundle[sample])
    assert review["request"]["operation"] == "UPDATE"
    assert review["request"]["subResource"] == "ephemeralcontainers"
    assert not review["request"]["oldObject"]["spec"].get("ephemeralContainers")
    files = {k: v for k, v in bundle.items() if k.startswith(("templates/", "constraints/"))}
    files[sample] = bundle[sample]
    files["suite.yaml"] = yaml.safe_dump({
        "kind": "Suite",
        "apiVersion": "test.gatekeeper.sh/v1alpha1",
        "metadata": {"name": "ephemeral"},
        "tests": [{
            "name": "baseline",
            "template": gk.template_path("baseline"),
            "constraint": gk.constraint_path("baseline"),
            "cases": [{
                "name": "privileged-ephemeral-update",
                "object": sample,
                "assertions": [{"violations": "yes", "message": r'^privileged \(container "debugger"'}],
            }],
        }],
    })  # fmt: skip
    proc = _run(gator, "verify", "-v", _write(files, tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "--- PASS: privileged-ephemeral-update" in out, out
    # The shipped baseline Constraint denies (not warns), so Gatekeeper rejects the request.
    assert yaml.safe_load(bundle[gk.constraint_path("baseline")])["spec"]["enforcementAction"] == "deny"


def test_gator_test_denies_a_privileged_pod_with_the_bundle(gator, bundle, tmp_path):
    files = {k: v for k, v in bundle.items() if k.startswith(("templates/", "constraints/"))}
    files["pod.yaml"] = bundle["samples/pod-privileged.yaml"]
    proc = _run(gator, "test", "--filename", _write(files, tmp_path), "--output", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # baseline denies
    results = yaml.safe_load(proc.stdout)
    by_action = {(r["constraint"]["metadata"]["name"], r["enforcementAction"]) for r in results}
    assert by_action == {("pss-baseline", "deny"), ("pss-restricted", "warn")}
    details = [r["metadata"]["details"] for r in results if r["constraint"]["metadata"]["name"] == "pss-baseline"]
    assert details == [{
        "check": "privileged",
        "level": "baseline",
        "version": "latest",
        "reason": "privileged",
        "detail": 'container "app" must not set securityContext.privileged=true',
    }]  # fmt: skip


# --- the template's Rego in OPA, with Gatekeeper's input -----------------------------------------


@pytest.fixture(scope="module")
def template_server(docs, opa_bin) -> Iterator[OpaServer]:
    with OpaServer(opa_bin) as server:
        modules = {}
        for level in gk.TEMPLATE_LEVELS:
            source = _code(docs[gk.template_path(level)])["source"]
            modules[f"{level}.rego"] = source["rego"]
            modules.update({f"lib/{n}.rego": lib for n, lib in enumerate(source["libs"])})
        server.load_policies(modules)
        yield server


def _violations(server: OpaServer, level: str, review: dict[str, Any], version: str | None = "latest") -> list[Any]:
    parameters = {} if version is None else {"version": version}
    return server.query(f"k8spss{level}/violation", {"review": review, "parameters": parameters})


@pytest.mark.parametrize("version", ["v1.026", f"v1.{2**63}"])  # a leading zero; a minor above Go's int
def test_an_invalid_version_fails_closed(template_server, bundle, version):
    compliant = yaml.safe_load(bundle["samples/pod-compliant.yaml"])
    (violation,) = _violations(template_server, "baseline", gatekeeper_review(compliant), version)
    assert "invalid version" in violation["msg"] and version in violation["msg"]
    assert violation["details"]["error"] == violation["msg"]
    assert _violations(template_server, "baseline", gatekeeper_review(compliant), None) == []  # default latest
    # the largest minor PSA parses is valid, and judged by the newest rules
    assert _violations(template_server, "baseline", gatekeeper_review(compliant), f"v1.{2**63 - 1}") == []


def test_update_rules_match_the_python_mirror(template_server, bundle):
    for sample in gk.samples():
        if sample.object.get("kind") != "AdmissionReview":
            continue
        request = sample.object["request"]
        review = {k: v for k, v in request.items() if k != "uid"}
        for level in gk.TEMPLATE_LEVELS:
            got = _violations(template_server, level, review)
            want = gk.expected_violations(sample.object, level, "latest")
            assert sorted(v["details"]["check"] for v in got) == sorted(v.check for v in want), sample.name
    privileged = yaml.safe_load(bundle["samples/pod-privileged.yaml"])
    status = {**gatekeeper_review(privileged, "UPDATE"), "subResource": "status", "oldObject": privileged}
    assert _violations(template_server, "baseline", status) == []
    image = {**privileged, "spec": {**privileged["spec"], "containers": [
        {**privileged["spec"]["containers"][0], "image": "registry.example/app:2.0"}]}}  # fmt: skip
    assert _violations(template_server, "baseline", {**gatekeeper_review(image, "UPDATE"), "oldObject": privileged})


# --- the engine ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spread() -> list[Fixture]:
    """About 200 upstream fixtures, spread over every level, version and check."""
    fixtures = upstream_corpus()
    return fixtures[:: max(1, len(fixtures) // 200)]


def _as_tuples(results):
    return [(r.allowed, r.violations, r.level, r.version) for r in results]


@pytest.mark.parametrize("mode", ["engine", "gator"])
def test_engine_agrees_with_python_on_upstream_fixtures(spread, mode):
    requests = [(f.object, f.level, parse_version(f.version)) for f in spread]
    # The same objects at other levels and versions too (privileged has no template: always allowed).
    others = (("restricted", "v1.24"), ("privileged", "latest"))
    requests += [(f.object, level, parse_version(version)) for f in spread[::4] for level, version in others]
    with GatekeeperEngine(mode) as engine:
        got = engine.evaluate_many(requests)
        assert engine.used[mode] == sum(1 for _, level, _ in requests if level != "privileged")
    want = PythonEngine().evaluate_many(requests)
    assert len(got) == len(requests)
    assert any(not r.allowed for r in want) and any(r.allowed for r in want)
    mismatches = [(f, g, w) for f, g, w in zip(requests, _as_tuples(got), _as_tuples(want), strict=True) if g != w]
    assert not mismatches, mismatches[:3]


def test_the_engine_is_the_default_and_runs_the_pinned_gatekeepers_modules(spread):
    """gatekeeper-engine reports the modules it was built with: the pinned Gatekeeper, and the constraint
    framework and OPA that Gatekeeper's go.mod selects (what gator runs)."""
    gatekeeper_mod = (gatekeeper_module_dir() / "go.mod").read_text()
    pinned = dict(re.findall(r"^\s+(github\.com/open-policy-agent/(?:frameworks/constraint|opa)) (\S+)$",
                             gatekeeper_mod, re.MULTILINE))  # fmt: skip
    assert set(pinned) == {"github.com/open-policy-agent/frameworks/constraint", "github.com/open-policy-agent/opa"}
    with GatekeeperEngine() as engine:
        assert engine.mode == "engine"
        engine.evaluate_many([(spread[0].object, "baseline", parse_version("latest"))])
        assert engine.modules == {**pinned, "github.com/open-policy-agent/gatekeeper/v3": GATEKEEPER_VERSION}


def test_the_engine_reviews_every_pair_in_one_process(spread):
    """Every (level, version) at once, twice: one process, its Constraints made once, answers in order."""
    requests = [(f.object, level, parse_version(f"v1.{m}")) for f in spread[:3] for level in gk.TEMPLATE_LEVELS
                for m in range(gk.NEWEST_MINOR + 1)]  # fmt: skip
    want = PythonEngine().evaluate_many(requests)
    with GatekeeperEngine() as engine:
        assert engine.evaluate_many(requests) == want
        reviewer = engine._reviewer
        assert reviewer is not None
        pid = reviewer._proc.pid if reviewer._proc else None
        assert engine.evaluate_many(requests[::-1]) == want[::-1]
        assert reviewer._proc is not None and reviewer._proc.pid == pid


def test_a_dead_engine_fails_the_batch_and_the_next_starts_anew(bundle):
    pod = yaml.safe_load(bundle["samples/pod-privileged.yaml"])
    request = [(pod, "baseline", parse_version("latest"))]
    with GatekeeperEngine() as engine:
        (first,) = engine.evaluate_many(request)
        assert not first.allowed
        reviewer = engine._reviewer
        assert reviewer is not None and reviewer._proc is not None
        reviewer._proc.kill()
        reviewer._proc.wait()
        with pytest.raises(GatorError, match=r"gatekeeper-engine exited|writing to gatekeeper-engine failed"):
            engine.evaluate_many(request)
        assert engine.evaluate_many(request) == [first]


def test_engine_raises_when_a_template_does_not_compile(bundle):
    pod = yaml.safe_load(bundle["samples/pod-privileged.yaml"])
    for mode, expected in (
        ("engine", "gatekeeper-engine did not start: .*k8spssbaseline"),
        ("gator", "gator test exited"),
    ):
        with GatekeeperEngine(mode) as engine:
            path = gk.template_path("baseline")
            engine._bundle = {
                **engine._bundle,
                path: engine._bundle[path].replace("violation contains", "violation cont"),
            }
            with pytest.raises(GatorError, match=expected):
                engine.evaluate_many([(pod, "baseline", parse_version("latest"))])


def test_an_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("PSSGEN_GATEKEEPER_MODE", "opa")
    with pytest.raises(EngineUnavailable, match=r"unknown gatekeeper mode 'opa'.*use engine or gator"):
        GatekeeperEngine()


@pytest.mark.parametrize("mode", ["engine", "gator"])
def test_engine_refuses_objects_the_constraints_would_not_match(bundle, mode):
    pod = {**yaml.safe_load(bundle["samples/pod-privileged.yaml"]), "apiVersion": "apps/v1"}
    with GatekeeperEngine(mode) as engine, pytest.raises(GatorError, match="not a kind the Constraints match"):
        engine.evaluate_many([(pod, "baseline", parse_version("latest"))])


def test_a_response_without_check_details_raises():
    from generator.engines.gatekeeper import _details

    with pytest.raises(GatorError, match="did not judge"):
        _details({"msg": "rego_type_error: something", "details": {}}, "baseline", "latest")
