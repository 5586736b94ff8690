"""A JSON chunk too big to read whole (``kubectl get -o json`` of a cluster): read a value, and an item, at a time.

The streamed reading must be the whole reading, item for item, wherever the
text is JSON; where it breaks, the items before stand, the error names the
document, and the rest of the file is read. ``JSON_WHOLE`` is lowered so that
small texts stream, and ``_KEEP`` so that the window drops text after each item.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.manifests import Document, ReadError, chunks, json_stream, read_paths, read_text
from generator.manifests import stream as manifest_stream


def pod(i: int, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **extra}}  # fmt: skip


def export(items: list[Any], indent: int | None = 4, **fields: Any) -> str:
    """kubectl's layout: keys sorted, so items come before kind."""
    return json.dumps({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {}, **fields}, indent=indent)


def flat(entries: Iterator[Document | ReadError]) -> list[tuple[Any, ...]]:
    return [("doc", e.document, e.item, e.line, json.dumps(e.obj, sort_keys=True), e.warnings)
            if isinstance(e, Document) else ("error", e.document, e.item, e.message) for e in entries]  # fmt: skip


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON chunk streams, and the window keeps nothing it need not."""
    monkeypatch.setattr(chunks, "JSON_WHOLE", -1)
    monkeypatch.setattr(json_stream, "_KEEP", 0)


def both(name: str, text: str | bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """(read whole, streamed)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    with monkeypatch.context() as patch:
        patch.setattr(chunks, "JSON_WHOLE", 1 << 40)
        whole = flat(read_text(name, data))
    with monkeypatch.context() as patch:
        patch.setattr(chunks, "JSON_WHOLE", -1)
        patch.setattr(json_stream, "_KEEP", 0)
        return whole, flat(read_text(name, data))


SAME = {
    "kubectl layout": export([pod(i) for i in range(5)]),
    "one line": export([pod(i) for i in range(5)], indent=None),
    "kind first": json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [pod(0), {"metadata": {}}, None]}),
    "kindless items wait for the kind": export([{"metadata": {"name": "a"}}, pod(1), "text", None], kind="PodList"),
    "an item without a version": export([pod(0), {"kind": "Pod"}, pod(2)]),
    "floats and big numbers": export(
        [pod(0, terminationGracePeriodSeconds=30.0), pod(1, priority=10**30), pod(2, priority=1e300)]
    ),
    "escaped surrogates": export([pod(0), {**pod(1), "metadata": {"name": "a\ud800"}}]),
    "unicode": json.dumps(
        {"items": [{**pod(0), "metadata": {"name": "é\u2028ü😀"}}], "kind": "List"}, ensure_ascii=False
    ),
    "empty items": export([]),
    "not a List": json.dumps(pod(0), indent=2),
    "items null": json.dumps({"kind": "List", "items": None}),
    "a top-level array": json.dumps([pod(0)]),
    "a JSON stream": export([pod(0)]) + "\n" + json.dumps(pod(1)) + export([pod(2), pod(3)]),
    "blanks everywhere": export([pod(0), pod(1)], indent=4).replace(",", " \r\n\t,\t ").replace(":", " : "),
}

REFUSED_LATER = {  # the whole reading refuses the List before any item; streamed, the items before stand
    "no kind": (json.dumps({"items": [pod(0), pod(1)]}), "the document has items but no kind"),
    "a nested List": (export([pod(0), {"kind": "List", "items": []}, pod(2)]), "List item 1 is itself a List"),
    "infinity": (
        export([pod(0), pod(1, x=1), pod(2)]).replace('"x": 1', '"x": 1e400'),
        "items[1].spec.x: inf is not a number JSON can carry",
    ),
    "too deep": (export([pod(0), {"kind": "Pod", "a": json.loads("[" * 98 + "]" * 98)}]), "nests deeper"),
}


@pytest.mark.parametrize("case", SAME)
def test_a_streamed_chunk_reads_as_the_whole_chunk(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("export.json", "export.yaml"):
        whole, streamed = both(name, SAME[case], monkeypatch)
        assert streamed == whole
        assert len(whole) >= (case not in ("empty items", "items null"))


@pytest.mark.parametrize("case", REFUSED_LATER)
def test_a_refusal_learnt_after_items_is_the_documents_error(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text, words = REFUSED_LATER[case]
    whole, streamed = both("export.json", text, monkeypatch)
    assert [e[0] for e in whole] == ["error"] and words in whole[0][3]
    assert streamed[-1] == whole[0]  # the same words for the document
    items = [e[2] for e in streamed[:-1]]
    assert all(e[0] == "doc" and e[1] == 0 for e in streamed[:-1]) and items == list(range(len(items)))
    assert items  # (the items before the one that refuses the List, or all of them)


def test_items_come_out_one_at_a_time_in_a_bounded_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole List is never held: when each item comes out, little more than it has been read."""
    monkeypatch.setattr(chunks, "JSON_WHOLE", 1 << 20)
    items = [pod(i, hostname="h" * 200) for i in range(40_000)]  # some 14 MB
    data = export(items).encode()
    source = io.BytesIO(data)
    offsets = [data.index(f'"name": "p{i}"'.encode()) for i in range(0, len(items), 1000)]
    seen = 0
    for entry in read_paths(["-"], stdin=source):  # type: ignore[arg-type]
        assert isinstance(entry, Document)
        if entry.item is not None and entry.item % 1000 == 0:
            ahead = source.tell() - offsets[entry.item // 1000]
            assert ahead < 6 * manifest_stream.BLOCK_SIZE, (entry.item, ahead)
        seen += 1
    assert seen == len(items)


def test_a_syntax_error_mid_list_costs_the_rest_of_its_document_only(streamed: None) -> None:
    text = export([pod(i) for i in range(6)])
    broken = text.replace('"name": "p3"', '"name" "p3"') + "\n---\n" + json.dumps(pod(9))
    entries = list(read_text("export.json", broken.encode()))
    assert [e.obj["metadata"]["name"] for e in entries if isinstance(e, Document)] == ["p0", "p1", "p2", "p9"]
    (error,) = [e for e in entries if isinstance(e, ReadError)]
    assert (error.document, error.item) == (0, 3)
    at = broken.index('"name" "p3"') + len('"name" ')  # where the decoder looks for the colon
    line, column = broken.count("\n", 0, at) + 1, at - broken.rfind("\n", 0, at)
    assert error.message == f"invalid JSON at line {line}, column {column}: Expecting ':' delimiter", error
    assert str(error).startswith("export.json: document 0 item 3: invalid JSON")


def test_bad_bytes_mid_list_end_it_with_their_words(streamed: None) -> None:
    data = export([pod(i) for i in range(4)]).encode().replace(b'"p2"', b'"p\x002"')
    entries = list(read_text("export.json", data))
    assert [e.item for e in entries if isinstance(e, Document)] == [0, 1]
    (error,) = [e for e in entries if isinstance(e, ReadError)]
    assert error.document == 0 and error.message.startswith("binary data, not text (NUL byte at line")


def test_a_truncated_export_yields_what_came_before(streamed: None) -> None:
    text = export([pod(i) for i in range(4)])
    entries = list(read_text("export.json", text[: text.index('"p3"')].encode()))
    assert [e.item for e in entries if isinstance(e, Document)] == [0, 1, 2]
    assert isinstance(entries[-1], ReadError) and entries[-1].document == 0


def test_a_duplicate_key_mid_list_is_judged_as_yaml_judges_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict JSON refuses it; the chunk is YAML then, as read whole: the item alone is refused, or warned about."""
    for value, fails in (('"other"', True), ('"p2"', False)):
        text = export([pod(i) for i in range(4)]).replace('"name": "p2"', f'"name": "p2", "name": {value}')
        whole, streamed = both("export.json", text, monkeypatch)
        strip = [e[:3] + e[4:] if e[0] == "doc" else e for e in whole]  # lines: see below
        assert [e[:3] + e[4:] if e[0] == "doc" else e for e in streamed] == strip
        assert [e[2] for e in streamed if e[0] == "error"] == ([2] if fails else [])
        # Items JSON read before it learnt the text is no JSON have the document's line, as JSON gives them.
        assert [e[3] for e in streamed if e[0] == "doc"][:2] == [1, 1]


def test_streamed_and_whole_readings_both_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutated exports: whichever way a chunk is read, it has errors exactly when the other reading has."""
    rng = random.Random(7)
    marks = [",", "{", "}", "[", "]", '"', ":", "0", " ", "\\", "x", "NaN", "1e400", '"kind": "Pod", ', "\x00"]
    for _ in range(300):
        text = export([pod(i) if rng.random() < 0.8 else {"metadata": {}} for i in range(rng.randint(0, 4))],
                      indent=rng.choice([None, 2]))  # fmt: skip
        at = rng.randrange(len(text))
        text = text[:at] + (rng.choice(marks) if rng.random() < 0.7 else "") + text[at + 1 :]
        whole, streamed = both(rng.choice(["x.json", "x.yaml"]), text, monkeypatch)
        assert any(e[0] == "error" for e in whole) == any(e[0] == "error" for e in streamed), text


def test_a_big_json_export_through_the_cli(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "JSON_WHOLE", 4096)
    path = tmp_path / "export.json"
    path.write_text(export([pod(i, hostPID=i == 3) for i in range(200)]))
    result = CliRunner().invoke(cli, ["check", str(path), "--level", "baseline", "--output", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [r["item"] for r in report["results"]] == list(range(200))
    assert [r["item"] for r in report["results"] if not r["allowed"]] == [3]
    path.write_text(export([pod(i) for i in range(200)]).replace('"p150"', '"p150" "x"'))
    result = CliRunner().invoke(cli, ["check", str(path), "--level", "baseline", "--output", "json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert len(report["results"]) == 150
    (error,) = report["errors"]
    assert (error["document"], error["item"]) == (0, 150) and error["message"].startswith("invalid JSON at line")


# ---------------------------------------------------------------- --jobs: a JSON List cut into runs of items


@pytest.fixture
def small_json_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of a few KiB, of Lists over 4 KiB (cut here; workers only read the pieces they are sent)."""
    from generator.manifests import pieces

    monkeypatch.setattr(pieces, "PIECE_SIZE", 2048)
    monkeypatch.setattr(pieces, "JSON_WHOLE", 4096)
    monkeypatch.setattr(chunks, "JSON_WHOLE", 4096)


def jobs_and_alone(paths: list[str], **kwargs: Any) -> tuple[list[object], list[object]]:
    from generator.engines import PythonEngine
    from generator.policy.versions import parse_version
    from generator.scan import scan, scan_parallel

    version = parse_version("latest")
    alone = list(scan(read_paths(paths), PythonEngine(), "restricted", version))
    return alone, list(scan_parallel(paths, 2, "python", "restricted", version, **kwargs))


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced in item 30, or (when it is not in it) where it first is."""
    at = text.index('"name": "p30"')
    start, end = text.rindex("\n        {", 0, at), text.index("\n        }", at)
    if old in text[start:end]:
        return text[:start] + text[start:end].replace(old, new, 1) + text[end:]
    assert old in text
    return text.replace(old, new, 1)


JSON_SPOTS: dict[str, Any] = {
    "plain": lambda t: t,
    "a kindless item": lambda t: replaced(t, '"apiVersion": "v1",\n            "kind": "Pod",', ""),
    "a nested List": lambda t: replaced(t, '"kind": "Pod",', '"kind": "List", "items": [],'),
    "a syntax error": lambda t: replaced(t, '"name": "p30"', '"name" "p30"'),
    "a duplicate key": lambda t: replaced(t, '"name": "p30"', '"name": "p30", "name": "x"'),
    "NaN": lambda t: replaced(t, '"name": "p30"', '"name": NaN'),
    "infinity": lambda t: replaced(t, '"name": "p30"', '"name": "p30", "x": 1e400'),
    "a float": lambda t: replaced(t, '"name": "p30"', '"name": "p30", "x": 1.0'),
    "a surrogate": lambda t: replaced(t, '"name": "p30"', '"name": "p\\ud800"'),
    "a NUL": lambda t: replaced(t, '"name": "p30"', '"name": "p\x00"'),
    "a trailing comma": lambda t: replaced(t, "\n        }\n    ],", "\n        },\n    ],"),
    "no kind": lambda t: replaced(t, '"kind": "List",', ""),
    "more after the List": lambda t: t + '\n{"kind": "Pod", "metadata": {"name": "after"}}\n',
    "a broken end": lambda t: t[:-3],
    "items on one line": lambda t: replaced(t, "},\n        {", "}, {"),
}


@pytest.mark.usefixtures("small_json_pieces")
@pytest.mark.parametrize("spot", JSON_SPOTS)
def test_jobs_read_a_json_list_as_one_process_does(spot: str, tmp_path: Any) -> None:
    path = tmp_path / "export.json"
    items = [pod(i, hostPID=i % 7 == 3) for i in range(60)]
    path.write_bytes(JSON_SPOTS[spot](export(items)).encode("utf-8", "surrogatepass"))
    alone, pieces = jobs_and_alone([str(path)])
    assert len(alone) >= 31
    assert pieces == alone


@pytest.mark.usefixtures("small_json_pieces")
def test_the_namespace_pass_numbers_a_json_list_as_one_process_does(tmp_path: Any) -> None:
    from generator.policy.versions import parse_version
    from generator.scan import scan_parallel

    path = tmp_path / "export.json"
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"n{i}"}} for i in range(3)]
    path.write_text(export([pod(i) for i in range(40)] + namespaces))
    skimmed = scan_parallel([str(path)], 2, None, "restricted", parse_version("latest"), kinds={"Namespace"},
                            skim=True)  # fmt: skip
    found = [(e.document, e.item) for e in skimmed if isinstance(e, Document) and e.obj["kind"] == "Namespace"]
    assert found == [(0, 40), (0, 41), (0, 42)]


def test_the_fast_reading_of_an_item_is_the_strict_one() -> None:
    """``read_item`` skips the strict decoder's hook and ``as_api_json`` where they cannot change anything."""
    from generator.manifests.shape import as_api_json

    def strict(text: str) -> Any:
        try:
            value, end = json_stream.DECODER.raw_decode(text, 0)
            return as_api_json(value, 98, surrogates="\\" in text), end
        except (ValueError, RecursionError) as exc:
            return type(exc), str(exc), getattr(exc, "path", None)

    def fast(text: str) -> Any:
        try:
            return json_stream.read_item(text, 0)
        except (ValueError, RecursionError) as exc:
            return type(exc), str(exc), getattr(exc, "path", None)

    rng = random.Random(3)
    base = json.dumps(pod(0, hostname="a:b", x=[{"y": True, "z": None, "n": 12}], s="q"), indent=2)
    edits = [
        '"name": "p0", "name": "p0"',
        '"name": "p0", "name": "x"',
        '"x": 1.5',
        '"x": 2.0',
        '"x": 1e400',
        '"x": "\\"quoted\\": 1"',
        '"x": "\\u0022"',
        '"x": "\\ud800"',
        '"x": NaN',
        '"x": ' + "[" * 97 + "]" * 97,
        '"x": ' + "[" * 96 + "]" * 96,
        '"a": {"b": 1, "b": 1}',
        '"x": "a\\\\"',
        '"x": 10000000000000000000000',
    ]
    for _ in range(400):
        text = base
        for edit in rng.sample(edits, rng.randint(0, 3)):
            text = text.replace('"s": "q"', edit + ', "s": "q"', 1)
        assert fast(text) == strict(text), text
    assert fast("[1, 2]") == strict("[1, 2]") and fast('"text"') == strict('"text"')
