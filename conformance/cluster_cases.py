"""What the live-cluster suites share: the corpus they send (upstream's fixtures at four versions, the project's,
generated pods), and one request to a local cluster, dry run or for real."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.engines.cluster import LocalCluster
from generator.engines.live import DryRun, dry_run
from generator.parity.cluster import oracle_on_stored, stored_forms
from generator.parity.corpus import upstream_corpus
from generator.parity.fixtures import project_corpus
from generator.parity.oracle import Oracle, OracleVerdict
from generator.policy.versions import NEWEST_MINOR

sys.path.insert(0, str(Path(__file__).parent))
from generated import generated_objects

UPSTREAM_MINORS = (18, 24, 34, NEWEST_MINOR)  # the newest at "latest"
GENERATED_VERSIONS = ("latest", "v1.24", "v1.34")


def corpus_cases() -> list[Case]:
    """(name, object, level, version) for the whole corpus."""
    cases: list[Case] = []
    for f in upstream_corpus():
        if f.minor in UPSTREAM_MINORS:
            cases.append((f"upstream/{f.id}", f.object, f.level, "latest" if f.minor == NEWEST_MINOR else f.version))
    for f in project_corpus():
        cases.append((f"project/{f.id}", f.object, f.level, f.version))
    for name, obj in generated_objects():
        for level in ("baseline", "restricted"):
            for version in GENERATED_VERSIONS:
                cases.append((f"generated/{name}@{level}:{version}", obj, level, version))
    return cases


Case = tuple[str, Mapping[str, Any], str, str]  # (name, object, level, version)


@dataclass(frozen=True)
class JudgedCorpus:
    """The corpus as the API server stores it: what it refuses before admission, and the oracle's verdict on the
    stored form of every case it admits (which any judge in the cluster must give)."""

    cases: list[Case]
    objects: int  # distinct objects among the cases
    stored: list[DryRun]  # each distinct object's dry-run create where no judge runs
    judged: list[Case]  # the cases whose object the API server stores
    verdicts: list[OracleVerdict]  # the oracle's, on the stored forms, one per judged case


def judged_corpus(cluster: LocalCluster, namespace: str, oracle: Oracle) -> JudgedCorpus:
    """``corpus_cases()`` stored (dry run) once per distinct object in ``namespace``, which nothing judges."""
    cases = corpus_cases()
    distinct: dict[int, int] = {}  # id(object) -> index in objects
    objects: list[Mapping[str, Any]] = []
    for _, obj, _, _ in cases:
        if id(obj) not in distinct:
            distinct[id(obj)] = len(objects)
            objects.append(obj)
    stored = stored_forms(cluster.api_client(), namespace, objects)
    judged = [case for case in cases if stored[distinct[id(case[1])]].object]
    verdicts = oracle_on_stored(oracle, stored, [(distinct[id(o)], lv, v) for _, o, lv, v in judged])
    return JudgedCorpus(cases, len(objects), stored, judged, verdicts)


def api_request(cluster: LocalCluster, method: str, path: str, body: Mapping[str, Any],
                content_type: str = "application/json", dry: bool = True) -> DryRun:  # fmt: skip
    """One request as the cluster's admin: a dry run (``dry_run``'s answer), or for real (the stored object)."""
    api = cluster.api_client()
    if dry:
        return dry_run(api, path, body, method=method, content_type=content_type)
    verb, url, headers, payload = api.param_serialize(
        method, path, body=body, header_params={"Content-Type": content_type}, auth_settings=["BearerToken"]
    )[:4]
    response = api.call_api(verb, url, header_params=headers, body=payload)
    response.read()  # type: ignore[no-untyped-call]
    text = (response.data or b"").decode()
    return DryRun(response.status, json.loads(text) if response.status < 300 else None, text, [])
