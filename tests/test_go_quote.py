"""``go_quote`` is Go's ``%q`` as the Go release PSA is built with prints it, whatever Unicode the interpreter knows.

PSA quotes AppArmor annotation values (every version) and seccomp annotation
values (before v1.19) with ``%q``, which prints a character raw exactly when
``strconv.IsPrint`` says so. The table behind ``go_printable``
(``generator/policy/checks/_goprint.py``) is written by ``conformance/goprint``
from the local Go toolchain, the one the PSA oracle is built with; the tools
tests here rebuild it and hold every code point to Go's own ``strconv.Quote``.
The pure tests pin what Go 1.26 (Unicode 15.0) says for the code points where
Python's tables disagree (3.11 knows Unicode 14.0, 3.13 15.1, 3.14 16.0), and
prove no policy code asks the interpreter's ``unicodedata``.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.policy.checks import _goprint
from generator.policy.checks._helpers import go_printable, go_quote

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "conformance" / "goprint"
COMMITTED = ROOT / "generator" / "policy" / "checks" / "_goprint.py"
REGENERATE = "cd conformance/goprint && go run . > ../../generator/policy/checks/_goprint.py"
APPARMOR_KEY = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_POD_KEY = "seccomp.security.alpha.kubernetes.io/pod"
VERSIONS = ("v1.0", "v1.18", "v1.19", "latest")

# strconv.Quote(string(rune(code))) under Go 1.26 (Unicode 15.0), as `go run . quote` in conformance/goprint prints
# it; the labels say why each is here. Python's unicodedata says otherwise on at least one interpreter for most.
GO_QUOTED: dict[int, tuple[str, str]] = {
    0x0CF3: ('"\u0cf3"', "Kannada sign, Unicode 15.0: raw in Go, unassigned to Python 3.11"),
    0x11F00: ('"\U00011f00"', "Kawi sign, Unicode 15.0"),
    0x1E030: ('"\U0001e030"', "modifier letter, Unicode 15.0"),
    0x1FAE8: ('"\U0001fae8"', "shaking face emoji, Unicode 15.0"),
    0x31350: ('"\U00031350"', "CJK Extension H, Unicode 15.0"),
    0x1342F: ('"\U0001342f"', "Egyptian hieroglyph, Unicode 15.0"),
    0x2EBF0: (r'"\U0002ebf0"', "CJK Extension I, Unicode 15.1: escaped by Go 1.26, raw to Python 3.13"),
    0x1FBFA: (r'"\U0001fbfa"', "alarm bell symbol, Unicode 16.0: escaped by Go 1.26, raw to Python 3.14"),
    0x7F: (r'"\x7f"', "DEL"),
    0x80: (r'"\u0080"', "C1 control"),
    0x85: (r'"\u0085"', "NEL, a C1 control"),
    0x9F: (r'"\u009f"', "last C1 control"),
    0xA0: (r'"\u00a0"', "no-break space: Go prints only the ASCII space raw"),
    0xAD: (r'"\u00ad"', "soft hyphen, a format character"),
    0x2028: (r'"\u2028"', "line separator"),
    0x2029: (r'"\u2029"', "paragraph separator"),
    0xFEFF: (r'"\ufeff"', "byte order mark"),
    0xFFFE: (r'"\ufffe"', "non-character"),
    0xFFFF: (r'"\uffff"', "non-character"),
    0xFDD0: (r'"\ufdd0"', "non-character"),
    0x1FFFE: (r'"\U0001fffe"', "non-character"),
    0xE000: (r'"\ue000"', "private use"),
    0x10FFFD: (r'"\U0010fffd"', "supplementary private use"),
    0xE0001: (r'"\U000e0001"', "language tag, a format character"),
    0xE0100: ('"\U000e0100"', "variation selector, a mark: raw"),
    0x1F600: ('"\U0001f600"', "emoji"),
    0xE9: ('"\u00e9"', "printable Latin-1"),
}


@pytest.mark.parametrize("code", sorted(GO_QUOTED), ids=lambda code: f"U+{code:04X}")
def test_go_quote_gives_what_go_gives(code: int) -> None:
    quoted, _ = GO_QUOTED[code]
    assert go_quote(chr(code)) == quoted
    assert go_quote(f'a"{chr(code)}\\') == '"a\\"' + quoted[1:-1] + '\\\\"'


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("runtime/default", '"runtime/default"'),
        ("", '""'),
        ('a"b\\c', r'"a\"b\\c"'),
        ("\a\b\f\n\r\t\v", r'"\a\b\f\n\r\t\v"'),
        ("\x00\x1f ~", r'"\x00\x1f ~"'),
    ],
)
def test_ascii(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_the_table_is_go_1_26s_unicode_15() -> None:
    """The pins above are Go 1.26's; a new Go release means regenerating the table and re-deriving them."""
    assert (_goprint.GO_RELEASE, _goprint.UNICODE_VERSION) == ("go1.26", "15.0.0")
    assert len(_goprint.STARTS) == len(_goprint.ENDS)
    pairs = list(zip(_goprint.STARTS, _goprint.ENDS, strict=True))
    assert all(start <= end for start, end in pairs)
    assert all(end + 1 < start for (_, end), (start, _) in itertools.pairwise(pairs)), "ranges must not touch"
    assert not go_printable(-1) and not go_printable(0x110000)


class _Poisoned:
    """Stands in for a ``unicodedata`` function: calling it fails the test."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any) -> Any:
        raise AssertionError(f"unicodedata.{self.name} called: the policy must not depend on the interpreter's Unicode")


def test_go_quote_and_evaluate_never_ask_unicodedata(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every ``unicodedata`` function raising (only inside the body: pytest's own output uses them)."""
    from generator.policy.evaluate import evaluate

    text = "".join(chr(code) for code in GO_QUOTED)
    expected = '"' + "".join(quoted[1:-1] for quoted, _ in GO_QUOTED.values()) + '"'
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"annotations": {APPARMOR_KEY + "c": text, SECCOMP_POD_KEY: text}},
        "spec": {"containers": [{"name": f"c{text}", "securityContext": {"capabilities": {"add": [text]}}}]},
    }
    with monkeypatch.context() as poisoned:
        for name in dir(unicodedata):
            if callable(getattr(unicodedata, name)) and not name.startswith("_"):
                poisoned.setattr(unicodedata, name, _Poisoned(name))
        quoted = go_quote(text)
        results = [evaluate(pod, level, version) for level in ("baseline", "restricted") for version in VERSIONS]
    assert quoted == expected
    for result in results:
        assert not result.allowed
        assert f"{APPARMOR_KEY}c={expected}" in result.message


# str methods whose answer comes from the interpreter's Unicode tables (a bare strip() or split() too: whitespace).
_UNICODE_METHODS = frozenset(
    {"isprintable", "isalpha", "isalnum", "isdecimal", "isdigit", "isnumeric", "isspace", "isidentifier", "istitle",
     "isupper", "islower", "lower", "upper", "casefold", "title", "capitalize", "swapcase"}
)  # fmt: skip
# The modules that judge objects; the rest of the policy package only reads its own docstrings that way.
_JUDGING = ("checks", "evaluate.py", "pod.py", "model.py", "relaxations.py", "versions.py", "namespaces.py")


def test_no_policy_code_reads_the_interpreters_unicode_tables() -> None:
    """``unicodedata`` and Unicode-aware str methods answer for the running Python's Unicode, never Go's."""
    found = []
    policy = ROOT / "generator" / "policy"
    for path in sorted(policy.rglob("*.py")):
        judging = path.relative_to(policy).parts[0] in _JUDGING
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                bad = [alias.name for alias in node.names if alias.name.split(".")[0] == "unicodedata"]
            elif isinstance(node, ast.ImportFrom):
                bad = [node.module] if (node.module or "").split(".")[0] == "unicodedata" else []
            elif judging and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method = node.func.attr
                bare = method in ("strip", "lstrip", "rstrip", "split", "rsplit") and not node.args
                bad = [method] if method in _UNICODE_METHODS or bare else []
            else:
                bad = []
            if bad:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {', '.join(bad)}")
    assert not found, "\n".join(found)


# ------------------------------------------------------------------ against Go itself (needs the Go toolchain)


@pytest.fixture
def goprint(tmp_path: Path, run_bounded: Any) -> Path:
    """conformance/goprint built by the local Go (the build cache makes the second build instant)."""
    binary = tmp_path / "goprint"
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    run_bounded(["go", "build", "-o", binary, "."], 600, check=True, cwd=PROGRAM, env=env)
    return binary


@pytest.mark.tools
def test_committed_table_is_what_go_says(goprint: Path, run_bounded: Any) -> None:
    fresh = run_bounded([goprint], 120, check=True).stdout
    if fresh != COMMITTED.read_text("utf-8"):
        pytest.fail(f"{COMMITTED.relative_to(ROOT)} is not the local Go's strconv.IsPrint (a new Go release?): "
                    f"run `{REGENERATE}` and commit it", pytrace=False)  # fmt: skip


@pytest.mark.tools
def test_every_code_point_quotes_as_go_quotes_it(goprint: Path, run_bounded: Any) -> None:
    """All of Unicode but the surrogates (no Go string holds one), 64 code points a string."""
    codes = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = ["".join(map(chr, codes[i : i + 64])) for i in range(0, len(codes), 64)]
    request = "".join(json.dumps(text) + "\n" for text in texts)
    answers = run_bounded([goprint, "quote"], 120, check=True, input=request).stdout.split("\n")
    assert answers[-1] == "" and len(answers) == len(texts) + 1
    wrong = [(text, go, go_quote(text)) for text, go in zip(texts, answers, strict=False) if go_quote(text) != go]
    assert not wrong, f"{len(wrong)} strings quoted unlike Go, first: {wrong[0]}"


@pytest.mark.tools
def test_psa_quotes_annotation_values_as_go_quote_does(oracle: Any) -> None:
    """The oracle is PSA itself: AppArmor annotations at every version, the seccomp pod annotation before v1.19."""
    from generator.policy.evaluate import evaluate

    cases = []
    for code, _ in GO_QUOTED.items():
        value = f"x{chr(code)}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "annotations": {APPARMOR_KEY + "c": value, SECCOMP_POD_KEY: value}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        }
        cases += [(pod, level, version) for level in ("baseline", "restricted") for version in ("v1.18", "latest")]
    verdicts = oracle.evaluate_many(cases)
    for (pod, level, version), verdict in zip(cases, verdicts, strict=True):
        value = pod["metadata"]["annotations"][SECCOMP_POD_KEY]
        ours = evaluate(pod, level, version)
        assert verdict.error is None
        assert (ours.allowed, ours.message) == (verdict.allowed, verdict.message), f"U+{ord(value[1]):04X}"
        assert go_quote(value) in verdict.message


@pytest.fixture(scope="module")
def oracle() -> Iterator[Any]:
    from generator.parity.oracle import Oracle

    with Oracle() as running:
        yield running
