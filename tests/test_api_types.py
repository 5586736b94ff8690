"""The committed description of the API types is what ``conformance/apitypes`` writes from the pinned Go types.

``generator/manifests/api_types.json`` is what ``validate_shape`` checks every
object against; this rebuilds it from ``k8s.io/api`` v0.37.2 and fails, with
the command to run, when it is stale.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from generator.manifests.shape import API_TYPES, ROOTS
from generator.policy.pod import EVALUATED_KINDS
from generator.tools import PSA_VERSION

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "conformance" / "apitypes"
COMMITTED = ROOT / "generator" / "manifests" / API_TYPES
REGENERATE = "cd conformance/apitypes && go run . types > ../../generator/manifests/api_types.json"


@pytest.mark.tools
def test_committed_types_are_what_the_go_types_say(run_bounded, tmp_path: Path) -> None:
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    binary = tmp_path / "apitypes"
    run_bounded(["go", "build", "-o", binary, "."], 600, check=True, cwd=PROGRAM, env=env)
    fresh = run_bounded([binary, "types"], 60, check=True).stdout
    if fresh != COMMITTED.read_text("utf-8"):
        pytest.fail(f"{COMMITTED.relative_to(ROOT)} is stale (conformance/apitypes or its go.mod changed): "
                    f"run `{REGENERATE}` and commit it", pytrace=False)  # fmt: skip


def test_the_types_cover_every_evaluated_kind_at_the_pinned_release() -> None:
    data = json.loads(COMMITTED.read_text("utf-8"))
    assert set(data["kinds"]) == EVALUATED_KINDS == set(ROOTS)
    assert data["api"].startswith(f"k8s.io/api {PSA_VERSION}, k8s.io/apimachinery {PSA_VERSION}")
    go_mod = (PROGRAM / "go.mod").read_text("utf-8")
    for module in ("k8s.io/api", "k8s.io/apimachinery"):
        assert f"\t{module} {PSA_VERSION}\n" in go_mod, f"conformance/apitypes/go.mod must pin {module} {PSA_VERSION}"


def test_fields_psa_never_reads_are_described() -> None:
    """The fields the fuzzer found unchecked, and the metadata engines build requests from."""
    pod = ROOTS["Pod"]
    spec = pod.fields["spec"]
    container = spec.fields["containers"].elem
    assert container is not None
    assert spec.fields["restartPolicy"].name == "string"
    assert container.fields["securityContext"].fields["readOnlyRootFilesystem"].name == "bool"
    assert container.fields["ports"].elem is not None and container.fields["ports"].elem.fields["name"].name == "string"
    assert container.fields["resources"].fields["limits"].name == "map[]quantity"
    meta = pod.fields["metadata"]
    assert {k: meta.fields[k].name for k in ("labels", "annotations", "name", "namespace", "creationTimestamp")} == {
        "labels": "map[]string", "annotations": "map[]string", "name": "string", "namespace": "string",
        "creationTimestamp": "time",
    }  # fmt: skip
    template = ROOTS["CronJob"].fields["spec"].fields["jobTemplate"].fields["spec"].fields["template"]
    assert template.fields["spec"] is spec and template.fields["metadata"] is meta


def _agree(checked: object, api: object, path: str, out: list[str]) -> None:
    """Every field of ``generator.policy.fields`` has the Go type ``api_types.json`` gives it."""
    from generator.policy.fields import MapOf, Scalar

    go_names = {"boolean": "bool", "string": "string", "int32": "int32", "int64": "int64"}
    name = getattr(api, "name", None)
    if isinstance(checked, Scalar):
        if name != go_names[checked.name]:
            out.append(f"{path}: fields.py says {checked.name}, the API types {name}")
    elif isinstance(checked, MapOf):
        if not (isinstance(name, str) and name.startswith("map[]")):
            out.append(f"{path}: fields.py says a map, the API types {name}")
        else:
            _agree(checked.value, api.elem, path + "[*]", out)  # type: ignore[attr-defined]
    elif isinstance(checked, list):
        if not (isinstance(name, str) and name.startswith("[]")):
            out.append(f"{path}: fields.py says an array, the API types {name}")
        else:
            _agree(checked[0], api.elem, path + "[*]", out)  # type: ignore[attr-defined]
    elif isinstance(checked, dict):
        fields = getattr(api, "fields", None)
        if not isinstance(fields, dict) or not fields:
            out.append(f"{path}: fields.py says an object, the API types {name}")
            return
        for key, sub in checked.items():
            if key not in fields:
                out.append(f"{path}.{key}: not a field of {name}")
            else:
                _agree(sub, fields[key], f"{path}.{key}", out)


def test_the_rego_type_gate_checks_the_api_types() -> None:
    """generator/policy/fields.py (what the Rego type gate checks) is a subset of the API types, type for type.

    Two descriptions of one thing may drift; this keeps the hand-written list of the fields the checks read
    from ever giving a field another type than the pinned k8s.io/api does.
    """
    from generator.policy.fields import SCHEMAS

    problems: list[str] = []
    for kind, schema in SCHEMAS.items():
        _agree(schema, ROOTS[kind], kind, problems)
    assert not problems, problems
