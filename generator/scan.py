"""Scanning inputs: documents in, one Outcome per object (or a ReadError) out, in input order.

Streams: documents are read lazily and evaluated in batches, and an Outcome
keeps only what reports need (never the object), so memory stays bounded on
whole-cluster exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from generator.engines import EngineBase
from generator.manifests import Document, ReadError
from generator.model import Result
from generator.pod import EVALUATED_KINDS
from generator.shape import conform
from generator.versions import Version

# The resource PSA's messages name for each evaluated kind (apierrors.NewForbidden's qualified resource).
RESOURCES: dict[str, str] = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "PodTemplate": "podtemplates",
    "ReplicaSet": "replicasets.apps",
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "DaemonSet": "daemonsets.apps",
    "Job": "jobs.batch",
    "CronJob": "cronjobs.batch",
}

BATCH = 500  # objects per engine call: large enough to amortise a request, small enough to stream


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict for one object and where it came from; ``result`` is None when the kind is skipped."""

    source: str
    document: int
    item: int | None
    line: int | None
    kind: str | None
    namespace: str | None
    name: str | None
    result: Result | None

    @classmethod
    def of(cls, doc: Document, result: Result | None) -> Outcome:
        meta = doc.obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        return cls(
            doc.source, doc.document, doc.item, doc.line, _str_or_none(doc.obj.get("kind")),
            _str_or_none(meta.get("namespace")), _str_or_none(meta.get("name")), result,
        )  # fmt: skip

    @property
    def skipped(self) -> bool:
        return self.result is None

    @property
    def denied(self) -> bool:
        return self.result is not None and not self.result.allowed

    @property
    def where(self) -> str:
        item = "" if self.item is None else f" item {self.item}"
        return f"{self.source}: document {self.document}{item}"

    @property
    def subject(self) -> str:
        """How PSA names the object: ``pods "web"``, ``deployments.apps "api"``."""
        kind = self.kind or "object"
        resource = RESOURCES.get(kind, kind.lower())
        return f'{resource} "{self.name}"' if self.name else resource

    @property
    def message(self) -> str:
        """PSA's words: the enforce denial for a Pod, the warning for a workload (PSA never enforces those)."""
        if self.result is None:
            return "skipped: not a Pod or a pod-template workload"
        if self.result.allowed:
            return "allowed"
        if self.kind == "Pod":
            return f"{self.subject} is forbidden: {self.result.message}"
        return f"{self.subject}: {self.result.warning}"

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "source": self.source,
            "document": self.document,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }
        if self.item is not None:
            entry["item"] = self.item
        if self.result is None:
            entry.update(allowed=True, skipped=True, violations=[])
        else:
            entry.update(
                allowed=self.result.allowed,
                level=self.result.level,  # per object: namespace labels may choose another than the default
                version=self.result.version,
                violations=[v.as_dict() for v in self.result.violations],
            )
        return entry


def is_evaluated(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") in EVALUATED_KINDS


def shape_error(doc: Document, problems: list[str]) -> ReadError:
    """A Pod or workload whose field types the API would reject: reported, never evaluated."""
    meta = doc.obj.get("metadata")
    name = _str_or_none(meta.get("name")) if isinstance(meta, Mapping) else None
    subject = f"{doc.obj['kind']} {json.dumps(name, ensure_ascii=False)}" if name else doc.obj["kind"]
    return ReadError(doc.source, doc.document, f"{subject}: {'; '.join(problems)}", doc.item)


def scan(
    entries: Iterable[Document | ReadError], engine: EngineBase, level: str, version: Version, batch: int = BATCH
) -> Iterator[Outcome | ReadError]:
    """Evaluate every Pod and workload at ``level``/``version``; everything else passes through in order.

    Every engine is sent only objects of the shape the API would accept, as its
    decoder would leave them (``generator.shape.conform``).
    """
    pending: list[Document | ReadError] = []
    objects: list[Mapping[str, Any]] = []  # the conformed objects of pending's evaluated documents, in order

    def flush() -> Iterator[Outcome | ReadError]:
        results = iter(engine.evaluate_many([(obj, level, version) for obj in objects]) if objects else [])
        for entry in pending:
            if isinstance(entry, ReadError):
                yield entry
            else:
                yield Outcome.of(entry, next(results) if is_evaluated(entry.obj) else None)
        pending.clear()
        objects.clear()

    for entry in entries:
        if isinstance(entry, Document) and is_evaluated(entry.obj):
            obj, problems = conform(entry.obj)
            if problems:
                pending.append(shape_error(entry, problems))
                continue
            objects.append(obj)
            pending.append(entry)
            if len(objects) == batch:
                yield from flush()
            continue
        pending.append(entry)
    yield from flush()
