"""The committed out/ is exactly a fresh render, and `pssgen generate --check` says so or names what is stale."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.render import render_all
from generator.render.outdir import default_out_dir, stale_files, write_tree


def test_committed_out_matches_a_fresh_render() -> None:
    stale = stale_files(default_out_dir(), render_all())
    assert not stale, f"out/ is stale; run `make generate` (or `pssgen generate`): {stale}"


_DIGEST = (
    "import hashlib, json; from generator.render import render_all; "
    "print(hashlib.sha256(json.dumps(render_all(), sort_keys=True).encode()).hexdigest())"
)


def test_render_does_not_depend_on_hash_order(run_bounded: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """Two interpreters with different string-hash seeds (so different set and dict orders) render the same bytes."""
    digests = {
        run_bounded(
            [sys.executable, "-c", _DIGEST], env={**os.environ, "PYTHONHASHSEED": seed}, check=True, timeout=120,
        ).stdout.strip()
        for seed in ("1", "4242")
    }  # fmt: skip
    assert len(digests) == 1
    assert digests == {hashlib.sha256(json.dumps(render_all(), sort_keys=True).encode()).hexdigest()}


def test_generate_check_names_stale_missing_and_extra_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(cli, ["generate", "--out", str(out)]).exit_code == 0
    result = runner.invoke(cli, ["generate", "--out", str(out), "--check"])
    assert result.exit_code == 0, result.output

    files = sorted(p for p in out.rglob("*") if p.is_file())
    files[0].write_text("edited\n")
    files[1].unlink()
    (out / "extra.rego").write_text("package extra\n")
    result = runner.invoke(cli, ["generate", "--out", str(out), "--check"])
    assert result.exit_code == 1
    rel = [p.relative_to(out).as_posix() for p in files[:2]]
    for name in [*rel, "extra.rego"]:
        assert f"stale: {name}" in result.output
    assert "3 files" in result.output


def test_write_tree_replaces_the_whole_tree(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, {"a/b.txt": "1\n", "c.txt": "2\n"})
    write_tree(out, {"c.txt": "3\n"})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["c.txt"]
    assert (out / "c.txt").read_text() == "3\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folders left behind


_CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults: {enforce: baseline, warn: restricted}
      exemptions: {usernames: [ci-bot], namespaces: [kube-system]}
"""


def test_generate_psa_config_renders_its_defaults_and_exemptions(tmp_path: Path) -> None:
    import yaml

    config = tmp_path / "admission.yaml"
    config.write_text(_CONFIG, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["generate", "--out", str(out), "--psa-config", str(config), "--deny-workloads"])
    assert result.exit_code == 0, result.output
    enforce = yaml.safe_load((out / "gatekeeper/constraints/pod-security-enforce.yaml").read_text())
    parameters = enforce["spec"]["parameters"]
    assert parameters["defaults"]["enforce"] == "baseline" and parameters["defaults"]["warn"] == "restricted"
    assert parameters["exemptions"]["usernames"] == ["ci-bot"] and parameters["denyWorkloads"] is True
    written = yaml.safe_load((out / "gatekeeper/admission-configuration.yaml").read_text())
    psc = written["plugins"][0]["configuration"]
    assert psc["defaults"]["enforce"] == "baseline" and psc["exemptions"]["namespaces"] == ["kube-system"]
    check = CliRunner().invoke(cli, ["generate", "--out", str(out), "--check", "--psa-config", str(config),
                                     "--deny-workloads"])  # fmt: skip
    assert check.exit_code == 0, check.output
    assert CliRunner().invoke(cli, ["generate", "--out", str(out), "--check"]).exit_code == 1  # another bundle


def test_generate_refuses_a_configuration_the_api_server_refuses(tmp_path: Path) -> None:
    config = tmp_path / "admission.yaml"
    config.write_text(_CONFIG.replace("enforce: baseline", "enforce: strict"), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["generate", "--out", str(out), "--psa-config", str(config)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"pssgen: error: {config}: plugins[PodSecurity].configuration: PodSecurity configuration error: "
        "enforce: must be one of privileged, baseline, restricted"
    ]
    assert not out.exists()
