"""Names from the input cannot forge report lines, and a file name that is not UTF-8 stays recoverable.

A Pod name, container name or file name holding a newline, ``\\r``, an escape
sequence or a GitHub workflow command (``::error``) must not make a line of
its own in text output (stdout or stderr), nor break a JSON, SARIF or JUnit
report. Text quotes names as kubectl does (Go's ``%q``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from click.testing import CliRunner

from generator.cli import cli

HOSTILE_NAME = "web\n::error file=x.yaml,line=1::forged\r\x1b[2K"
HOSTILE_CONTAINER = "c\n0 objects: 0 allowed, 0 denied, 0 skipped, 0 errors (restricted:latest, engine python)"
# A name that is not UTF-8 (byte 0xFF) and holds a newline: os.fsdecode gives Python's surrogate-escaped str.
RAW_FILE = b"bad\xff\n::warning ::x.yaml"


def _pod() -> str:
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n"
        f"  name: {json.dumps(HOSTILE_NAME)}\n  annotations: {{a: {json.dumps(HOSTILE_NAME)}}}\n"
        f"spec:\n  containers:\n  - name: {json.dumps(HOSTILE_CONTAINER)}\n    image: nginx\n"
        "    securityContext: {privileged: true}\n"
        "---\n: : broken\n"  # a read error, for the error lines
    )


@pytest.fixture(name="hostile")
def hostile_fixture(tmp_path: Path) -> Path:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/" + RAW_FILE))
    path.write_text(_pod())
    return path


def _run(*args: str) -> tuple[int, bytes, bytes]:
    result = CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def test_text_lines_cannot_be_forged(hostile: Path) -> None:
    code, out, err = _run(str(hostile))
    assert code == 2  # a denied Pod and a read error
    lines = out.decode("utf-8").splitlines()
    assert len(lines) == 2, lines  # the denial and the summary: nothing a name made up
    denial, summary = lines
    assert summary == "1 objects: 0 allowed, 1 denied, 0 skipped, 1 errors (restricted:latest, engine python)"
    quoted_file = '"' + str(bytes(hostile.parent), "utf-8") + '/bad\\xff\\n::warning ::x.yaml"'
    assert denial.startswith(quoted_file + ": document 0: ")
    assert 'pods "web\\n::error file=x.yaml,line=1::forged\\r\\x1b[2K" is forbidden: ' in denial
    assert 'container "c\\n0 objects: 0 allowed' in denial
    (error,) = err.decode("utf-8").splitlines()
    assert error.startswith('error: "') and '/bad\\xff\\n::warning ::x.yaml": document 1: ' in error
    for text in (out, err):
        assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", text), text  # no control character but \n, \t


def test_json_keeps_the_name_and_stays_valid_unicode(hostile: Path) -> None:
    code, out, _ = _run(str(hostile), "--output", "json")
    assert code == 2
    report = json.loads(out.decode("utf-8"))
    json.dumps(report, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere
    (result,) = report["results"]
    (error,) = report["errors"]
    for entry in (result, error):
        assert base64.b64decode(entry["source_bytes"]) == os.fsencode(hostile)
        assert entry["source"] == os.fsencode(hostile).decode("utf-8", "replace")
    assert result["name"] == HOSTILE_NAME  # the data itself, exactly: JSON escapes it


def test_sarif_is_utf8_json_and_the_uri_holds_the_bytes(hostile: Path) -> None:
    code, out, _ = _run(str(hostile), "--output", "sarif")
    assert code == 2
    log = json.loads(out.decode("utf-8"))
    run = log["runs"][0]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]]
    uris += [
        n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for n in run["invocations"][0]["toolExecutionNotifications"]
    ]
    assert uris and all(unquote_to_bytes(u.removeprefix("file://")) == os.fsencode(hostile) for u in uris), uris
    assert all(r["message"]["text"].startswith('pods "web\n::error') for r in run["results"])  # JSON-escaped data


def test_junit_is_xml_and_spells_the_name(hostile: Path) -> None:
    code, out, _ = _run(str(hostile), "--output", "junit")
    assert code == 2
    root = ET.fromstring(out)
    (suite,) = root.findall("testsuite")
    assert suite.get("name", "").endswith("/bad\\xff\n::warning ::x.yaml")
    names = [case.get("name", "") for case in suite.iter("testcase")]
    assert any("Pod/web\n::error" in name and "\\x1b[2K" in name for name in names), names


def test_a_plain_name_prints_as_before(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(_pod().replace(json.dumps(HOSTILE_NAME), "web").replace(json.dumps(HOSTILE_CONTAINER), "c"))
    _, out, err = _run(str(path))
    assert out.decode().startswith(f'{path}: document 0: pods "web" is forbidden: violates PodSecurity')
    assert err.decode().startswith(f"error: {path}: document 1: ")
