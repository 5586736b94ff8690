"""Per-check exclusions: the configuration file, each form in every engine, and PSA's words for what remains.

For each form of exclusion (a namespace, a label selector, an exact image, an image prefix, a container name,
excused capabilities, sysctls and volume types) the sample configuration waives one Pod and not its
near-identical twin. ``pssgen check --config`` shows that through the python, opa and gatekeeper engines, with
the same words; the PSA oracle, judging the same narrowed objects, gives the same composed messages, so what
remains of a verdict is PSA's. The bundle's Rego composes the same way (tests/test_gatekeeper.py runs every
case of the sample exclusions through it, and gator verify and the live cluster do too).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.parity.oracle import Oracle
from generator.policy.evaluate import evaluate
from generator.policy.exclusions import ExclusionError, compose, parse_configuration, plan
from generator.render import gatekeeper as gk

PSSGEN = str(Path(sys.executable).with_name("pssgen"))


def _config(*exclusions: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "pssgen.dev/v1alpha1", "kind": "PssgenConfiguration", "exclusions": list(exclusions)}


@pytest.mark.parametrize(
    ("exclusion", "error"),
    [
        ({"checks": ["privileged"], "imges": ["a"]}, "exclusions[0]: unknown field 'imges'"),
        ({"checks": ["privilegd"]}, "exclusions[0].checks[0]: unknown check 'privilegd'"),
        ({"controls": ["Capability"]}, "exclusions[0].controls[0]: unknown PSS control 'Capability'"),
        ({"images": ["a"]}, "exclusions[0]: names no check (give checks or controls)"),
        ({"checks": ["privileged"], "images": ["a*b"]}, "exclusions[0].images[0]: '*' may only end a pattern"),
        ({"checks": ["privileged"], "images": "a"}, "exclusions[0].images: must be a list of strings"),
        ({"checks": ["privileged"], "containers": [""]}, "exclusions[0].containers[0]: must be a non-empty string"),
        ({"checks": ["privileged"], "values": ["x"]}, "exclusions[0].values: privileged has no list of values"),
        ({"checks": ["sysctls"], "images": ["a"], "values": ["x"]}, "images and containers cannot narrow pod-level"),
        ({"checks": ["restrictedVolumes"], "values": ["nfz"]}, "exclusions[0].values[0]: 'nfz' is not a volume"),
        ({"checks": ["privileged"], "namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
         "exclusions[0].namespaceSelector.matchExpressions[0].values: In needs values"),
        ({"checks": ["privileged"], "namespaceSelector": {"matchLabels": {"a": 1}}},
         "exclusions[0].namespaceSelector.matchLabels: must map strings to strings"),
    ],
)  # fmt: skip
def test_a_bad_configuration_is_one_line_naming_the_file_and_field(
    exclusion: dict[str, Any], error: str, tmp_path: Path
) -> None:
    path = tmp_path / "pssgen.yaml"
    path.write_text(yaml.safe_dump(_config(exclusion)), encoding="utf-8")
    pod = tmp_path / "pod.yaml"
    pod.write_text(yaml.safe_dump(gk._objects()["compliant"]), encoding="utf-8")
    for command in (["check", str(pod), "--config", str(path)], ["generate", "--out", str(tmp_path / "out"),
                                                                    "--config", str(path)]):  # fmt: skip
        proc = subprocess.run([PSSGEN, *command], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith(f"pssgen: error: {path}: ") and error in line, line
    assert not (tmp_path / "out").exists()


def test_the_document_itself_is_checked() -> None:
    with pytest.raises(ExclusionError, match=r"expected apiVersion pssgen\.dev/v1alpha1 and kind PssgenConfiguration"):
        parse_configuration({"apiVersion": "v1", "kind": "ConfigMap"}, "f.yaml")
    with pytest.raises(ExclusionError, match=r"f\.yaml: unknown field 'exclusion'"):
        parse_configuration({**_config(), "exclusion": []}, "f.yaml")


def _pairs_input(tmp_path: Path) -> tuple[Path, Path]:
    """The sample exclusions as a file, and every pair's Pods in their namespaces with those Namespaces."""
    config = tmp_path / "pssgen.yaml"
    config.write_text(yaml.safe_dump(gk.SAMPLE_EXCLUSIONS), encoding="utf-8")
    labels = gk.sample_namespaces()
    docs: list[dict[str, Any]] = [gk._namespace(n, labels[n]) for n in (gk.NET_TEAM, "restricted")]
    for case in gk.cases():
        if case.group == "exclusions":
            obj = gk._in_namespace(case.request().obj, case.namespace)
            docs.append({**obj, "metadata": {**obj["metadata"], "name": case.name}})
    objects = tmp_path / "objects.yaml"
    objects.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return config, objects


def _check(engine: str, config: Path, objects: Path) -> dict[str, Any]:
    args = [
        "check",
        str(objects),
        "--namespace-labels",
        "--engine",
        engine,
        "--output",
        "json",
        "--config",
        str(config),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output  # the twins are denied
    return {r["name"]: r for r in json.loads(result.output)["results"] if r["kind"] == "Pod"}


@pytest.mark.parametrize("engine", ["python", pytest.param("opa", marks=pytest.mark.tools),
                                    pytest.param("gatekeeper", marks=pytest.mark.tools)])  # fmt: skip
def test_each_form_waives_one_pod_and_not_its_twin_in_every_engine(engine: str, tmp_path: Path) -> None:
    config, objects = _pairs_input(tmp_path)
    found = _check(engine, config, objects)
    without = CliRunner().invoke(cli, ["check", str(objects), "--namespace-labels", "--output", "json"])
    plain = {r["name"]: r for r in json.loads(without.output)["results"] if r["kind"] == "Pod"}
    for form, waived_case, twin_case in gk.exclusion_pairs():
        waived, other = waived_case.obj, twin_case.name
        assert found[f"excluded-{waived}"]["allowed"], (form, found[f"excluded-{waived}"])
        assert not plain[f"excluded-{waived}"]["allowed"], form  # without the exclusion it is denied
        assert not found[other]["allowed"], (form, found[other])
        assert found[other] == plain[other], form  # the twin: exactly PSA's verdict and words
    if engine != "python":
        assert found == _check("python", config, objects)  # the same words from every engine


def test_an_exclusion_never_widens_beyond_what_it_names() -> None:
    """Excusing NET_ADMIN for net/* images leaves another container of the same pod, the other capabilities of the
    matching container and every other check judged, in PSA's words for what remains."""
    (exclusion,) = parse_configuration(
        _config({"controls": ["Capabilities"], "images": ["registry.example/net/*"], "values": ["NET_ADMIN"]}), "f"
    )
    pod = gk._objects()["net-admin"]
    router = pod["spec"]["containers"][0]
    mine = {"drop": ["ALL"], "add": ["NET_ADMIN", "SYS_TIME"]}
    other = {**router["securityContext"], "runAsUser": 0, "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}
    pod["spec"]["containers"] = [
        {**router, "securityContext": {**router["securityContext"], "capabilities": mine}},
        {**router, "name": "other", "image": "registry.example/app:1", "securityContext": other},
    ]
    waiving = plan(pod, [exclusion])
    result = compose(waiving, [evaluate(o, "restricted", "latest") for o in waiving.objects])
    assert result.message == (
        'violates PodSecurity "restricted:latest": unrestricted capabilities (containers "app", "other" must '
        'not include "NET_ADMIN", "SYS_TIME" in securityContext.capabilities.add), runAsUser=0 (container "other" '
        "must not set runAsUser=0)"
    )
    alone = {**pod, "spec": {**pod["spec"], "containers": pod["spec"]["containers"][:1]}}
    waiving = plan(alone, [exclusion])
    result = compose(waiving, [evaluate(o, "restricted", "latest") for o in waiving.objects])
    assert result.message == (
        'violates PodSecurity "restricted:latest": unrestricted capabilities (container "app" must not '
        'include "SYS_TIME" in securityContext.capabilities.add)'
    )


@pytest.fixture(scope="module")
def oracle() -> Any:
    with Oracle() as running:
        yield running


@pytest.mark.tools
def test_what_remains_is_psas_verdict_on_what_remains(oracle: Oracle) -> None:
    """The oracle judging the same narrowed objects composes to the Python evaluator's verdict, word for word."""
    exclusions = gk.sample_exclusions()
    compared = 0
    for case in gk.cases():
        obj = case.request().obj
        applying = [e for e in exclusions if e.applies(case.namespace, gk.sample_namespaces().get(case.namespace))]
        if not applying or obj.get("kind") != "Pod":
            continue
        waiving = plan(obj, applying)
        for level in ("baseline", "restricted"):
            ours = compose(waiving, [evaluate(o, level, "latest") for o in waiving.objects])
            psa = compose(waiving, [v.result for v in oracle.evaluate_many([(o, level, "latest") for o in
                                                                             waiving.objects])])  # fmt: skip
            assert ours == psa, (case.name, level)
            compared += 1
    assert compared >= 2 * len(gk.EXCLUSION_PAIRS)


def test_worker_processes_apply_the_same_exclusions(tmp_path: Path) -> None:
    config, objects = _pairs_input(tmp_path)
    args = ["check", str(objects), "--namespace-labels", "--output", "json", "--config", str(config)]
    one = CliRunner().invoke(cli, args)
    proc = subprocess.run([PSSGEN, *args, "--jobs", "2"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == one.exit_code == 1, proc.stderr
    assert json.loads(proc.stdout)["results"] == json.loads(one.output)["results"]
    assert json.loads(proc.stdout)["exclusions"] == gk.rules_data(gk.sample_exclusions())
