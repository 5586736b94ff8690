"""The engines side by side, in one run on the same pods: conformance wall time, and OPA time per pod.

Usage: python bench/engines.py [POLICY_DIR] [--corpus upstream|DIR] [--query Q]
                               [--input-shape pss|raw|gatekeeper] [--count N] [--gomaxprocs N]
                               [--engine NAME ...] [--skip-conformance] [--skip-opa-bench]

(a) Conformance wall time: the whole corpus through every engine of
    generator.engines.base.ENGINE_NAMES (and PSA's own Go evaluator, the oracle, for
    scale), as the parity suite runs it: each fixture at its own level and
    version, then each distinct object at every level and version. Start-up
    (building, starting, compiling) is timed apart from evaluation, and each
    engine's agreement with PSA is shown. The opa engine loads POLICY_DIR when
    the input shape is pss (so earlier Rego can be compared); other shapes leave
    the engines as the project builds them.

(b) OPA evaluation per pod: ``opa bench -d POLICY_DIR --count N -f json QUERY``
    for baseline and restricted at "latest", on a typical pod (init + app +
    sidecar, with probes, ports and volumes; bench/evaluator.py's) and on a
    20-container pod, each allowed and denied. ``ns/op`` is opa bench's whole
    iteration (it includes converting the input); ``eval`` is OPA's own
    timer_rego_query_eval_ns, the policy alone. Medians over the N runs, with
    the fastest run's median beside it, since a shared machine is noisy.

POLICY_DIR (default out/rego) can be any Rego; say how to ask it with --query
(``{level}`` is replaced by the level, for policies with one entry point per
level) and --input-shape: ``pss`` is {"object", "level", "version"} (data.pss.result),
``raw`` is the manifest itself, with the level and version given as data at
data.pss.config (what main.rego, the conftest entry point, reads), and
``gatekeeper`` is {"review": <AdmissionReview request>, "parameters": {"version", "mode", "defaults", ...}}.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluator import typical_pod  # bench/evaluator.py: the same typical pod as the Python and Go figures

from generator.engines import ENGINE_NAMES, EngineBase, EngineUnavailable, OpaEngine, open_engine
from generator.engines.gatekeeper import gatekeeper_review
from generator.parity.compare import Case, compare, fixture_cases, oracle_verdicts
from generator.parity.corpus import Fixture, load_corpus, upstream_corpus
from generator.parity.oracle import Oracle
from generator.policy.versions import NEWEST_MINOR
from generator.tools import OPA, ROOT, require

LEVELS = ("baseline", "restricted")
SHAPES = ("pss", "raw", "gatekeeper")
BIG = 20  # containers in the large pod


# --- (a) conformance wall time ---------------------------------------------------------------------


def every_level_and_version(fixtures: Sequence[Fixture]) -> list[Case]:
    """Each distinct object at every level and version, as conformance/test_parity.py builds them."""
    distinct: dict[str, Fixture] = {}
    for fixture in fixtures:
        distinct.setdefault(json.dumps(fixture.object, sort_keys=True), fixture)
    versions = [f"v1.{m}" for m in range(NEWEST_MINOR + 1)] + ["latest"]
    return [
        Case(f"{f.id}@{level}:{version}", f.object, level, version)
        for f in distinct.values()
        for level in ("privileged", *LEVELS)
        for version in versions
    ]


def policy_dir_engine(policy_dir: Path) -> EngineBase:
    """The opa engine's protocol (data.pss.batch on a real OPA server) with the modules of a directory."""
    return OpaEngine({f"bench/{p.relative_to(policy_dir)}": p.read_text() for p in sorted(policy_dir.rglob("*.rego"))})


def conformance_times(
    fixtures: Sequence[Fixture], engines: Sequence[str], open_one: Callable[[str], tuple[EngineBase, str]]
) -> list[tuple[str, str, float | None, list[float], str]]:
    """Per engine: (name, note, start-up seconds, seconds per case set, agreement)."""
    sets = [fixture_cases(fixtures), every_level_and_version(fixtures)]
    rows: list[tuple[str, str, float | None, list[float], str]] = []
    started = time.perf_counter()
    with Oracle() as oracle:
        startup = time.perf_counter() - started
        verdicts, times = [], []
        for cases in sets:
            started = time.perf_counter()
            verdicts.append(oracle_verdicts(oracle, cases))
            times.append(time.perf_counter() - started)
    rows.append(("psa oracle", "PSA's Go evaluator; the reference", startup, times, "-"))
    for name in engines:
        started = time.perf_counter()
        try:
            engine, note = open_one(name)
        except EngineUnavailable as exc:
            rows.append((name, f"unavailable: {exc}", None, [], "-"))
            continue
        startup = time.perf_counter() - started
        times, agreed, total = [], 0, 0
        with engine:
            for cases, want in zip(sets, verdicts, strict=True):
                started = time.perf_counter()
                report = compare(engine, cases, want)
                times.append(time.perf_counter() - started)
                agreed += sum(report.agreed.values())
                total += sum(report.total.values())
        rows.append((name, note, startup, times, f"{agreed}/{total}"))
    return rows


def print_conformance(rows: Sequence[tuple[str, str, float | None, list[float], str]], sizes: Sequence[int]) -> None:
    print(f"{'engine':<12}{'start-up':>10}{f'fixtures ({sizes[0]})':>20}{f'every level x version ({sizes[1]})':>36}"
          f"{'total':>10}{'agree with PSA':>17}  note")  # fmt: skip
    for name, note, startup, times, agreement in rows:
        if startup is None:
            print(f"{name:<12}{'-':>10}{'-':>20}{'-':>36}{'-':>10}{'-':>17}  {note}")
            continue
        cells = "".join(f"{t:>{w}.2f}s" for t, w in zip(times, (19, 35), strict=True))
        print(f"{name:<12}{startup:>9.2f}s{cells}{sum(times):>9.2f}s{agreement:>17}  {note}")


# --- (b) OPA evaluation per pod ------------------------------------------------------------------


def large_pod(denied: bool) -> dict[str, Any]:
    """The typical pod grown to BIG containers: its init container and BIG - 1 copies of its app container."""
    pod = typical_pod(denied=False)
    app = pod["spec"]["containers"][0]
    pod["spec"]["containers"] = [dict(copy.deepcopy(app), name=f"app-{i}") for i in range(1, BIG)]
    if denied:  # the same two violations as the typical denied pod, in one container
        sc = pod["spec"]["containers"][BIG // 2]["securityContext"]
        sc["privileged"] = True
        sc["capabilities"] = {"add": ["NET_ADMIN"]}
    return pod


PODS: tuple[tuple[str, Callable[[bool], dict[str, Any]]], ...] = (
    ("typical (3 containers)", typical_pod),
    (f"{BIG} containers", large_pod),
)


def bench_input(shape: str, pod: Mapping[str, Any], level: str, version: str) -> tuple[Any, Any]:
    """(input, extra data or None) for one pod at one level, in the policy's input shape."""
    if shape == "pss":
        return {"object": pod, "level": level, "version": version}, None
    if shape == "raw":
        return pod, {"pss": {"config": {"level": level, "version": version}}}
    # pssgen's K8sPodSecurity reads mode and defaults; a template pinned to a version (gatekeeper-library's) reads
    # version: both are given, as OPA checks no schema.
    parameters = {"version": version, "mode": "enforce", "defaults": {"enforce": level, "enforce-version": version},
                  "denyWorkloads": True}  # fmt: skip
    return {"review": gatekeeper_review(pod), "parameters": parameters}, None


def _json_stream(text: str) -> list[Any]:
    """opa bench -f json prints one JSON document per run, one after the other."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        doc, i = decoder.raw_decode(text, i)
        out.append(doc)


def opa_bench(opa: Path, args: list[str], count: int, env: Mapping[str, str]) -> dict[str, float]:
    proc = subprocess.run(
        [str(opa), "bench", *args, "--count", str(count), "-f", "json"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"opa bench failed: {(proc.stderr or proc.stdout).strip()[:500]}")
    runs = _json_stream(proc.stdout)
    per_op = [r["T"] / r["N"] for r in runs]
    evals = [r["Extra"]["histogram_timer_rego_query_eval_ns_median"] for r in runs]
    return {
        "ns_op": statistics.median(per_op),
        "ns_op_best": min(per_op),
        "eval": statistics.median(evals),
        "eval_best": min(evals),
        "allocs": statistics.median(r["MemAllocs"] / r["N"] for r in runs),
        "iterations": sum(r["N"] for r in runs),
    }


def verdict(opa: Path, args: list[str], env: Mapping[str, str]) -> str:
    """What the query answers, in a few words: allowed / denied (n), or the size of a collection."""
    proc = subprocess.run([str(opa), "eval", "-f", "json", *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return "error"
    result = json.loads(proc.stdout).get("result")
    if not result:
        return "undefined"
    value = result[0]["expressions"][0]["value"]
    if isinstance(value, dict) and "allowed" in value:
        if value.get("error"):
            return "error"
        return "allowed" if value["allowed"] else f"denied ({len(value.get('violations', []))})"
    if isinstance(value, list):
        return "allowed" if not value else f"denied ({len(value)})"
    return json.dumps(value)[:16]


def opa_times(policy_dir: Path, query: str, shape: str, count: int, gomaxprocs: int | None) -> list[list[str]]:
    opa = require(OPA)
    env = dict(os.environ)
    if gomaxprocs:
        env["GOMAXPROCS"] = str(gomaxprocs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pssgen-bench-") as tmp:
        for level in LEVELS:
            for label, make in PODS:
                for denied in (False, True):
                    data, extra = bench_input(shape, make(denied), level, "latest")
                    stem = Path(tmp) / f"{level}-{len(rows)}"
                    stem.with_suffix(".json").write_text(json.dumps(data))
                    args = ["-d", str(policy_dir), "-i", str(stem.with_suffix(".json"))]
                    if extra is not None:
                        (stem.parent / f"{stem.name}-data.json").write_text(json.dumps(extra))
                        args += ["-d", str(stem.parent / f"{stem.name}-data.json")]
                    q = query.replace("{level}", level)
                    shown = verdict(opa, [*args, q], env)
                    try:
                        t = opa_bench(opa, [*args, q], count, env)
                    except RuntimeError as exc:
                        rows.append([level, label, "denied" if denied else "allowed", shown, str(exc), "", "", ""])
                        continue
                    rows.append([
                        level, label, "denied" if denied else "allowed", shown,
                        f"{t['ns_op'] / 1000:.0f} ({t['ns_op_best'] / 1000:.0f})",
                        f"{t['eval'] / 1000:.0f} ({t['eval_best'] / 1000:.0f})",
                        f"{t['allocs']:.0f}",
                        f"{t['iterations']}",
                    ])  # fmt: skip
    return rows


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int) -> None:
    """Columns as wide as their widest cell; text left-aligned, figures right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = [
            cell.ljust(w) if i < text_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("policy_dir", nargs="?", type=Path, default=ROOT / "out" / "rego",
                        help="Rego to time with opa bench (default: out/rego)")  # fmt: skip
    parser.add_argument("--corpus", default="upstream", help='"upstream" (the pinned fixtures) or a directory like it')
    parser.add_argument("--query", default="data.pss.result", help="what to ask POLICY_DIR; {level} is replaced")
    parser.add_argument("--input-shape", choices=SHAPES, default="pss", help="the input POLICY_DIR expects")
    parser.add_argument("--count", type=int, default=5, help="opa bench runs per pod (each about 1 s)")
    parser.add_argument("--gomaxprocs", type=int, default=None, help="GOMAXPROCS for opa bench (default: unset)")
    parser.add_argument("--engine", dest="engines", action="append", choices=ENGINE_NAMES,
                        help="engine to time (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--skip-conformance", action="store_true", help="only the opa bench table")
    parser.add_argument("--skip-opa-bench", action="store_true", help="only the conformance table")
    args = parser.parse_args()
    policy_dir: Path = args.policy_dir.resolve()
    if not policy_dir.is_dir():
        parser.error(f"{policy_dir}: not a directory")

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"POLICY_DIR {policy_dir}; {os.cpu_count()} CPUs; load average {load} (figures on a busy machine are noisy)")
    if not args.skip_conformance:
        fixtures = upstream_corpus() if args.corpus == "upstream" else load_corpus(Path(args.corpus))
        engines = args.engines or list(ENGINE_NAMES)
        from_dir = args.input_shape == "pss"

        def open_one(name: str) -> tuple[EngineBase, str]:
            if name == "opa" and from_dir:
                return policy_dir_engine(policy_dir), f"Rego from {policy_dir}"
            return open_engine(name), "as generator.engines.base builds it"

        print(f"\n(a) Conformance wall time, corpus {args.corpus}: each fixture at its own level and version, "
              "then each distinct object at every level and version")  # fmt: skip
        rows = conformance_times(fixtures, engines, open_one)
        print_conformance(rows, [len(fixtures), len(every_level_and_version(fixtures))])
        evaluating = [sum(times) for name, _, startup, times, _ in rows if startup is not None and name != "psa oracle"]
        print(f"all engines: {sum(evaluating):.2f}s evaluating, "
              f"{sum(s for n, _, s, _, _ in rows if s is not None and n != 'psa oracle'):.2f}s starting")  # fmt: skip

    if not args.skip_opa_bench:
        procs = f"GOMAXPROCS={args.gomaxprocs}" if args.gomaxprocs else "GOMAXPROCS unset"
        print(f"\n(b) OPA evaluation per pod: opa bench {args.query} ({args.input_shape} input), version latest, "
              f"{args.count} runs, {procs}; microseconds, median (fastest run)")  # fmt: skip
        rows = opa_times(policy_dir, args.query, args.input_shape, args.count, args.gomaxprocs)
        print_table(["level", "pod", "case", "verdict", "ns/op us", "eval us", "allocs/op", "iterations"], rows, 4)


if __name__ == "__main__":
    sys.exit(main())
