"""Characters gator's YAML reader refuses or folds, through the gatekeeper engine: PSA's exact verdicts.

gator reads YAML, which refuses DEL, C1 controls and non-characters anywhere and
folds NEL, LS and PS; pssgen's gatekeeper engine once lost a whole run to one of
them in a string, or to NEL in a map key, and turned NEL in a value into a space.
gatekeeper-engine reads JSON, so each object here, with the character in values
PSA quotes into its messages (container names, capabilities, procMount,
AppArmor and seccomp values) and in map keys (labels, annotations, node
selectors), must come back with the upstream oracle's verdict and messages, byte
for byte, in one run with ordinary objects on either side. The test checks that
the characters reach the messages, so it cannot pass by dropping them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.engines.gatekeeper import GatekeeperEngine
from generator.parity.oracle import Oracle
from generator.policy.versions import parse_version
from generator.tools import GATEKEEPER_VERSION, ROOT, gatekeeper_module_dir

GATEKEEPER_MODULE = "github.com/open-policy-agent/gatekeeper/v3"
ODD = {"DEL": "\x7f", "NEL": "\x85", "LS": "\u2028", "U+FFFE": "\ufffe", "U+FFFF": "\uffff"}
# Where PSA quotes a value: baseline and restricted today, and v1.18, where seccomp annotations are checked.
AT = (("baseline", "latest"), ("restricted", "latest"), ("baseline", "v1.18"))


def odd_pod(char: str) -> dict[str, Any]:
    name = f"app{char}x"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "odd",
            "namespace": f"ns{char}",
            "labels": {f"team{char}": f"a{char}b"},
            "annotations": {
                f"container.apparmor.security.beta.kubernetes.io/{name}": f"unconfined{char}",
                f"container.seccomp.security.alpha.kubernetes.io/{name}": f"unconfined{char}",
                f"note{char}": char,
            },
        },
        "spec": {
            "nodeSelector": {f"zone{char}": f"z{char}"},
            "containers": [
                {
                    "name": name,
                    "image": f"registry.example/{char}",
                    "env": [{"name": f"E{char}", "value": char}],
                    "securityContext": {
                        "privileged": True,
                        "procMount": f"Unmasked{char}",
                        "capabilities": {"add": [f"NET{char}RAW"]},
                    },
                },
                {"name": f"second{char}", "image": "b", "securityContext": {"runAsUser": 0}},
            ],
        },
    }


PLAIN = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"}, "spec": {"containers": [{"name": "a"}]}}


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


def test_odd_characters_in_values_and_keys_get_psas_exact_messages(oracle: Oracle) -> None:
    objects = [PLAIN, *(odd_pod(c) for c in ODD.values()), PLAIN]
    requests = [(obj, level, version) for obj in objects for level, version in AT]
    with GatekeeperEngine("engine") as engine:
        got = engine.evaluate_many([(obj, level, parse_version(version)) for obj, level, version in requests])
    want = [v.result for v in oracle.evaluate_many(requests)]
    assert got == want
    for label, char in ODD.items():
        details = [v.detail for r in got for v in r.violations]
        assert any(f"app{char}x" in d for d in details), f"{label} never reached a message"
        assert any(f"NET{char}RAW" in d for d in details), label
        assert any(f"Unmasked{char}" in d for d in details), label


def test_pssgen_check_with_the_gatekeeper_engine_reads_them_all(oracle: Oracle, tmp_path: Path) -> None:
    """The CLI run the issue saw lost (exit 2, a truncated report): every object judged, PSA's messages."""
    objects = [odd_pod(c) for c in ODD.values()]
    manifest = tmp_path / "odd.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["check", str(manifest), "--engine", "gatekeeper", "--level", "baseline", "--output", "json"]
    )
    assert result.exit_code == 1, result.output  # denied, not unreadable
    report = json.loads(result.stdout)
    assert report["errors"] == []
    verdicts = oracle.evaluate_many([(obj, "baseline", "latest") for obj in objects])
    got = [(r["name"], r["allowed"], [(v["check"], v["reason"], v["detail"]) for v in r["violations"]])
           for r in report["results"]]  # fmt: skip
    assert got == [("odd", v.allowed, [(x.check, x.reason, x.detail) for x in v.violations]) for v in verdicts]
    assert all(not v.allowed for v in verdicts)


def _requires(go_mod: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(?:require\s+)?(\S+) (v\S+)(?: // indirect)?$", go_mod, re.MULTILINE))


def test_the_engine_module_requires_the_pinned_gatekeeper_and_its_own_dependencies() -> None:
    """conformance/gatekeeper runs what gator runs: the pinned Gatekeeper, and every module at the version
    Gatekeeper's go.mod selects (a `go get` of a newer framework or OPA would judge with other code)."""
    ours = _requires((ROOT / "conformance" / "gatekeeper" / "go.mod").read_text(encoding="utf-8"))
    assert ours.get(GATEKEEPER_MODULE) == GATEKEEPER_VERSION, (
        f"conformance/gatekeeper/go.mod requires {GATEKEEPER_MODULE} {ours.get(GATEKEEPER_MODULE)}, generator/tools "
        f"pins {GATEKEEPER_VERSION}: run `go get {GATEKEEPER_MODULE}@{GATEKEEPER_VERSION} && go mod tidy` there"
    )
    theirs = _requires((gatekeeper_module_dir() / "go.mod").read_text(encoding="utf-8"))
    differ = {m: (v, theirs[m]) for m, v in ours.items() if m in theirs and theirs[m] != v}
    assert not differ, f"modules at other versions than Gatekeeper {GATEKEEPER_VERSION} selects: {differ}"
    for module in ("github.com/open-policy-agent/frameworks/constraint", "github.com/open-policy-agent/opa"):
        assert module in ours and module in theirs, module  # so the comparison above covered it
