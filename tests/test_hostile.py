"""Hostile input through the CLI: one clear line per bad document, exit 2, no traceback, the rest still judged.

Each case is the reader's: it runs once per output through the python engine,
the file under test beside a good Pod in the same run and, where a case can
carry on past the bad document, a good Pod after it in the same file too. No
engine ever sees a bad document, so every engine then reads all the cases in
one run, which must give the same errors and the same verdicts.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.engines import ENGINE_NAMES
from generator.manifests import MAX_ALIAS_EXPANSION, MAX_DEPTH


def pod(name: str, extra: str = "") -> bytes:
    """A Pod allowed at restricted:latest; ``extra`` is appended to its container."""
    return (
        "apiVersion: v1\nkind: Pod\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        "  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n"
        "  containers:\n"
        "  - name: app\n"
        "    image: nginx\n"
        "    securityContext:\n"
        "      allowPrivilegeEscalation: false\n"
        "      capabilities: {drop: [ALL]}\n"
        f"{extra}"
    ).encode()


AFTER = b"---\n" + pod("after")  # a good Pod following the bad document in the same file


def bomb(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("kind: Pod\nmetadata: {name: lol}\n" + "\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Case:
    """A hostile file: its bytes, the document index its error names, and what the message says."""

    id: str
    data: bytes
    document: int | None
    message: str  # a regular expression the error message must match
    name: str = "case.yaml"
    after: bool = True  # whether the file goes on with a good Pod named "after"
    also: tuple[str, ...] = ()  # other good objects in the file
    item: int | None = None  # the List item the error names


TOO_LARGE = (
    r"^object larger than 3 MiB \(3,145,728 bytes, the API server's request limit\) at line 1, column \d+; skipped$"
)
DIFFERENT = r" with different values \(kubectl keeps the last; the object depends on the reader\)$"
CASES = [
    Case("invalid-yaml", b"kind: Pod\nmetadata: {name: [\n", 0,
         r"^invalid YAML at line 3, column 1: did not find expected node content"),
    Case("invalid-yaml-later-document", pod("first") + b"---\nkind: Pod\nspec: {containers: [}\n", 1,
         r"^invalid YAML at line 14, column 21: did not find expected node content", also=("first",)),
    Case("invalid-json", b'{"kind": "Pod",\n "metadata": {"name": "x"}\n "spec": {}}', 0,
         r"^invalid JSON at line 3, column 2: Expecting ',' delimiter$", name="case.json", after=False),
    Case("json-unterminated-string", b'{"kind": "Pod",\n "metadata": {"name": "x}}', 0,
         r"^invalid JSON at line 2, column 23: Unterminated string$", name="case.json", after=False),
    Case("json-extra-data", b'{"kind": "Pod", "metadata": {"name": "first"}}\nnot json\n', 1,  # objects one by one
         r"^invalid JSON at line 2, column 1: Expecting value$", name="case.json", after=False, also=("first",)),
    Case("not-utf8", pod("first") + b"---\nkind: Pod\nmetadata: {name: caf\xe9}\n", 1,
         r"^not UTF-8 text \(byte 0xE9 at line 14, column 21\); only UTF-8 is read$", also=("first",)),
    Case("utf32", "kind: Pod\nmetadata: {name: x}\n".encode("utf-32"), None,  # UTF-16 kubectl reads (and pssgen)
         r"^UTF-32 text \(byte order mark\); only UTF-8 is read$", after=False),
    Case("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", 0,
         r"^binary data, not text \(NUL byte at line 3, column 1\)$", after=False),
    Case("control-character", b"kind: Pod\nmetadata: {name: a\x07b}\n", 0,
         r"^invalid YAML at line 2, column 19: control characters are not allowed \(character U\+0007\)$"),
    Case("scalar-document", b"just a string\n", 0, r"^document is a scalar, not a Kubernetes object$"),
    Case("sequence-document", b"- kind: Pod\n- kind: Pod\n", 0, r"^document is a sequence, not a Kubernetes object$"),
    Case("list-item-not-an-object", b"apiVersion: v1\nkind: List\nitems: [42]\n", 0,
         r"^List item 0 is not a Kubernetes object$", item=0),
    Case("containers-as-map", b"kind: Pod\nmetadata: {name: bad}\nspec:\n  containers: {app: {image: nginx}}\n", 0,
         r'^Pod "bad": spec\.containers: expected an array, got object$'),
    Case("privileged-string", pod("bad", "      privileged: 'true'\n"), 0,
         r'^Pod "bad": spec\.containers\[0\]\.securityContext\.privileged: expected a boolean, got string "true"$'),
    Case("privileged-number", pod("bad", "      privileged: 1\n"), 0,
         r"^Pod \"bad\": spec\.containers\[0\]\.securityContext\.privileged: expected a boolean, got integer 1$"),
    Case("hostport-string", pod("bad", "    ports: [{containerPort: 80, hostPort: '80'}]\n"), 0,
         r'^Pod "bad": spec\.containers\[0\]\.ports\[0\]\.hostPort: expected an integer, got string "80"$'),
    Case("hostport-out-of-range", pod("bad", "    ports: [{hostPort: 4294967376}]\n"), 0,
         r"hostPort: expected an int32, got 4294967376 \(out of range\)$"),
    Case("hostport-fraction", pod("bad", "    ports: [{hostPort: 80.5}]\n"), 0,
         r"hostPort: expected an integer, got number 80\.5$"),
    Case("annotation-not-a-string",
         b"kind: Pod\nmetadata:\n  name: bad\n  annotations: {seccomp.security.alpha.kubernetes.io/pod: 1}\n", 0,
         r'^Pod "bad": metadata\.annotations\[seccomp\.security\.alpha\.kubernetes\.io/pod\]: expected a string, '
         r"got integer 1$"),
    Case("workload-wrong-type",
         b"kind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n"
         b"      containers: [{name: app, securityContext: {privileged: 'yes'}}]\n", 0,
         r'^Deployment "api": spec\.template\.spec\.containers\[0\]\.securityContext\.privileged: '
         r'expected a boolean, got string "yes"$'),
    Case("duplicate-key", pod("bad", "      privileged: false\n      privileged: true\n"), 0,
         r"^invalid YAML at line 13, column 7: duplicate key 'privileged'" + DIFFERENT),
    Case("merge-overrides-key",
         b"kind: Pod\nmetadata: {name: bad}\nx-base: &base {privileged: true}\nspec:\n  containers:\n"
         b"  - name: app\n    securityContext:\n      privileged: false\n      <<: *base\n", 0,
         r"^invalid YAML at line 8, column 7: duplicate key 'privileged'" + DIFFERENT),
    Case("keys-that-become-one", b"kind: Pod\nmetadata:\n  name: bad\n  annotations: {1: a, '1': b}\n", 0,
         r"^invalid YAML at line 4, column 23: duplicate key '1'" + DIFFERENT),
    Case("nan", b"kind: ConfigMap\nmetadata: {name: bad}\ndata: {x: .nan}\n", 0,
         r"^data\.x: nan is not a number JSON can carry$"),
    Case("binary-tag-not-utf8", b"kind: ConfigMap\nmetadata: {name: bad}\ndata: {x: !!binary /w==}\n", 0,
         r"^data\.x: a !!binary value that is not UTF-8 text$"),
    Case("bad-int-tag", b"kind: Pod\nmetadata: {name: bad}\nspec: {x: !!int ten}\n", 0,
         r"^invalid YAML at line 3, column 11: cannot read 'ten' as an integer$"),
    Case("alias-bomb", bomb(), 0,
         rf"^YAML aliases expand too far \(limit {MAX_ALIAS_EXPANSION} nodes added by aliases\)$"),
    Case("alias-bomb-through-merges",
         b"kind: Pod\na0: &a0 {x: 1}\n"
         + b"".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n".encode() for i in range(1, 30))
         + b"spec: {<<: *a29}\n", 0,
         r"^YAML aliases expand too far"),
    Case("alias-bomb-json-like",
         b'{"kind": "Pod", "a0":&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"], '
         + b", ".join(f'"a{i}":&a{i} [{",".join([f"*a{i - 1}"] * 9)}]'.encode() for i in range(1, 10)) + b"}\n", 0,
         r"^YAML aliases expand too far"),
    Case("recursive-alias", b"kind: Pod\nmetadata: &m {name: loop, self: *m}\n", 0,
         r"^a YAML alias refers to a node that contains it \(recursive alias\)$"),
    Case("deep-flow-1e5", b"[" * 10**5 + b"]" * 10**5 + b"\n", 0, rf"^document nests deeper than {MAX_DEPTH} levels$"),
    Case("deep-flow-1e6", b"{a: " * 10**6 + b"1" + b"}" * 10**6 + b"\n", 0,  # past the API server's body limit
         TOO_LARGE),
    Case("deep-json-1e6", b'{"a": ' * 10**6 + b"1" + b"}" * 10**6, 0,
         TOO_LARGE,
         name="case.json", after=False),
    Case("deep-json-500", b'{"a": ' * 500 + b"1" + b"}" * 500, 0,
         rf"^document nests deeper than {MAX_DEPTH} levels$", name="case.json", after=False),
    Case("deep-block-sequence", b"- " * 10**5 + b"x\n", 0, rf"^document nests deeper than {MAX_DEPTH} levels$"),
    Case("deep-block-sequence-1e6", b"- " * 10**6 + b"x\n", 0, rf"^document nests deeper than {MAX_DEPTH} levels$"),
    Case("deep-block-mixed", b"".join(b" " * i + b"- a:\n" for i in range(0, 2 * 10**3, 2)), 0,
         rf"^document nests deeper than {MAX_DEPTH} levels$"),
    Case("deep-block-mapping", b"".join(b" " * i + b"a:\n" for i in range(300)), 0,
         rf"^document nests deeper than {MAX_DEPTH} levels$"),
]  # fmt: skip


def _missing(tmp_path: Path, _mp: pytest.MonkeyPatch) -> str:
    return str(tmp_path / "nope.yaml")


def _unreadable_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tests run as root, which reads anything: the denial is simulated where the walk lists a directory."""
    root = tmp_path / "tree"
    locked = root / "locked"
    locked.mkdir(parents=True)
    (locked / "hidden.yaml").write_bytes(pod("hidden"))
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        # Other code (shutil.rmtree in an engine's cleanup) scans by file descriptor: pass those through.
        if isinstance(path, str | os.PathLike) and Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", scandir)
    return str(root)


def _unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    target = tmp_path / "secret.yaml"
    target.write_bytes(pod("secret"))
    real_read = pathlib.Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
    return str(target)


def _file_symlink_loop(tmp_path: Path, _mp: pytest.MonkeyPatch) -> str:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "loop.yaml").symlink_to("loop.yaml")
    return str(root)


def _fifo(tmp_path: Path, _mp: pytest.MonkeyPatch) -> str:
    root = tmp_path / "tree"
    root.mkdir()
    os.mkfifo(root / "pipe.yaml")  # read from a walk, it would block the run forever
    return str(root)


@dataclass(frozen=True)
class PathCase:
    """A path that cannot be read as a whole: the error names it, with no document index."""

    id: str
    setup: Callable[[Path, pytest.MonkeyPatch], str]
    source: Callable[[str], str]  # the source the error names, from the path given
    message: str


PATH_CASES = [
    PathCase("missing-file", _missing, lambda p: p, r"^no such file or directory$"),
    PathCase("unreadable-directory", _unreadable_dir, lambda p: str(Path(p) / "locked"),
             r"^cannot read directory: Permission denied$"),
    PathCase("unreadable-file", _unreadable_file, lambda p: p, r"^cannot read: Permission denied$"),
    PathCase("file-symlink-loop", _file_symlink_loop, lambda p: str(Path(p) / "loop.yaml"),
             r"^cannot read: Too many levels of symbolic links$"),
    PathCase("fifo-in-directory", _fifo, lambda p: str(Path(p) / "pipe.yaml"), r"^not a regular file; skipped$"),
]  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def check(engine: str, output: str, *paths: str) -> tuple[int, str, str]:
    return run("check", *paths, "--engine", engine, "--output", output)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_bytes(pod("good"))
    return path


def assert_one_error_json(out: str, source: str, document: int | None, message: str) -> dict[str, object]:
    payload = json.loads(out)
    assert len(payload["errors"]) == 1, payload["errors"]
    error = payload["errors"][0]
    assert error["source"] == source and error["document"] == document, error
    assert re.search(message, error["message"]), error["message"]
    assert "\n" not in error["message"]
    return payload


def assert_one_error_text(out: str, err: str, where: str, message: str, objects: int) -> None:
    """One ``error: <source>: document <n>: <message>`` line on stderr, and the summary counting the rest."""
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    prefix = f"error: {where}: "
    assert lines[0].startswith(prefix), lines[0]
    assert re.search(message, lines[0][len(prefix) :]), lines[0]
    assert out.splitlines()[-1].startswith(f"{objects} objects: {objects} allowed, 0 denied, 0 skipped, 1 errors")


def write_case(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / case.name
    bad.write_bytes(case.data + (AFTER if case.after else b""))
    return bad


@pytest.mark.parametrize("output", ["json", "text"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_document(case: Case, output: str, tmp_path: Path, good: Path) -> None:
    bad = write_case(case, tmp_path)
    code, out, err = check("python", output, str(bad), str(good))
    assert code == 2
    assert "Traceback" not in out + err
    expected = {"good", *(["after"] if case.after else []), *case.also}
    if output == "json":
        payload = assert_one_error_json(out, str(bad), case.document, case.message)
        results = {r["name"]: r for r in payload["results"] if not r.get("skipped")}
        assert set(results) == expected
        assert all(r["allowed"] and r["violations"] == [] for r in results.values())
    else:
        where = f"document {case.document}" + ("" if case.item is None else f" item {case.item}")
        assert_one_error_text(out, err, f"{bad}: {where}" if case.document is not None else str(bad), case.message,
                              len(expected))  # fmt: skip


@pytest.mark.parametrize("output", ["json", "text"])
@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: c.id)
def test_hostile_path(case: PathCase, output: str, tmp_path: Path, good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = case.setup(tmp_path, monkeypatch)
    code, out, err = check("python", output, path, str(good))
    assert code == 2
    if output == "json":
        payload = assert_one_error_json(out, case.source(path), None, case.message)
        assert [r["name"] for r in payload["results"]] == ["good"] and payload["results"][0]["allowed"]
    else:
        assert_one_error_text(out, err, case.source(path), case.message, 1)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_every_engine_reads_all_hostile_input_in_one_run(
    engine: str, tmp_path: Path, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All cases at once: one error per bad document or path, and every good object beside them allowed."""
    bad = {str(write_case(case, tmp_path / case.id)): case for case in CASES}
    paths = {}
    for path_case in PATH_CASES:
        (tmp_path / path_case.id).mkdir()
        given = path_case.setup(tmp_path / path_case.id, monkeypatch)
        paths[path_case.source(given)] = (given, path_case)
    code, out, err = check(engine, "json", *bad, *(given for given, _ in paths.values()), str(good))
    assert code == 2, err
    assert "Traceback" not in out + err
    payload = json.loads(out)
    errors = {e["source"]: e for e in payload["errors"]}
    assert len(errors) == len(payload["errors"]) == len(bad) + len(paths)
    for source, case in bad.items():
        assert errors[source]["document"] == case.document, (case.id, errors[source])
        assert re.search(case.message, errors[source]["message"]), (case.id, errors[source]["message"])
    for source, (_, path_case) in paths.items():
        assert errors[source]["document"] is None and re.search(path_case.message, errors[source]["message"])
    judged: dict[str, list[str]] = {}
    for result in payload["results"]:
        assert result["allowed"] and result["violations"] == [], result
        if not result.get("skipped"):
            judged.setdefault(result["source"], []).append(result["name"])
    expected = {source: sorted([*(["after"] if c.after else []), *c.also]) for source, c in bad.items()}
    expected[str(good)] = ["good"]
    assert {source: sorted(names) for source, names in judged.items()} == {s: n for s, n in expected.items() if n}


def test_directory_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "pod.yaml").write_bytes(pod("once"))
    (root / "sub" / "loop").symlink_to("..", target_is_directory=True)
    code, out, _ = check("python", "json", str(root))
    assert code == 0
    assert [r["name"] for r in json.loads(out)["results"]] == ["once"]


def test_huge_scalar_is_fine(tmp_path: Path, good: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"kind: ConfigMap\nmetadata: {name: big}\ndata: {blob: '" + b"x" * 3_000_000 + b"'}\n")  # < 3 MiB
    code, out, _ = check("python", "json", str(big), str(good))
    assert code == 0
    assert [r["name"] for r in json.loads(out)["results"]] == ["big", "good"]


def test_every_shape_problem_is_on_the_one_line(tmp_path: Path, good: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(pod("bad", "      privileged: 'true'\n      runAsUser: '0'\n    ports: [{hostPort: '80'}]\n"))
    code, out, _ = check("python", "json", str(bad), str(good))
    assert code == 2
    (error,) = json.loads(out)["errors"]
    assert error["message"] == (
        'Pod "bad": spec.containers[0].securityContext.privileged: expected a boolean, got string "true"; '
        'spec.containers[0].securityContext.runAsUser: expected an integer, got string "0"; '
        'spec.containers[0].ports[0].hostPort: expected an integer, got string "80"'
    )


def test_list_item_with_wrong_type_names_the_item(tmp_path: Path) -> None:
    items = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok"}, "spec": {"containers": [{"name": "a"}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": {"hostPID": "true"}},
    ]
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    code, _, err = run("check", str(path), "--engine", "python", "--level", "baseline")
    assert code == 2
    assert err.strip() == (
        f'error: {path}: document 0 item 1: Pod "bad": spec.hostPID: expected a boolean, got string "true"'
    )


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_nulls_are_read_as_the_api_decoder_reads_them(engine: str) -> None:
    """JSON null is no error for Go (nil, or the zero value), and no engine trips over it."""
    doc = (
        b"kind: Pod\nmetadata: {name: nulls, annotations: {container.apparmor.security.beta.kubernetes.io/a: null}}\n"
        b"spec:\n  hostNetwork: null\n  securityContext: null\n  volumes: [null]\n"
        b"  containers: [null, {name: b, ports: [null, {hostPort: null}], securityContext: {capabilities: "
        b"{add: [null]}}}]\n"
        b"---\nkind: Deployment\nmetadata: {name: bare}\n"
    )
    result = CliRunner().invoke(cli, ["check", "-", "--engine", engine, "--level", "baseline", "--output", "json"],
                                input=doc)  # fmt: skip
    assert result.exit_code == 1, result.output
    results = json.loads(result.stdout)["results"]
    assert [(r["name"], r["allowed"]) for r in results] == [("nulls", False), ("bare", True)]
    assert results[0]["violations"] == [  # PSA's verdict on the same object (the oracle agrees: tests/test_shape.py)
        {
            "check": "capabilities_baseline",
            "reason": "non-default capabilities",
            "detail": 'container "b" must not include "" in securityContext.capabilities.add',
        }
    ]


PURE_PYTHON_CASES = ["invalid-yaml", "control-character", "duplicate-key", "alias-bomb", "recursive-alias",
                     "deep-flow-1e5", "deep-block-sequence", "not-utf8"]  # fmt: skip


def test_pure_python_yaml_loader_gives_the_same_lines(
    tmp_path: Path, good: Path, run_bounded: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """Without libyaml, PyYAML's Python parser and composer take over: the lines must not change."""
    cases = [c for c in CASES if c.id in PURE_PYTHON_CASES]
    paths = []
    for case in cases:
        path = tmp_path / f"{case.id}.yaml"
        path.write_bytes(case.data + AFTER)
        paths.append(str(path))
    script = "import sys, yaml\ndel yaml.CSafeLoader\nfrom generator.cli import main\nmain(sys.argv[1:])\n"
    proc = run_bounded([sys.executable, "-c", script, "check", *paths, str(good), "--engine", "python"], timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    errors = proc.stderr.splitlines()
    assert len(errors) == len(cases)
    for line, case, path in zip(errors, cases, paths, strict=True):
        prefix = f"error: {path}: document {case.document}: "
        assert line.startswith(prefix), line
        message = line[len(prefix) :]
        position = re.match(r"\^(invalid YAML at line \d+, column \d+:)", case.message)
        if position:  # the Python parser words syntax errors its own way; the position must not change
            assert message.startswith(position.group(1)), line
        else:
            assert re.search(case.message, message), line
    objects = len(cases) + 1 + sum(len(c.also) for c in cases)
    assert proc.stdout.splitlines()[-1].startswith(f"{objects} objects: {objects} allowed, 0 denied")


@pytest.mark.parametrize("output", ["json", "text"])
@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_escaped_lone_surrogates_are_read_as_go_reads_them(engine: str, output: str, tmp_path: Path) -> None:
    """``"\\ud800"`` is valid JSON that Python keeps as an unprintable half pair; Go reads U+FFFD."""
    path = tmp_path / "pod.json"
    path.write_text('{"kind": "Pod", "metadata": {"name": "a\\ud800"}, "spec": {"hostPID": true,'
                    ' "containers": [{"name": "\\ud83d\\ude00"}]}}')  # fmt: skip
    code, out, err = run("check", str(path), "--engine", engine, "--output", output, "--level", "baseline")
    assert code == 1, out + err
    assert "Traceback" not in out + err
    if output == "json":
        (result,) = json.loads(out)["results"]
        assert result["name"] == "a\ufffd"
    else:
        assert out.splitlines()[0].endswith('pods "a\ufffd" is forbidden: violates PodSecurity "baseline:latest": '
                                            "host namespaces (hostPID=true)")  # fmt: skip


def test_names_cannot_forge_lines(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_bytes(b'kind: Pod\nmetadata: {name: "x\\nerror: forged"}\nspec: {hostPID: "true"}\n')
    code, _, err = run("check", str(path), "--engine", "python")
    assert code == 2
    assert err.splitlines() == [
        f'error: {path}: document 0: Pod "x\\nerror: forged": spec.hostPID: expected a boolean, got string "true"'
    ]


def test_a_json_list_gives_each_item_the_object_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kubectl get -o json` of a big cluster is one JSON document (100,000 objects hold ~9 million objects and
    arrays): each item has the budget, so the export is read, while one item over it still refuses the List."""
    from generator.manifests import json_stream

    monkeypatch.setattr(json_stream, "MAX_CONTAINERS", 40)
    item = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    items = [{**item, "metadata": {"name": f"p{i}"}} for i in range(30)]  # 30 x 5 objects and arrays, over 40
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {}}))
    result = CliRunner().invoke(cli, ["check", str(export), "--level", "baseline", "--output", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["results"]) == 30
    wide = {**item, "spec": {"containers": [{"name": f"c{i}"} for i in range(40)]}}
    export.write_text(json.dumps({"apiVersion": "v1", "items": [item, wide], "kind": "List", "metadata": {}}))
    refused = CliRunner().invoke(cli, ["check", str(export), "--level", "baseline", "--output", "json"])
    assert refused.exit_code == 2
    (error,) = json.loads(refused.stdout)["errors"]
    assert error["document"] == 0 and "too many objects and arrays" in error["message"]
