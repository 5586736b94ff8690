"""The ``vap`` engine: objects judged by the ValidatingAdmissionPolicy bundle under the API server's own plugin.

``vap-engine`` (``conformance/vap``) is the ValidatingAdmissionPolicy admission
plugin of ``k8s.io/apiserver`` (the code kube-apiserver runs), wired offline as
the API server wires it, fed JSON lines. This engine asks it what a cluster with
the bundle applied (and PSA's own plugin off) would answer:

* an object at (level, version) is created (dry run) in a namespace labelled
  ``pod-security.kubernetes.io/enforce``, ``warn`` and ``audit`` with that level and
  version, one namespace per (level, version), as the ``cluster`` engine does;
* a Pod's verdict is the enforce binding's denial; a workload's (PSA never denies
  one) the audit binding's annotation, which must equal the warn binding's warning
  where the API server keeps that (it drops a warning holding a control character,
  as it drops PSA's own); the VAP wording around PSA's text
  (``ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: `` and
  ``Validation failed for ValidatingAdmissionPolicy '<p>' with binding '<b>': ``)
  is taken off and PSA's ``violates PodSecurity ...`` read back into checks;
* anything else (a denial that is not PSA's, a CEL error, a workload denied) is
  an ``EngineError``: the bundle did not judge the object as PSA would.

The bundle is ``generator.render.vap.vap_bundle()``, rendered in memory and sent on
the engine's first line (no file is written), or a directory given to the
constructor (``out/vap`` as applied with ``kubectl apply -k``). The privileged
level allows everything, so its objects are allowed without a request.

The process dies with pssgen (``generator.engines.children``: PR_SET_PDEATHSIG, its
own session, tracked until closed); it is started from the thread that uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from generator.engines.base import EngineBase, EngineError, EngineUnavailable, Request, Worded, json_default, psa_result
from generator.engines.lines import LinesProcess
from generator.policy.model import ENFORCE_HEAD, WARN_HEAD, Result
from generator.policy.pod import API_GROUPS
from generator.render.vap import AUDIT_ANNOTATION, POLICY_NAME

JUDGED_LEVELS: tuple[str, ...] = ("baseline", "restricted")
USERNAME = "pssgen"  # the requesting user (the API server always has one; PSA exempts none by default)
CHUNK = 2000  # requests in flight at a time: bounds memory on a big export
MODES = ("enforce", "warn", "audit")  # a judged namespace's labels: audit gives a workload's verdict (see verdict)

_DENIED = re.compile(r"^ValidatingAdmissionPolicy '([^']*)' with binding '([^']*)' denied request: ")
_WARNED = re.compile(r"^Validation failed for ValidatingAdmissionPolicy '([^']*)' with binding '([^']*)': ")


AUDIT_ANNOTATION_KEY = f"{POLICY_NAME}/{AUDIT_ANNOTATION}"


class VapError(EngineError):
    """vap-engine failed, or the bundle answered something that is not PSA's verdict."""


def namespace_name(level: str, version: str) -> str:
    """A DNS label per (level, version): requests for different ones run side by side in the engine."""
    return f"pssgen-{level}-{version.replace('.', '-')}"


def judged_namespace(level: str, version: str) -> dict[str, Any]:
    labels = {}
    for mode in MODES:
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_name(level, version),
                                                                   "labels": labels}}  # fmt: skip


def request_body(obj: Mapping[str, Any], level: str, version: str) -> dict[str, Any]:
    """The request for ``obj`` at (level, version): a dry-run CREATE by ``USERNAME`` into its judged namespace."""
    namespace = judged_namespace(level, version)
    metadata = dict(obj.get("metadata") or {})
    metadata["namespace"] = namespace["metadata"]["name"]  # no check reads it; the request's namespace must match
    return {
        "operation": "CREATE",
        "object": {**obj, "metadata": metadata},
        "namespace": namespace,
        "userInfo": {"username": USERNAME, "groups": ["system:authenticated"]},
        "dryRun": True,
    }


def strip_denial(message: str) -> str | None:
    """PSA's text of an enforce denial (``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy ...``)."""
    _, found, rest = message.partition(" is forbidden: ")
    match = _DENIED.match(rest) if found else None
    return rest[match.end() :] if match else None


def strip_warning(warning: str) -> str | None:
    match = _WARNED.match(warning)
    return warning[match.end() :] if match else None


def verdict(obj: Mapping[str, Any], answer: Mapping[str, Any], level: str, version: str) -> Result:
    """The Result a vap-engine answer gives for ``obj``: see the module doc."""
    if "error" in answer:
        raise VapError(f"vap-engine could not judge it: {answer['error']}")
    status = answer.get("status") or {}
    if obj.get("kind") == "Pod":
        if answer.get("allowed"):
            return Result(True, (), level, version)
        text = strip_denial(str(status.get("message", "")))
        if text is None or not text.startswith("violates PodSecurity "):
            raise VapError(f"denied, but not as PSA denies (HTTP {status.get('code')}): {status.get('message')}")
        return _worded(text, level, version)
    if not answer.get("allowed"):
        raise VapError(f"a {obj.get('kind')} was denied (PSA only warns on workloads): {status.get('message')}")
    warnings = [w for w in (strip_warning(str(w)) for w in answer.get("warnings") or []) if w is not None]
    psa = [w for w in warnings if w.startswith("would violate PodSecurity ")]
    if len(psa) != len(warnings):
        raise VapError(f"a warning that is not PSA's: {next(w for w in warnings if w not in psa)}")
    # A workload's verdict is the audit binding's annotation: the API server drops a warning holding a control
    # character (a Warning header cannot carry one), as it drops PSA's own; an audit annotation keeps it.
    audited = (answer.get("annotations") or {}).get(AUDIT_ANNOTATION_KEY)
    if psa and psa[0] != audited:
        raise VapError(f"the warning {psa[0]!r} is not the audit annotation {audited!r}")
    if not audited:
        return Result(True, (), level, version)
    return _worded(str(audited), level, version)


def _worded(text: str, level: str, version: str) -> Worded:
    found = psa_result(text, level, version)
    return Worded(found.allowed, found.violations, level, version, text)


class VapEngine(EngineBase):
    """The VAP bundle under the API server's own ValidatingAdmissionPolicy plugin (see the module doc)."""

    name = "vap"

    def __init__(self, bundle_dir: Path | None = None) -> None:
        from generator.tools import VAP_ENGINE, ToolError, require

        try:
            binary = require(VAP_ENGINE)
        except ToolError as exc:
            raise EngineUnavailable(str(exc)) from exc
        if bundle_dir is not None:
            if not bundle_dir.is_dir():
                raise EngineUnavailable(f"no VAP bundle at {bundle_dir}: not a directory")
            self._process = LinesProcess("vap-engine", [str(binary), str(bundle_dir)], VapError)
        else:
            from generator.render.vap import vap_bundle

            setup = json.dumps({"files": vap_bundle()}, separators=(",", ":")).encode() + b"\n"
            self._process = LinesProcess("vap-engine", [str(binary), "-"], VapError, setup=setup)

    def evaluate_many(self, requests: Sequence[Request]) -> list[Result]:
        results: list[Result | None] = [None] * len(requests)
        asked: list[tuple[int, Mapping[str, Any], str, str]] = []
        for index, (obj, level, asked_version) in enumerate(requests):
            if level == "privileged":
                results[index] = Result(True, (), level, str(asked_version))
            elif level in JUDGED_LEVELS:
                _require_judged_kind(obj)
                asked.append((index, obj, level, str(asked_version)))
            else:
                raise ValueError(f"invalid level {level!r}")
        for start in range(0, len(asked), CHUNK):
            chunk = asked[start : start + CHUNK]
            lines = [_line(obj, level, version, index) for index, obj, level, version in chunk]
            for (index, obj, level, version), answer in zip(chunk, self._process.ask(lines), strict=True):
                try:
                    results[index] = verdict(obj, answer, level, version)
                except VapError as exc:
                    raise VapError(f"{_describe(index, obj, level, version)}: {exc}") from None
        return [r for r in results if r is not None]

    def listed_difference(self, got: Result, psa_message: str) -> tuple[str, ...] | None:
        """Which of the bundle's listed message differences (``generator.render.vap.MESSAGE_DIFFERENCES``) make
        ``got``'s text from PSA's; the workload's warning is held to PSA's warning wording."""
        from generator.render.vap import listed_difference

        if not isinstance(got, Worded):
            return None
        if got.text.startswith(WARN_HEAD) and psa_message.startswith(ENFORCE_HEAD):
            psa_message = WARN_HEAD + psa_message[len(ENFORCE_HEAD) :]
        return listed_difference(psa_message, got.text)

    def close(self) -> None:
        self._process.stop()


def _require_judged_kind(obj: Mapping[str, Any]) -> None:
    kind, api_version = obj.get("kind"), str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    if not isinstance(kind, str) or API_GROUPS.get(kind) != group:
        raise VapError(f"apiVersion {api_version!r} kind {kind!r} is not a kind PSA judges")


def _line(obj: Mapping[str, Any], level: str, version: str, index: int) -> bytes:
    """One request without its leading ``{"id":N,`` (the process numbers it)."""
    try:
        body = json.dumps(request_body(obj, level, version), default=json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise VapError(f"{_describe(index, obj, level, version)} cannot be sent as JSON: {exc}") from None
    return body[1:].encode() + b"\n"


def _describe(index: int, obj: Mapping[str, Any], level: str, version: str) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"request {index} ({obj.get('kind')} {name!r}) at {level}:{version}"
