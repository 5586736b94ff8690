"""``pssgen conformance``: every engine against upstream PSA, outside pytest; or anyone's Rego policies (--rego)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import click
import yaml

from generator.cli.options import EXIT_DENIED, EXIT_OK, context_option, kubeconfig_option
from generator.engines import ALL_ENGINE_NAMES, ENGINE_NAMES, open_engine
from generator.parity import rego_policy
from generator.parity.compare import (
    compare,
    conformance_table,
    fixture_cases,
    fixture_expectation_problem,
    oracle_verdicts,
)
from generator.parity.corpus import Fixture, load_corpus, upstream_corpus
from generator.parity.fixtures import project_corpus
from generator.parity.oracle import Oracle
from generator.policy.registry import CHECKS
from generator.policy.versions import LEVELS, parse_version

GENERATED = 2000


@click.command()
@click.option("--engine", "engines", multiple=True, type=click.Choice(ALL_ENGINE_NAMES),
              help="Engine to check (repeatable; default: every offline one). cluster: a live API server's own "
                   "Pod Security admission (see --kubeconfig), checked against the pinned PSA.")  # fmt: skip
@kubeconfig_option
@context_option
@click.option("--corpus", default=None,
              help='"upstream" (the pinned PSA module\'s fixtures; the default), "project" (conformance/corpus and '
                   "the fuzzer's findings, conformance/corpus-found) or a directory laid out like them. With --rego "
                   "the default is upstream and project.")  # fmt: skip
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--rego", "rego", type=click.Path(path_type=Path), multiple=True,
              help="Measure this Rego policy set (a directory or file; repeatable) against PSA.")  # fmt: skip
@click.option("--query", default=None,
              help="--rego: the rule that answers (default pss.result for --input-shape pss, violation in each "
                   "template's package for gatekeeper).")  # fmt: skip
@click.option("--input-shape", "shape", type=click.Choice(rego_policy.SHAPES), default="pss", show_default=True,
              help="--rego: input is pssgen's {object, level, version}, the object itself (raw), or Gatekeeper's "
                   "{review, parameters} from ConstraintTemplate YAML files (gatekeeper).")  # fmt: skip
@click.option("--deny-when", type=click.Choice(rego_policy.DENY_WHEN), default="nonempty", show_default=True,
              help="--rego: nonempty: a non-empty set/array/object/string or true denies (an object with a "
                   "boolean 'allowed' decides itself); true: the rule is true; false: it is not (allow).")  # fmt: skip
@click.option("--parameters", default=None, help="--input-shape gatekeeper: the Constraint's parameters (JSON).")
@click.option("--rego-version", type=click.Choice(["v1", "v0"]), default="v1", show_default=True,
              help="--rego with .rego files: their syntax (templates say their own).")  # fmt: skip
@click.option("--level", type=click.Choice(LEVELS), default=None,
              help="--rego: judge every object at this PSA level (needed unless --input-shape pss, where each "
                   "fixture is otherwise judged at its own level and version).")  # fmt: skip
@click.option("--version", "version", default=None, help="--rego with --level: the PSA version (default latest).")
@click.option("--check", "checks", multiple=True, metavar="CHECK",
              help="--rego: count only these PSA checks (repeatable), for a policy of a few controls.")  # fmt: skip
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="--rego: only objects of this kind (repeatable), e.g. Pod for a policy of Pods only.")  # fmt: skip
@click.option("--generated", type=click.IntRange(min=0), default=GENERATED, show_default=True,
              help="--rego: generated objects (generator/parity/fuzz.py) added to the corpora.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="--rego: the generator's seed.")
@click.option("--admissible/--any-object", default=None,
              help="--rego: only objects the API server's validation lets reach admission (a name, named "
                   "containers, a Pod's images); the default for --input-shape gatekeeper.")  # fmt: skip
@click.option("--shrink/--no-shrink", default=True, show_default=True,
              help="--rego: shrink each example to a minimal object that still disagrees the same way.")  # fmt: skip
def conformance(engines: tuple[str, ...], kubeconfig: str | None, context: str | None, corpus: str | None,
                output: str, rego: tuple[Path, ...], query: str | None, shape: rego_policy.Shape,
                deny_when: rego_policy.DenyWhen, parameters: str | None, rego_version: str, level: str | None,
                version: str | None, checks: tuple[str, ...], kinds: tuple[str, ...], generated: int, seed: int,
                admissible: bool | None, shrink: bool) -> None:  # fmt: skip
    """Prove the engines agree with upstream Pod Security Admission.

    Every fixture is evaluated at its own level and version by upstream PSA (a
    Go program on the pinned k8s.io/pod-security-admission module) and by each
    engine; verdicts, reasons and details must be identical. Exit 1 on any
    disagreement, or a fixture whose place in the tree PSA itself contradicts,
    listing each.

    \b
    pssgen conformance
    pssgen conformance --engine opa --output json
    pssgen conformance --corpus my-fixtures/     # {baseline,restricted}/v1.N/{pass,fail}/*.yaml
    pssgen conformance --engine cluster --context staging   # that cluster's PSA against the pinned one

    With --rego, any Rego policy set is measured against PSA instead: the
    upstream corpus, the project's and generated pods, reported per PSA check
    (cases PSA fails it, how many the policy allowed: too permissive) and for
    cases PSA allows (how many the policy denied: too strict), each with a
    minimal example. Exit 1 on any disagreement.

    \b
    pssgen conformance --rego out/rego                  # pssgen's own Rego, --input-shape pss
    pssgen conformance --rego templates/ --input-shape gatekeeper --level baseline \\
        --parameters '{"exemptImages": []}' --check privileged --kind Pod
    pssgen conformance --rego policy/ --input-shape raw --query main.deny --level restricted
    """
    if rego:
        if engines or kubeconfig or context:
            raise click.UsageError("--rego measures a policy set: it takes no --engine, --kubeconfig or --context")
        _rego_conformance(rego, corpus, output, query, shape, deny_when, parameters, rego_version, level, version,
                          checks, kinds, generated, seed, shape == "gatekeeper" if admissible is None else admissible,
                          shrink)  # fmt: skip
        return
    rego_only = {"--query": query, "--parameters": parameters, "--level": level, "--version": version,
                 "--check": checks, "--kind": kinds, "--admissible/--any-object": admissible is not None}  # fmt: skip
    if given := [name for name, value in rego_only.items() if value]:
        raise click.UsageError(f"{', '.join(given)} only apply with --rego")
    corpus = corpus or "upstream"
    fixtures = _corpus(corpus)
    cases = fixture_cases(fixtures)
    chosen = engines or ENGINE_NAMES
    with Oracle() as oracle:
        verdicts = oracle_verdicts(oracle, cases)
    expectation = [
        f"{f.id}: {problem}"
        for f, v in zip(fixtures, verdicts, strict=True)
        if (problem := fixture_expectation_problem(f, v)) is not None
    ]
    reports = []
    show_progress = output == "text" and sys.stderr.isatty()
    for name in chosen:
        with open_engine(name, kubeconfig=kubeconfig, context=context) as running:
            if show_progress:
                with click.progressbar(length=len(cases), label=f"{name:<10}", file=sys.stderr) as bar:
                    reports.append(compare(running, cases, verdicts, progress=bar.update))
            else:
                reports.append(compare(running, cases, verdicts))
    failed = bool(expectation) or any(r.disagreements for r in reports)
    if output == "json":
        click.echo(json.dumps({
            "corpus": corpus,
            "cases": len(cases),
            "fixture_expectations": {"violations": expectation},
            "engines": {
                r.engine: {
                    "agreed": sum(r.agreed.values()),
                    "total": sum(r.total.values()),
                    "by_level_version": {f"{k[0]}:{k[1]}": [r.agreed[k], r.total[k]] for k in sorted(r.total)},
                    "disagreements": r.disagreements,
                }
                for r in reports
            },
        }, indent=2))  # fmt: skip
    else:
        click.echo(conformance_table(reports))
        for report in reports:
            for line in report.disagreements:
                click.echo(line)
        for line in expectation:
            click.echo(f"fixture expectation not met by PSA itself: {line}")
        verdict = "DISAGREE" if failed else "agree"
        click.echo(f"{len(cases)} cases ({corpus}): engines {', '.join(chosen)} {verdict} with upstream PSA")
    sys.exit(EXIT_DENIED if failed else EXIT_OK)


def _corpus(name: str) -> list[Fixture]:
    if name == "upstream":
        return list(upstream_corpus())
    return project_corpus() if name == "project" else load_corpus(Path(name))


def _rego_conformance(rego: tuple[Path, ...], corpus: str | None, output: str, query: str | None,
                      shape: rego_policy.Shape,
                      deny_when: rego_policy.DenyWhen, parameters: str | None, rego_version: str, level: str | None,
                      version: str | None, checks: tuple[str, ...], kinds: tuple[str, ...], generated: int, seed: int,
                      admissible: bool, shrink: bool) -> None:  # fmt: skip
    """``--rego``: the policy set against PSA, per check; see ``generator.parity.rego_policy``."""
    if level is None and shape != "pss":
        raise click.UsageError(f"--input-shape {shape} needs --level: the policy's input does not say one")
    if version is not None and level is None:
        raise click.UsageError("--version needs --level")
    if version is not None:
        try:
            parse_version(version)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--version") from exc
    known = {c.id for c in CHECKS}
    if unknown := sorted(set(checks) - known):
        raise click.BadParameter(f"unknown check {', '.join(unknown)}; one of {', '.join(sorted(known))}",
                                 param_hint="--check")  # fmt: skip
    params = _parameters(parameters, shape)
    if shape == "gatekeeper":
        policy = rego_policy.constraint_template_set(rego, query or rego_policy.DEFAULT_QUERIES["gatekeeper"])
    else:
        if query is None and shape == "raw":
            raise click.UsageError("--input-shape raw needs --query: the rule that answers, e.g. main.deny")
        policy = rego_policy.rego_policy_set(rego, query or rego_policy.DEFAULT_QUERIES["pss"], rego_version)
    at = version or "latest"
    sources = ["upstream", "project"] if corpus is None else [corpus]
    cases = [c for s in sources for c in rego_policy.fixture_cases(_source_name(s), _corpus(s), level, at)]
    cases += rego_policy.generated_cases(generated, seed, level, at)
    cases = rego_policy.distinct(cases, kinds, admissible=admissible)
    if not cases:
        raise click.UsageError("no cases" + (f" of kind {', '.join(kinds)}" if kinds else ""))
    show_progress = output == "text" and sys.stderr.isatty()
    with Oracle() as oracle, rego_policy.RegoPolicy(policy, shape, deny_when, params) as running:
        if show_progress:
            with click.progressbar(length=len(cases), label="policy", file=sys.stderr) as bar:
                report = rego_policy.compare(running, oracle, cases, frozenset(checks), shrink=shrink,
                                             admissible=admissible, progress=bar.update)  # fmt: skip
        else:
            report = rego_policy.compare(running, oracle, cases, frozenset(checks), shrink=shrink,
                                         admissible=admissible)  # fmt: skip
    psa = f"{level}:{at}" if level else "each case's own level and version"
    described = {
        "path": policy.source, "shape": shape, "targets": [t.path for t in policy.targets], "deny_when": deny_when,
        "parameters": params if shape == "gatekeeper" else None, "admissible_only": admissible,
    }  # fmt: skip
    if output == "json":
        click.echo(json.dumps(_report_json(report, described, psa, checks, kinds, sources, generated, seed), indent=2))
    else:
        click.echo(_report_text(report, described, psa, checks))
    sys.exit(EXIT_DENIED if report.disagrees else EXIT_OK)


def _source_name(corpus: str) -> str:
    return corpus if corpus in ("upstream", "project") else "corpus"


def _parameters(text: str | None, shape: str) -> dict[str, Any]:
    if text is None:
        return {}
    if shape != "gatekeeper":
        raise click.UsageError("--parameters only applies with --input-shape gatekeeper")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--parameters") from exc
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--parameters")
    return cast(dict[str, Any], value)


def _example_json(example: rego_policy.Example) -> dict[str, Any]:
    return {
        "check": example.check, "direction": example.direction, "case": example.case, "level": example.level,
        "version": example.version, "object": example.object, "psa": example.psa, "policy": list(example.policy),
    }  # fmt: skip


def _report_json(report: rego_policy.Report, policy: Mapping[str, Any], psa: str, checks: tuple[str, ...],
                 kinds: tuple[str, ...], sources: list[str], generated: int, seed: int) -> dict[str, Any]:  # fmt: skip
    return {
        "policy": policy,
        "psa": {"at": psa, "checks": list(checks) or None},
        "corpora": sources, "generated": {"count": generated, "seed": seed}, "kinds": list(kinds) or None,
        "cases": report.cases,
        "by_source": dict(report.by_source),
        "psa_denied": report.psa_denied,
        "too_permissive": report.too_permissive_cases,
        "too_strict": report.too_strict_cases,
        "checks": [
            {"check": check, "cases": n, "too_permissive": permissive, "too_strict": strict}
            for check, n, permissive, strict in report.rows()
        ],
        "examples": [_example_json(e) for e in report.examples.values()],
        "policy_errors": report.policy_errors,
        "oracle_errors": report.oracle_errors,
        "refused": report.refused,
        "agree": not report.disagrees,
    }  # fmt: skip


def _one_line(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def _yaml(obj: Any) -> str:
    """An example as compact YAML: flow style, one short block a reader can paste."""
    text: str = yaml.safe_dump(obj, default_flow_style=True, sort_keys=False, width=110, allow_unicode=False)
    return text.strip()


def _report_text(report: rego_policy.Report, policy: Mapping[str, Any], psa: str, checks: tuple[str, ...]) -> str:
    lines = [
        f"policy {policy['path']} ({policy['shape']}: {', '.join(f'data.{t}' for t in policy['targets'])}) "
        f"against PSA at {psa}" + (f", checks {', '.join(checks)}" if checks else ""),
        f"{report.cases} cases ({', '.join(f'{k} {v}' for k, v in sorted(report.by_source.items()))}): "
        f"PSA denies {report.psa_denied}",
        "",
        f"{'check':<28}{'cases':>8}{'too permissive':>16}{'too strict':>12}",
    ]
    for check, n, permissive, strict in report.rows():
        cells = [f"{'-' if permissive is None else permissive:>16}", f"{'-' if strict is None else strict:>12}"]
        lines.append(f"{check:<28}{n:>8}{''.join(cells)}")
    for example in report.examples.values():
        lines += [
            "",
            f"{example.direction}, {example.check}: {example.case} at {example.level}:{example.version}"
            + (
                f" (shrunk from {example.original_size} bytes of JSON)"
                if len(_one_line(example.object)) < example.original_size
                else ""
            ),
            f"  psa:    {example.psa}",
            f"  policy: {'; '.join(example.policy) if example.policy else 'allowed'}",
            *(f"  {line}" for line in _yaml(example.object).splitlines()),
        ]
    for problem in [*report.policy_errors, *report.oracle_errors, *report.refused]:
        lines.append(problem)
    verdict = (
        f"DISAGREES with PSA: {report.too_permissive_cases} too permissive, {report.too_strict_cases} too strict"
        + (f", {len(report.policy_errors)} errors" if report.policy_errors else "")
        if report.disagrees
        else "agrees with PSA"
    )
    lines += ["", f"{report.cases} cases: the policy {verdict}"]
    return "\n".join(lines)
