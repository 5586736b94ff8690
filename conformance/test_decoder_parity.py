"""``validate_shape`` accepts exactly what the API server's decoder accepts, on thousands of mistyped objects.

The judge is Go: ``conformance/apitypes decode`` reads each object as kubectl
does (unstructured JSON), encodes it again as kubectl sends it, and decodes
that into its kind's ``k8s.io/api`` v0.37.2 type with the API server's
case-sensitive decoder (``sigs.k8s.io/json``). pssgen's side is what the
reader hands the scan: ``validate_shape(as_api_json(obj))``.

The objects: every evaluated kind with every field the Go types have set to a
valid value, and upstream PSA's fixtures; each mutated (seeded) by replacing
one or two random fields, elements or map values with a value of another
type: odd scalars and containers, and random Quantity and time strings.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.manifests.shape import ROOTS, as_api_json, validate_shape
from generator.parity.corpus import upstream_corpus
from generator.policy.pod import API_GROUPS

pytestmark = pytest.mark.tools

PROGRAM = Path(__file__).resolve().parent / "apitypes"
SEED = 10
MUTANTS = 12_000
DEPTH = 14  # deep enough for affinity's label selectors; the types have no cycle this walk needs

VALID_SCALARS: dict[str, Any] = {
    "bool": True, "string": "x", "int32": 1, "int64": 1, "quantity": "100m", "intorstring": 8080,
    "time": "2024-01-02T03:04:05Z", "rawjson": {"f:metadata": {}},
}  # fmt: skip

ODD: list[Any] = [
    None, True, False, 0, 1, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63), 2**64, 0.5, -2.5, 1e21,
    1e300, "", "x", "0", "80", "true", "500m", "1Gi", " 1 ", "1e3", "-", ".", "k", "Ei", "e-10", "1.5Pi", "0x10",
    "2024-01-02T03:04:05Z", "2024-01-02T3:04:05,5+24:00", "2024-02-30T00:00:00Z", "yesterday", "\u00a0100m", "1<",
    "1\u2028", [], [None], ["x"], [1], [{}], {}, {"a": 1}, {"a": "b"}, {"name": "x"}, {"a": None},
]  # fmt: skip
QUANTITY_ALPHABET = "0123456789.+-eEinumkKMGTP i"
TIME_ALPHABET = "0123456789-T:Z+.,z "


def valid_value(t: Any, depth: int) -> Any:
    """A value of API type ``t`` the decoder accepts, with every field set (to ``DEPTH``)."""
    if t.name in VALID_SCALARS:
        return VALID_SCALARS[t.name]
    if t.name.startswith("[]"):
        return [] if depth >= DEPTH else [valid_value(t.elem, depth + 1)]
    if t.name.startswith("map[]"):
        return {} if depth >= DEPTH else {"k": valid_value(t.elem, depth + 1)}
    return {} if depth >= DEPTH else {key: valid_value(sub, depth + 1) for key, sub in t.fields.items()}


def full_object(kind: str) -> dict[str, Any]:
    obj = valid_value(ROOTS[kind], 0)
    obj["kind"] = kind
    obj["apiVersion"] = f"{API_GROUPS[kind]}/v1".lstrip("/")
    return obj


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in ``value`` a mutation can go, but the kind and apiVersion (routing, tested apart)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if path or key not in ("kind", "apiVersion"):
                yield (*path, key)
                yield from paths(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield (*path, i)
            yield from paths(sub, (*path, i))


def odd_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.2:
        return "".join(rng.choice(QUANTITY_ALPHABET) for _ in range(rng.randint(1, 7)))
    if roll < 0.35:
        text = list("2024-01-02T03:04:05Z")
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and i < len(text):
                text[i] = rng.choice(TIME_ALPHABET)
            else:
                text.insert(i, rng.choice(TIME_ALPHABET))
        return "".join(text)
    return rng.choice(ODD)


def mutants() -> list[tuple[str, dict[str, Any]]]:
    bases = [full_object(kind) for kind in sorted(ROOTS)]
    bases += [f.object for f in upstream_corpus()[::25]]
    texts = [json.dumps(base) for base in bases]
    places = [list(paths(base)) for base in bases]
    rng = random.Random(SEED)
    out = []
    for n in range(MUTANTS):
        b = rng.randrange(len(bases))
        obj = json.loads(texts[b])
        changed = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            path = rng.choice(places[b])
            node: Any = obj
            try:
                for key in path[:-1]:
                    node = node[key]
                value = odd_value(rng)
                node[path[-1]] = value
            except (KeyError, IndexError, TypeError):  # the first mutation replaced what the second went through
                continue
            changed.append(f"{'.'.join(map(str, path))}={value!r}")
        out.append((f"{obj['kind']}#{n}: {'; '.join(changed)}", obj))
    return out


@pytest.fixture
def decoder(run_bounded, tmp_path: Path) -> Path:
    """The Go program, built (from Go's build cache after the first time)."""
    binary = tmp_path / "apitypes"
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    run_bounded(["go", "build", "-o", binary, "."], 600, check=True, cwd=PROGRAM, env=env)
    return binary


def go_verdicts(run_bounded, decoder: Path, objects: list[dict[str, Any]]) -> list[str | None]:
    """The decoder's error for each object, None where it decodes."""
    lines = "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objects)
    out = run_bounded([decoder, "decode"], 300, check=True, input=lines).stdout.splitlines()
    assert len(out) == len(objects)
    return [json.loads(line).get("error") for line in out]


def test_full_objects_decode_and_validate_clean(run_bounded, decoder: Path) -> None:
    objects = [full_object(kind) for kind in sorted(ROOTS)]
    assert go_verdicts(run_bounded, decoder, objects) == [None] * len(objects)
    assert [validate_shape(obj) for obj in objects] == [[]] * len(objects)
    assert sum(1 for _ in paths(objects[0])) > 1000  # every field of a Pod, not a handful


def test_pssgen_refuses_exactly_what_the_decoder_refuses(run_bounded, decoder: Path) -> None:
    cases = mutants()
    sent = [as_api_json(obj) for _, obj in cases]
    verdicts = go_verdicts(run_bounded, decoder, sent)
    disagreements = []
    refused = 0
    for (case_id, _), obj, error in zip(cases, sent, verdicts, strict=True):
        problems = validate_shape(obj)
        refused += error is not None
        if bool(problems) != (error is not None):
            disagreements.append(f"{case_id}\n    pssgen: {problems}\n    decoder: {error}")
    print(f"decoder parity: {len(cases)} mutants, {refused} refused by both, {len(cases) - refused} accepted by both, "
          f"{len(disagreements)} disagreements")  # fmt: skip
    assert disagreements == [], "\n".join(disagreements[:20])
    assert len(cases) // 5 < refused < len(cases) * 4 // 5  # the mutations are neither all harmless nor all fatal
