"""AppArmor.

On supported hosts, the 'runtime/default' AppArmor profile is applied by default.
The baseline policy should prevent overriding or disabling the default AppArmor
profile, or restrict overrides to an allowed set of profiles.

**Restricted Fields:**
metadata.annotations['container.apparmor.security.beta.kubernetes.io/*']

**Allowed Values:** 'runtime/default', 'localhost/*', empty, undefined

**Restricted Fields:**
spec.securityContext.appArmorProfile.type
spec.containers[*].securityContext.appArmorProfile.type
spec.initContainers[*].securityContext.appArmorProfile.type
spec.ephemeralContainers[*].securityContext.appArmorProfile.type

**Allowed Values:** 'RuntimeDefault', 'Localhost', undefined
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase, go_quote, join_quote, pluralize
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden, spec_get
from generator.policy.pod import PodView

ANNOTATION_KEY_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def allowedAnnotationValue(profile: str, allowed: Allowed) -> bool:
    return profile in allowed["annotation_values"] or profile.startswith(allowed["annotation_prefixes"])


def appArmorProfile_1_0(pod: PodView, allowed: Allowed) -> Forbidden | None:
    field_types = allowed["field_types"]
    bad_setters: list[str] = []
    bad_values: set[str] = set()

    profile = spec_get(pod.security_context, "appArmorProfile")
    if profile is not None:
        profile_type = profile.get("type") or ""
        if profile_type not in field_types:
            bad_setters.append("pod")
            bad_values.add(profile_type)

    if "appArmorProfile" in pod.context_fields:
        bad_containers: list[str] = []
        for c, sc in pod.container_contexts:
            profile = sc.get("appArmorProfile")
            if profile is not None:
                profile_type = profile.get("type") or ""
                if profile_type not in field_types:
                    bad_containers.append(c.get("name") or "")
                    bad_values.add(profile_type)
        if bad_containers:
            bad_setters.append(containers_phrase(bad_containers))

    forbidden_annotations = (
        [
            f"{key}={go_quote(value or '')}"
            for key, value in pod.annotations.items()
            if key.startswith(ANNOTATION_KEY_PREFIX) and not allowedAnnotationValue(value or "", allowed)
        ]
        if pod.annotations
        else []
    )
    if not bad_setters and not forbidden_annotations:
        return None

    bad_value_list = sorted(bad_values)
    if forbidden_annotations:
        forbidden_annotations.sort()
        bad_value_list += forbidden_annotations
        bad_setters.append(pluralize("annotation", "annotations", len(forbidden_annotations)))

    return Forbidden(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad_value_list)),
        f"{' and '.join(bad_setters)} must not set AppArmor profile type to {join_quote(bad_value_list)}",
    )


CHECK = Check(
    id="appArmorProfile",
    level="baseline",
    control="AppArmor",
    reasons=("forbidden AppArmor profile", "forbidden AppArmor profiles"),
    fields=(
        "metadata.annotations['container.apparmor.security.beta.kubernetes.io/*']",
        "spec.securityContext.appArmorProfile.type",
        "spec.containers[*].securityContext.appArmorProfile.type",
        "spec.initContainers[*].securityContext.appArmorProfile.type",
        "spec.ephemeralContainers[*].securityContext.appArmorProfile.type",
    ),
    versions=(
        CheckVersion(
            0,
            "appArmorProfile_1_0",
            appArmorProfile_1_0,
            rego="appArmorProfile_1_0",
            allowed={
                "field_types": ("Localhost", "RuntimeDefault"),
                "annotation_values": ("", "runtime/default"),
                "annotation_prefixes": ("localhost/",),
            },
            change="Limits AppArmor profile types in fields and in the beta AppArmor annotations.",
        ),
    ),
    doc=__doc__ or "",
)
