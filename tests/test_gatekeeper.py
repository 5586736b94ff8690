"""The Gatekeeper bundle (out/gatekeeper) and the gatekeeper engine.

The bundle is judged by Gatekeeper's own tools: ``gator verify`` runs the
generated suite of AdmissionReviews (and fails when an expectation is wrong, so
the check can fail), ``gator test`` judges a stream with its namespaces, and the
template's Rego, run in OPA with Gatekeeper's input, gives every case of every
sample configuration the answer ``generator.policy.admission`` gives. The engine
agrees with the Python evaluator on a spread of upstream fixtures through both
of its paths (gatekeeper-engine, gator). The rest proves the bundle's shape:
YAML, headers, Gatekeeper's Rego restrictions, one source for the libs, a
kustomization naming exactly the template and Constraints, and the PSA
configuration the bundle is rendered from written back as PSA reads it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.engines import EngineUnavailable, PythonEngine
from generator.engines.gatekeeper import JUDGED_LEVELS, GatekeeperEngine, GatorError
from generator.engines.opa_server import OpaServer
from generator.manifests.psa_config import read_psa_config
from generator.parity.corpus import Fixture, upstream_corpus
from generator.policy.admission import significant_pod_update
from generator.policy.namespaces import MODES
from generator.policy.pod import EVALUATED_KINDS
from generator.policy.psa_config import PSA_DEFAULTS, parse_configuration
from generator.policy.versions import LEVELS, NEWEST_MINOR, VERSION_PATTERN, parse_version
from generator.render import gatekeeper as gk
from generator.render import render_all
from generator.render.environment import environment
from generator.render.literals import HEADER
from generator.render.rego import rego_modules
from generator.tools import GATEKEEPER_VERSION, GATOR, gatekeeper_module_dir, require

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def bundle() -> dict[str, str]:
    return gk.gatekeeper_bundle()


@pytest.fixture(scope="module")
def docs(bundle) -> dict[str, Any]:
    return {path: list(yaml.safe_load_all(text)) for path, text in bundle.items()}


def _doc(docs: dict[str, Any], path: str) -> Any:
    (found,) = docs[path]
    return found


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


def _run(gator: Path, *args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gator), *map(str, args)], capture_output=True, text=True, timeout=300, check=False,
                          input=stdin)  # fmt: skip


def _privileged_pod() -> dict[str, Any]:
    return {**gk._objects()["privileged"]}


# --- shape ---------------------------------------------------------------------------------------


def test_layout(bundle):
    samples = {c.path for c in gk.cases()}
    sample_constraints = {
        s.constraint_path(mode)
        for s in gk.sample_configurations(PSA_DEFAULTS, False)
        if not s.shipped
        for mode in s.modes
    }
    expected = {
        "kustomization.yaml",
        "suite.yaml",
        "admission-configuration.yaml",
        gk.TEMPLATE_PATH,
        *(gk.constraint_path(mode) for mode in MODES),
        gk.NAMESPACES_PATH,
        gk.SYNC_CONFIG_PATH,
        *samples,
        *sample_constraints,
        "samples/constraints/invalid-version.yaml",
    }
    assert set(bundle) == expected
    assert {p for p in render_all() if p.startswith("gatekeeper/")} == {f"gatekeeper/{p}" for p in expected}


def test_every_file_is_yaml_with_the_header(bundle):
    for path, text in bundle.items():
        assert text.startswith(HEADER + "\n"), path
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        assert not re.search(r"[ \t]$", text, re.MULTILINE), path
        documents = list(yaml.safe_load_all(text))
        assert documents and all(isinstance(d, dict) for d in documents), path
        assert len(documents) == 1 or path == gk.NAMESPACES_PATH, path


def test_the_template_uses_the_rego_v1_code_form(docs):
    template = _doc(docs, gk.TEMPLATE_PATH)
    assert template["apiVersion"] == "templates.gatekeeper.sh/v1"
    assert template["kind"] == "ConstraintTemplate"
    kind = template["spec"]["crd"]["spec"]["names"]["kind"]
    assert template["metadata"]["name"] == kind.lower() == "k8spodsecurity"
    (target,) = template["spec"]["targets"]
    assert target["target"] == "admission.k8s.gatekeeper.sh"
    assert "rego" not in target and "libs" not in target  # the legacy field would force Rego v0
    code = _code(template)
    assert code["engine"] == "Rego" and code["source"]["version"] == "v1"


def test_parameters_schema_takes_psas_syntax(docs):
    schema = _doc(docs, gk.TEMPLATE_PATH)["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
    properties = schema["properties"]
    assert set(properties) == {"mode", "defaults", "exemptions", "denyWorkloads", "exclusions"}
    assert properties["mode"]["enum"] == ["enforce", "warn", "audit"]
    defaults = properties["defaults"]["properties"]
    assert set(defaults) == {f"{m}{suffix}" for m in MODES for suffix in ("", "-version")}
    for mode in MODES:
        assert defaults[mode]["enum"] == list(LEVELS)
        pattern = re.compile(defaults[f"{mode}-version"]["pattern"])
        assert VERSION_PATTERN[1:-1] in pattern.pattern
        for good in ("latest", "v1.0", "v1.27", "v1.99"):
            assert pattern.search(good), good
        for bad in ("v1.026", "1.27", "v1.27.1", "v2.0", "Latest", "", "v1."):
            assert not pattern.search(bad), bad
    assert set(properties["exemptions"]["properties"]) == {"usernames", "runtimeClasses", "namespaces"}


def test_libs_are_the_rendered_lib_modules_verbatim(docs):
    # One source: the libs are rego_modules()'s lib/ modules, in order, byte for byte.
    want = [text for path, text in rego_modules().items() if path.startswith("lib/")]
    assert want
    source = _code(_doc(docs, gk.TEMPLATE_PATH))["source"]
    assert source["libs"] == want
    assert source["rego"] == gk.entry_module(environment())


def _rego_code(text: str) -> str:
    """Rego without comments and strings, to look at references only."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    text = re.sub(r"`[^`]*`", "``", text)
    return re.sub(r"#.*", "", text)


def test_rego_meets_gatekeepers_restrictions(docs):
    source = _code(_doc(docs, gk.TEMPLATE_PATH))["source"]
    for text in [source["rego"], *source["libs"]]:
        assert "rego.v1" not in text  # Gatekeeper rejects `import rego.v1`
        code = _rego_code(text)
        for imported in re.findall(r"^import (\S+)", code, re.MULTILINE):
            assert imported.startswith("data.lib."), imported
    for lib in source["libs"]:
        package = re.search(r"^package (\S+)$", lib, re.MULTILINE)
        assert package is not None and package.group(1).startswith("lib."), package
    main = re.sub(r"^import .*$", "", _rego_code(source["rego"]), flags=re.MULTILINE)
    assert re.search(r"^package k8spodsecurity$", main, re.MULTILINE)
    assert re.search(r"^violation contains ", main, re.MULTILINE)
    # data only as Gatekeeper's synced inventory (data.lib only through imports)
    assert set(re.findall(r"\bdata\.[\w.]+", main)) == {"data.inventory.cluster.v1.Namespace"}


def test_libs_reach_other_libs_only_through_imports(docs):
    # Gatekeeper rewrites `data.lib.x` to where it stores libs, but its rewriter (frameworks
    # regorewriter.Rewrite) stops at the first term of each expression: a `data.lib...` reference
    # nested in a call, array or comprehension is left as is, and the template fails to compile
    # ("undefined function data.lib..."). Imports are always rewritten, so libs must use them.
    for lib in _code(_doc(docs, gk.TEMPLATE_PATH))["source"]["libs"]:
        body = re.sub(r"^import .*$", "", _rego_code(lib), flags=re.MULTILINE)
        package = re.search(r"^package (\S+)$", lib, re.MULTILINE)
        nested = sorted(set(re.findall(r"\bdata\.[\w.]+", body)))
        assert not nested, f"{package and package.group(1)} references {nested} without an import"


def test_constraints_are_psas_three_modes(docs, bundle):
    for mode, action in (("enforce", "deny"), ("warn", "warn"), ("audit", "dryrun")):
        constraint = _doc(docs, gk.constraint_path(mode))
        assert constraint["kind"] == _doc(docs, gk.TEMPLATE_PATH)["spec"]["crd"]["spec"]["names"]["kind"]
        spec = constraint["spec"]
        assert spec["enforcementAction"] == action
        assert {k for group in spec["match"]["kinds"] for k in group["kinds"]} == set(EVALUATED_KINDS)
        assert set(spec["match"]) == {"kinds"}  # PSA's exemptions are parameters, not Gatekeeper exclusions
        assert spec["parameters"] == {
            "mode": mode,
            "defaults": {f"{m}{s}": ("latest" if s else "privileged") for m in MODES for s in ("", "-version")},
            "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": []},
        }  # no file: PSA's defaults, privileged:latest everywhere
        assert f"PSA's {mode} mode" in bundle[gk.constraint_path(mode)]


CONFIG = {
    "apiVersion": "pod-security.admission.config.k8s.io/v1",
    "kind": "PodSecurityConfiguration",
    "defaults": {"enforce": "baseline", "enforce-version": "v1.30", "audit": "restricted", "warn": "restricted"},
    "exemptions": {"usernames": ["ci-bot"], "runtimeClasses": ["kata"], "namespaces": ["kube-system", "infra"]},
}


@pytest.mark.parametrize("deny_workloads", [False, True])
def test_a_configuration_renders_into_parameters_and_back(tmp_path, deny_workloads):
    config = parse_configuration(CONFIG)
    bundle = gk.gatekeeper_bundle(config, deny_workloads=deny_workloads, source="admission.yaml")
    enforce = yaml.safe_load(bundle[gk.constraint_path("enforce")])["spec"]["parameters"]
    want = {"enforce": "baseline", "enforce-version": "v1.30", "audit": "restricted", "audit-version": "latest",
            "warn": "restricted", "warn-version": "latest"}  # fmt: skip
    assert enforce["defaults"] == want
    assert enforce["exemptions"] == CONFIG["exemptions"]
    assert enforce.get("denyWorkloads", False) is deny_workloads
    written = tmp_path / "admission.yaml"
    written.write_text(bundle[gk.ADMISSION_CONFIGURATION_PATH], encoding="utf-8")
    assert read_psa_config(written) == config  # what the API server reads is what the bundle was made from
    assert "From admission.yaml" in bundle[gk.constraint_path("warn")]


def test_kustomization_lists_the_template_and_constraints(docs, rendered):
    kustomization = _doc(docs, "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == [gk.TEMPLATE_PATH, *(gk.constraint_path(m) for m in gk.MODE_ACTIONS)]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return
    proc = subprocess.run([kubectl, "kustomize", str(rendered)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    built = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert sorted(d["kind"] for d in built) == ["ConstraintTemplate", *["K8sPodSecurity"] * 3]


def test_suite_names_only_files_of_the_bundle(docs):
    suite = _doc(docs, "suite.yaml")
    assert suite["kind"] == "Suite" and suite["apiVersion"] == "test.gatekeeper.sh/v1alpha1"
    for test in suite["tests"]:
        assert test["template"] in docs and test["constraint"] in docs
        for case in test.get("cases", []):
            assert case["object"] in docs, case
            assert all(path in docs for path in case.get("inventory", [])), case
            assert all(isinstance(a["violations"], int) for a in case["assertions"])


def _case(suite: dict[str, Any], test: str, case: str) -> dict[str, Any]:
    (found,) = [c for t in suite["tests"] if t["name"] == test for c in t["cases"] if c["name"] == case]
    return found


def _asserted(suite: dict[str, Any], test: str, case: str) -> str | None:
    """The message a case expects (unquoted from its Go regexp), or None when it expects no violation."""
    assertions = _case(suite, test, case)["assertions"]
    if assertions == [{"violations": 0}]:
        return None
    assert assertions[0] == {"violations": 1}
    return re.sub(r"\\(.)", r"\1", assertions[1]["message"][1:-1])


def test_suite_expectations_follow_psa(docs):
    suite = _doc(docs, "suite.yaml")
    ephemeral = _asserted(suite, "configured-enforce", "update-ephemeral-privileged")
    assert ephemeral is not None and ephemeral.startswith('violates PodSecurity "restricted:latest": privileged (')
    assert 'container "debugger"' in ephemeral
    for quiet in ("update-labels-only", "update-status", "delete-privileged", "pod-exempt-user",
                  "pod-exempt-namespace", "pod-exempt-runtime-class", "deployment-privileged"):  # fmt: skip
        assert _asserted(suite, "configured-enforce", quiet) is None, quiet
    assert _asserted(suite, "shipped-enforce", "pod-exempt-user") is not None  # no file: nobody is exempt
    warned = _asserted(suite, "configured-warn", "deployment-privileged")
    assert warned is not None and warned.startswith('would violate PodSecurity "restricted:latest": ')
    assert _asserted(suite, "configured-warn", "pod-privileged-restricted") is None  # denied: PSA adds no warning
    assert _asserted(suite, "configured-audit", "pod-privileged-restricted") is not None  # audit still records
    future = _asserted(suite, "configured-enforce", "pod-future-version")
    assert future is not None and future.startswith(f'violates PodSecurity "restricted:v1.{NEWEST_MINOR + 62}": ')
    invalid = _asserted(suite, "shipped-enforce", "pod-invalid-labels")
    assert invalid is not None and invalid.startswith('violates PodSecurity "restricted:latest": ')
    unknown = _asserted(suite, "shipped-enforce", "pod-unknown-namespace")
    assert unknown is not None and unknown.startswith('failed to lookup namespace "not-synced"')
    assert _asserted(suite, "deny-workloads-enforce", "deployment-privileged") is not None
    (invalid_version,) = [t for t in suite["tests"] if t["name"] == "invalid-version"]
    assert invalid_version["invalid"] is True


def test_significant_pod_update_mirrors_psa():
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "d", "image": "y"}]}}
    relabelled = {**pod, "metadata": {"labels": {"a": "b"}}}
    assert not significant_pod_update(relabelled, pod)
    assert significant_pod_update({"spec": {"containers": [{"name": "a", "image": "z"}]}}, {"spec": pod["spec"]})
    assert significant_pod_update({"spec": {**pod["spec"], "initContainers": [{"name": "i"}]}}, pod)
    added = {"spec": {**pod["spec"], "ephemeralContainers": [*pod["spec"]["ephemeralContainers"], {"name": "e"}]}}
    assert significant_pod_update(added, pod)
    changed = {"spec": {**pod["spec"], "ephemeralContainers": [{"name": "d", "image": "other"}]}}
    assert significant_pod_update(changed, pod)


# --- gator ---------------------------------------------------------------------------------------


def test_gator_verify_passes_on_the_generated_suite(gator, rendered, docs):
    proc = _run(gator, "verify", "-v", rendered)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert f"ok\t{rendered / 'suite.yaml'}" in out, out  # the suite ran (gator passes vacuously without one)
    assert "FAIL" not in out, out
    cases = sum(len(t.get("cases", [])) for t in _doc(docs, "suite.yaml")["tests"])
    assert out.count("    --- PASS: ") == cases, out
    assert "--- PASS: invalid-version" in out, out


@pytest.mark.parametrize("mutation", ["ephemeral-allowed", "exempt-user-denied", "invalid-version-valid"])
def test_gator_verify_fails_on_a_wrong_expectation(gator, bundle, tmp_path, mutation):
    changed = dict(bundle)
    suite = yaml.safe_load(bundle["suite.yaml"])
    if mutation == "ephemeral-allowed":
        _case(suite, "configured-enforce", "update-ephemeral-privileged")["assertions"] = [{"violations": 0}]
        expected = "--- FAIL: update-ephemeral-privileged"
    elif mutation == "exempt-user-denied":
        _case(suite, "configured-enforce", "pod-exempt-user")["assertions"] = [{"violations": 1}]
        expected = "--- FAIL: pod-exempt-user"
    else:
        path = "samples/constraints/invalid-version.yaml"
        changed[path] = bundle[path].replace(f"enforce-version: {gk.INVALID_VERSION}", "enforce-version: v1.26")
        assert changed[path] != bundle[path]
        expected = "--- FAIL: invalid-version"
    # Only the test holding the mutation runs (the whole suite runs in the test above).
    keep = {"ephemeral-allowed": "configured-enforce", "exempt-user-denied": "configured-enforce"}
    suite["tests"] = [t for t in suite["tests"] if t["name"] == keep.get(mutation, "invalid-version")]
    changed["suite.yaml"] = yaml.safe_dump(suite, sort_keys=False)
    proc = _run(gator, "verify", "-v", _write(changed, tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert expected in out, out


def test_gator_test_judges_by_the_namespaces_labels(gator, bundle):
    """``gator test`` on the bundle, a labelled namespace and pods in it: enforce denies with PSA's message,
    warn warns where only warn is set, and a namespace gator was not given is refused."""
    stream = [bundle[gk.TEMPLATE_PATH], *(bundle[gk.constraint_path(m)] for m in MODES)]
    labels = gk.sample_namespaces()
    stream += [yaml.safe_dump(gk._namespace(n, labels[n])) for n in ("restricted", "warn-only")]
    for name, namespace in (("a", "restricted"), ("b", "warn-only"), ("c", "elsewhere")):
        pod = _privileged_pod()
        pod["metadata"] = {"name": name, "namespace": namespace}
        stream.append(yaml.safe_dump(pod))
    proc = _run(gator, "test", "--output", "json", stdin="---\n".join(stream))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # enforce denies
    found = sorted((r["violatingObject"]["metadata"]["name"], r["constraint"]["metadata"]["name"],
                    r["enforcementAction"], r["msg"].split(":")[0]) for r in json.loads(proc.stdout))  # fmt: skip
    assert found == [
        ("a", "pod-security-enforce", "deny", 'violates PodSecurity "restricted'),
        ("b", "pod-security-audit", "dryrun", 'would violate PodSecurity "baseline'),
        ("b", "pod-security-warn", "warn", 'would violate PodSecurity "baseline'),
        ("c", "pod-security-enforce", "deny", 'failed to lookup namespace "elsewhere"'),
    ]


# --- the template's Rego in OPA, with Gatekeeper's input -----------------------------------------


@pytest.fixture(scope="module")
def template_server(docs, opa_bin) -> Iterator[OpaServer]:
    with OpaServer(opa_bin) as server:
        source = _code(_doc(docs, gk.TEMPLATE_PATH))["source"]
        modules = {"k8spodsecurity.rego": source["rego"]}
        modules.update({f"lib/{n}.rego": lib for n, lib in enumerate(source["libs"])})
        namespaces = {n: gk._namespace(n, labels) for n, labels in gk.sample_namespaces().items()}
        modules["inventory.rego"] = f"package inventory.cluster.v1\n\nNamespace := {json.dumps(namespaces)}\n"
        server.load_policies(modules)
        yield server


def _violations(server: OpaServer, review: dict[str, Any], parameters: dict[str, Any]) -> list[Any]:
    return server.query("k8spodsecurity/violation", {"review": review, "parameters": parameters})


def test_every_case_of_every_configuration_is_psas_answer(template_server):
    """The template's verdict, mode by mode, for each case under each sample configuration, is
    generator.policy.admission's, message for message; gator verify then proves the same under Gatekeeper."""
    compared = 0
    for sample in gk.sample_configurations(parse_configuration(CONFIG), False):
        for mode in MODES:
            parameters = gk.constraint_parameters(sample.config, mode, deny_workloads=sample.deny_workloads,
                                                  exclusions=sample.exclusions)  # fmt: skip
            for case in gk.cases():
                review = {k: v for k, v in gk._admission_review(case)["request"].items() if k != "uid"}
                got = [v["msg"] for v in _violations(template_server, review, parameters)]
                want = sample.decision(case).message(mode)
                assert got == ([] if want is None else [want]), (sample.name, mode, case.name)
                compared += 1
    assert compared == len(gk.sample_configurations(PSA_DEFAULTS, False)) * len(MODES) * len(gk.cases())


@pytest.mark.parametrize("version", ["v1.026", f"v1.{2**63}"])  # a leading zero; a minor above Go's int
def test_an_invalid_default_version_fails_closed(template_server, version):
    """The schema refuses such a Constraint; one that got past it (an older Gatekeeper) still refuses."""
    parameters = gk.constraint_parameters(PSA_DEFAULTS, "enforce")
    parameters["defaults"] = {**parameters["defaults"], "enforce": "baseline", "enforce-version": version}
    compliant = gk._objects()["compliant"]
    review = {"kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "unlabelled", "object": compliant,
              "operation": "CREATE"}  # fmt: skip
    (violation,) = _violations(template_server, review, parameters)
    assert "invalid version" in violation["msg"] and version in violation["msg"]
    assert violation["details"]["error"] == violation["msg"]
    parameters["defaults"]["enforce-version"] = f"v1.{2**63 - 1}"  # the largest minor PSA parses: the newest rules
    assert _violations(template_server, review, parameters) == []


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
    requests = [(f.object, level, parse_version(f"v1.{m}")) for f in spread[:3] for level in JUDGED_LEVELS
                for m in range(NEWEST_MINOR + 1)]  # fmt: skip
    want = PythonEngine().evaluate_many(requests)
    with GatekeeperEngine() as engine:
        assert engine.evaluate_many(requests) == want
        reviewer = engine._reviewer
        assert reviewer is not None and reviewer.pid is not None
        pid = reviewer.pid
        assert engine.evaluate_many(requests[::-1]) == want[::-1]
        assert reviewer.pid == pid


def test_a_dead_engine_fails_the_batch_and_the_next_starts_anew(bundle):
    pod = _privileged_pod()
    request = [(pod, "baseline", parse_version("latest"))]
    with GatekeeperEngine() as engine:
        (first,) = engine.evaluate_many(request)
        assert not first.allowed
        reviewer = engine._reviewer
        assert reviewer is not None and reviewer.pid is not None
        reviewer.kill()
        with pytest.raises(GatorError, match=r"gatekeeper-engine exited|writing to gatekeeper-engine failed"):
            engine.evaluate_many(request)
        assert engine.evaluate_many(request) == [first]


def test_engine_raises_when_a_template_does_not_compile(bundle):
    pod = _privileged_pod()
    for mode, expected in (
        ("engine", "gatekeeper-engine did not start: .*k8spodsecurity"),
        ("gator", "gator test exited"),
    ):
        with GatekeeperEngine(mode) as engine:
            path = gk.TEMPLATE_PATH
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
    pod = {**_privileged_pod(), "apiVersion": "apps/v1"}
    with GatekeeperEngine(mode) as engine, pytest.raises(GatorError, match="not a kind the Constraints match"):
        engine.evaluate_many([(pod, "baseline", parse_version("latest"))])


def test_a_response_that_is_not_a_verdict_raises():
    from generator.engines.gatekeeper import _violations

    with pytest.raises(GatorError, match="did not judge"):
        _violations([{"msg": "rego_type_error: something", "details": {}}], "baseline", "latest")
    verdict = {"mode": "enforce", "level": "baseline", "version": "latest", "violations": []}
    with pytest.raises(GatorError, match="a verdict for enforce restricted:latest at baseline:latest"):
        _violations([{"msg": "x", "details": {**verdict, "level": "restricted"}}], "baseline", "latest")
    with pytest.raises(GatorError, match="2 responses"):
        _violations([{"msg": "x", "details": verdict}] * 2, "baseline", "latest")
