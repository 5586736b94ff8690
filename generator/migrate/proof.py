"""The proof behind a PSP's mapping: pods the PSP admits, judged by the reference evaluator at every version.

Two kinds of pods, each shown first to be one the PSP admits (``psp.admits``):

- the base pod and one witness per opening (the base pod with the opening's change), at the edge of what the PSP
  allows;
- the fuzzer's pods (``generator.parity.fuzz.Generator``, seeded), constrained to the PSP: every field the PSP
  limits is set to a value it admits, chosen among its allowed values and their edges, the rest left as the
  fuzzer made it (probes naming hosts, Windows pods, ephemeral containers, odd procMount values ...).

At each minor version every pod must be allowed at the level the mapping claims, and each opening's witness must be
denied at the opening's level by the opening's own check: a claim the proof cannot back is a failure, never a
softer report.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from generator.manifests.shape import conform
from generator.parity.fuzz import Generator
from generator.policy import psp as pspmap
from generator.policy.evaluate import evaluate
from generator.policy.versions import all_minors

Obj = dict[str, Any]

DEFAULT_PODS: Final = 200
DEFAULT_SEED: Final = 20261215
STRICTER: Final[Mapping[str, str | None]] = {"privileged": "baseline", "baseline": "restricted", "restricted": None}
CONTAINER_KINDS: Final = ("initContainers", "containers", "ephemeralContainers")
# Profiles tried where a PSP admits any: what pods of its time could name.
ANY_SECCOMP: Final = ("runtime/default", "docker/default", "unconfined", "localhost/profile.json", "")
ANY_APPARMOR: Final = ("runtime/default", "unconfined", "localhost/profile", "")
# Volume sources a pod of PodSecurityPolicy's time could not have (image volumes arrived in v1.31).
NEWER_VOLUME_SOURCES: Final = frozenset({"image"})


# ---------------------------------------------------------------- the fuzzer's pods, constrained to the PSP


def _pick(rng: random.Random, values: Sequence[Any]) -> Any:
    return rng.choice(list(values))


def _uid(rng: random.Random, rule: pspmap.IdRule, *, non_root: bool) -> int:
    """A user ID the rule admits: a range's edge, or a typical non-root one."""
    if rule.rule == "MustRunAs":
        ranges = [r for r in rule.ranges if not non_root or r.max >= 1]
        found = _pick(rng, ranges)
        low = max(found.min, 1) if non_root else found.min
        return int(_pick(rng, (low, found.max, (low + found.max) // 2)))
    return int(_pick(rng, (1, 1000, 65534, 2**31 - 1)))


def _names(spec: Obj) -> list[str]:
    return [c["name"] for kind in CONTAINER_KINDS for c in spec.get(kind) or ()]


def _container_context(psp: pspmap.Psp, rng: random.Random, context: Obj, pod_context: Obj) -> None:
    if not psp.privileged:
        context.pop("privileged", None)
    if not psp.allow_privilege_escalation or ("allowPrivilegeEscalation" not in context and rng.random() < 0.5):
        context["allowPrivilegeEscalation"] = False if not psp.allow_privilege_escalation else rng.random() < 0.5
    for key in pspmap.NEWER_CONTEXT_FIELDS:
        context.pop(key, None)
    capabilities = context.get("capabilities") or {}
    addable = [c for c in psp.addable_capabilities if c != pspmap.ANY]
    add = [c for c in capabilities.get("add") or () if pspmap.ANY in psp.addable_capabilities or c in addable]
    add = [c for c in add if c not in psp.required_drop_capabilities]
    if addable and rng.random() < 0.6:
        add += rng.sample(addable, rng.randint(1, len(addable)))
    drop = list(capabilities.get("drop") or ())
    if psp.required_drop_capabilities:
        drop += [c for c in psp.required_drop_capabilities if c not in drop]
    context["capabilities"] = {"add": list(dict.fromkeys(add)), "drop": drop}
    proc_mount = context.get("procMount")
    if (proc_mount is not None and proc_mount not in psp.allowed_proc_mount_types) or rng.random() < 0.3:
        context["procMount"] = _pick(rng, psp.allowed_proc_mount_types)
    _user(psp, rng, context, pod_context)
    if psp.selinux_rule == "MustRunAs" and ("seLinuxOptions" in context or rng.random() < 0.3):
        context["seLinuxOptions"] = {k: v for k, v in psp.selinux_options.items() if v}
    context.pop("seccompProfile", None)


def _user(psp: pspmap.Psp, rng: random.Random, context: Obj, pod_context: Obj) -> None:
    """runAsUser and runAsNonRoot as the PSP's user rule leaves them (its defaults applied, as stored)."""
    rule = psp.run_as_user
    uid = context.get("runAsUser")
    if rule.rule == "MustRunAs" and uid is not None and not rule.allows(uid):
        context["runAsUser"] = _uid(rng, rule, non_root=False)
    if rule.rule != "MustRunAsNonRoot":
        if rule.rule == "MustRunAs" and context.get("runAsUser", pod_context.get("runAsUser")) is None:
            context["runAsUser"] = _uid(rng, rule, non_root=False)
        return
    if context.get("runAsUser") == 0:
        context["runAsUser"] = _uid(rng, rule, non_root=True)
    effective_uid = context.get("runAsUser", pod_context.get("runAsUser"))
    effective_flag = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if effective_flag is False or (effective_uid is None and effective_flag is None):
        context["runAsNonRoot"] = True  # PSP's default when neither is set; an explicit false it refuses
    if effective_uid == 0:
        context["runAsUser"] = _uid(rng, rule, non_root=True)


def _volumes(psp: pspmap.Psp, rng: random.Random, spec: Obj) -> None:
    sources = sorted(psp.volume_sources - NEWER_VOLUME_SOURCES)
    if not sources:
        spec.pop("volumes", None)
        return
    volumes = []
    for i in range(rng.choice((0, 1, 2, 3, len(sources)))):
        source = sources[i % len(sources)] if rng.random() < 0.5 else _pick(rng, sources)
        volume: Obj = {"name": f"v{i}", source: {}}
        if source == "hostPath":
            prefix = _pick(rng, psp.allowed_host_paths) if psp.allowed_host_paths else "/"
            volume[source] = {"path": prefix + _pick(rng, ("", "data", "x/y"))}
        volumes.append(volume)
    if rng.random() < 0.2 and "emptyDir" in sources:
        volumes.append({"name": "defaulted"})  # no source: the API makes it an emptyDir
    spec["volumes"] = volumes


def _sysctls(psp: pspmap.Psp, rng: random.Random, pod_context: Obj) -> None:
    names = [s["name"] for s in pod_context.get("sysctls") or () if isinstance(s, Mapping) and "name" in s]
    candidates = [*pspmap.PSP_ERA_SAFE_SYSCTLS, *(s.replace("*", "x") for s in psp.allowed_unsafe_sysctls)]
    names += rng.sample(candidates, rng.randint(0, min(3, len(candidates))))
    kept = [
        n
        for n in names
        if not pspmap.matches(n, psp.forbidden_sysctls)
        and (n in pspmap.PSP_ERA_SAFE_SYSCTLS or pspmap.matches(n, psp.allowed_unsafe_sysctls))
    ]
    if kept:
        pod_context["sysctls"] = [{"name": n, "value": "1"} for n in kept]
    else:
        pod_context.pop("sysctls", None)


def _profiles(psp: pspmap.Psp, rng: random.Random, pod: Obj) -> None:
    """Seccomp and AppArmor as the PSP admits them: annotations, fields or both for seccomp; annotations (the only
    form of PodSecurityPolicy's time) for AppArmor. Whatever the fuzzer put there is replaced."""
    annotations = {
        k: v
        for k, v in (pod["metadata"].get("annotations") or {}).items()
        if not k.startswith((pspmap.SECCOMP_POD_ANNOTATION, pspmap.SECCOMP_CONTAINER_ANNOTATION))
        and not k.startswith(pspmap.APPARMOR_CONTAINER_ANNOTATION)
    }
    pod["metadata"]["annotations"] = annotations
    seccomp = psp.seccomp_profiles()
    choices = [pspmap.concrete(p) for p in (seccomp if seccomp is not None else ANY_SECCOMP)]
    if choices:
        form, profile = rng.random(), _pick(rng, choices)
        only_annotation = pspmap.seccomp_field(profile) is None  # docker/default: no field says it
        pspmap.set_seccomp(pod, profile, annotation=form < 0.7 or only_annotation, field_too=form >= 0.35)
    names = _names(pod["spec"])
    named = [c for c in choices if c]
    for name in names:
        if named and rng.random() < 0.25:
            profile = _pick(rng, named)
            as_field = pspmap.seccomp_field(profile)
            context = _container_of(pod, name).setdefault("securityContext", {})
            if as_field is not None and rng.random() < 0.5:
                context["seccompProfile"] = as_field
            else:
                annotations[pspmap.SECCOMP_CONTAINER_ANNOTATION + name] = profile
    apparmor = psp.apparmor_profiles()
    armor = [pspmap.concrete(p) for p in (apparmor if apparmor is not None else ANY_APPARMOR)]
    for name in names:
        if armor:
            profile = _pick(rng, armor)
            if profile:
                annotations[pspmap.APPARMOR_CONTAINER_ANNOTATION + name] = profile


def _container_of(pod: Obj, name: str) -> Obj:
    return next(c for kind in CONTAINER_KINDS for c in pod["spec"].get(kind) or () if c["name"] == name)


def constrain(psp: pspmap.Psp, pod: Obj, rng: random.Random) -> Obj:
    """The fuzzer's ``pod`` made one ``psp`` admits as stored. Containers are renamed ``c0`` ... (the API refuses
    duplicate and empty names), and what the Pod API of PodSecurityPolicy's time did not have is removed."""
    spec: Obj = pod["spec"]
    for key in pspmap.NEWER_POD_FIELDS:
        spec.pop(key, None)
    count = 0
    for kind in CONTAINER_KINDS:
        kept = [c for c in spec.get(kind) or () if isinstance(c, dict)]
        for container in kept:
            container["name"], container["image"] = f"c{count}", "registry.k8s.io/pause"
            count += 1
        if kept:
            spec[kind] = kept
        else:
            spec.pop(kind, None)
    if "containers" not in spec:
        spec["containers"] = [{"name": f"c{count}", "image": "registry.k8s.io/pause"}]
    for name, allowed in (("hostNetwork", psp.host_network), ("hostPID", psp.host_pid), ("hostIPC", psp.host_ipc)):
        if not allowed:
            spec.pop(name, None)
        elif rng.random() < 0.3:
            spec[name] = True
    _volumes(psp, rng, spec)
    pod_context: Obj = spec.get("securityContext") or {}
    spec["securityContext"] = pod_context
    for key in pspmap.NEWER_CONTEXT_FIELDS:
        pod_context.pop(key, None)
    pod_context.pop("seccompProfile", None)
    _sysctls(psp, rng, pod_context)
    rule = psp.run_as_user
    uid = pod_context.get("runAsUser")
    if uid is not None and (
        (rule.rule == "MustRunAs" and not rule.allows(uid)) or (rule.rule == "MustRunAsNonRoot" and uid == 0)
    ):
        pod_context["runAsUser"] = _uid(rng, rule, non_root=rule.rule == "MustRunAsNonRoot")
    if rule.rule == "MustRunAsNonRoot" and pod_context.get("runAsNonRoot") is False:
        pod_context["runAsNonRoot"] = True
    if psp.selinux_rule == "MustRunAs":
        pod_context["seLinuxOptions"] = {k: v for k, v in psp.selinux_options.items() if v}
    host_network = spec.get("hostNetwork") is True
    for context in [
        pod_context,
        *(c.setdefault("securityContext", {}) for k in CONTAINER_KINDS for c in spec.get(k) or ()),
    ]:
        windows = context.get("windowsOptions")
        if isinstance(windows, dict) and windows.get("hostProcess") is True and not host_network:
            windows["hostProcess"] = False
    for kind in CONTAINER_KINDS:
        for container in spec.get(kind) or ():
            _container_context(psp, rng, container["securityContext"], pod_context)
            ports = [p for p in container.get("ports") or () if isinstance(p, dict)]
            for port in ports:
                if not _port_ok(psp, port.get("hostPort") or 0):
                    port.pop("hostPort")
                if psp.host_ports and rng.random() < 0.3:
                    edge = _pick(rng, psp.host_ports)
                    port["hostPort"] = _pick(rng, (edge.min, edge.max))
            if host_network:  # the API server sets hostPort = containerPort on these, and PSP judged that
                ports = [p for p in ports if _port_ok(psp, p.get("hostPort") or p.get("containerPort") or 0)]
            if ports:
                container["ports"] = ports
            else:
                container.pop("ports", None)
    _profiles(psp, rng, pod)
    return pod


def _port_ok(psp: pspmap.Psp, port: int) -> bool:
    return not port or any(r.min <= port <= r.max for r in psp.host_ports)


def fuzzed_pods(psp: pspmap.Psp, seed: int, count: int) -> list[Obj]:
    """``count`` of the fuzzer's pods constrained to ``psp``; pod ``i`` of ``seed`` depends on nothing else."""
    out = []
    for index in range(count):
        rng = random.Random(f"pssgen-migrate-psp:{seed}:{psp.name}:{index}")
        generator = Generator(rng, nulls=0.0)
        spec = generator.pod_spec()
        pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"fuzz{index}"}, "spec": spec}
        if rng.random() < 0.35:
            pod["metadata"]["annotations"] = generator.annotations(spec)
        out.append(constrain(psp, pod, rng))
    return out


# ---------------------------------------------------------------- judging


@dataclass(frozen=True)
class Failure:
    """A claim the proof could not back, and the pod that shows it."""

    message: str
    pod: Mapping[str, Any]


@dataclass
class Proof:
    """What was judged, and every failure (none: each claim of the mapping is backed)."""

    pods: int = 0
    verdicts: int = 0
    witnesses: int = 0  # witness verdicts denied by their opening's check
    refused: int = 0  # the fuzzer's pods the API's shape check refused before any judging
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def witness_pod(psp: pspmap.Psp, opening: pspmap.Opening) -> Obj:
    pod = pspmap.fresh_base_pod(psp)
    opening.witness(pod)
    return pod


def prove(psp: pspmap.Psp, *, pods: int = DEFAULT_PODS, seed: int = DEFAULT_SEED) -> Proof:
    """Judge the base pod, every witness and ``pods`` fuzzed pods at every minor version (see the module doc)."""
    proof = Proof()
    levels = {minor: pspmap.level_at(psp, minor) for minor in all_minors()}
    found = {
        (level, minor): pspmap.openings(psp, level, minor)
        for minor in all_minors()
        for level in ("baseline", "restricted")
    }
    witnesses = {o: witness_pod(psp, o.opening) for openings in found.values() for o in openings}
    distinct = {json.dumps(p, sort_keys=True): p for p in (pspmap.base_pod(psp), *witnesses.values())}
    candidates = [*distinct.values(), *fuzzed_pods(psp, seed, pods)]
    judged: list[Mapping[str, Any]] = []
    for pod in candidates:
        shaped, problems = conform(pod)
        if problems:
            proof.refused += 1
            continue
        refused = pspmap.admits(psp, shaped)
        if refused:
            proof.failures.append(Failure(f"a generated pod the PSP would refuse: {refused[0]}", pod))
            continue
        judged.append(shaped)
    proof.pods = len(judged)
    for minor, level in levels.items():
        for shaped in judged:
            result = evaluate(shaped, level, f"v1.{minor}")
            proof.verdicts += 1
            if not result.allowed:
                message = f"denied at {level}:v1.{minor}, the level claimed: {result.forbidden_detail}"
                proof.failures.append(Failure(message, shaped))
                break
    for (level, minor), openings in found.items():
        for entry in openings:
            pod = witnesses[entry]
            result = evaluate(pod, level, f"v1.{minor}")
            proof.verdicts += 1
            if entry.check in {v.check for v in result.violations}:
                proof.witnesses += 1
            else:
                where = f"{entry.opening.field} {entry.opening.value}".strip()
                message = f"{where}: the witness is not denied by {entry.check} at {level}:v1.{minor}"
                proof.failures.append(Failure(message, pod))
    return proof


def unmutated_verdict(psp: pspmap.Psp, mutation: pspmap.Mutation, level: str, version: str) -> str | None:
    """PSA's words, at ``level`` and ``version``, for what the base pod fails only once the PSP's default is taken
    away (the pod as its manifest says it); None when that adds no violation."""
    base = pspmap.base_pod(psp)
    pod = copy.deepcopy(base)
    mutation.undo(pod)
    if level == "privileged":
        return None
    before = set(evaluate(base, level, version).violations)
    added = [v for v in evaluate(pod, level, version).violations if v not in before]
    return ", ".join(f"{v.reason} ({v.detail})" if v.detail else v.reason for v in added) or None
