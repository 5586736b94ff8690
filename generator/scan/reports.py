"""Machine-readable reports of a ``pssgen check`` run: JUnit XML for CI test viewers, SARIF 2.1.0 for code scanning.

Both are pure functions of the scan's outcomes and read errors, so the CLI
decides where they go and tests can validate them against the published
schemas. Output is deterministic: the same input gives the same bytes.

Names come from the input, so they cannot be trusted to be text: the helpers
here (``quote_text``, ``safe_text``, ``shown_path``, ``json_source``) make
what every format prints unforgeable and the file name recoverable. A file
name that is not UTF-8 reaches Python with ``surrogateescape`` (``\udcff`` for
the byte 0xFF): text and JUnit spell such a byte ``\xff`` as Go's ``%q`` does,
JSON keeps a readable ``source`` (U+FFFD for the byte) plus ``source_bytes``
(the name's bytes, base64), SARIF percent-encodes the bytes in the URI.
"""

from __future__ import annotations

import base64
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from generator import __version__
from generator.manifests import ReadError
from generator.policy.checks._helpers import go_quote
from generator.policy.model import Check, Violation
from generator.policy.registry import CHECKS
from generator.scan.stream import Outcome

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
PSS_URI = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SRCROOT = "%SRCROOT%"
STDIN_SOURCE = "<stdin>"  # what generator.manifests.files names standard input
SKIPPED_MESSAGE = "not a Pod or a pod-template workload"

_RULE_INDEX: dict[str, int] = {check.id: i for i, check in enumerate(CHECKS)}

_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape decodes it
# What a terminal or a log reader may act on: controls (C0, DEL, C1), line and paragraph separators, format
# characters (bidi overrides), lone surrogates. Quotes and backslashes are left as they are in free text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def quote_text(text: str) -> str:
    """Go's ``%q`` of a name, as kubectl and the API server print names (``pods "web"``); a byte that is not
    UTF-8 (a surrogate-escaped file name) is ``\xff``, as Go quotes the bytes of a string."""
    if not _ESCAPED_BYTE.search(text):
        return go_quote(text)
    parts = _ESCAPED_BYTE.split(text)
    escaped = [f"\\x{ord(m) - 0xDC00:02x}" for m in _ESCAPED_BYTE.findall(text)]
    body = "".join(go_quote(part)[1:-1] + (escaped[n] if n < len(escaped) else "") for n, part in enumerate(parts))
    return f'"{body}"'


def safe_text(text: str) -> str:
    """Free text (a message that quotes its own names) with every character that could end or rewrite the line
    spelled as in Go's ``%q``, the rest as it is: one report line stays one line."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: quote_text(m.group())[1:-1], text)


def shown_path(source: str) -> str:
    """A file name for a text line: as it is when it is plain, else quoted as Go quotes it."""
    quoted = quote_text(source)
    return source if quoted[1:-1] == source and not source.startswith(" ") and ": " not in source else quoted


def source_bytes(source: str) -> bytes:
    """The file name's own bytes (a name that is not UTF-8 arrives surrogate-escaped)."""
    return os.fsencode(source) if source != STDIN_SOURCE else source.encode()


def json_source(entry: dict[str, Any], key: str = "source") -> dict[str, Any]:
    """``entry`` with a ``source`` JSON can carry: valid Unicode, and ``source_bytes`` when it is not UTF-8."""
    source = entry.get(key)
    if isinstance(source, str) and _ESCAPED_BYTE.search(source):
        raw = source.encode("utf-8", "surrogateescape")
        entry[key] = raw.decode("utf-8", "replace")
        entry[f"{key}_bytes"] = base64.b64encode(raw).decode("ascii")
    return entry


# Code points XML 1.0 cannot carry at all, not even escaped; YAML double-quoted strings can hold them.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _violation_text(v: Violation) -> str:
    """PSA's ``reason (detail)`` for one violation."""
    return f"{v.reason} ({v.detail})" if v.detail else v.reason


def _object_label(o: Outcome) -> str:
    """``Kind/namespace/name``, the namespace left out when the manifest has none."""
    parts = [o.kind or "(no kind)", *([o.namespace] if o.namespace else []), o.name or "(unnamed)"]
    return "/".join(parts)


def _position(document: int | None, item: int | None = None) -> str:
    if document is None:
        return ""
    return f"document {document}" if item is None else f"document {document}, item {item}"


# ---------------------------------------------------------------- JUnit


def _xml_safe(text: str) -> str:
    """Spell out characters XML cannot hold, so one odd name cannot make the whole report unreadable."""
    return _XML_ILLEGAL.sub(lambda m: quote_text(m.group())[1:-1], text)


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, {k: _xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        child.text = _xml_safe(text)
    return child


def _outcome_case(suite: ET.Element, o: Outcome) -> None:
    name = f"{_object_label(o)} [{_position(o.document, o.item)}]"
    case = _element(suite, "testcase", classname=o.source, name=name, time="0")
    if o.result is None:
        _element(case, "skipped", SKIPPED_MESSAGE)  # as text: the older Jenkins schema allows no attribute here
    elif not o.result.allowed:
        body = "\n".join(f"{v.check}: {_violation_text(v)}" for v in o.result.violations)
        _element(case, "failure", body, message=o.message, type="PodSecurity")


def _error_case(suite: ET.Element, e: ReadError) -> None:
    where = _position(e.document)
    name = f"read error [{where}]" if where else "read error"
    case = _element(suite, "testcase", classname=e.source, name=name, time="0")
    _element(case, "error", str(e), message=e.message, type="ReadError")


_Entry = tuple[int, int, int, Outcome | ReadError]  # (document, item, input order, entry): a case's sort key


def junit_report(outcomes: Sequence[Outcome], errors: Sequence[ReadError], level: str, version: str) -> str:
    """One ``<testsuite>`` per source file, one ``<testcase>`` per object or unreadable document.

    Denied objects are failures, skipped kinds are skipped, read errors are
    errors. Suites keep the order sources first appear in (outcomes, then
    errors); inside a suite, cases follow the document order. ``<testsuites>``
    carries tests/failures/errors but not skipped: the Jenkins junit-10 schema
    most CI viewers follow has no such attribute there (each suite has it).
    """
    suites: dict[str, list[_Entry]] = {}
    judged: list[Outcome | ReadError] = [*outcomes, *errors]
    for n, entry in enumerate(judged):
        item = entry.item if isinstance(entry, Outcome) and entry.item is not None else -1
        document = -1 if entry.document is None else entry.document
        suites.setdefault(entry.source, []).append((document, item, n, entry))

    root = ET.Element("testsuites", {"name": _xml_safe(f"pssgen check {level}:{version}")})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for source, entries in suites.items():
        found = [e for *_, e in sorted(entries, key=lambda t: t[:3])]
        objects = [e for e in found if isinstance(e, Outcome)]
        counts = {
            "tests": len(found),
            "failures": sum(o.denied for o in objects),
            "errors": len(found) - len(objects),
            "skipped": sum(o.skipped for o in objects),
        }
        suite = _element(root, "testsuite", name=source, time="0", **{k: str(v) for k, v in counts.items()})
        properties = _element(suite, "properties")
        _element(properties, "property", name="level", value=level)
        _element(properties, "property", name="version", value=str(version))
        for entry in found:
            if isinstance(entry, Outcome):
                _outcome_case(suite, entry)
            else:
                _error_case(suite, entry)
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- SARIF

_FIELD = re.compile(r"^((?:spec|metadata)\.\S+?),?(\s.*)?$")
_LONE_STAR = re.compile(r"(?<!\*)\*(?!\*)")
_HEADER = re.compile(r"^\*\*[^*]+:\*\*(.*)$")


def _spec_body(check: Check) -> list[str]:
    """The docstring after its first line (the control name), without surrounding blank lines."""
    lines = check.doc.strip().splitlines()[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    return [line.rstrip() for line in lines]


def _plain(check: Check) -> str:
    return "\n".join(line.replace("**", "") for line in _spec_body(check))


def _escape(text: str) -> str:
    """Stars that are not ``**`` bold markers are literal (``[*]``, ``localhost/*``), not emphasis."""
    return _LONE_STAR.sub(r"\\*", text)


def _list_item(text: str) -> str:
    field = _FIELD.match(text)
    if field is None:
        return _escape(text.rstrip(","))
    rest = (field.group(2) or "").strip()
    return f"`{field.group(1)}`" + (f" {_escape(rest)}" if rest else "")


def _markdown(check: Check) -> str:
    """The spec text as Markdown that renders as written: field and value lists become lists, paths code.

    The docstrings mirror the PSS page's layout, where a bare line under
    ``**Restricted Fields:**`` is a list item and ``[*]`` is literal; rendered
    as-is, those lines would run together and the stars would turn to italics.
    """
    out: list[str] = []

    def gap() -> None:
        if out and out[-1]:
            out.append("")

    listing = False  # under a ``**Header:**`` with nothing after it: each line is an item
    previous = ""  # the previous list line as written, to rejoin a value list wrapped after a comma
    for raw in _spec_body(check):
        line = raw.strip()
        in_list = bool(out) and out[-1].startswith("- ")
        if not line:
            if in_list:
                listing = False
            if in_list or not listing:
                gap()
            continue
        header = _HEADER.match(line)
        if header:
            gap()
            out.append(_escape(line))
            listing = not header.group(1).strip()
            continue
        if listing or line.startswith("* "):
            text = line.removeprefix("* ")
            if in_list and previous.endswith(",") and not _FIELD.match(previous) and not _FIELD.match(text):
                out[-1] = f"{out[-1]}, {_list_item(text)}"
            else:
                if not in_list:
                    gap()
                out.append(f"- {_list_item(text)}")
            previous = text
            continue
        if in_list:
            gap()
        out.append(_escape(line))
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _rule(check: Check) -> dict[str, Any]:
    since = f"v1.{check.first_minor}"
    plain, markdown = _plain(check), _markdown(check)
    tail = f"({check.level} level, since {since})."
    return {
        "id": check.id,
        "name": check.id,
        "shortDescription": {"text": check.control},
        "fullDescription": {"text": plain, "markdown": markdown},
        "help": {
            "text": f"{check.control}\n\n{plain}\n\nPSA check {check.id} {tail}",
            "markdown": f"**{check.control}**\n\n{markdown}\n\nPSA check `{check.id}` {tail}",
        },
        "helpUri": PSS_URI,
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "level": check.level,
            "tags": sorted({"kubernetes", "pod-security", "security", check.level}),
        },
    }


def _artifact(source: str) -> dict[str, str]:
    """Where a source lives as SARIF wants it: stdin by name, relative paths under %SRCROOT%, absolute as file URIs."""
    if source == STDIN_SOURCE:
        return {"uri": "stdin"}
    path = PurePath(source)
    raw = os.fsencode(path.as_posix())  # a name that is not UTF-8: its bytes, percent-encoded
    if path.is_absolute():
        return {"uri": "file://" + quote(raw, safe="/")}
    return {"uri": quote(raw, safe="/"), "uriBaseId": SRCROOT}


def _physical(source: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(source)}
    if line is not None and line >= 1:
        physical["region"] = {"startLine": line}
    return physical


def _logical(o: Outcome) -> dict[str, str]:
    return {"name": o.name or _object_label(o), "fullyQualifiedName": _object_label(o), "kind": "resource"}


def _result(o: Outcome, v: Violation) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": v.check}
    if v.check in _RULE_INDEX:
        result["ruleIndex"] = _RULE_INDEX[v.check]
    properties: dict[str, Any] = {"document": o.document}
    if o.item is not None:
        properties["item"] = o.item
    if o.result is not None:
        properties["podSecurity"] = f"{o.result.level}:{o.result.version}"
    result.update(
        level="error",
        message={"text": f"{o.subject}: {_violation_text(v)}"},
        locations=[{"physicalLocation": _physical(o.source, o.line), "logicalLocations": [_logical(o)]}],
        properties=properties,
    )
    return result


def _notification(e: ReadError) -> dict[str, Any]:
    where = _position(e.document)
    notification: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"{where}: {e.message}" if where else e.message},
        "locations": [{"physicalLocation": _physical(e.source, None)}],
    }
    if e.document is not None:
        notification["properties"] = {"document": e.document}
    return notification


def sarif_report(outcomes: Sequence[Outcome], errors: Sequence[ReadError], level: str, version: str) -> str:
    """A SARIF 2.1.0 log: one rule per check in registry order, one result per violation, read errors as notifications.

    Results follow the input order, and each object's violations PSA's order.
    Skipped and allowed objects produce no result. A read error makes the
    invocation unsuccessful, since part of the input was never evaluated.
    """
    results = [_result(o, v) for o in outcomes if o.result is not None for v in o.result.violations]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pssgen",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(check) for check in CHECKS],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not errors,
                        "toolExecutionNotifications": [_notification(e) for e in errors],
                    }
                ],
                "results": results,
                "properties": {"level": level, "version": str(version)},
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
