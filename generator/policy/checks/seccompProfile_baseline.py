"""Seccomp.

If seccomp profiles are specified, only runtime default and localhost profiles are allowed.

v1.0 - v1.18:
**Restricted Fields:**
metadata.annotations['seccomp.security.alpha.kubernetes.io/pod']
metadata.annotations['container.seccomp.security.alpha.kubernetes.io/*']

**Allowed Values:** 'runtime/default', 'docker/default', 'localhost/*', undefined

v1.19+:
**Restricted Fields:**
spec.securityContext.seccompProfile.type
spec.containers[*].securityContext.seccompProfile.type
spec.initContainers[*].securityContext.seccompProfile.type
spec.ephemeralContainers[*].securityContext.seccompProfile.type

**Allowed Values:** 'RuntimeDefault', 'Localhost', undefined
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase, go_quote, join_quote
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden, spec_get
from generator.policy.pod import PodView

ANNOTATION_KEY_POD = "seccomp.security.alpha.kubernetes.io/pod"
ANNOTATION_KEY_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def validSeccomp(profile_type: str, allowed: Allowed) -> bool:
    return profile_type in allowed["types"]


def validSeccompAnnotationValue(value: str, allowed: Allowed) -> bool:
    return value in allowed["annotation_values"] or value.startswith(allowed["annotation_prefixes"])


def seccompProfileBaseline_1_0(pod: PodView, allowed: Allowed) -> Forbidden | None:
    """The alpha annotations only; an empty value is forbidden."""
    annotations = pod.annotations
    if not annotations:
        return None
    forbidden: set[str] = set()

    if ANNOTATION_KEY_POD in annotations:
        value = annotations[ANNOTATION_KEY_POD] or ""
        if not validSeccompAnnotationValue(value, allowed):
            forbidden.add(f"{ANNOTATION_KEY_POD}={go_quote(value)}")

    for c in pod.containers:
        key = ANNOTATION_KEY_CONTAINER_PREFIX + (c.get("name") or "")
        if key in annotations:
            value = annotations[key] or ""
            if not validSeccompAnnotationValue(value, allowed):
                forbidden.add(f"{key}={go_quote(value)}")

    if not forbidden:
        return None
    annotation_word = "annotation" if len(forbidden) == 1 else "annotations"
    return Forbidden("seccompProfile", f"forbidden {annotation_word} {', '.join(sorted(forbidden))}")


def seccompProfileBaseline_1_19(pod: PodView, allowed: Allowed) -> Forbidden | None:
    """The seccompProfile.type fields only; the annotations are ignored."""
    bad_setters: list[str] = []
    bad_values: set[str] = set()

    profile = spec_get(pod.security_context, "seccompProfile")
    if profile is not None:
        profile_type = profile.get("type") or ""
        if not validSeccomp(profile_type, allowed):
            bad_setters.append("pod")
            bad_values.add(profile_type)

    if "seccompProfile" in pod.context_fields:
        explicitly_bad_containers: list[str] = []
        for c, sc in pod.container_contexts:
            profile = sc.get("seccompProfile")
            if profile is not None:
                profile_type = profile.get("type") or ""
                if not validSeccomp(profile_type, allowed):
                    explicitly_bad_containers.append(c.get("name") or "")
                    bad_values.add(profile_type)
        if explicitly_bad_containers:
            bad_setters.append(containers_phrase(explicitly_bad_containers))

    if not bad_setters:
        return None
    return Forbidden(
        "seccompProfile",
        f"{' and '.join(bad_setters)} must not set securityContext.seccompProfile.type to"
        f" {join_quote(sorted(bad_values))}",
    )


CHECK = Check(
    id="seccompProfile_baseline",
    level="baseline",
    control="Seccomp",
    reasons=("seccompProfile",),
    fields=(
        "metadata.annotations['seccomp.security.alpha.kubernetes.io/pod']",
        "metadata.annotations['container.seccomp.security.alpha.kubernetes.io/*']",
        "spec.securityContext.seccompProfile.type",
        "spec.containers[*].securityContext.seccompProfile.type",
        "spec.initContainers[*].securityContext.seccompProfile.type",
        "spec.ephemeralContainers[*].securityContext.seccompProfile.type",
    ),
    versions=(
        CheckVersion(
            0,
            "seccompProfileBaseline_1_0",
            seccompProfileBaseline_1_0,
            rego="seccompProfileBaseline_1_0",
            allowed={
                "annotation_values": ("docker/default", "runtime/default"),
                "annotation_prefixes": ("localhost/",),
            },
            change="Limits the alpha seccomp annotations of the pod and its containers.",
        ),
        CheckVersion(
            19,
            "seccompProfileBaseline_1_19",
            seccompProfileBaseline_1_19,
            rego="seccompProfileBaseline_1_19",
            allowed={"types": ("Localhost", "RuntimeDefault")},
            change="Checks the seccompProfile.type fields instead of the annotations.",
        ),
    ),
    doc=__doc__ or "",
)
