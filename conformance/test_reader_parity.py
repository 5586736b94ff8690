"""pssgen's reader against kubectl's: the same objects, in the same order; where kubectl errors, pssgen errors.

kubectl's reader is the oracle (``conformance/reader``, cli-runtime's resource
builder as ``kubectl apply -f`` drives it). Three inputs: the hostile corpus
``conformance/reader_corpus`` (one file per case), the upstream PSA fixtures and
the project corpus, and a few hundred generated files. Each input is read by
both readers in one call each, and compared file by file: kubectl cannot say
where in a file an error sits, only which file, so errors are compared per
file and objects exactly (as JSON values: ``true`` is not ``1``, ``100.0`` is
``100``, as on the wire).

What kubectl does with an error in the middle of a file (found by running the
oracle): a document YAML cannot parse ends the file, the documents after it are
never sent; a document that parses but cannot be decoded (no kind, a nested
List) is one error, and the documents after it are still sent.

Deliberate differences, where pssgen is stricter for safety, are data below
with their reason; their stated relation is still checked, and an entry whose
case now agrees fails, so the list cannot go stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from generated_yaml import write_generated

from generator.manifests import Document, read_paths
from generator.parity.corpus import upstream_corpus_dir
from generator.parity.fixtures import CORPUS_DIR
from generator.parity.reader_oracle import SentObject, read_like_kubectl

READER_CORPUS = Path(__file__).parent / "reader_corpus"
GENERATED_FILES = 300

# How pssgen may differ where it is deliberately stricter; both fail closed (pssgen reports an error, exit 2):
#  "reads-on": kubectl stops at a document (or drops it) and pssgen goes on: kubectl's objects come first in pssgen's.
#  "refuses":  pssgen refuses what kubectl would send: pssgen's objects come first in kubectl's.
Relation = Literal["reads-on", "refuses"]
_READS_ON = (
    "kubectl stops reading a file at the first document YAML cannot parse; pssgen reports it and judges the rest"
)
_STREAMED = (
    "a List is read one item at a time (a 100,000-object export is never held whole): its items are judged as they "
    "stream past, before its kind (or a nested List) shows that kubectl refuses the whole List; the refusal is an error"
)
_REPEATED = "a key repeated with different values: the object depends on the reader (kubectl keeps the last)"
DELIBERATE: dict[str, tuple[Relation, str]] = {
    "directive-yaml.yaml": ("reads-on", _READS_ON),
    "directive-yaml-12.yaml": ("reads-on", _READS_ON),
    "separator-with-content.yaml": ("reads-on", _READS_ON),
    "list-kind-number.yaml": ("reads-on", _STREAMED),
    "list-no-kind-with-items.yaml": ("reads-on", _STREAMED),
    "dup-key-top-level.yaml": ("refuses", _REPEATED),
    "json-second-object-in-yaml-stream.yaml": (
        "refuses",
        "a second JSON object in a `---` document of a YAML stream: go-yaml silently ignores it; pssgen refuses it",
    ),
    "bom-twice-hides-a-comment.yaml": (
        "refuses",
        "two byte order marks after `---`: go-yaml's is_bom then drops the first character of lines, so a "
        "`#securityContext` comment becomes a key; pssgen refuses what only that bug reads",
    ),
    "dup-key-merge.yaml": (
        "refuses",
        "an explicit key after a merge that supplies it with another value: " + _REPEATED,
    ),
    "multi-doc-one-broken-middle.yaml": ("reads-on", _READS_ON),
    "multi-doc-one-broken-first.yaml": ("reads-on", _READS_ON),
    "alias-undefined.yaml": ("reads-on", _READS_ON),
    "directive-after-first.yaml": ("reads-on", _READS_ON),
    "document-end-then-content.yaml": (
        "refuses",
        "after `...`, kubectl silently drops the rest of the `---` chunk: pssgen refuses a document nobody would see",
    ),
    "latin1-bytes.yaml": (
        "refuses",
        "kubectl replaces bytes that are not UTF-8 by U+FFFD: the object sent is not the one written",
    ),
    "dup-key-different.yaml": (
        "refuses",
        "a key repeated with different values: the object depends on the reader (kubectl keeps the last)",
    ),
    "dup-key-json.json": (
        "refuses",
        "a key repeated with different values: the object depends on the reader (kubectl keeps the last)",
    ),
    "merge-key-override.yaml": (
        "refuses",
        "a merge key after an explicit key: go-yaml lets the merged value win, the YAML merge spec the explicit one",
    ),
    "merge-key-list.yaml": (
        "refuses",
        "merged maps that disagree on a key: which value wins depends on the reader",
    ),
}

# What the hostile corpus must cover: issue 10's classes 1-3 (the rest of the corpus is what else was found).
REQUIRED_CASES = (
    # class 1: List semantics
    "list-kind-pod-with-items.yaml", "list-kind-configmap-with-items.yaml", "list-kindless-items.yaml",
    "list-kindless-items-of-list.yaml", "list-kindless-items-deploymentlist.yaml", "list-nested.yaml",
    "list-json.json", "list-json-kind-pod.json", "list-items-seq-tag.yaml", "list-items-anchor.yaml",
    # class 2: a Namespace kubectl reads as a List
    "list-namespace-with-items.yaml",
    # class 3: scalars and encodings
    "int-hex-upper.yaml", "int-octal-upper-o.yaml", "int-binary-upper.yaml", "int-leading-zero-8.yaml",
    "int-leading-zero-9.yaml", "int-underscore.yaml", "bang-yes.yaml", "utf16-le-bom.yaml", "utf16-be-bom.yaml",
    "utf8-bom-after-separator.yaml", "dup-key-same.yaml", "dup-key-different.yaml",
)  # fmt: skip


@dataclass
class Reading:
    """What one reader made of one file: its objects in order, and its errors (kubectl's cannot be placed)."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def canonical(value: Any) -> Any:
    """A JSON value as the API server receives it: booleans apart from numbers, 100.0 as 100, huge ints as floats."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return [type(value).__name__, value]
    if isinstance(value, int):
        return ["number", value if abs(value) < 2**63 else float(value)]
    if isinstance(value, float):
        return ["number", int(value) if value.is_integer() and abs(value) < 2**63 else value]
    if isinstance(value, list):
        return ["array", [canonical(v) for v in value]]
    if isinstance(value, dict):
        return ["object", sorted((repr(k) if not isinstance(k, str) else k, canonical(v)) for k, v in value.items())]
    return ["not JSON", type(value).__name__, repr(value)]


def _same(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> bool:
    return [canonical(o) for o in a] == [canonical(o) for o in b]


def kubectl_readings(paths: Sequence[Path], binary: Path, recursive: bool = False) -> dict[str, Reading]:
    """kubectl's reading of ``paths`` (one oracle call), by file; ``""`` holds errors of the whole run."""
    readings: dict[str, Reading] = {}
    for answer in read_like_kubectl(paths, binary, recursive=recursive):
        if isinstance(answer, SentObject):
            readings.setdefault(answer.source, Reading()).objects.append(answer.obj)
        else:
            readings.setdefault(answer.source or "", Reading()).errors.append(answer.message)
    return readings


def pssgen_readings(paths: Sequence[Path]) -> dict[str, Reading]:
    """pssgen's reading of ``paths`` (one ``read_paths`` call), by file."""
    readings: dict[str, Reading] = {}
    for found in read_paths([str(p) for p in paths]):
        reading = readings.setdefault(found.source, Reading())
        if isinstance(found, Document):
            reading.objects.append(dict(found.obj))
        else:
            reading.errors.append(str(found))
    return readings


def disagreement(kubectl: Reading, pssgen: Reading, deliberate: tuple[Relation, str] | None = None) -> str | None:
    """Why the two readings of one file disagree, or None; a deliberate difference must hold as stated."""
    if deliberate is not None:
        relation, reason = deliberate
        if _same(kubectl.objects, pssgen.objects) and bool(kubectl.errors) == bool(pssgen.errors):
            return f"no longer differs ({reason}): remove it from DELIBERATE"
        first, then = (kubectl, pssgen) if relation == "reads-on" else (pssgen, kubectl)
        if pssgen.errors and _same(first.objects, then.objects[: len(first.objects)]):
            return None
        return f"differs otherwise than the deliberate {relation!r} ({reason})"
    if not _same(kubectl.objects, pssgen.objects):
        return "the objects differ"
    if kubectl.errors and not pssgen.errors:
        return "kubectl reports an error, pssgen none"
    if pssgen.errors and not kubectl.errors:
        return "pssgen reports an error, kubectl none"
    return None


def describe(name: str, problem: str, kubectl: Reading, pssgen: Reading, content: bytes | None = None) -> str:
    """A disagreement as a reader wants it: the case, what is wrong, both readings (and the file when short)."""
    lines = [f"{name}: {problem}"]
    if content is not None:
        shown = content.decode("utf-8") if content.isascii() else repr(content)
        lines.append("  file: " + (shown if len(shown) <= 600 else shown[:600] + " ...").replace("\n", "\n        "))
    for who, reading in (("kubectl sends", kubectl), ("pssgen reads ", pssgen)):
        objects = [json.dumps(o, sort_keys=True, default=repr) for o in reading.objects]
        lines.append(f"  {who}: {len(objects)} object(s)" + "".join(f"\n      {o[:400]}" for o in objects))
        lines += [f"      error: {e}" for e in reading.errors]
    return "\n".join(lines)


@dataclass
class Comparison:
    """Both readings of every file of one input, and what disagreed."""

    files: list[str]
    kubectl: dict[str, Reading]
    pssgen: dict[str, Reading]
    problems: dict[str, str]

    def counts(self, label: str, deliberate: int = 0) -> str:
        objects = sum(len(r.objects) for r in self.kubectl.values())
        errors = sum(len(r.errors) for r in self.kubectl.values())
        agreed = len(self.files) - len(self.problems) - deliberate
        return (
            f"{label}: {len(self.files)} files, kubectl sends {objects} objects and reports {errors} errors; "
            f"{agreed} files agree, {deliberate} differ deliberately, {len(self.problems)} disagree"
        )


def compare(
    files: Iterable[str], kubectl: dict[str, Reading], pssgen: dict[str, Reading], deliberate: dict[str, Any]
) -> Comparison:
    listed = list(files)
    problems = {}
    for name in listed:
        k, p = kubectl.get(name, Reading()), pssgen.get(name, Reading())
        problem = disagreement(k, p, deliberate.get(Path(name).name))
        if problem is not None:
            problems[name] = describe(Path(name).name, problem, k, p, _content(name))
    return Comparison(listed, kubectl, pssgen, problems)


def _content(name: str) -> bytes | None:
    try:
        return Path(name).read_bytes()
    except OSError:
        return None


def _sources_in_order(readings: dict[str, Reading]) -> list[str]:
    return [source for source, reading in readings.items() if reading.objects]


# --- (a) the hostile corpus: one test per case

CASES = sorted(p.name for p in READER_CORPUS.iterdir() if p.is_file())


@pytest.fixture(scope="module")
def hostile(kubectl_reader: Path, reader_parity_counts: list[str]) -> Comparison:
    paths = [READER_CORPUS / name for name in CASES]
    kubectl = kubectl_readings(paths, kubectl_reader)
    assert "" not in kubectl, f"kubectl failed the whole run: {kubectl.get('')}"
    result = compare([str(p) for p in paths], kubectl, pssgen_readings(paths), DELIBERATE)
    line = result.counts(
        "hostile corpus", sum(1 for c in CASES if c in DELIBERATE and str(READER_CORPUS / c) not in result.problems)
    )
    reader_parity_counts.append(line)
    print(line)
    return result


def test_the_corpus_covers_every_class_of_issue_10() -> None:
    missing = sorted(set(REQUIRED_CASES) - set(CASES))
    assert not missing, f"reader_corpus lacks the cases {missing}"
    unknown = sorted(set(DELIBERATE) - set(CASES))
    assert not unknown, f"DELIBERATE names cases that are not in reader_corpus: {unknown}"


@pytest.mark.parametrize("case", CASES)
def test_hostile_case(hostile: Comparison, case: str) -> None:
    problem = hostile.problems.get(str(READER_CORPUS / case))
    assert problem is None, problem


def test_hostile_corpus_in_kubectl_order(hostile: Comparison) -> None:
    """Across files too: the files both readers take objects from come in the same order."""
    kubectl, pssgen = _sources_in_order(hostile.kubectl), _sources_in_order(hostile.pssgen)
    assert [s for s in pssgen if s in kubectl] == [s for s in kubectl if s in pssgen]


# --- directories: kubectl -R walks them as pssgen does (lexical order, files and folders interleaved)


def test_directory_walk_matches_kubectl_recursive(tmp_path: Path, kubectl_reader: Path) -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c, image: i}]}\n"
    for name in ("a.yaml", "b/x.yml", "b/c/y.json", "c.yaml", "d.YAML", "e.txt", ".hidden.yaml", "f.yaml.bak"):
        path = tmp_path / "tree" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pod % name.replace("/", "-").replace(".", "-").lower())
    root = tmp_path / "tree"
    kubectl = kubectl_readings([root], kubectl_reader, recursive=True)
    pssgen = pssgen_readings([root])
    assert _sources_in_order(pssgen) == _sources_in_order(kubectl), describe(
        "directory walk", "files read differ or in another order", _flat(kubectl), _flat(pssgen)
    )


def _flat(readings: dict[str, Reading]) -> Reading:
    return Reading([{"source": s, **o} for s, r in readings.items() for o in r.objects], [])


# --- (b) the upstream PSA fixtures and the project corpus


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["upstream", "project"])
def test_fixture_corpora(corpus: str, kubectl_reader: Path, reader_parity_counts: list[str]) -> None:
    root = upstream_corpus_dir() if corpus == "upstream" else CORPUS_DIR
    kubectl = kubectl_readings([root], kubectl_reader, recursive=True)
    assert "" not in kubectl, f"kubectl failed the whole run: {kubectl.get('')}"
    pssgen = pssgen_readings([root])
    files = sorted(set(kubectl) | set(pssgen), key=lambda s: list(kubectl).index(s) if s in kubectl else 1 << 30)
    result = compare(files, kubectl, pssgen, {})
    line = result.counts(f"{corpus} fixtures")
    reader_parity_counts.append(line)
    print(line)
    assert not result.problems, "\n\n".join(list(result.problems.values())[:30])
    assert _sources_in_order(pssgen) == _sources_in_order(kubectl), "pssgen reads the files in another order"


# --- (c) generated files, all through one oracle call


# pssgen's words for what it refuses though kubectl reads it (the hostile corpus pins each case with its reason).
REFUSALS = {
    "with different values (kubectl keeps the last": _REPEATED,
    "not UTF-8 text": "kubectl replaces bytes that are not UTF-8 by U+FFFD: the object sent is not the one written",
}


def _unmatched(wanted: Sequence[dict[str, Any]], found: Sequence[dict[str, Any]]) -> int:
    """How many of ``wanted`` are not found, in order, among ``found`` (a subsequence match)."""
    pool, at, missing = [canonical(o) for o in found], 0, 0
    for o in wanted:
        c = canonical(o)
        hit = next((i for i in range(at, len(pool)) if pool[i] == c), None)
        if hit is None:
            missing += 1
        else:
            at = hit + 1
    return missing


def stricter(kubectl: Reading, pssgen: Reading) -> bool:
    """Whether pssgen's reading of a generated file differs only as the deliberate differences allow.

    pssgen must report an error (the run fails); it may judge objects kubectl
    never sends (it reads on past a broken document, judges a streamed List's
    items before the List is refused); every object kubectl sends must be among
    pssgen's, in order, unless pssgen refuses a document deliberately (which may
    hold a List: the objects it would have been are not counted).
    """
    if not pssgen.errors:
        return False
    refuses = any(words in e for e in pssgen.errors for words in REFUSALS)
    return refuses or _unmatched(kubectl.objects, pssgen.objects) == 0


def test_generated(tmp_path: Path, kubectl_reader: Path, reader_parity_counts: list[str]) -> None:
    paths = write_generated(tmp_path, GENERATED_FILES)
    kubectl = kubectl_readings(paths, kubectl_reader)
    assert "" not in kubectl, f"kubectl failed the whole run: {kubectl.get('')}"
    result = compare([str(p) for p in paths], kubectl, pssgen_readings(paths), {})
    deliberate = {
        name: problem
        for name, problem in result.problems.items()
        if stricter(kubectl.get(name, Reading()), pssgen_of(result, name))
    }
    for name in deliberate:
        del result.problems[name]
    line = result.counts(f"generated (seed 10, {GENERATED_FILES} files)", len(deliberate))
    reader_parity_counts.append(line)
    print(line)
    assert not result.problems, f"{len(result.problems)} generated files disagree:\n\n" + "\n\n".join(
        list(result.problems.values())[:25]
    )


def pssgen_of(result: Comparison, name: str) -> Reading:
    return result.pssgen.get(name, Reading())


# --- (d) big JSON documents, which pssgen reads an item at a time (JSON_WHOLE lowered so that these stream)


def _pods(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": "é-ü"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}], **extra},
        }
        for i in range(count)
    ]


def _export(items: list[Any], **fields: Any) -> str:
    return json.dumps(
        {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {}, **fields},
        indent=4,
        sort_keys=True,
        ensure_ascii=False,
    )


_PLAIN = _export(_pods(40))
BIG_JSON: dict[str, tuple[str, tuple[Relation, str] | None]] = {
    "kubectl-layout": (_PLAIN, None),
    "floats-and-escapes": (
        _export(_pods(40, terminationGracePeriodSeconds=30.0, priority=1.5, hostname='a\u2028b\\"c')),
        None,
    ),
    "kindless-items-of-a-podlist": (
        _export([{"metadata": {"name": f"k{i}"}} for i in range(60)], kind="PodList"),
        None,
    ),
    "kind-first": (json.dumps({"kind": "List", "apiVersion": "v1", "items": _pods(40)}, indent=2), None),
    "a-json-stream": (_PLAIN + "\n" + json.dumps(_pods(1)[0]) + _export(_pods(3)), None),
    "a-syntax-error-mid-list": (_PLAIN.replace('"name": "p20"', '"name" "p20"'), ("reads-on", _READS_ON)),
    "a-nested-list-mid-list": (
        _PLAIN.replace(
            '"kind": "Pod",\n            "metadata": {\n                "name": "p20"',
            '"kind": "List", "items": [], "metadata": {"name": "p20"',
        ),
        ("reads-on", _STREAMED),
    ),
}


@pytest.mark.parametrize("case", BIG_JSON)
def test_a_streamed_json_document_reads_as_kubectl_reads_it(
    case: str, tmp_path: Path, kubectl_reader: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator.manifests import chunks

    monkeypatch.setattr(chunks, "JSON_WHOLE", 4096)
    text, deliberate = BIG_JSON[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text, encoding="utf-8")
    assert len(text.encode()) > 4096
    kubectl = kubectl_readings([path], kubectl_reader).get(str(path), Reading())
    pssgen = pssgen_readings([path]).get(str(path), Reading())
    problem = disagreement(kubectl, pssgen, deliberate)
    assert problem is None, describe(case, problem, kubectl, pssgen)
    assert pssgen.objects or pssgen.errors
