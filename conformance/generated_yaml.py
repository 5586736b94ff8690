"""Random manifest files for the reader-parity test: YAML and JSON text as people and tools write it, and worse.

Seeded and deterministic. The text is written by hand, not by a YAML library,
so it can hold what a library would never emit: scalars in every spelling
(YAML 1.1 booleans, ``0X``/``0O``/``0B`` integers, underscores, leading zeros,
``! yes``), tags, anchors and aliases, merge keys, flow and block style, Lists
of any kind with kindless items, nested Lists, JSON documents, comments,
separators, CRLF, and UTF-8 or UTF-16 with byte order marks. Most documents
carry a container with ``privileged`` set, so a document read differently is a
verdict read differently.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SCALARS = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "True", "FALSE", "tRUE", "! yes", "! true", "!!str true",
    '!!bool "true"', '"true"', "'yes'", "0", "1", "0X1F", "0x1f", "0O17", "0o17", "0B101", "0b101", "08", "09", "010",
    "1_000", "+12", "-0", "1.0", "1e3", ".5", ".inf", "-.Inf", ".NaN", "~", "null", "Null", "", "2001-12-14",
    "12:30:00", "190:20:30", "!!int '7'", "!!float 1", "!!null ''", "!custom x", "plain text", '"a\\tb"', "|-\n  block",
    ">\n  folded", "9223372036854775808", "0.1e-2",
]  # fmt: skip
BOOLEANS = ["true", "false", "yes", "no", "on", "off", "True", "! yes", "!!str true", '"true"', "y", "TRUE", "1"]
KINDS = ["Pod", "Deployment", "ConfigMap", "Namespace", "List", "PodList", "DeploymentList", "Service", ""]
SEPARATORS = ["---\n", "--- \n", "---  # next\n", "---\r\n"]


def _container(rng: random.Random, indent: str, flow: bool) -> str:
    privileged = rng.choice(BOOLEANS)
    extra = rng.choice(SCALARS)
    if flow and "\n" not in extra:
        return f"{indent}- {{name: c, image: i, x: {extra}, securityContext: {{privileged: {privileged}}}}}\n"
    lines = [f"{indent}- name: c{rng.randrange(3)}", f"{indent}  image: busybox"]
    if "\n" not in extra:
        lines.append(f"{indent}  x: {extra}")
    if rng.random() < 0.2:
        lines.append(f"{indent}  securityContext: &sc{rng.randrange(2)}")
    else:
        lines.append(f"{indent}  securityContext:")
    if rng.random() < 0.15:
        lines.append(f"{indent}    <<: {{privileged: {rng.choice(BOOLEANS)}}}")
    lines.append(f"{indent}    privileged: {privileged}")
    if rng.random() < 0.1:
        lines.append(f"{indent}    privileged: {rng.choice(BOOLEANS)}")  # a duplicated key
    return "\n".join(lines) + "\n"


def _pod_body(rng: random.Random, indent: str, kind: str | None, api: str | None, name: str) -> str:
    out = []
    if api is not None:
        out.append(f"{indent}apiVersion: {api}")
    if kind is not None:
        out.append(f"{indent}kind: {kind}")
    out.append(f"{indent}metadata:")
    out.append(f"{indent}  name: {name}")
    if rng.random() < 0.2:
        out.append(f"{indent}  labels: {{a: {rng.choice(SCALARS[:20]).replace('!!str', 'x')}}}")
    out.append(f"{indent}spec:")
    if rng.random() < 0.3:
        out.append(f"{indent}  hostNetwork: {rng.choice(BOOLEANS)}")
    if rng.random() < 0.3:
        out.append(f"{indent}  securityContext: {{runAsUser: {rng.choice(['0', '0X0', '0O0', '0B0', '08', '1_000'])}}}")
    out.append(f"{indent}  containers:")
    text = "\n".join(out) + "\n"
    for _ in range(rng.randint(1, 2)):
        text += _container(rng, indent + "  ", rng.random() < 0.3)
    if rng.random() < 0.15 and "&sc" in text:
        anchor = text.split("&sc", 1)[1][0]
        text += f"{indent}  initContainers:\n{indent}  - {{name: init, image: i, securityContext: *sc{anchor}}}\n"
    return text


def _list_doc(rng: random.Random, depth: int, name: str) -> str:
    kind = rng.choice(KINDS)
    text = "apiVersion: v1\n" if rng.random() < 0.9 else ""
    if kind:
        text += f"kind: {kind}\n"
    items_tag = rng.choice(["", "", " !!seq", " &items"])
    text += f"items:{items_tag}\n"
    for i in range(rng.randint(0, 3)):
        choice = rng.random()
        if choice < 0.1 and depth == 0:
            text += "- apiVersion: v1\n  kind: List\n  items: []\n"
        elif choice < 0.15:
            text += f"- {rng.choice(['1', 'null', '[a]', 'text'])}\n"
        else:
            kindless = rng.random() < 0.4
            body = _pod_body(rng, "  ", None if kindless else "Pod", None if kindless else "v1", f"{name}-{i}")
            text += "- " + body[2:]
    return text


def _json_doc(rng: random.Random, name: str) -> str:
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": rng.random() < 0.5}}]},
    }  # fmt: skip
    obj: object = pod
    if rng.random() < 0.4:
        obj = {"apiVersion": "v1", "kind": rng.choice(KINDS), "items": [pod, {"metadata": {"name": "kindless"}}]}
    return json.dumps(obj, indent=rng.choice([None, 1])) + "\n"


def _document(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.45:
        return _pod_body(rng, "", rng.choice(["Pod"] * 5 + ["", "Deployment"]), rng.choice(["v1"] * 5 + [None]), name)
    if roll < 0.75:
        return _list_doc(rng, 0, name)
    if roll < 0.85:
        return _json_doc(rng, name)
    if roll < 0.9:
        return rng.choice(["# only a comment\n", "", "~\n", "- a\n", "just text\n", "...\n"])
    return "# comment\n" + _pod_body(rng, "", "Pod", "v1", name).replace("\n", "  # trailing\n", 2)


def generated_file(rng: random.Random, index: int) -> tuple[str, bytes]:
    """One file: its name (extension chosen like its content) and its bytes in a random encoding."""
    docs = [_document(rng, f"gen-{index}-{d}") for d in range(rng.randint(1, 4))]
    only_json = all(doc.startswith(("{", "[")) for doc in docs) and len(docs) == 1
    text = ""
    for d, doc in enumerate(docs):
        if d or rng.random() < 0.3:
            text += rng.choice(SEPARATORS)
        text += doc
    if rng.random() < 0.2:
        text += rng.choice(["---\n", "...\n", "# end\n"])
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    encoding = rng.choices(["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "bom-after-separator"], [80, 6, 5, 4, 5])[0]
    if encoding == "utf-8-bom":
        data = b"\xef\xbb\xbf" + text.encode()
    elif encoding == "utf-16-le":
        data = b"\xff\xfe" + text.encode("utf-16-le")
    elif encoding == "utf-16-be":
        data = b"\xfe\xff" + text.encode("utf-16-be")
    elif encoding == "bom-after-separator" and "---\n" in text:
        data = text.replace("---\n", "---\n\ufeff", 1).encode()
    else:
        data = text.encode()
    suffix = ".json" if only_json else rng.choice([".yaml", ".yml"])
    return f"gen-{index:04d}{suffix}", data


def write_generated(directory: Path, count: int, seed: int = 10) -> list[Path]:
    """``count`` generated files in ``directory``, the same for the same seed."""
    rng = random.Random(seed)
    written = []
    for index in range(count):
        name, data = generated_file(rng, index)
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written
