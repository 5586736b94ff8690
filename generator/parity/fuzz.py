"""Differential fuzzing: seeded random pods through every engine and upstream PSA, disagreements shrunk to fixtures.

The generator is biased towards what the checks read, and takes it from the
check data rather than restating it: the fields come from each check's
``fields`` (and their types from ``generator.policy.fields``), the strings
from the allowed values of every version of the checks that read a field,
each with near misses either side of it (case, spaces, a prefix's edge), the
versions from where check versions start (and the minor before), the Windows
and ``hostUsers`` pods from the corpus's relaxation pods. On top come what
engines get wrong in text: quotes, backslashes, C0 and C1 controls, NEL, the
line and paragraph separators, BOM, non-characters and code points newer than
some Unicode tables; nulls, empty and absent values; 0 to 20 init, regular and
ephemeral containers with duplicate and prefix names; annotations for
containers that exist and that do not; workloads around the pod.

Object ``i`` of seed ``s`` depends on nothing else, so a disagreement is
reproduced from the two numbers. Engines see each object as ``pssgen check``
does, after ``conform``; the oracle gets it as written, as the API server
would. A disagreement is shrunk (``shrink``) to a minimal object on which the
same engine still parts from PSA at the same level and version, and written
as a fixture in the corpus layout (``write_fixture``).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.engines import EngineBase
from generator.manifests.shape import conform
from generator.parity.compare import Case, describe_difference, listed
from generator.parity.corpus import CORPUS_LEVELS, EXPECTED_SUBSTRINGS, fixture_prefix
from generator.parity.fixtures import FOUND_DIR, NEAR_MISSES, RELAXED_PODS, minimal_pod, workload
from generator.parity.oracle import Oracle, OracleVerdict
from generator.policy import fields as types
from generator.policy.fields import MapOf, Scalar
from generator.policy.model import Result
from generator.policy.pod import TEMPLATE_PATHS, VOLUME_SOURCES, pod_template
from generator.policy.registry import CHECKS
from generator.policy.versions import LEVELS, NEWEST_MINOR, parse_version

Obj = dict[str, Any]

CONTAINER_KINDS: tuple[str, ...] = ("initContainers", "containers", "ephemeralContainers")
MAX_CONTAINERS = 20
CASES_PER_OBJECT = 4
BATCH = 500  # objects per round trip to the oracle and the engines

# ---- what the checks read, from the check data -------------------------------------------------------------------

_ANNOTATION_FIELD = re.compile(r"^metadata\.annotations\['([^']*)'\]$")


@dataclass(frozen=True, slots=True)
class FieldPath:
    """One field a check reads: ``spec.containers[*].securityContext.procMount`` as segments (``*``: any element),
    or an annotation key (``prefix``: the key is this plus a container name)."""

    text: str
    segments: tuple[str, ...] = ()
    annotation: str | None = None
    prefix: bool = False


def parse_field(text: str) -> FieldPath:
    """A check's ``fields`` entry as a path the generator can set and the coverage test can look for."""
    found = _ANNOTATION_FIELD.match(text)
    if found is not None:
        key = found.group(1)
        return FieldPath(text, annotation=key.removesuffix("*"), prefix=key.endswith("*"))
    segments: list[str] = []
    for part in text.split("."):
        if part.endswith("[*]"):
            segments += [part[:-3], "*"]
        else:
            segments.append(part)
    return FieldPath(text, tuple(segments))


CHECK_FIELDS: tuple[FieldPath, ...] = tuple(dict.fromkeys(parse_field(f) for c in CHECKS for f in c.fields))
ANNOTATION_FIELDS: tuple[FieldPath, ...] = tuple(f for f in CHECK_FIELDS if f.annotation is not None)


def _generic(path: Sequence[str]) -> str:
    """A path with every container kind as ``containers``: one pool serves init, regular and ephemeral ones."""
    return ".".join("containers" if p in CONTAINER_KINDS else p for p in path)


def _allowed_pools() -> dict[str, tuple[str, ...]]:
    """For each field a check reads (generic path, or annotation key), every allowed string of every version of
    every check reading it: both sides of a version boundary are in one pool."""
    pools: dict[str, dict[str, None]] = {}
    for check in CHECKS:
        values = [v for version in check.versions for values in version.allowed.values() for v in values]
        for text in check.fields:
            path = parse_field(text)
            key = path.annotation if path.annotation is not None else _generic(path.segments)
            pools.setdefault(key, {}).update(dict.fromkeys(values))
    return {key: tuple(values) for key, values in pools.items()}


ALLOWED_POOLS: Mapping[str, tuple[str, ...]] = _allowed_pools()


def boundary_minors() -> tuple[int, ...]:
    """v1.0, the newest minor, and where any check version starts and the minor before it."""
    starts = {v.minimum_minor for c in CHECKS for v in c.versions}
    return tuple(sorted({0, NEWEST_MINOR} | starts | {m - 1 for m in starts if m > 0}))


# The versions objects are judged at: every boundary, latest, and one above the newest (which clamps to it).
VERSIONS: tuple[str, ...] = (*(f"v1.{m}" for m in boundary_minors()), "latest", f"v1.{NEWEST_MINOR + 1}")

# ---- strings ----------------------------------------------------------------------------------------------------

# Characters engines have quoted, folded or refused differently from Go: quotes and backslashes, C0 controls,
# DEL, C1 controls around NEL, NEL, no-break space, LS and PS, BOM, non-characters, a soft hyphen and a zero
# width space (Go prints neither), private use, an unassigned BMP code point, non-BMP, code points new in
# Unicode 15 (U+0CF3, U+11F00, U+1E030, U+1FAE8, U+31350) and 16 (U+1C89, U+1FAE9, U+1CC00, U+16100), a tag.
ODD_CHARACTERS: tuple[str, ...] = (
    '"', "\\", "'", "\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x84", "\x85", "\x86",
    "\x9f", "\xa0", "\xad", "\u200b", "\u2028", "\u2029", "\ufeff", "\ufffd", "\ufffe", "\uffff", "\ue000",
    "\u0378", "\u3000", "\U0001f600", "\u0cf3", "\U00011f00", "\U0001e030", "\U0001fae8", "\U00031350",
    "\u1c89", "\U0001fae9", "\U0001cc00", "\U00016100", "\U000e0001", "\U0010fffd",
)  # fmt: skip
PLAIN = ("x", "a.b", "localhost", "127.0.0.1", "0")


def near_misses(value: str) -> list[str]:
    """Strings just beside an allowed one: other case, a space either side, one character short, and for a
    prefix (``localhost/``) something after it and the prefix without its slash."""
    out = [value.lower(), value.upper(), value.swapcase(), f" {value}", f"{value} ", value[:-1], f"{value}x"]
    if value.endswith("/"):
        out += [f"{value}profile", value.rstrip("/"), f"{value}{value}"]
    return [v for v in dict.fromkeys(out) if v != value]


def odd(rng: random.Random, base: str) -> str:
    """``base`` with one to three odd characters put in, or one odd character alone."""
    if not base or rng.random() < 0.2:
        return rng.choice(ODD_CHARACTERS)
    chars = list(base)
    for _ in range(rng.randint(1, 3)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(ODD_CHARACTERS))
    return "".join(chars)


def pool_string(rng: random.Random, pool: Sequence[str]) -> str:
    """Mostly an allowed value, else a near miss, an odd variant, the empty string or a plain one."""
    roll = rng.random()
    if pool and roll < 0.5:
        return rng.choice(pool)
    if pool and roll < 0.7:
        return rng.choice(near_misses(rng.choice(pool)) or list(pool))
    if roll < 0.8:
        return ""
    if roll < 0.9:
        return odd(rng, rng.choice(pool) if pool else rng.choice(PLAIN))
    return rng.choice(PLAIN)


# ---- values by type ---------------------------------------------------------------------------------------------


def _int(rng: random.Random, t: Scalar) -> int:
    """Zero, one, a little either side, typical ids and ports, and the type's edges."""
    return rng.choice((0, 0, 1, -1, 2, 80, 999, 1000, 65535, 65536, t.low, t.high, t.low + 1, t.high - 1))


_OS_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(
        str(pods[key][1]["os"]["name"]) for pods in (RELAXED_PODS, NEAR_MISSES) for key in pods if "os" in pods[key][1]
    )
)


def _string(rng: random.Random, path: Sequence[str]) -> str:
    generic = _generic(path)
    if generic == "spec.os.name":
        return pool_string(rng, (*_OS_NAMES, "linux"))
    pool = ALLOWED_POOLS.get(generic) or ALLOWED_POOLS.get(generic.removesuffix(".*"), ())  # a list's strings
    return pool_string(rng, pool)


# Fields set more often than the rest: where most checks look, and the pod's only list of sysctls.
_PRESENCE: Mapping[str, float] = {"securityContext": 0.7, "sysctls": 0.5}


class Generator:
    """Random values of the API types ``generator.policy.fields`` describes, for the fields checks read."""

    def __init__(self, rng: random.Random, presence: float = 0.3, nulls: float = 0.04) -> None:
        self.rng = rng
        self.presence = presence  # how often an optional field of a struct is set
        self.nulls = nulls  # how often a set field, or a list element, is JSON null

    def value(self, t: Any, path: tuple[str, ...]) -> Any:
        rng = self.rng
        if t is types.BOOL:
            return rng.random() < 0.5
        if t is types.STRING:
            return _string(rng, path)
        if isinstance(t, Scalar):
            return _int(rng, t)
        if isinstance(t, list):
            return self.items(t[0], path)
        if isinstance(t, MapOf):
            return {pool_string(rng, PLAIN): self.value(t.value, path) for _ in range(rng.randint(0, 2))}
        if t is types.VOLUME:
            return self.volume()
        if t is types.HANDLER:
            return self.handler(path)
        return self.struct(t, path)

    def items(self, t: Any, path: tuple[str, ...]) -> list[Any]:
        """A short list, sometimes empty, sometimes with a null element (Go's zero value)."""
        out: list[Any] = []
        for _ in range(self.rng.choice((0, 1, 1, 1, 2, 2, 3))):
            out.append(None if self.rng.random() < self.nulls else self.value(t, (*path, "*")))
        return out

    def struct(self, t: Mapping[str, Any], path: tuple[str, ...]) -> Obj:
        out: Obj = {}
        for name, sub in t.items():
            if self.rng.random() < _PRESENCE.get(name, self.presence):
                out[name] = None if self.rng.random() < self.nulls else self.value(sub, (*path, name))
        return out

    def volume(self) -> Obj:
        """Usually one source (every VolumeSource field is a candidate), sometimes none (an emptyDir) or two."""
        rng = self.rng
        out: Obj = {"name": pool_string(rng, ("v", "data"))}
        for source in rng.sample(VOLUME_SOURCES, rng.choice((0, 1, 1, 1, 1, 2))):
            out[source] = {} if rng.random() < 0.5 else {"path": "/x"} if source == "hostPath" else {"k": "v"}
        if rng.random() < self.nulls:
            out[rng.choice(VOLUME_SOURCES)] = None
        return out

    def handler(self, path: tuple[str, ...]) -> Obj:
        """A probe or lifecycle handler: an httpGet or tcpSocket with or without a host, or another action."""
        rng = self.rng
        action = rng.choice(("httpGet", "tcpSocket", "exec", "grpc"))
        if action == "exec":
            return {"exec": {"command": ["true"]}}
        if action == "grpc":
            return {"grpc": {"port": 1}}
        handler: Obj = {"port": 8080}
        if rng.random() < 0.7:
            handler["host"] = None if rng.random() < self.nulls else _string(rng, (*path, action, "host"))
        return {action: handler}

    # -- pods --------------------------------------------------------------------------------------------------

    def container_names(self, count: int) -> list[str | None]:
        """Names for ``count`` containers: plain, repeated, prefixes of each other, odd, empty or missing (None)."""
        rng = self.rng
        names: list[str | None] = []
        for i in range(count):
            roll = rng.random()
            earlier = [n for n in names if n]
            if earlier and roll < 0.1:
                names.append(rng.choice(earlier))  # a duplicate
            elif earlier and roll < 0.2:
                base = rng.choice(earlier)
                names.append(rng.choice((base[:-1] or base, f"{base}0", f"{base}-x")))  # a prefix, or prefixed
            elif roll < 0.27:
                names.append(odd(rng, f"c{i}"))
            elif roll < 0.3:
                names.append(rng.choice(("", None)))
            else:
                names.append(f"c{i}")
        return names

    def containers(self) -> dict[str, list[Any] | None]:
        """Init, regular and ephemeral container lists: 0 to 20 containers in all, each list absent, null,
        empty or filled; now and then a null element."""
        rng = self.rng
        total = rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5)) if rng.random() > 0.05 else rng.randint(6, MAX_CONTAINERS)
        kinds = [rng.choices(CONTAINER_KINDS, weights=(2, 6, 1))[0] for _ in range(total)]
        names = iter(self.container_names(total))
        lists: dict[str, list[Any] | None] = {}
        for kind in CONTAINER_KINDS:
            count = kinds.count(kind)
            if count == 0:
                roll = rng.random()
                if roll < 0.08:
                    lists[kind] = None
                elif roll < 0.16:
                    lists[kind] = []
                continue
            lists[kind] = [self.container((kind,), next(names)) for _ in range(count)]
        return lists

    def container(self, path: tuple[str, ...], name: str | None) -> Any:
        if self.rng.random() < self.nulls / 2:
            return None
        out = self.struct({k: v for k, v in types.CONTAINER.items() if k != "name"}, ("spec", *path, "*"))
        if name is not None:
            out = {"name": name, "image": "registry.k8s.io/pause", **out}
        security = out.get("securityContext")
        if isinstance(security, dict) and security and self.rng.random() < 0.5:  # denser where checks look
            out["securityContext"] = {**security, **self.struct(types.SECURITY_CONTEXT, ())}
        return out

    def pod_spec(self) -> Obj:
        rng = self.rng
        pod_level = {k: v for k, v in types.POD_SPEC.items() if k not in CONTAINER_KINDS}
        spec = self.struct(pod_level, ("spec",))
        for kind, items in self.containers().items():
            spec[kind] = items
        return spec if rng.random() > 0.02 else {k: v for k, v in spec.items() if k not in CONTAINER_KINDS}

    def annotations(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The annotations checks read, for containers that exist and that do not, and one they ignore."""
        rng = self.rng
        names = [
            c["name"]
            for kind in CONTAINER_KINDS
            for c in (spec.get(kind) or ())
            if isinstance(c, dict) and isinstance(c.get("name"), str)
        ]
        out: dict[str, Any] = {}
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):
            where = rng.choice(ANNOTATION_FIELDS)
            assert where.annotation is not None
            key = where.annotation
            if where.prefix:
                roll = rng.random()
                if names and roll < 0.6:
                    key += rng.choice(names)
                elif names and roll < 0.75:
                    key += rng.choice(names)[:-1] or "ghost"
                else:
                    key += rng.choice(("ghost", "", odd(rng, "ghost")))
            value = pool_string(rng, ALLOWED_POOLS.get(where.annotation, ()))
            out[key] = None if rng.random() < self.nulls else value
        if rng.random() < 0.1:
            out[odd(rng, "example.com/note")] = odd(rng, "x")
        return out

    def mutate(self, pod: Obj) -> None:
        """Set one field a check reads, in an existing container where there is one."""
        rng = self.rng
        where = rng.choice(CHECK_FIELDS)
        if where.annotation is not None:
            pod["metadata"] = {**(pod.get("metadata") or {}), "annotations": self.annotations(pod["spec"])}
            return
        node: Any = pod
        t: Any = {"metadata": types.POD_META, "spec": types.POD_SPEC}
        path: list[str] = []
        segments = where.segments
        for i, segment in enumerate(segments[:-1]):
            t = t[0] if segment == "*" else t[segment]
            nxt = segments[i + 1]
            path.append(segment)
            if segment == "*":
                continue
            child = node.get(segment)
            if nxt == "*":
                if not isinstance(child, list) or not child or not all(isinstance(c, dict) for c in child):
                    child = [self.value(t[0], (*path, "*"))] if t[0] is not types.CONTAINER else [{"name": "m"}]
                    node[segment] = child
                node = rng.choice(child)
            else:
                if not isinstance(child, dict):
                    child = {}
                    node[segment] = child
                node = child
        last = segments[-1]
        node[last] = self.value(t[last], (*path, last))


def case_pairs(rng: random.Random, first: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """Up to ``CASES_PER_OBJECT`` (level, version) pairs: mostly baseline and restricted, now and then privileged,
    at the boundary versions, the second the first's neighbour minor so one object meets both sides."""
    pairs: list[tuple[str, str]] = [first] if first is not None else []
    while len(pairs) < CASES_PER_OBJECT:
        level = rng.choices(LEVELS, weights=(1, 5, 6))[0]
        version = rng.choice(VERSIONS)
        pairs.append((level, version))
        if len(pairs) < CASES_PER_OBJECT and version.startswith("v1."):
            minor = int(version[3:]) + rng.choice((-1, 1))
            if minor >= 0:
                pairs.append((level, f"v1.{minor}"))
    return list(dict.fromkeys(pairs))


@dataclass(frozen=True)
class Generated:
    """One generated object and the (level, version) pairs it is judged at."""

    index: int
    object: Obj
    cases: tuple[tuple[str, str], ...]


def generate(seed: int, index: int) -> Generated:
    """Object ``index`` of ``seed``: deterministic, and independent of every other index."""
    rng = random.Random(f"pssgen-fuzz:{seed}:{index}")
    gen = Generator(rng)
    first: tuple[str, str] | None = None
    if rng.random() < 0.35:  # a pod the level allows, with one to three fields changed
        level = rng.choice(CORPUS_LEVELS)
        minor = rng.choice(boundary_minors())
        pod: Obj = minimal_pod(level, minor, rng.choice((None, None, None, *_OS_NAMES)))
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            gen.mutate(pod)
        first = (level, f"v1.{minor}")
    else:
        spec = gen.pod_spec()
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": spec}
    annotations = gen.annotations(pod["spec"]) if rng.random() < 0.35 else {}
    if annotations:
        pod["metadata"]["annotations"] = {**(pod["metadata"].get("annotations") or {}), **annotations}
    pod["metadata"]["name"] = f"fuzz{index}"
    obj = workload(rng.choice(sorted(TEMPLATE_PATHS)), pod) if rng.random() < 0.2 else pod
    if obj is not pod:
        obj["metadata"]["name"] = f"fuzz{index}"
    return Generated(index, obj, tuple(case_pairs(rng, first)))


# ---- what an object holds at a check's field (for the coverage tests) --------------------------------------------


def values_at(obj: Mapping[str, Any], where: FieldPath) -> list[Any]:
    """Every non-null value at ``where`` in the pod (or pod template) of ``obj``."""
    template = pod_template(obj)
    if template is None:
        return []
    if where.annotation is not None:
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        return [
            v
            for k, v in annotations.items()
            if v is not None and (k.startswith(where.annotation) if where.prefix else k == where.annotation)
        ]
    nodes: list[Any] = [template]
    for segment in where.segments:
        if segment == "*":
            nodes = [item for n in nodes if isinstance(n, list) for item in n]
        else:
            nodes = [n.get(segment) for n in nodes if isinstance(n, dict)]
        nodes = [n for n in nodes if n is not None]
    return nodes


# ---- judging: the oracle, the engines, and what differs ----------------------------------------------------------


SPLIT = 16  # parts a failing batch is cut into: few levels of retries, so a common failure costs little


def engine_answers(engine: EngineBase, requests: Sequence[Any], calls: int = 4096) -> list[Result | Exception]:
    """The engine's results; where a batch raises, its parts are tried, and theirs, until each failing request
    stands alone (in at most ``calls`` calls: past that, every request of a failing part carries its error)."""
    budget = [calls]

    def answer(part: Sequence[Any]) -> list[Result | Exception]:
        budget[0] -= 1
        try:
            return list(engine.evaluate_many(part))
        except Exception as exc:  # an engine failing on an object is what a fuzzer is for
            if len(part) == 1 or budget[0] <= 0:
                return [exc] * len(part)
        size = -(-len(part) // SPLIT)
        return [a for start in range(0, len(part), size) for a in answer(part[start : start + size])]

    return answer(requests)


def differing_checks(got: Result, want: OracleVerdict) -> frozenset[str]:
    """The checks where an engine's result and PSA's verdict part (empty when they agree, or differ only in
    the verdict or the order)."""
    got_v = {v.check: v for v in got.violations}
    want_v = {v.check: v for v in want.violations}
    return frozenset(c for c in got_v.keys() | want_v.keys() if got_v.get(c) != want_v.get(c))


def agrees(got: Result, want: OracleVerdict) -> bool:
    return got.allowed == want.allowed and got.violations == want.violations


@dataclass
class Disagreement:
    """One engine parting from PSA on one object at one level and version; ``shrunk`` once shrinking ran."""

    engine: str
    index: int
    level: str
    version: str
    object: Obj
    description: str
    error: bool  # the engine raised instead of answering
    checks: frozenset[str] = frozenset()
    shrunk: Obj | None = None
    shrunk_description: str = ""
    fixture: Path | None = None

    @property
    def signature(self) -> tuple[str, ...]:
        """What makes two disagreements one bug for shrinking: the checks they part on, or for an engine that
        failed, its error without levels, versions, numbers and the path to the field it names."""
        if not self.error:
            return ("verdict", *sorted(self.checks))
        text = self.description.partition(": the engine failed: ")[2]
        for pattern, replacement in _ERROR_NOISE:
            text = pattern.sub(replacement, text)
        return ("error", text[:300])


_ERROR_NOISE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:privileged|baseline|restricted):\S+"), ""),
    (re.compile(r"-?[0-9][0-9.e+-]*"), "#"),
    (re.compile(r"[\w\[\]#]+(?:\.[\w\[\]#]+)*\.(\w+)"), r"\1"),
)


def _judge(
    engine: EngineBase, oracle: Oracle, level: str, version: str, objects: Sequence[Obj]
) -> list[tuple[Obj, Result | Exception, OracleVerdict] | None]:
    """Each object, conformed as ``pssgen check`` does, through ``engine`` and the oracle at one level and version;
    None where the reader's shape check refuses it or PSA cannot evaluate it (no disagreement to find)."""
    conformed: list[Obj | None] = []
    for obj in objects:
        shaped, problems = conform(obj)
        conformed.append(None if problems else dict(shaped))
    usable = [(o, c) for o, c in zip(objects, conformed, strict=True) if c is not None]
    verdicts = oracle.evaluate_many((o, level, version) for o, _ in usable)
    answers = engine_answers(engine, [(c, level, parse_version(version)) for _, c in usable])
    judged = iter(zip(usable, answers, verdicts, strict=True))
    out: list[tuple[Obj, Result | Exception, OracleVerdict] | None] = []
    for c in conformed:
        if c is None:
            out.append(None)
            continue
        (_, shaped), answer, verdict = next(judged)
        out.append(None if verdict.error is not None else (shaped, answer, verdict))
    return out


def still_disagrees(engine: EngineBase, oracle: Oracle, found: Disagreement) -> Callable[[Sequence[Obj]], list[bool]]:
    """The shrinker's test: the same engine still parts from PSA at the same level and version, in the same way
    (raising again, or parting on one of the same checks, or on the verdict alone if that was all)."""

    def test(objects: Sequence[Obj]) -> list[bool]:
        out = []
        for judged in _judge(engine, oracle, found.level, found.version, objects):
            if judged is None:
                out.append(False)
                continue
            _, answer, verdict = judged
            if isinstance(answer, Exception):
                out.append(found.error)
            elif found.error or agrees(answer, verdict):
                out.append(False)
            else:
                checks = differing_checks(answer, verdict)
                out.append(bool(checks & found.checks) if found.checks else not checks)
        return out

    return test


# ---- shrinking --------------------------------------------------------------------------------------------------

_PROTECTED_ROOT = frozenset({"apiVersion", "kind"})
_KEYED_MAPS = frozenset({"annotations", "labels"})  # maps whose keys are data, so shrink the keys too
SHRINK_CHUNK = 64  # candidates judged per call: a round stops at the first chunk holding a success


def _simpler_strings(text: str) -> Iterator[str]:
    if text:
        yield ""
    ascii_only = "".join(ch if ch.isascii() else "a" for ch in text)
    if ascii_only != text:
        yield ascii_only
    if len(text) > 16:
        yield text[: len(text) // 2]
        yield text[len(text) // 2 :]
    for i in range(len(text)):
        yield text[:i] + text[i + 1 :]


def _simpler_values(value: Any) -> Iterator[Any]:
    if isinstance(value, str):
        yield from _simpler_strings(value)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        yield from (v for v in (0, 1) if v != value)
    elif isinstance(value, dict) and value:
        yield {}
    elif isinstance(value, list) and value:
        yield []


def _replaced(root: Any, path: Sequence[str | int], make: Callable[[Any], Any]) -> Any:
    """A copy of ``root`` sharing all but the nodes on ``path``, where ``make(node)`` replaces the last one."""
    if not path:
        return make(root)
    head, rest = path[0], path[1:]
    if isinstance(root, dict):
        copied = dict(root)
        copied[head] = _replaced(root[head], rest, make)
        return copied
    items = list(root)
    items[int(head)] = _replaced(root[int(head)], rest, make)
    return items


def _without(root: Any, path: Sequence[str | int]) -> Any:
    def drop(parent: Any) -> Any:
        key = path[-1]
        if isinstance(parent, dict):
            return {k: v for k, v in parent.items() if k != key}
        return [v for i, v in enumerate(parent) if i != key]

    return _replaced(root, path[:-1], drop)


def _nodes(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every node under ``value`` with its path, parents before children."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield (*path, key), sub
            yield from _nodes(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield (*path, i), sub
            yield from _nodes(sub, (*path, i))


def candidates(obj: Obj) -> Iterator[Obj]:
    """Every one-step simplification of ``obj``, coarse first: a workload as its bare Pod, each node removed
    (parents first), each map key with data in it shortened, each value made simpler."""
    template = pod_template(obj)
    if obj.get("kind") != "Pod" and template is not None:
        yield {"apiVersion": "v1", "kind": "Pod", "metadata": template.get("metadata"), "spec": template.get("spec")}
    nodes = list(_nodes(obj))
    for path, _ in nodes:
        if len(path) == 1 and path[0] in _PROTECTED_ROOT:
            continue
        yield _without(obj, path)
    for path, _ in nodes:
        if len(path) >= 2 and path[-2] in _KEYED_MAPS and isinstance(path[-1], str):
            key = path[-1]
            for shorter in _simpler_strings(key):

                def rename(parent: Any, old: str = key, new: str = shorter) -> Any:
                    return {(new if k == old else k): v for k, v in parent.items() if k != new or k == old}

                yield _replaced(obj, path[:-1], rename)
    for path, value in nodes:
        if len(path) == 1 and path[0] in _PROTECTED_ROOT:
            continue
        for simpler in _simpler_values(value):
            yield _replaced(obj, path, _constant(simpler))


def _constant(value: Any) -> Callable[[Any], Any]:
    def make(_: Any) -> Any:
        return value

    return make


def one_line(obj: Any) -> str:
    """An object on one printable line: JSON, every character outside ASCII escaped."""
    return json.dumps(obj, sort_keys=True)


def _size(obj: Any) -> int:
    """How big an object reads: escaped JSON, so a non-ASCII character outweighs the letter replacing it."""
    return len(one_line(obj))


def shrink(obj: Obj, still_fails: Callable[[Sequence[Obj]], Sequence[bool]], max_rounds: int = 1000) -> Obj:
    """The smallest object ``still_fails`` holds for, by repeatedly taking the first simpler candidate that still
    fails until none does; deterministic for a deterministic test. ``obj`` itself is assumed to fail."""
    current = obj
    for _ in range(max_rounds):
        size = _size(current)
        seen: set[str] = set()
        batch: list[Obj] = []
        improved: Obj | None = None
        for candidate in candidates(current):
            key = json.dumps(candidate, sort_keys=True)
            if key in seen or _size(candidate) >= size:
                continue
            seen.add(key)
            batch.append(candidate)
            if len(batch) == SHRINK_CHUNK:
                improved = _first_failing(batch, still_fails)
                batch = []
                if improved is not None:
                    break
        if improved is None and batch:
            improved = _first_failing(batch, still_fails)
        if improved is None:
            return current
        current = improved
    return current


def _first_failing(batch: Sequence[Obj], still_fails: Callable[[Sequence[Obj]], Sequence[bool]]) -> Obj | None:
    return next((c for c, fails in zip(batch, still_fails(batch), strict=True) if fails), None)


# ---- fixtures ---------------------------------------------------------------------------------------------------

DEFAULT_CORPUS = FOUND_DIR
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _comment(text: str) -> str:
    """``text`` as comment lines, every character outside printable ASCII escaped so YAML keeps it a comment."""
    return "".join(f"# {json.dumps(line)[1:-1]}\n" for line in text.splitlines())


def fixture_text(obj: Obj, comment: str) -> str:
    """The fixture file: the comment, then the object as YAML that reads back as exactly ``obj``."""
    for allow_unicode in (True, False):
        body = yaml.safe_dump(obj, sort_keys=True, allow_unicode=allow_unicode, width=1 << 30)
        if yaml.load(body, Loader=_LOADER) == obj:
            return _comment(comment) + body
    return _comment(comment) + json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def fixture_place(found: Disagreement, verdict: OracleVerdict) -> tuple[str, str, str] | None:
    """(level, pass or fail, file name prefix) where the corpus keeps this case; None at privileged, which the
    corpus layout has no place for."""
    if found.level not in CORPUS_LEVELS:
        return None
    return found.level, "pass" if verdict.allowed else "fail", _prefix(found, verdict)


def _prefix(found: Disagreement, verdict: OracleVerdict) -> str:
    """A check ID, lowercased: the corpus's prefix rule gives a fail fixture PSA's expected substring from it."""
    psa = [v.check for v in verdict.violations]
    if psa:
        chosen = next((c for c in psa if c in found.checks), psa[0])
    else:
        chosen = min(found.checks) if found.checks else "fuzz"
    prefix = chosen.lower()
    return prefix if (prefix in EXPECTED_SUBSTRINGS or not psa) else "fuzz"


def fixture_version(version: str) -> str:
    """The corpus has no ``latest`` directory: latest is the newest minor's policy."""
    return f"v1.{NEWEST_MINOR}" if version == "latest" else version


def write_fixture(root: Path, found: Disagreement, oracle: Oracle, seed: int) -> Path | None:
    """Write the (shrunk) object of ``found`` as ``{level}/v1.N/{pass,fail}/<checkid><n>.yaml`` under ``root``;
    the path, or None at privileged. The object written is the conformed one engines saw."""
    obj = found.shrunk if found.shrunk is not None else found.object
    shaped, problems = conform(obj)
    written = obj if problems else dict(shaped)
    version = fixture_version(found.version)
    verdict = oracle.evaluate(written, found.level, version)
    place = fixture_place(found, verdict)
    if place is None:
        return None
    level, expect, prefix = place
    directory = root / level / version / expect
    directory.mkdir(parents=True, exist_ok=True)
    taken = {
        int(p.stem[len(prefix) :])
        for p in directory.glob(f"{prefix}*.yaml")
        if fixture_prefix(p.stem) == prefix and p.stem[len(prefix) :].isdigit()
    }
    number = next(n for n in range(len(taken) + 1) if n not in taken)
    path = directory / f"{prefix}{number}.yaml"
    comment = (
        f"found by `pssgen fuzz --seed {seed}` (object {found.index}): engine {found.engine} disagrees with PSA "
        f"at {found.level}:{found.version}\n{found.shrunk_description or found.description}"
    )
    path.write_text(fixture_text(written, comment), encoding="utf-8")
    return path


# ---- the run ----------------------------------------------------------------------------------------------------


@dataclass
class FuzzReport:
    """What a run did: objects, cases per level and version, disagreements per engine, and how long it took."""

    seed: int
    engines: tuple[str, ...]
    objects: int = 0
    cases: int = 0
    refused: list[str] = field(default_factory=list)  # objects the reader's shape check refused: a generator bug
    oracle_errors: list[str] = field(default_factory=list)  # PSA could not evaluate what the reader accepted
    by_level_version: Counter[tuple[str, str]] = field(default_factory=Counter)
    disagreements: dict[str, list[Disagreement]] = field(default_factory=dict)
    # Cases whose text differs from PSA's only in the engine's listed ways (its verdict PSA's), by engine
    listed: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.refused or self.oracle_errors or any(self.disagreements.values()))


def run(
    engines: Sequence[EngineBase],
    oracle: Oracle,
    count: int,
    seed: int,
    *,
    batch: int = BATCH,
    shrink_limit: int = 10,
    progress: Callable[[FuzzReport], None] | None = None,
) -> FuzzReport:
    """Generate ``count`` objects of ``seed``, judge each at its cases by the oracle and every engine, and shrink
    the first disagreement of each kind (``Disagreement.signature``), up to ``shrink_limit`` kinds per engine;
    the rest are reported as found."""
    started = time.perf_counter()
    report = FuzzReport(seed, tuple(e.name for e in engines), disagreements={e.name: [] for e in engines})
    shrunk_kinds: dict[str, set[tuple[str, ...]]] = {e.name: set() for e in engines}
    for start in range(0, count, batch):
        made = [generate(seed, i) for i in range(start, min(count, start + batch))]
        shaped: list[tuple[Generated, Obj]] = []
        for item in made:
            conformed, problems = conform(item.object)
            if problems:
                report.refused.append(f"object {item.index}: refused by the reader: {'; '.join(problems)}")
            else:
                shaped.append((item, dict(conformed)))
        judged = [(item, obj, level, version) for item, obj in shaped for level, version in item.cases]
        verdicts = oracle.evaluate_many((item.object, level, version) for item, _, level, version in judged)
        cases = []
        for (item, obj, level, version), verdict in zip(judged, verdicts, strict=True):
            if verdict.error is None:
                cases.append((item, obj, level, version, verdict))
            else:
                report.oracle_errors.append(f"object {item.index} at {level}:{version}: {verdict.error}")
        report.objects += len(made)
        report.cases += len(cases)
        report.by_level_version.update((level, version) for _, _, level, version, _ in cases)
        for engine in engines:
            requests = [(obj, level, parse_version(version)) for _, obj, level, version, _ in cases]
            answers = engine_answers(engine, requests)
            for (item, obj, level, version, verdict), answer in zip(cases, answers, strict=True):
                found = _disagreement(engine.name, item, obj, level, version, answer, verdict)
                if found is None:
                    continue
                if not isinstance(answer, Exception) and (why := listed(engine, answer, verdict)) is not None:
                    report.listed[engine.name].update(why)  # the engine's documented wording: an agreement
                    continue
                report.disagreements[engine.name].append(found)
                kind = found.signature
                if kind not in shrunk_kinds[engine.name] and len(shrunk_kinds[engine.name]) < shrink_limit:
                    shrunk_kinds[engine.name].add(kind)
                    _shrink_found(engine, oracle, found)
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress(report)
    report.seconds = time.perf_counter() - started
    return report


def _describe(engine: str, item_id: str, level: str, version: str, obj: Obj, answer: Result | Exception,
              verdict: OracleVerdict) -> str | None:  # fmt: skip
    if isinstance(answer, Exception):
        return f"{item_id} [{engine}] at {level}:{version}: the engine failed: {type(answer).__name__}: {answer}"
    return describe_difference(Case(item_id, obj, level, version), engine, answer, verdict)


def _disagreement(engine: str, item: Generated, shaped: Obj, level: str, version: str,
                  answer: Result | Exception, verdict: OracleVerdict) -> Disagreement | None:  # fmt: skip
    description = _describe(engine, f"object {item.index}", level, version, shaped, answer, verdict)
    if description is None:
        return None
    error = isinstance(answer, Exception)
    checks = frozenset() if isinstance(answer, Exception) else differing_checks(answer, verdict)
    return Disagreement(engine, item.index, level, version, item.object, description, error, checks)


def _shrink_found(engine: EngineBase, oracle: Oracle, found: Disagreement) -> None:
    """Shrink ``found`` in place, and describe the disagreement on the shrunk object."""
    found.shrunk = shrink(found.object, still_disagrees(engine, oracle, found))
    judged = _judge(engine, oracle, found.level, found.version, [found.shrunk])[0]
    if judged is not None:
        shaped, answer, verdict = judged
        text = _describe(engine.name, "shrunk", found.level, found.version, shaped, answer, verdict)
        found.shrunk_description = text or found.description
