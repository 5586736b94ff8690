"""Anyone's Rego policies measured against upstream PSA, check by check.

A team about to replace its policies with pssgen's wants to know where they
part from Pod Security Admission today: which pods they let through that PSA
denies (too permissive, per PSA check that fails) and which they deny that PSA
allows (too strict), each with a minimal example. The policy set runs in the
pinned OPA through the project's long-lived server (one request per batch:
a small wrapper module answers every item of ``input.items`` with
``data.<query> with input as item``), in one of three input shapes:

- ``pss``: pssgen's own (``{"object", "level", "version"}``, as ``data.pss.result`` takes);
- ``raw``: the object itself is ``input`` (conftest-style policies);
- ``gatekeeper``: ``input.review`` (an admission review of a CREATE) and ``input.parameters``, as
  ConstraintTemplates expect; the Rego is read from the templates' YAML (``spec.targets[].rego``/``libs``
  or ``code[]`` of engine Rego), each template's ``lib.*`` packages kept apart as Gatekeeper keeps them.

How an answer is read (``--deny-when``): ``nonempty`` (the default) denies on a non-empty set, array,
object or string and on ``true`` (a ``violation``/``deny`` rule), except an object with a boolean
``allowed`` (pssgen's ``result``), which decides itself; undefined, ``null``, ``false`` and empties allow.
``true`` denies exactly when the rule is ``true``; ``false`` denies unless it is ``true`` (an ``allow`` rule).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import requests
import yaml

from generator.engines.opa_server import OpaDied, OpaError, OpaServer
from generator.errors import PssgenError
from generator.manifests.shape import conform
from generator.parity import fuzz
from generator.parity.compare import Case
from generator.parity.corpus import Fixture
from generator.parity.oracle import Oracle, OracleVerdict
from generator.policy.pod import pod_template
from generator.policy.registry import CHECKS

Shape = Literal["pss", "raw", "gatekeeper"]
DenyWhen = Literal["nonempty", "true", "false"]
Direction = Literal["too permissive", "too strict"]

SHAPES: tuple[Shape, ...] = ("pss", "raw", "gatekeeper")
DENY_WHEN: tuple[DenyWhen, ...] = ("nonempty", "true", "false")
DEFAULT_QUERIES: Mapping[str, str] = {"pss": "pss.result", "gatekeeper": "violation"}
NONE = "(none: PSA allows)"  # where a denial PSA does not make is counted: no PSA check failed
GATEKEEPER_TARGET = "admission.k8s.gatekeeper.sh"
WRAPPER_PACKAGE = "pssgen_conformance"
BATCH = 1000  # items per OPA request

_QUERY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_PACKAGE = re.compile(r"^([ \t]*package[ \t]+)([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
_LIB_PACKAGE = re.compile(r"^([ \t]*package[ \t]+)lib\b", re.MULTILINE)
_LIB_REF = re.compile(r"\bdata\.lib\b")
_REGO_V1_IMPORT = re.compile(r"^[ \t]*import[ \t]+rego\.v1\b", re.MULTILINE)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PolicyError(PssgenError, ValueError):
    """The policy set cannot be read, loaded or interpreted as asked."""


# ---- reading a policy set ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One rule whose answer is a verdict: ``path`` in ``data`` (dotted), ``name`` for messages."""

    name: str
    path: str


@dataclass(frozen=True)
class PolicySet:
    """Rego modules (id: text) and the rules to ask; ``v0``: some module needs OPA's v0 parser."""

    source: str  # the paths read, for messages
    modules: Mapping[str, str]
    targets: tuple[Target, ...]
    v0: bool


def query_path(query: str) -> str:
    """``data.pss.result``, ``pss/result`` or ``pss.result`` as ``pss.result``; a one-line error otherwise."""
    path = query.strip().strip("/").replace("/", ".")
    path = path.removeprefix("data.")
    if not _QUERY.match(path):
        raise PolicyError(f"--query {query!r}: expected a rule's path in data, like pss.result or main.deny")
    return path


def _files(roots: Sequence[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Each file given, and the files with these suffixes under each directory given, once each."""
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(
                p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes and ".git" not in p.parts
            )
        else:
            raise PolicyError(f"{root}: no such file or directory")
    return list(dict.fromkeys(found))


def _source(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots)


def rego_policy_set(roots: Sequence[Path], query: str, rego_version: str = "v1") -> PolicySet:
    """Every ``.rego`` file under ``roots`` (tests left out), asked at ``query``; each module's id is its path,
    so OPA's errors name the file."""
    files = [p for p in _files(roots, (".rego",)) if not p.name.endswith("_test.rego")]
    if not files:
        raise PolicyError(f"{_source(roots)}: no .rego files")
    modules: dict[str, str] = {}
    for path in files:
        try:
            modules[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read: {exc}") from exc
    target = query_path(query)
    return PolicySet(_source(roots), modules, (Target(target, target),), rego_version == "v0")


def _template_rego(where: str, target: Mapping[str, Any]) -> list[tuple[str, list[str], bool]]:
    """(rego, libs, is_v1) of each Rego code block of one target: legacy ``rego``/``libs`` (v0), ``code[]``."""
    found: list[tuple[str, list[str], bool]] = []
    if target.get("rego"):
        found.append((_text(where, "rego", target["rego"]), _texts(where, "libs", target.get("libs")), False))
    for i, code in enumerate(target.get("code") or []):
        if not isinstance(code, Mapping) or code.get("engine") != "Rego":
            continue
        source = code.get("source")
        if not isinstance(source, Mapping) or not source.get("rego"):
            raise PolicyError(f"{where}: code[{i}] (engine Rego) has no source.rego")
        is_v1 = str(source.get("version", "v0")) == "v1"
        found.append((_text(where, f"code[{i}].source.rego", source["rego"]),
                      _texts(where, f"code[{i}].source.libs", source.get("libs")), is_v1))  # fmt: skip
    return found


def _text(where: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{where}: {what} must be a string")
    return value


def _texts(where: str, what: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where}: {what} must be a list of strings")
    return [_text(where, f"{what}[{i}]", v) for i, v in enumerate(value)]


def _isolated(text: str, namespace: str) -> str:
    """A template's module with its ``lib`` packages moved under ``lib.<namespace>``: Gatekeeper keeps each
    template's libs to itself, and libraries of the same name (gatekeeper-library's ``lib.exclude_update``) in
    two templates would otherwise collide."""
    return _LIB_REF.sub(f"data.lib.{namespace}", _LIB_PACKAGE.sub(rf"\g<1>lib.{namespace}", text))


def _with_v1_import(text: str) -> str:
    """A v1 module made v1 for a server parsing v0 by default: ``import rego.v1`` after its package line."""
    if _REGO_V1_IMPORT.search(text):
        return text
    return _PACKAGE.sub(lambda m: f"{m.group(0)}\nimport rego.v1", text, count=1)


def constraint_template_set(roots: Sequence[Path], rule: str = "violation") -> PolicySet:
    """The Rego of every ConstraintTemplate in the YAML files (and directories) of ``roots``; each template's
    ``<package>.<rule>``
    is asked. Other documents (Constraints, kustomizations) are passed over; a template with no Rego
    (only K8sNativeValidation) is an error rather than a policy silently left out."""
    rule_path = query_path(rule)
    raw: list[tuple[str, str, str, list[str], bool]] = []  # (where, name, rego, libs, is_v1)
    for path in _files(roots, (".yaml", ".yml")):
        try:
            documents = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise PolicyError(f"{path}: cannot read YAML: {' '.join(str(exc).split())}") from exc
        for n, doc in enumerate(documents):
            if not isinstance(doc, Mapping) or doc.get("kind") != "ConstraintTemplate":
                continue
            name = str((doc.get("metadata") or {}).get("name") or f"{path.stem}-{n}")
            where = f"{path} document {n} (ConstraintTemplate {name})"
            spec_targets = (doc.get("spec") or {}).get("targets") or []
            codes = [c for t in spec_targets if isinstance(t, Mapping) and t.get("target") == GATEKEEPER_TARGET
                     for c in _template_rego(where, t)]  # fmt: skip
            if not codes:
                raise PolicyError(f"{where}: no Rego for target {GATEKEEPER_TARGET} (only Rego is run)")
            raw.extend((where, name, rego, libs, is_v1) for rego, libs, is_v1 in codes)
    if not raw:
        raise PolicyError(f"{_source(roots)}: no ConstraintTemplate found in its YAML files")
    v0 = not all(is_v1 for *_, is_v1 in raw)
    modules: dict[str, str] = {}
    targets: list[Target] = []
    packages: dict[str, str] = {}
    for i, (where, name, rego, libs, is_v1) in enumerate(raw):
        found = _PACKAGE.search(rego)
        if found is None:
            raise PolicyError(f"{where}: its Rego has no package line")
        package = found.group(2)
        if package in packages:
            raise PolicyError(f"{where}: package {package} is also the package of {packages[package]}")
        packages[package] = where
        namespace = f"t{i}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        for j, text in enumerate([rego, *libs]):
            module = _isolated(text, namespace)
            modules[f"{name}/{'src' if j == 0 else f'lib{j - 1}'}.rego"] = (
                _with_v1_import(module) if is_v1 and v0 else module
            )
        targets.append(Target(name, f"{package}.{rule_path}"))
    return PolicySet(_source(roots), modules, tuple(targets), v0)


# ---- asking the policy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The policy's verdict on one object, and what it said."""

    denied: bool
    messages: tuple[str, ...] = ()


def _message(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        if "msg" in item:
            return str(item["msg"])
        if "reason" in item:
            detail = item.get("detail")
            return f"{item['reason']} ({detail})" if detail else str(item["reason"])
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def interpret(path: str, present: bool, value: Any, deny_when: DenyWhen) -> Answer:
    """What ``data.<path>`` answering ``value`` (``present`` False: undefined) means, by ``deny_when``."""
    if deny_when != "nonempty":
        if present and not isinstance(value, bool):
            raise PolicyError(f"data.{path} answered {_short(value)}, not a boolean (--deny-when {deny_when})")
        is_true = present and value is True
        return Answer(is_true if deny_when == "true" else not is_true, ("(true)",) if is_true else ())
    if not present or value is None or value is False:
        return Answer(False)
    if value is True:
        return Answer(True, ("(true)",))
    if isinstance(value, Mapping) and isinstance(value.get("allowed"), bool):
        violations = value.get("violations")
        messages = tuple(_message(v) for v in violations) if isinstance(violations, list) else ()
        return Answer(not value["allowed"], messages if not value["allowed"] else ())
    if isinstance(value, list):
        return Answer(bool(value), tuple(_message(v) for v in value))
    if isinstance(value, Mapping):
        return Answer(bool(value), tuple(f"{k}: {_message(v)}" for k, v in value.items()))
    if isinstance(value, str):
        return Answer(bool(value), (value,) if value else ())
    raise PolicyError(f"data.{path} answered {_short(value)}: not a set, array, object, string or boolean")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _wrapper(targets: Sequence[Target]) -> str:
    """The module answering a batch: each target's value per item, ``{}`` where it is undefined."""
    lines = [f"package {WRAPPER_PACKAGE}", "", "import rego.v1", "",
             "batch := [_answer(item) | some item in input.items]", "",
             f"_answer(item) := [{', '.join(f'_t{i}(item)' for i in range(len(targets)))}]", ""]  # fmt: skip
    for i, target in enumerate(targets):
        lines += [f'_t{i}(item) := {{"value": v}} if {{', f"\tv := data.{target.path} with input as item",
                  "} else := {}", ""]  # fmt: skip
    return "\n".join(lines)


def _review(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The admission review Gatekeeper hands a template for creating ``obj``."""
    api_version = obj.get("apiVersion")
    group, _, version = api_version.rpartition("/") if isinstance(api_version, str) else ("", "", "")
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    return {
        "kind": {"group": group, "version": version, "kind": obj.get("kind", "")},
        "operation": "CREATE",
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", "default"),
        # Gatekeeper's webhook gives the namespace too; one without labels (PSA's defaults apply)
        "namespaceObject": {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": metadata.get("namespace", "default")},
        },
        "object": obj,
        "userInfo": {"username": "pssgen-conformance"},
        "dryRun": False,
    }


class RegoPolicy:
    """A policy set loaded once into a pinned OPA server, judging objects in batches; a context manager."""

    def __init__(self, policy: PolicySet, shape: Shape, deny_when: DenyWhen = "nonempty",
                 parameters: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.policy = policy
        self.shape = shape
        self.deny_when = deny_when
        self.parameters = dict(parameters or {})
        self._server = OpaServer(extra_args=("--v0-compatible",) if policy.v0 else ())

    def __enter__(self) -> RegoPolicy:
        self._server.start()
        try:
            self._server.load_policies(
                {**self.policy.modules, f"{WRAPPER_PACKAGE}.rego": _wrapper(self.policy.targets)}
            )
            self._check_targets()
        except OpaError as exc:
            self._server.stop()
            raise PolicyError(f"{self.policy.source}: {exc}") from exc
        except BaseException:
            self._server.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()

    def _check_targets(self) -> None:
        """Each target is a rule some module defines: a misspelt query would otherwise allow everything."""
        try:
            answer = requests.get(f"{self._server.url}/v1/policies", timeout=60).json()
        except (requests.RequestException, ValueError) as exc:
            raise OpaError(f"listing the loaded policies: {exc}") from exc
        rules: set[str] = set()
        for module in answer.get("result", []):
            ast = module.get("ast") or {}
            package = [str(t.get("value")) for t in (ast.get("package") or {}).get("path", [])[1:]]
            for rule in ast.get("rules") or []:
                head = rule.get("head") or {}
                ref = head.get("ref") or [{"type": "var", "value": head.get("name")}]
                names = [str(ref[0].get("value"))]
                for term in ref[1:]:
                    if term.get("type") != "string":
                        break
                    names.append(str(term["value"]))
                rules.add(".".join([*package, *names]))
        for target in self.policy.targets:
            if not any(target.path == r or target.path.startswith(f"{r}.") for r in rules):
                raise PolicyError(f"{self.policy.source}: no loaded module defines data.{target.path} (see --query)")

    def input_of(self, obj: Mapping[str, Any], level: str, version: str) -> Any:
        """What the policy gets as ``input`` for judging ``obj`` (at ``level``/``version`` for the pss shape)."""
        if self.shape == "pss":
            return {"object": obj, "level": level, "version": version}
        if self.shape == "gatekeeper":
            return {"review": _review(obj), "parameters": self.parameters}
        return obj

    def judge_many(self, items: Sequence[tuple[Mapping[str, Any], str, str]]) -> list[Answer | str]:
        """The policy's answer per (object, level, version), or the error OPA gave for that object alone."""
        out: list[Answer | str] = []
        for start in range(0, len(items), BATCH):
            out.extend(self._judge(items[start : start + BATCH]))
        return out

    def _judge(self, items: Sequence[tuple[Mapping[str, Any], str, str]]) -> list[Answer | str]:
        try:
            answers = self._server.query(f"{WRAPPER_PACKAGE}/batch", {"items": [self.input_of(*i) for i in items]})
        except OpaDied:
            raise
        except OpaError as exc:  # an evaluation error (a conflict, a builtin's): find the objects it belongs to
            if len(items) == 1:
                return [" ".join(str(exc).split())]
            half = len(items) // 2
            return self._judge(items[:half]) + self._judge(items[half:])
        if not isinstance(answers, list) or len(answers) != len(items):
            raise PolicyError(f"{WRAPPER_PACKAGE}.batch answered {_short(answers)} for {len(items)} items")
        return [self._combine(a) for a in answers]

    def _combine(self, per_target: list[dict[str, Any]]) -> Answer:
        """Denied when any target denies; messages prefixed with the target's name when there are several."""
        denied = False
        messages: list[str] = []
        several = len(self.policy.targets) > 1
        for target, answer in zip(self.policy.targets, per_target, strict=True):
            one = interpret(target.path, "value" in answer, answer.get("value"), self.deny_when)
            denied |= one.denied
            messages += [f"{target.name}: {m}" if several else m for m in one.messages]
        return Answer(denied, tuple(messages))


# ---- the cases and the comparison --------------------------------------------------------------------------------


def fixture_cases(source: str, fixtures: Iterable[Fixture], level: str | None, version: str) -> list[Case]:
    """Each fixture at its own level and version, or (``level`` given) at ``level``/``version``."""
    return [Case(f"{source}:{f.id}", f.object, level or f.level, version if level else f.version) for f in fixtures]


def generated_cases(count: int, seed: int, level: str | None, version: str) -> list[Case]:
    """The fuzzer's objects of ``seed``: each at its own (level, version) pairs, or at ``level``/``version``."""
    cases: list[Case] = []
    for i in range(count):
        item = fuzz.generate(seed, i)
        pairs = item.cases if level is None else ((level, version),)
        cases.extend(Case(f"generated:{seed}/{i}", item.object, lv, ver) for lv, ver in pairs)
    return cases


def distinct(cases: Iterable[Case], kinds: Sequence[str] = (), *, admissible: bool = False) -> list[Case]:
    """Cases without repeats of the same object at the same level and version, of ``kinds`` when given, only
    those the API server would let reach admission with ``admissible``."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Case] = []
    for case in cases:
        if kinds and case.object.get("kind") not in kinds:
            continue
        if admissible and inadmissible(case.object) is not None:
            continue
        key = (json.dumps(case.object, sort_keys=True, default=str), case.level, case.version)
        if key not in seen:
            seen.add(key)
            out.append(case)
    return out


CONTAINER_LISTS: tuple[str, ...] = ("initContainers", "containers", "ephemeralContainers")


def inadmissible(obj: Mapping[str, Any]) -> str | None:
    """Why the API server's validation would refuse ``obj`` before any validating admission (PSA, Gatekeeper)
    sees it, for what pod policies read; None when it would not. An approximation of the apiserver's own
    validation: a name for the object, a name for each container, unique, and an image for a Pod's containers
    (workload templates may leave images to be set later). Admission policies rightly assume these hold, so
    objects without them are left out of --admissible runs and never become examples."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or not (metadata.get("name") or metadata.get("generateName")):
        return "metadata.name is required"
    template = pod_template(obj)
    spec = template.get("spec") if template is not None else None
    if not isinstance(spec, Mapping):
        return "spec is required" if template is not None else None
    if not spec.get("containers"):
        return "spec.containers is required"
    names: set[str] = set()
    for kind in CONTAINER_LISTS:
        for i, container in enumerate(spec.get(kind) or []):
            where = f"spec.{kind}[{i}]"
            if not isinstance(container, Mapping):
                return f"{where} must be an object"
            name = container.get("name")
            if not isinstance(name, str) or not name:
                return f"{where}.name is required"
            if name in names:
                return f"{where}.name {name!r} is a duplicate"
            names.add(name)
            if obj.get("kind") == "Pod" and not container.get("image"):
                return f"{where}.image is required"
    return None


@dataclass
class Example:
    """The smallest object found (then shrunk) for one check and direction."""

    check: str
    direction: Direction
    case: str
    level: str
    version: str
    object: dict[str, Any]
    psa: str
    policy: tuple[str, ...]
    original_size: int


@dataclass
class Report:
    """Per PSA check: cases PSA fails it, and how many of those the policy allowed; PSA-allowed cases the policy
    denied under ``NONE``; one minimal example per (check, direction)."""

    cases: int = 0
    psa_denied: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    check_cases: Counter[str] = field(default_factory=Counter)
    too_permissive: Counter[str] = field(default_factory=Counter)
    too_permissive_cases: int = 0
    too_strict_cases: int = 0
    examples: dict[tuple[str, Direction], Example] = field(default_factory=dict)
    policy_errors: list[str] = field(default_factory=list)
    oracle_errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def disagrees(self) -> bool:
        return bool(self.too_permissive_cases or self.too_strict_cases or self.policy_errors or self.oracle_errors)

    def rows(self) -> list[tuple[str, int, int | None, int | None]]:
        """(check, cases, too permissive, too strict) in the registry's order, ``NONE`` last."""
        order = {c.id: i for i, c in enumerate(CHECKS)}
        rows: list[tuple[str, int, int | None, int | None]] = [
            (check, self.check_cases[check], self.too_permissive[check], None)
            for check in sorted(self.check_cases, key=lambda c: (order.get(c, len(order)), c))
        ]
        psa_allowed = self.cases - self.psa_denied
        rows.append((NONE, psa_allowed, None, self.too_strict_cases))
        return rows


def failed_checks(verdict: OracleVerdict, checks: frozenset[str]) -> tuple[str, ...]:
    """PSA's failed checks, in its order, only those in ``checks`` when given."""
    return tuple(dict.fromkeys(v.check for v in verdict.violations if not checks or v.check in checks))


Judge = Callable[[Sequence[Case]], list[tuple[Case, OracleVerdict, Answer | str] | None]]


def judge(policy: RegoPolicy, oracle: Oracle, *, admissible: bool = False) -> Judge:
    """Cases judged by PSA (the object as written, as the API server gets it) and by the policy (the object as
    the API decoder leaves it, as an admission policy sees it); None for an object the reader refuses (or, with
    ``admissible``, the API server would)."""

    def run(cases: Sequence[Case]) -> list[tuple[Case, OracleVerdict, Answer | str] | None]:
        shaped: list[tuple[Case, Mapping[str, Any]] | None] = []
        for case in cases:
            conformed, problems = conform(case.object)
            refused = bool(problems) or (admissible and inadmissible(case.object) is not None)
            shaped.append(None if refused else (case, conformed))
        kept = [s for s in shaped if s is not None]
        verdicts = iter(oracle.evaluate_many((c.object, c.level, c.version) for c, _ in kept))
        answers = iter(policy.judge_many([(obj, c.level, c.version) for c, obj in kept]))
        return [None if s is None else (s[0], next(verdicts), next(answers)) for s in shaped]

    return run


def compare(
    policy: RegoPolicy, oracle: Oracle, cases: Sequence[Case], checks: frozenset[str] = frozenset(),
    *, shrink: bool = True, admissible: bool = False, progress: Callable[[int], None] | None = None,
) -> Report:  # fmt: skip
    """Hold the policy's verdict on every case against PSA's (restricted to ``checks`` when given); the smallest
    object of each (check, direction) is shrunk, keeping what ``admissible`` requires."""
    report = Report()
    run = judge(policy, oracle, admissible=admissible)
    smallest: dict[tuple[str, Direction], tuple[int, Case, OracleVerdict, Answer]] = {}
    for start in range(0, len(cases), BATCH):
        for judged, case in zip(run(cases[start : start + BATCH]), cases[start : start + BATCH], strict=True):
            if judged is None:
                report.refused.append(f"{case.id}: refused by the reader")
                continue
            _, verdict, answer = judged
            where = f"{case.id} at {case.level}:{case.version}"
            if verdict.error is not None:
                report.oracle_errors.append(f"{where}: PSA could not evaluate it: {verdict.error}")
                continue
            report.cases += 1
            report.by_source[case.id.partition(":")[0]] += 1
            if isinstance(answer, str):
                report.policy_errors.append(f"{where}: the policy failed: {answer}")
                continue
            failed = failed_checks(verdict, checks)
            report.check_cases.update(failed)
            report.psa_denied += bool(failed)
            found: list[tuple[str, Direction]] = []
            if failed and not answer.denied:
                report.too_permissive_cases += 1
                report.too_permissive.update(failed)
                found = [(check, "too permissive") for check in failed]
            elif answer.denied and not failed:
                report.too_strict_cases += 1
                found = [(NONE, "too strict")]
            size = len(fuzz.one_line(case.object))
            for key in found:
                if key not in smallest or size < smallest[key][0]:
                    smallest[key] = (size, case, verdict, answer)
        if progress is not None:
            progress(len(cases[start : start + BATCH]))
    order = {check: i for i, (check, *_) in enumerate(report.rows())}
    for (check, direction), (size, case, verdict, answer) in sorted(smallest.items(), key=lambda kv: order[kv[0][0]]):
        obj = dict(case.object)
        if shrink:
            obj = fuzz.shrink(obj, _still(run, case, check, direction, checks))
            shrunk = run([Case(case.id, obj, case.level, case.version)])[0]
            if shrunk is not None and not isinstance(shrunk[2], str):
                verdict, answer = shrunk[1], shrunk[2]
        report.examples[(check, direction)] = Example(
            check, direction, case.id, case.level, case.version, obj,
            verdict.message if not verdict.allowed else "allowed", answer.messages, size,
        )  # fmt: skip
    return report


def _still(run: Judge, case: Case, check: str, direction: Direction,
           checks: frozenset[str]) -> Callable[[Sequence[dict[str, Any]]], list[bool]]:  # fmt: skip
    """The shrinker's test: the object still parts from PSA this way, on this check, at the same place."""

    def test(objects: Sequence[dict[str, Any]]) -> list[bool]:
        out: list[bool] = []
        for judged in run([Case(case.id, o, case.level, case.version) for o in objects]):
            if judged is None or judged[1].error is not None or isinstance(judged[2], str):
                out.append(False)
                continue
            failed = failed_checks(judged[1], checks)
            if direction == "too permissive":
                out.append(check in failed and not judged[2].denied)
            else:
                out.append(not failed and judged[2].denied)
        return out

    return test
