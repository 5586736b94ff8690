"""Big inputs: a ``kind: List`` read one item at a time, never whole, with every hostile-input guarantee kept.

``kubectl get -A -o yaml`` writes one List document with its keys sorted, so
``items`` comes before ``kind``; items must come out as they are read, each
with its own line, and a problem in one item must cost that item only. The
same readings must come out of ``--jobs`` (pieces read by worker processes).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.engines import PythonEngine
from generator.manifests import MAX_ALIAS_EXPANSION, MAX_DEPTH, Document, ReadError, read_paths, read_text
from generator.manifests import pieces as manifests
from generator.manifests import stream as manifest_stream
from generator.policy.versions import parse_version
from generator.scan import Outcome, scan, scan_parallel
from generator.scan.stream import WorkerError


def item(i: int, extra: str = "") -> str:
    """One List item in kubectl's layout (a Pod allowed at restricted), six lines plus ``extra``."""
    return (
        f"- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{i}, namespace: shop}}\n"
        "  spec:\n    securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n"
        "    containers: [{name: c, image: nginx, securityContext: {allowPrivilegeEscalation: false, "
        f"capabilities: {{drop: [ALL]}}}}}}]\n{extra}"
    )


def export(
    count: int,
    odd: dict[int, str] | None = None,
    tail: str = 'kind: List\nmetadata: {resourceVersion: ""}\n',
) -> str:
    """A kubectl-style List: ``items`` first, ``kind`` after; ``odd`` replaces items by index."""
    odd = odd or {}
    return "apiVersion: v1\nitems:\n" + "".join(odd.get(i, item(i)) for i in range(count)) + tail


ITEM_LINES = 6
FIRST_ITEM_LINE = 3


def read(text: str | bytes) -> list[Document | ReadError]:
    return list(read_text("export.yaml", text.encode() if isinstance(text, str) else text))


def names(entries: list[Document | ReadError]) -> list[str]:
    return [e.obj["metadata"]["name"] for e in entries if isinstance(e, Document)]


def errors(entries: list[Document | ReadError]) -> list[tuple[int | None, int | None, str]]:
    return [(e.document, e.item, e.message) for e in entries if isinstance(e, ReadError)]


class Trickle(io.RawIOBase):
    """A pipe that hands out a few bytes per read, and remembers how far it has been read."""

    def __init__(self, data: bytes, step: int = 512) -> None:
        self.data, self.step, self.position = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        out = self.data[self.position : self.position + size]
        self.position += len(out)
        return out


# ---------------------------------------------------------------- streaming


def test_items_come_out_before_the_list_is_read() -> None:
    data = export(5000).encode()
    pipe = Trickle(data)
    entries = read_paths(["-"], stdin=pipe)  # type: ignore[arg-type]
    first = next(entries)
    assert isinstance(first, Document) and first.item == 0
    assert pipe.position < 4096 < len(data)  # the first item, and hardly more, had to be read
    tenth = next(e for e in entries if e.item == 9)
    assert pipe.position < len(data) // 100
    assert tenth.line == FIRST_ITEM_LINE + 9 * ITEM_LINES
    rest = list(entries)
    assert len(rest) == 5000 - 10 and pipe.position == len(data)


def test_a_broken_tail_still_yields_the_items_before_it() -> None:
    text = export(50, tail="") + "- kind: Pod\n  metadata: {name: [broken\n"
    entries = read(text)
    assert names(entries) == [f"p{i}" for i in range(50)]
    ((document, where, message),) = errors(entries)
    assert (document, where) == (0, 50)
    assert message.startswith(f"invalid YAML at line {FIRST_ITEM_LINE + 50 * ITEM_LINES + 2}, column ")


def test_bytes_that_are_not_utf8_end_the_list_at_their_item() -> None:
    data = export(60).encode().replace(item(30).encode(), item(30, "    notes: caf\xe9\n").encode("latin-1"))
    entries = read(data + b"---\nkind: Pod\nmetadata: {name: after}\n")
    assert names(entries) == [*(f"p{i}" for i in range(30)), "after"]
    line = FIRST_ITEM_LINE + 30 * ITEM_LINES + ITEM_LINES
    assert errors(entries) == [(0, 30, f"not UTF-8 text (byte 0xE9 at line {line}, column 15); only UTF-8 is read")]
    assert entries[-1].document == 1


def test_a_nul_byte_in_an_item() -> None:
    data = export(10).encode().replace(b"name: p4,", b"name: p\x004,")
    entries = read(data)
    assert names(entries) == ["p0", "p1", "p2", "p3"]
    line = FIRST_ITEM_LINE + 4 * ITEM_LINES + 2
    assert errors(entries) == [(0, 4, f"binary data, not text (NUL byte at line {line}, column 21)")]


# ---------------------------------------------------------------- lines and order


def test_each_item_has_its_own_line() -> None:
    text = (
        "# exported\napiVersion: v1\nitems:\n# a comment\n- metadata: {name: a}\n\n"
        "-   metadata:\n      name: b\n- {metadata: {name: c}}\nkind: PodList\n"
    )
    entries = read(text)
    assert [(e.item, e.line) for e in entries] == [(0, 5), (1, 7), (2, 9)]
    assert {e.obj["kind"] for e in entries} == {"Pod"}  # kindless items of a PodList are Pods


def test_flow_lists_and_kind_first_still_work() -> None:
    entries = read('{"kind": "PodList", "apiVersion": "v1", "items": [{"metadata": {"name": "j"}}]}')
    assert names(entries) == ["j"]
    entries = read('{"kind": "PodList", "apiVersion": "v1", "items": [{"metadata": {"name": "j"}}, 42]}')
    assert errors(entries) == [(0, 1, "PodList item 1 is not a Kubernetes object")]
    entries = read("kind: PodList\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: k}}]\n")
    assert names(entries) == ["k"]


def test_items_before_kind() -> None:
    """kubectl's order: items stream past before the kind is known; the kind is checked when it comes."""
    entries = read(export(3))
    assert names(entries) == ["p0", "p1", "p2"] and errors(entries) == []
    entries = read(export(2, tail="kind: Pod\n"))  # any object with items is a List to kubectl, whatever its kind
    assert names(entries) == ["p0", "p1"] and errors(entries) == []
    entries = read(export(2, tail=""))
    assert errors(entries) == [
        (0, None, "the document has items but no kind: kubectl reads it as a List, and refuses a List with no kind")
    ]
    entries = read("apiVersion: v1\nitems:\n- 42\nkind: List\n")
    assert errors(entries) == [(0, 0, "List item 0 is not a Kubernetes object")]


def test_items_that_are_not_a_plain_sequence_are_read_as_before() -> None:
    assert read("kind: List\nitems: null\n") == []
    assert errors(read("kind: List\nitems: {}\n")) == [(0, None, "items is not a list")]
    entries = read("kind: List\nitems: &all\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n")  # read whole
    assert names(entries) == ["a"]


def test_what_a_streamed_list_cannot_have_at_its_top() -> None:
    entries = read(export(1, tail="<<: {kind: List}\n"))
    assert names(entries) == ["p0"]
    assert errors(entries) == [
        (
            0,
            None,
            "a List whose items are read one by one cannot have an anchor, alias, tag, "
            "merge or complex key at its top level",
        )
    ]
    entries = read("apiVersion: v1\nmetadata: {a: 1, a: 2}\nitems:\n- kind: Pod\nkind: List\n")
    assert [e.document for e in entries] == [0] and "duplicate key 'a'" in entries[0].message  # before items: no items


# ---------------------------------------------------------------- hostile items


def test_a_duplicate_key_costs_its_item_only() -> None:
    entries = read(export(5, {2: item(2, "  kind: Service\n")}))
    assert names(entries) == ["p0", "p1", "p3", "p4"]
    assert errors(entries) == [
        (
            0,
            2,
            f"invalid YAML at line {FIRST_ITEM_LINE + 3 * 6}, column 3: duplicate key 'kind' with different "
            "values (kubectl keeps the last; the object depends on the reader)",
        )
    ]


def bomb_item(levels: int = 9) -> str:
    lines = ['  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "- kind: Pod\n  metadata: {name: lol}\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_costs_its_item_only() -> None:
    entries = read(export(4, {1: bomb_item()}))
    assert names(entries) == ["p0", "p2", "p3"]
    limit = f"YAML aliases expand too far (limit {MAX_ALIAS_EXPANSION} nodes added by aliases)"
    assert errors(entries) == [(0, 1, limit)]


def test_an_alias_bomb_spread_over_items_is_counted_across_them() -> None:
    """Each item adds under the limit; together they would not: the document's budget runs out."""
    shared = "  shared: &s [" + ", ".join(["x"] * 1000) + "]\n"
    again = "  again: [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n"
    odd = {0: item(0, shared), **{i: item(i, again) for i in range(1, 20)}}
    entries = read(export(20, odd))
    assert len(names(entries)) + len(errors(entries)) == 20
    assert names(entries)[:5] == ["p0", "p1", "p2", "p3", "p4"]  # 10,000 nodes each, until 100,000
    assert errors(entries)[0][1:] == (
        10,
        f"YAML aliases expand too far (limit {MAX_ALIAS_EXPANSION} nodes added by aliases)",
    )


def test_other_hostile_items() -> None:
    odd = {
        1: "- {kind: Pod, metadata: &m {name: loop, self: *m}}\n",
        2: "- kind: Pod\n  deep: " + "[" * 200 + "]" * 200 + "\n",
        3: "- kind: Pod\n  ratio: .nan\n",
        4: "- kind: Pod\n  port: !!int eighty\n",
    }
    entries = read(export(6, odd))
    assert names(entries) == ["p0", "p5"]
    assert [(where, message.split(":")[0]) for _, where, message in errors(entries)] == [
        (1, "a YAML alias refers to a node that contains it (recursive alias)"),
        (2, f"document nests deeper than {MAX_DEPTH} levels"),
        (3, "ratio"),
        (4, "invalid YAML at line 15, column 9"),  # items 1 to 3 are one or two lines
    ]


def test_anchors_reach_across_items_and_may_be_redefined() -> None:
    text = "items:\n- &p {metadata: {name: a}}\n- *p\n- &p {metadata: {name: b}}\n- *p\napiVersion: v1\nkind: PodList\n"
    assert names(read(text)) == ["a", "a", "b", "b"]


def test_anchors_in_a_failed_or_unwanted_item_are_kept() -> None:
    """Skipping the rest of an item (an error, or a kind not asked for) still composes what aliases may need."""
    text = (
        "items:\n- kind: Pod\n  kind: Service\n  x: &a {name: kept}\n  y: &b [1, *nowhere]\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: *a\n- kind: Pod\n  metadata: {name: half, b: *b}\nkind: List\n"
    )
    entries = read(text)
    assert names(entries) == ["kept"]
    assert [(where, message.split(": ")[-1].split(" with ")[0]) for _, where, message in errors(entries)] == [
        (0, "duplicate key 'kind'"),
        (2, "found undefined alias 'b'"),  # half a node is never found
    ]
    text = (
        "items:\n- kind: Pod\n  note: &k Namespace\n- apiVersion: v1\n  kind: *k\n  metadata: {name: ns1}\nkind: List\n"
    )
    wanted = list(read_text("s", text.encode(), {"Namespace"}))
    assert [(e.item, e.obj["metadata"]["name"]) for e in wanted] == [(1, "ns1")]


def traced_peak(count: int) -> tuple[int, int]:
    """Bytes of input, and the most memory reading them ever held (by tracemalloc: slow, so small blocks)."""
    data = export(count).encode()
    tracemalloc.start()
    try:
        read = sum(1 for _ in read_paths(["-"], stdin=Trickle(data, 1 << 14)))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == count
    return len(data), peak


def test_a_list_is_never_held_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_stream, "BLOCK_SIZE", 1 << 14)
    _, small_peak = traced_peak(800)
    large, large_peak = traced_peak(3200)
    assert large_peak < large // 4
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)  # four times the input, not more memory


def test_the_pure_python_parser_streams_the_same(
    tmp_path: Path, run_bounded: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    path = tmp_path / "export.yaml"
    path.write_text(export(20, {3: item(3, "  kind: Pod\n"), 7: bomb_item()}))
    script = (
        "import sys, json, yaml\ndel yaml.CSafeLoader\nfrom generator.manifests import read_paths, Document\n"
        "print(json.dumps([[e.item, e.line] if isinstance(e, Document) else [e.item, e.message] "
        "for e in read_paths(sys.argv[1:])]))\n"
    )
    out = run_bounded([sys.executable, "-c", script, str(path)], timeout=120, check=True)
    fast = [[e.item, e.line] if isinstance(e, Document) else [e.item, e.message] for e in read_paths([str(path)])]
    assert json.loads(out.stdout) == fast


# ---------------------------------------------------------------- the CLI


def test_cli_reads_a_list_from_stdin_with_item_lines() -> None:
    text = export(3, {1: item(1, "    hostNetwork: true\n")})
    result = CliRunner().invoke(cli, ["check", "-", "--output", "json"], input=text)
    assert result.exit_code == 1, result.output
    results = json.loads(result.stdout)["results"]
    assert [(r["item"], r["allowed"]) for r in results] == [(0, True), (1, False), (2, True)]


def test_progress_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    check = importlib.import_module("generator.cli.check")  # the module: `generator.cli.check` is the command
    clock = iter(range(0, 10_000))
    monkeypatch.setattr(check.time, "monotonic", lambda: float(next(clock)))
    shown = check._Progress(True)
    for _ in range(512):
        shown.tick()
    shown.clear()
    hidden = check._Progress(False)
    for _ in range(512):
        hidden.tick()
    err = capsys.readouterr().err
    assert "512 objects" in err and "objects/s" in err
    assert err.endswith("\r" + " " * len("512 objects, 256 objects/s ") + "\r")
    assert check._Progress(False).shown is False


# ---------------------------------------------------------------- --jobs: the same readings from pieces


def both(paths: list[str], **kwargs: object) -> tuple[list[object], list[object]]:
    version = parse_version("latest")
    alone = list(scan(read_paths(paths), PythonEngine(), "restricted", version))
    pieces = list(scan_parallel(paths, 2, "python", "restricted", version, **kwargs))  # type: ignore[arg-type]
    return alone, pieces


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a few KiB, so small Lists are cut (here: workers only read the pieces they are sent)."""
    monkeypatch.setattr(manifests, "PIECE_SIZE", 2048)


ODD_SPOTS = {
    "plain": {},
    "alias-across-items": {10: item(10, "  env: &e [{name: A}]\n"), 30: item(30, "  env: *e\n")},
    "quoted-over-an-item-line": {20: item(20, '  args: "one\n- two"\n')},
    "duplicate-key": {25: item(25, "  kind: Pod\n")},
    "not-utf8": {25: item(25, "  note: caf\udce9\n")},
    "syntax": {25: item(25, "  args: [open\n")},
    "tab-at-column-0": {25: item(25, "\tx: y\n")},
    "deep": {25: item(25, "  x: " + "[" * 150 + "]" * 150 + "\n")},
    "not-an-object": {25: "- 42\n"},
    "comment-at-column-0": {25: item(25, "# note\n")},
}


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("spot", ODD_SPOTS, ids=list(ODD_SPOTS))
def test_jobs_read_a_list_as_one_process_does(spot: str, tmp_path: Path) -> None:
    path = tmp_path / "export.yaml"
    path.write_bytes(export(60, ODD_SPOTS[spot]).encode("utf-8", "surrogateescape"))
    alone, pieces = both([str(path)])
    assert len(alone) >= 26
    assert pieces == alone


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("tail", ["kind: Pod\n", "", "kind: List\n- stray\n", "kind: List\n---\nkind: Pod\n"])
def test_jobs_finish_a_list_as_one_process_does(tail: str, tmp_path: Path) -> None:
    path = tmp_path / "export.yaml"
    path.write_text(export(40, tail=tail))
    alone, pieces = both([str(path)])
    assert pieces == alone


@pytest.mark.usefixtures("small_pieces")
def test_jobs_over_many_sources(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(export(30))
    (tmp_path / "b.yaml").write_text("---\n".join(item(i)[2:].replace("\n  ", "\n") for i in range(40)))
    (tmp_path / "c.json").write_text('{"kind": "Pod", "metadata": {"name": "j"}, "spec": {"hostPID": true}}')
    (tmp_path / "d.yaml").write_bytes("kind: Pod\n".encode("utf-16"))
    paths = [str(tmp_path), str(tmp_path / "a.yaml"), str(tmp_path / "missing.yaml")]
    alone, pieces = both(paths)
    assert pieces == alone
    assert [e.document for e in pieces if getattr(e, "source", "") == str(tmp_path / "b.yaml")] == list(range(40))


def test_jobs_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "PIECE_SIZE", 2048)
    path = tmp_path / "export.yaml"
    path.write_text(export(80, {5: item(5, "    hostPID: true\n"), 50: item(50, "  kind: Service\n")}))
    runs = [CliRunner().invoke(cli, ["check", str(path), "--output", "json", "--jobs", jobs]) for jobs in "12"]
    assert runs[0].exit_code == runs[1].exit_code == 2
    assert runs[0].stdout == runs[1].stdout
    result = CliRunner().invoke(cli, ["check", str(path), "--jobs", "2", "--engine", "opa"])
    assert result.exit_code == 2 and "python engine" in result.output


def a_scan_underway(folder: Path) -> Generator[object, None, None]:
    """A ``--jobs`` scan of 60 files (a piece each), read up to its first entry: its workers are running."""
    for i in range(60):
        (folder / f"p{i:02}.yaml").write_text(item(i)[2:].replace("\n  ", "\n"))
    found = scan_parallel([str(folder)], 2, "python", "restricted", parse_version("latest"))
    assert isinstance(next(found), Outcome)
    return found


def test_jobs_stopped_early_leave_no_worker(tmp_path: Path, pool_workers: Callable[[], list[Any]]) -> None:
    found = a_scan_underway(tmp_path)
    assert len(pool_workers()) == 2  # the check below can see them
    found.close()  # a consumer that stops reading (GeneratorExit at the yield)
    assert pool_workers() == []


def test_a_killed_worker_fails_the_scan_and_leaves_none(tmp_path: Path, pool_workers: Callable[[], list[Any]]) -> None:
    found = a_scan_underway(tmp_path)
    os.kill(pool_workers()[0].pid, signal.SIGKILL)  # as the out-of-memory killer would
    with pytest.raises(WorkerError, match=r"a --jobs worker \(pid \d+\) was killed by SIGKILL"):
        for _ in found:
            pass
    assert pool_workers() == []


def test_a_worker_killed_just_before_the_end_leaves_none(tmp_path: Path, pool_workers: Callable[[], list[Any]]) -> None:
    # ProcessPoolExecutor hung here for good: the killed worker held the lock of the queue the others read.
    found = a_scan_underway(tmp_path)
    os.kill(pool_workers()[0].pid, signal.SIGKILL)
    found.close()
    assert pool_workers() == []


def pieces_of(text: str) -> Iterator[object]:
    yield from manifests.Pieces(["-"], stdin=io.BytesIO(text.encode()))


def test_stdin_is_read_by_the_main_process() -> None:
    (found,) = list(pieces_of(export(3)))
    assert isinstance(found, manifests.LocalRead) and found.starts_source


def test_the_json_report_is_written_as_it_goes_and_reads_as_one_object() -> None:
    """Results are written as they come (nothing kept), in exactly ``json.dumps(report, indent=2)``'s bytes."""
    text = export(3, {1: item(1, '    note: "caf\u00e9 \\u2028 \\"q\\""\n'), 2: "- 42\n"}).replace("p0", "p\u00e90")
    for args in ([], ["--namespace-labels"]):
        result = CliRunner().invoke(cli, ["check", "-", "--output", "json", *args], input=text)
        assert result.stdout == json.dumps(json.loads(result.stdout), indent=2) + "\n"
    result = CliRunner().invoke(cli, ["check", "-", "--output", "json"], input="")
    assert json.loads(result.stdout) == {"level": "restricted", "version": "latest", "results": [], "errors": []}


# ---------------------------------------------------------------- bounded input (MAX_OBJECT_BYTES)

LIMIT = manifest_stream.MAX_OBJECT_BYTES
TOO_BIG = (
    r"^object larger than 3 MiB \(3,145,728 bytes, the API server's request limit\) "
    r"at line \d+, column \d+; skipped$"
)
POD_AFTER = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: after}\n"


class Endless(io.RawIOBase):
    """A stream that never ends (``/dev/zero``, ``yes``), counting what was read from it."""

    def __init__(self, pattern: bytes) -> None:
        self.pattern, self.position = pattern, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 1 << 16 if size < 0 else size
        out = (self.pattern * (size // len(self.pattern) + 1))[:size]
        self.position += len(out)
        return out


def peak_reading(read_all: Callable[[], list[Document | ReadError]]) -> tuple[list[Document | ReadError], int]:
    tracemalloc.start()
    try:
        entries = read_all()
        return entries, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("pattern", [b"\0", b"y\n", b"x"], ids=["dev-zero", "yes", "one-endless-line"])
def test_an_endless_stream_ends_with_errors_in_bounded_memory(pattern: bytes) -> None:
    endless = Endless(pattern)
    entries, peak = peak_reading(lambda: list(read_paths(["-"], stdin=endless)))  # type: ignore[arg-type]
    assert [e for e in entries if isinstance(e, Document)] == []
    document, source = entries
    assert isinstance(document, ReadError) and document.document == 0
    assert isinstance(source, ReadError) and source.document is None
    assert source.message.startswith("cannot read: not read past line "), source.message
    assert "no `---` line within 64 MiB" in source.message
    if pattern == b"\0":
        assert document.message == "binary data, not text (NUL byte at line 1, column 1)"
    else:
        assert re.match(TOO_BIG, document.message), document.message
    assert endless.position <= manifest_stream.MAX_SKIP + LIMIT + 8 * manifest_stream.BLOCK_SIZE
    assert peak < LIMIT + 16 * manifest_stream.BLOCK_SIZE, f"{peak:,} bytes held"


def test_one_long_line_is_refused_past_the_limit_and_the_next_document_is_read(tmp_path: Path) -> None:
    path = tmp_path / "line.yaml"
    head = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {blob: "
    path.write_bytes(head + b"x" * (2 * LIMIT) + b"}\n" + POD_AFTER.encode())
    entries, peak = peak_reading(lambda: list(read_paths([str(path)])))
    assert names(entries) == ["after"]
    assert [(e.document, e.item) for e in entries if isinstance(e, ReadError)] == [(0, None)]
    (error,) = [e for e in entries if isinstance(e, ReadError)]
    assert re.match(TOO_BIG, error.message) and "at line 4, column " in error.message, error.message
    assert peak < 2 * LIMIT + 16 * manifest_stream.BLOCK_SIZE, f"{peak:,} bytes held"


def test_a_document_of_many_short_lines_is_refused_too() -> None:
    entries = read("kind: ConfigMap\ndata:\n" + "".join(f"  k{i}: v\n" for i in range(LIMIT // 8 + 10)) + POD_AFTER)
    assert names(entries) == ["after"]
    (error,) = [e for e in entries if isinstance(e, ReadError)]
    assert error.document == 0 and re.match(TOO_BIG, error.message), error


def test_a_document_just_under_the_limit_is_read() -> None:
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fits}\ndata: {blob: '"
    text = head + "x" * (LIMIT - len(head) - 3) + "'}\n"
    assert len(text.encode()) == LIMIT
    assert names(read(text + POD_AFTER)) == ["fits", "after"]
    assert [e.message for e in read(text.replace("'}", "x'}") + POD_AFTER) if isinstance(e, ReadError)]


def big_item(name: str) -> str:
    lines = "".join(f"    key{i}: {'v' * 40}\n" for i in range(LIMIT // 40))
    return f"- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: {name}}}\n  data:\n{lines}"


def test_an_item_over_the_limit_costs_its_item_and_the_rest_of_its_list() -> None:
    entries = read(export(3, {1: big_item("big")}) + POD_AFTER)
    assert names(entries) == ["p0", "after"]
    (error,) = [e for e in entries if isinstance(e, ReadError)]
    assert (error.document, error.item) == (0, 1) and re.match(TOO_BIG, error.message), error


@pytest.mark.parametrize("layout", ["yaml", "json-2", "json-4", "pieces"])
def test_a_list_larger_than_the_limit_is_read_whole_when_each_item_fits(layout: str, tmp_path: Path) -> None:
    count = LIMIT // 150  # items of some 300 bytes: the List is well over the limit
    text = export(count)
    if layout.startswith("json"):
        pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"}, "spec": {"containers": [
            {"name": "c", "image": "nginx", "securityContext": {"allowPrivilegeEscalation": False}}]}}
            for i in range(count)]  # fmt: skip
        text = json.dumps({"apiVersion": "v1", "items": pods, "kind": "List"}, indent=int(layout[-1]))
    assert len(text) > 1.5 * LIMIT
    if layout == "pieces":  # a run of items as --jobs workers read it: a block sequence at column 0
        text = "".join(item(i) for i in range(count))
        entries = list(read_text("export.yaml", text.encode()))
        assert len([e for e in entries if isinstance(e, ReadError)]) == 1  # a sequence is not an object...
        assert "object larger" not in str(entries[0])  # ...but it is not refused for its size
        return
    entries = read(text)
    assert errors(entries) == []
    assert names(entries) == [f"p{i}" for i in range(count)]


def test_a_list_whose_items_line_is_followed_by_a_huge_field_is_refused() -> None:
    # `items:` then a sibling holding megabytes: only entries of the items sequence start an object again
    text = "apiVersion: v1\nkind: List\nitems:\n" + item(0) + "other:\n" + "- x\n" * (LIMIT // 4 + 10)
    entries = read(text)
    assert names(entries) == ["p0"]
    assert [(d, i) for d, i, _ in errors(entries)] == [(0, None)] and re.match(TOO_BIG, errors(entries)[0][2]), entries


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 64])
def test_tiny_reads_find_every_separator(size: int) -> None:
    """A pipe handing out a few bytes at a time cuts documents where a whole file does (a `---` read apart too)."""
    data = export(3).encode() + b"---\n- a\n---\r\napiVersion: v1\nkind: Pod\nmetadata: {name: last}\n"
    whole = [(e.document, e.item, getattr(e, "message", None)) for e in read(data)]
    pipe = Trickle(data, size)
    trickled = [(e.document, e.item, getattr(e, "message", None)) for e in read_paths(["-"], stdin=pipe)]  # type: ignore[arg-type]
    assert trickled == whole
    assert [d for d, _, m in whole if m is None] == [0, 0, 0, 2] and len(whole) == 5
