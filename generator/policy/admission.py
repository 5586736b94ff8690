"""One admission request judged as Pod Security Admission judges it: modes, exemptions, operations, workloads.

Why: the checks say whether a pod meets a level; a cluster decides much more
around them. PSA's admission.go (ValidatePod, ValidatePodController,
EvaluatePod) reads the namespace's labels, skips exempt namespaces, users and
runtime classes, skips DELETE, most Pod subresources and insignificant Pod
updates, never enforces on workloads, and words each mode differently. This is
that logic over plain requests, the reference the Gatekeeper bundle's
label-driven template is held to (its generated gator suite, and the live
cluster, where kube-apiserver's own PSA is compared with it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.policy.checks._helpers import go_quote
from generator.policy.evaluate import evaluate
from generator.policy.exclusions import Exclusion, compose, plan
from generator.policy.model import Result
from generator.policy.namespaces import LevelVersion, NamespacePolicy, policy_from_labels
from generator.policy.pod import TEMPLATE_PATHS
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration, runtime_class

# admission.go ignoredPodSubresources: Pod subresources that cannot change the pod spec.
# Every other Pod subresource (ephemeralcontainers, resize) carries a Pod and is judged.
IGNORED_POD_SUBRESOURCES: frozenset[str] = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)
# The operations PSA registers for: it never sees DELETE or CONNECT.
JUDGED_OPERATIONS: frozenset[str] = frozenset({"CREATE", "UPDATE"})
WORKLOAD_KINDS: frozenset[str] = frozenset(TEMPLATE_PATHS)

# What the bundle says when it cannot know the namespace's labels, after PSA's "failed to lookup namespace %q";
# a Go format, for the Rego's sprintf, whose %q is Go's.
UNKNOWN_NAMESPACE = "failed to lookup namespace %q: no input.review.namespaceObject, and not synced into data.inventory"


@dataclass(frozen=True, slots=True)
class Request:
    """What PSA reads from an admission request."""

    obj: Mapping[str, Any]
    namespace: str
    operation: str = "CREATE"
    username: str = ""
    subresource: str = ""
    old: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """PSA's answer: the enforce denial (None when allowed), the warning, the audit annotation, and why not judged."""

    denial: str | None = None
    warning: str | None = None
    audit: str | None = None
    exempt: str | None = None  # "namespace", "user" or "runtimeClass": PSA's exempt audit annotation
    label_errors: tuple[str, ...] = ()  # PSA's "error" audit annotation, when the labels were refused

    @property
    def allowed(self) -> bool:
        return self.denial is None

    def message(self, mode: str) -> str | None:
        """The text the given mode produces: the denial, the warning or the audit annotation."""
        return {"enforce": self.denial, "warn": self.warning, "audit": self.audit}[mode]


def significant_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """admission.go isSignificantPodUpdate, over manifests: a container or image change, or an ephemeral one."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    for key in ("containers", "initContainers"):
        ours, theirs = new_spec.get(key) or [], old_spec.get(key) or []
        if len(ours) != len(theirs):
            return True
        if any(a.get("image", "") != b.get("image", "") for a, b in zip(ours, theirs, strict=True)):
            return True
    old_ephemeral = old_spec.get("ephemeralContainers") or []
    for container in new_spec.get("ephemeralContainers") or []:
        same = [o for o in old_ephemeral if o.get("name", "") == container.get("name", "")]
        if not same or same[0].get("image", "") != container.get("image", ""):
            return True
    return False


def judged(request: Request) -> bool:
    """Whether PSA evaluates the request at all (its operations, subresources and Pod updates)."""
    kind = request.obj.get("kind")
    if request.operation not in JUDGED_OPERATIONS:
        return False
    if kind == "Pod":
        if request.subresource in IGNORED_POD_SUBRESOURCES:
            return False
        return not (request.operation == "UPDATE" and request.old is not None
                    and not significant_pod_update(request.obj, request.old))  # fmt: skip
    return kind in WORKLOAD_KINDS and request.subresource == ""


def admit(
    request: Request,
    labels: Mapping[str, Any] | None,
    config: PsaConfiguration = PSA_DEFAULTS,
    *,
    namespace_known: bool = True,
    deny_workloads: bool = False,
    exclusions: Sequence[Exclusion] = (),
) -> Decision:
    """PSA's decision for ``request`` in a namespace with ``labels``, under ``config``.

    ``namespace_known=False`` is a namespace PSA cannot look up: it refuses a
    Pod and lets a workload through. ``deny_workloads`` is pssgen's switch that
    enforces on workloads too (PSA only warns and audits them). ``exclusions``
    are pssgen's per-check exclusions (the Gatekeeper bundle applies them too).
    """
    if not judged(request):
        return Decision()
    if request.namespace and request.namespace in config.namespaces:
        return Decision(exempt="namespace")
    if request.username and request.username in config.usernames:
        return Decision(exempt="user")
    is_pod = request.obj.get("kind") == "Pod"
    enforcing = is_pod or deny_workloads
    if not namespace_known:
        return Decision(denial=UNKNOWN_NAMESPACE.replace("%q", go_quote(request.namespace)) if enforcing else None)
    policy = policy_from_labels(labels, config.defaults)
    if not policy.errors and _privileged(policy, enforcing):
        return Decision()
    why = config.exempt(namespace=None, username=None, runtime_class=runtime_class(request.obj))
    if why is not None:
        return Decision(exempt=why)
    if request.obj.get("kind") != "Pod" and _template_missing(request.obj):
        return Decision(label_errors=policy.errors)  # ValidatePodController: no pod spec, nothing to judge
    results: dict[LevelVersion, Result] = {}
    applying = [e for e in exclusions if e.applies(request.namespace, labels)]
    waiving = plan(request.obj, applying) if applying else None

    def judge(lv: LevelVersion) -> Result:
        if lv not in results:
            if waiving is None:
                results[lv] = evaluate(request.obj, lv.level, lv.version)
            else:
                results[lv] = compose(waiving, [evaluate(o, lv.level, lv.version) for o in waiving.objects])
        return results[lv]

    denial = None
    if enforcing:
        found = judge(policy.enforce)
        denial = None if found.allowed else _worded(found, policy.enforce, "enforce")
    audited = judge(policy.audit)
    audit = None if audited.allowed else _worded(audited, policy.audit, "audit")
    warning = None
    if denial is None:
        warned = judge(policy.warn)
        warning = None if warned.allowed else _worded(warned, policy.warn, "warn")
    return Decision(denial=denial, warning=warning, audit=audit, label_errors=policy.errors)


def _worded(result: Result, lv: LevelVersion, mode: str) -> str:
    """The mode's text, with the level and version as the namespace gives them (``v1.99`` stays ``v1.99``)."""
    printed = Result(result.allowed, result.violations, lv.level, str(lv.version))
    return printed.mode_message(mode)


def _privileged(policy: NamespacePolicy, enforcing: bool) -> bool:
    """PSA's short cut: nothing to evaluate (for a workload, enforce does not count)."""
    modes = (policy.enforce, policy.audit, policy.warn) if enforcing else (policy.audit, policy.warn)
    return all(lv.level == "privileged" for lv in modes)


def _template_missing(obj: Mapping[str, Any]) -> bool:
    """A ReplicationController whose template is null: PSA skips it (the only optional pod template)."""
    return obj.get("kind") == "ReplicationController" and (obj.get("spec") or {}).get("template") is None
