"""In-cluster parity: built-in PSA and pssgen's Gatekeeper bundle, in one live API server, against the PSA oracle.

One local cluster (the pinned etcd, kube-apiserver and Gatekeeper) for the module. The bundle is applied as the
README tells users to; its two cluster-wide Constraints are then removed, so that every namespace has exactly one
judge: PSA's labels (the ``cluster`` engine's namespaces) or one Constraint of the bundle for one level and version
(``generator.parity.cluster``). The oracle judges each object as the API server would store it (see that module).

The corpus: every upstream fixture of v1.18, v1.24, v1.34 and the newest version (that one at ``latest``), the
project's own corpus, and generated pods at three versions. The run prints, per level x version and judge, how many
objects it sent, and each judge's requests per second; any disagreement fails the test, naming the object.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator import tools
from generator.engines.cluster import LocalCluster
from generator.engines.live import ClusterEngine, DryRun
from generator.parity.cluster import GatekeeperJudge, Tally, gatekeeper_problem, oracle_on_stored, stored_forms
from generator.parity.corpus import load_corpus, upstream_corpus
from generator.parity.oracle import Oracle
from generator.policy.versions import NEWEST_MINOR, parse_version

sys.path.insert(0, str(Path(__file__).parent))
from generated import generated_objects

pytestmark = [pytest.mark.tools, pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "out" / "gatekeeper"
UPSTREAM_MINORS = (18, 24, 34, NEWEST_MINOR)
GENERATED_VERSIONS = ("latest", "v1.24", "v1.34")
STORED = "pssgen-stored"  # no PSA label, no Constraint: what the API server stores, unjudged


@dataclass
class Live:
    cluster: LocalCluster
    psa: ClusterEngine
    gatekeeper: GatekeeperJudge


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    try:
        binaries = [tools.require(t) for t in (tools.ETCD, tools.KUBE_APISERVER, tools.GATEKEEPER, tools.KUBECTL)]
    except tools.ToolError as exc:
        pytest.fail(f"{exc} (make test builds it: make cluster-tools)")
    etcd, apiserver, gatekeeper, kubectl = binaries
    with LocalCluster(etcd=etcd, kube_apiserver=apiserver) as cluster:
        cluster.start_gatekeeper(gatekeeper)
        cluster.apply_bundle(BUNDLE, kubectl=kubectl)
        removed = cluster.kubectl("delete", "-f", str(BUNDLE / "constraints"), kubectl=kubectl)
        assert removed.returncode == 0, removed.stderr
        cluster.ensure_namespace(STORED)
        with ClusterEngine(str(cluster.kubeconfig)) as psa:
            judge = GatekeeperJudge(cluster.api_client(), BUNDLE, cluster.wait_until)
            yield Live(cluster, psa, judge)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


def _cases() -> list[tuple[str, Mapping[str, Any], str, str]]:
    """(name, object, level, version) for the whole corpus."""
    cases: list[tuple[str, Mapping[str, Any], str, str]] = []
    for f in upstream_corpus():
        if f.minor in UPSTREAM_MINORS:
            cases.append((f"upstream/{f.id}", f.object, f.level, "latest" if f.minor == NEWEST_MINOR else f.version))
    for f in load_corpus(ROOT / "conformance" / "corpus"):
        cases.append((f"project/{f.id}", f.object, f.level, f.version))
    for name, obj in generated_objects():
        for level in ("baseline", "restricted"):
            for version in GENERATED_VERSIONS:
                cases.append((f"generated/{name}@{level}:{version}", obj, level, version))
    return cases


_FIRST_ERROR = re.compile(r"is invalid: \[?([^:]+): ([A-Z][a-z]+(?: [a-z]+)?)")
SHOWN_REFUSALS = 12


def _refusal(answer: DryRun) -> str:
    """The kind of refusal: the first field error (``spec.containers[*].name: Required value``), not its values."""
    found = _FIRST_ERROR.search(answer.message)
    if found is None:
        return f"HTTP {answer.status} {answer.message}"
    where = re.sub(r"\[[0-9]+\]", "[*]", found.group(1))
    where = re.sub(r"annotations(\[|\.)[^:]*", "annotations[...]", where)
    return f"{where}: {found.group(2)}"


def _order(level: str, version: str) -> tuple[str, int]:
    minor = parse_version(version).minor
    return level, NEWEST_MINOR + 1 if minor is None else minor


def _report(name: str, tally: Tally, width: int = 34) -> list[str]:
    by_lv: Counter[tuple[str, str]] = Counter()
    for (level, version, _), n in tally.counts.items():
        by_lv[(level, version)] += n
    rows = [f"{name}: {tally.requests} requests in {tally.seconds:.1f} s ({tally.rate:.0f}/s)"]
    for (level, version), n in sorted(by_lv.items(), key=lambda kv: _order(*kv[0])):
        rows.append(f"  {f'{level}:{version}':<{width}}{n:>6}")
    return rows


def test_psa_and_gatekeeper_in_a_live_cluster_agree_with_the_oracle(
    live: Live, oracle: Oracle, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _cases()
    distinct: dict[int, int] = {}  # id(object) -> index in objects
    objects: list[Mapping[str, Any]] = []
    for _, obj, _, _ in cases:
        if id(obj) not in distinct:
            distinct[id(obj)] = len(objects)
            objects.append(obj)
    stored = stored_forms(live.cluster.api_client(), STORED, objects)
    refused = Counter(_refusal(answer) for answer in stored if answer.object is None)
    judged = [(n, obj, level, version) for n, obj, level, version in cases if stored[distinct[id(obj)]].object]
    verdicts = oracle_on_stored(oracle, stored, [(distinct[id(o)], lv, v) for _, o, lv, v in judged])
    raw = oracle.evaluate_many([(obj, level, version) for _, obj, level, version in judged])
    reworded = sum(1 for a, b in zip(verdicts, raw, strict=True) if a.violations != b.violations)

    requests = [(obj, level, parse_version(version)) for _, obj, level, version in judged]
    psa_tally = Tally()
    before = live.psa.requests
    started = time.monotonic()
    psa_results = live.psa.evaluate_many(requests)
    psa_tally.seconds, psa_tally.requests = time.monotonic() - started, live.psa.requests - before
    for obj, level, version in requests:
        psa_tally.counts[(level, str(version), str(obj.get("kind")))] += 1
    gk_answers = live.gatekeeper.judge([(obj, level, version) for _, obj, level, version in judged])

    problems = []
    for (name, _, _, _), want, got, answer in zip(judged, verdicts, psa_results, gk_answers, strict=True):
        assert want.error is None, f"{name}: the oracle could not evaluate the stored form: {want.error}"
        if (got.allowed, got.violations) != (want.allowed, want.violations):
            problems.append(f"{name}: PSA in the cluster: {got}; oracle: {want.result}")
        elif not got.allowed and got.message != want.message:
            problems.append(f"{name}: PSA in the cluster said {got.message!r}; oracle {want.message!r}")
        if (problem := gatekeeper_problem(answer, want)) is not None:
            problems.append(f"{name}: {problem}")

    lines = [
        f"in-cluster parity: {len(cases)} cases, {len(objects)} distinct objects; "
        f"{sum(refused.values())} refused by the API server before admission, "
        f"{len(judged)} cases judged by both; the API server's defaulting changed PSA's words for {reworded}",
        *(f"  refused x{n}: {why}" for why, n in refused.most_common(SHOWN_REFUSALS)),
        f"  ... and {len(refused) - SHOWN_REFUSALS} other kinds of refusal" if len(refused) > SHOWN_REFUSALS else "",
        f"  judged, by kind: {dict(Counter(str(obj.get('kind')) for _, obj, _, _ in judged))}",
        *_report("built-in PSA", psa_tally),
        *_report("Gatekeeper (the bundle's Constraints)", live.gatekeeper.tally),
    ]
    with capsys.disabled():  # the figures belong in every run's output, not only a failing one's
        print("\n" + "\n".join(lines))
    denied = sum(1 for v in verdicts if not v.allowed)
    assert 0.2 * len(judged) < denied < 0.95 * len(judged), f"{denied} of {len(judged)} denied"
    assert len(judged) > 1800
    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(problems[:40])
