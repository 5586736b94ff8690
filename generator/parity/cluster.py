"""In-cluster parity: the same objects judged by built-in PSA and by pssgen's Gatekeeper bundle in one API server,
each compared with the PSA oracle.

Why: gator and OPA judge objects in isolation. A cluster adds what only it does:
the API server validates and defaults an object before any admission plugin sees
it, PSA reads the namespace's labels, and Gatekeeper is reached as a webhook.

Both judges see the same thing, so the oracle is asked about that same thing: the
object as the API server would store it (a dry-run create in a namespace nobody
judges returns it, defaulted). An object the API server refuses there never
reaches admission at all; it is counted and named, not compared.

- PSA side: the ``cluster`` engine (namespaces labelled ``enforce``/``warn`` with
  the level and version).
- Gatekeeper side: a namespace with no PSA label (privileged: built-in PSA admits
  everything) and the bundle's enforce Constraint with that level and version as
  its defaults (and workloads enforced, to compare them too), matching only that
  namespace. A denial is ``[constraint] violates PodSecurity "<level>:<version>":
  ...``, which must be PSA's message, byte for byte.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client as k8s

from generator.engines.live import DEFAULT_WORKERS, DryRun, creatable, dry_run, object_path
from generator.parity.oracle import Oracle, OracleVerdict

GATEKEEPER_DENIAL = 'admission webhook "validation.gatekeeper.sh" denied the request: '
_GATEKEEPER_LINE = re.compile(r"^\[([^\]]+)\] (.*)$")
PARITY_LABEL = {"pssgen.dev/parity": "gatekeeper"}


ENFORCE_CONSTRAINT = "constraints/pod-security-enforce.yaml"


def constraint_for(bundle: Path, level: str, version: str, namespace: str) -> dict[str, Any]:
    """The bundle's enforce Constraint judging ``namespace`` (unlabelled) at ``level``:``version``, workloads too."""
    path = bundle / ENFORCE_CONSTRAINT
    constraint = copy.deepcopy(cast(dict[str, Any], yaml.safe_load(path.read_text(encoding="utf-8"))))
    constraint["metadata"] = {"name": namespace}
    spec = constraint["spec"]
    spec["enforcementAction"] = "deny"
    defaults = {**spec["parameters"]["defaults"], "enforce": level, "enforce-version": version}
    spec["parameters"] = {**spec["parameters"], "defaults": defaults, "denyWorkloads": True}
    spec["match"] = {**spec["match"], "namespaces": [namespace]}
    return constraint


def gatekeeper_messages(message: str) -> list[tuple[str, str]] | None:
    """``(constraint, msg)`` for each line of a Gatekeeper denial; None when the text is not Gatekeeper's."""
    if not message.startswith(GATEKEEPER_DENIAL):
        return None
    lines = message[len(GATEKEEPER_DENIAL) :].split("\n")
    found = [_GATEKEEPER_LINE.match(line) for line in lines]
    if not all(found):
        return None
    return [(m.group(1), m.group(2)) for m in found if m]


@dataclass
class Tally:
    """What one judge ran, per (level, version) and kind, and how long its requests took."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class GatekeeperJudge:
    """Namespaces without PSA labels, each judged by one Constraint of the bundle (see the module doc)."""

    def __init__(self, api: k8s.ApiClient, bundle: Path, wait: Callable[[str, Callable[[], bool]], None]) -> None:
        self.api = api
        self.bundle = bundle
        self._wait = wait
        self._namespaces: dict[tuple[str, str], str] = {}
        self.tally = Tally()

    def prepare(self, pairs: set[tuple[str, str]]) -> None:
        """A namespace and its Constraint for each new (level, version); then wait until all are enforced."""
        core = k8s.CoreV1Api(self.api)
        made = []
        for level, version in sorted(pairs - self._namespaces.keys()):
            name = f"pssgen-gk-{level}-{version.replace('.', '-')}-{secrets.token_hex(2)}"
            core.create_namespace(cast(Any, {"metadata": {"name": name, "labels": PARITY_LABEL}}))
            core.create_namespaced_service_account(name, cast(Any, {"metadata": {"name": "default"}}))
            made.append(self._constrain(name, level, version))
            self._namespaces[(level, version)] = name
        if made:
            self._wait(f"{len(made)} Constraints to be enforced", lambda: all(self._enforced(*m) for m in made))

    def namespace(self, level: str, version: str) -> str:
        """The namespace the bundle's Constraint for ``level`` at ``version`` judges (made when first asked)."""
        self.prepare({(level, version)})
        return self._namespaces[(level, version)]

    def constrain(self, namespace: str, level: str, version: str) -> str:
        """Put an existing ``namespace`` under the bundle's Constraint for ``level`` at ``version``; its name."""
        made = self._constrain(namespace, level, version)
        self._wait(f"Constraint {namespace} to be enforced", lambda: self._enforced(*made))
        return made[1]

    def _constrain(self, namespace: str, level: str, version: str) -> tuple[str, str]:
        constraint = constraint_for(self.bundle, level, version, namespace)
        kind = constraint["kind"].lower()
        custom = k8s.CustomObjectsApi(self.api)
        custom.create_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", kind, cast(Any, constraint))
        return kind, namespace

    def _enforced(self, kind: str, name: str) -> bool:
        custom = k8s.CustomObjectsApi(self.api)
        found = cast(
            dict[str, Any], custom.get_cluster_custom_object("constraints.gatekeeper.sh", "v1beta1", kind, name)
        )
        by_pod = found.get("status", {}).get("byPod") or []
        return bool(by_pod) and all(p.get("enforced") for p in by_pod)

    def judge(self, requests: Sequence[tuple[Mapping[str, Any], str, str]]) -> list[DryRun]:
        self.prepare({(level, version) for _, level, version in requests})

        def one(request: tuple[Mapping[str, Any], str, str]) -> DryRun:
            obj, level, version = request
            namespace = self._namespaces[(level, version)]
            path = object_path(obj, namespace)
            assert path is not None
            return dry_run(self.api, path, creatable(obj, namespace))

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=DEFAULT_WORKERS, thread_name_prefix="pssgen-gk") as pool:
            answers = list(pool.map(one, requests))
        self.tally.seconds += time.monotonic() - started
        self.tally.requests += len(requests)
        for obj, level, version in requests:
            self.tally.counts[(level, version, str(obj.get("kind")))] += 1
        return answers


def stored_forms(api: k8s.ApiClient, namespace: str, objects: Sequence[Mapping[str, Any]]) -> list[DryRun]:
    """Each object as the API server would store it in ``namespace`` (no judge there): what admission sees."""

    def one(obj: Mapping[str, Any]) -> DryRun:
        path = object_path(obj, namespace)
        assert path is not None
        return dry_run(api, path, creatable(obj, namespace))

    with ThreadPoolExecutor(max_workers=DEFAULT_WORKERS, thread_name_prefix="pssgen-stored") as pool:
        return list(pool.map(one, objects))


def gatekeeper_problem(answer: DryRun, want: OracleVerdict) -> str | None:
    """Why Gatekeeper's answer is not PSA's verdict with PSA's message, or None."""
    if want.allowed:
        return None if answer.status < 300 else f"Gatekeeper refused (HTTP {answer.status}): {answer.message}"
    if answer.status < 300:
        return f"Gatekeeper admitted it; PSA: {want.message}"
    lines = gatekeeper_messages(answer.message)
    if lines is None:
        return f"refused, but not by Gatekeeper (HTTP {answer.status}): {answer.message}"
    got = [msg for _, msg in lines]
    return None if got == [want.message] else f"Gatekeeper said {got}; PSA {want.message!r}"


def oracle_on_stored(
    oracle: Oracle, stored: Sequence[DryRun], requests: Sequence[tuple[int, str, str]]
) -> list[OracleVerdict]:
    """The oracle's verdicts for (object index, level, version) requests, on each object's stored form."""
    items = [(cast(Mapping[str, Any], stored[i].object), level, version) for i, level, version in requests]
    return oracle.evaluate_many(items)
