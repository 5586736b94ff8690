"""`pssgen conformance` on a user's own corpus laid out like upstream's, and on the project's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.parity.fixtures import CORPUS_DIR

GOOD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n"
PRIVILEGED = GOOD.replace("image: x}", "image: x, securityContext: {privileged: true}}")


def corpus(root: Path, pass_pod: str) -> Path:
    for sub, name, text in [("pass", "base.yaml", pass_pod), ("fail", "privileged0.yaml", PRIVILEGED)]:
        path = root / "baseline" / "v1.30" / sub / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_user_corpus_agrees(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["conformance", "--engine", "python", "--corpus", str(corpus(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "baseline   v1.30" in result.output and "2/2" in result.output
    assert result.output.strip().endswith("engines python agree with upstream PSA")


def test_fixture_psa_contradicts_fails_and_is_named(tmp_path: Path) -> None:
    root = corpus(tmp_path, PRIVILEGED)
    result = CliRunner().invoke(cli, ["conformance", "--engine", "python", "--corpus", str(root), "--output", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["engines"]["python"]["agreed"] == 2
    [problem] = payload["fixture_expectations"]["violations"]
    assert problem.startswith("baseline/v1.30/pass/base: denied: ")


def test_project_corpus_agrees() -> None:
    """The committed project corpus, as a user would run it: `pssgen conformance --corpus conformance/corpus`."""
    args = ["conformance", "--engine", "python", "--corpus", str(CORPUS_DIR), "--output", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["cases"] == len(list(CORPUS_DIR.rglob("*.yaml"))) >= 1000
    assert payload["fixture_expectations"]["violations"] == []
    python = payload["engines"]["python"]
    assert python["agreed"] == python["total"] == payload["cases"]
    assert {"baseline:v1.0", "restricted:v1.37"} <= set(python["by_level_version"])
