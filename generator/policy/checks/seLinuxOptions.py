"""SELinux.

Setting the SELinux type is restricted, and setting a custom SELinux user or role option is forbidden.

**Restricted Fields:**
spec.securityContext.seLinuxOptions.type
spec.containers[*].securityContext.seLinuxOptions.type
spec.initContainers[*].securityContext.seLinuxOptions.type
spec.ephemeralContainers[*].securityContext.seLinuxOptions.type

**Allowed Values:**
undefined/empty
container_t
container_init_t
container_kvm_t
container_engine_t (since v1.31)

**Restricted Fields:**
spec.securityContext.seLinuxOptions.user
spec.containers[*].securityContext.seLinuxOptions.user
spec.initContainers[*].securityContext.seLinuxOptions.user
spec.ephemeralContainers[*].securityContext.seLinuxOptions.user
spec.securityContext.seLinuxOptions.role
spec.containers[*].securityContext.seLinuxOptions.role
spec.initContainers[*].securityContext.seLinuxOptions.role
spec.ephemeralContainers[*].securityContext.seLinuxOptions.role

**Allowed Values:** undefined/empty
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from generator.policy.checks._helpers import containers_phrase, join_quote, pluralize
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden, spec_get
from generator.policy.pod import PodView


class _Findings:
    """What validSELinuxOptions records across the pod and its containers."""

    __slots__ = ("bad_types", "set_role", "set_user")

    def __init__(self) -> None:
        self.bad_types: set[str] = set()
        self.set_user = False
        self.set_role = False


def validSELinuxOptions(opts: Mapping[str, Any], allowed_types: tuple[str, ...], found: _Findings) -> bool:
    valid = True
    selinux_type = opts.get("type") or ""
    if selinux_type not in allowed_types:
        valid = False
        found.bad_types.add(selinux_type)
    if opts.get("user"):
        valid = False
        found.set_user = True
    if opts.get("role"):
        valid = False
        found.set_role = True
    return valid


def seLinuxOptions(pod: PodView, allowed: Allowed) -> Forbidden | None:
    """Upstream's shared seLinuxOptions, which seLinuxOptions1_0 and 1_31 call with their own types."""
    allowed_types = allowed["types"]
    found: _Findings | None = None
    bad_setters: list[str] = []

    opts = spec_get(pod.security_context, "seLinuxOptions")
    if opts is not None:
        found = _Findings()
        if not validSELinuxOptions(opts, allowed_types, found):
            bad_setters.append("pod")

    if "seLinuxOptions" in pod.context_fields:
        bad_containers: list[str] = []
        for c, sc in pod.container_contexts:
            opts = sc.get("seLinuxOptions")
            if opts is not None:
                if found is None:
                    found = _Findings()
                if not validSELinuxOptions(opts, allowed_types, found):
                    bad_containers.append(c.get("name") or "")
        if bad_containers:
            bad_setters.append(containers_phrase(bad_containers))

    if not bad_setters or found is None:
        return None
    bad_data = []
    if found.bad_types:
        bad_types = sorted(found.bad_types)
        bad_data.append(f"{pluralize('type', 'types', len(bad_types))} {join_quote(bad_types)}")
    if found.set_user:
        bad_data.append("user may not be set")
    if found.set_role:
        bad_data.append("role may not be set")
    return Forbidden(
        "seLinuxOptions",
        f"{' and '.join(bad_setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(bad_data)}",
    )


V1_0 = CheckVersion(
    0,
    "seLinuxOptions1_0",
    seLinuxOptions,
    rego="seLinuxOptions",
    allowed={"types": ("", "container_t", "container_init_t", "container_kvm_t")},
    change="Limits the SELinux type to the container types and forbids setting user or role.",
)

CHECK = Check(
    id="seLinuxOptions",
    level="baseline",
    control="SELinux",
    reasons=("seLinuxOptions",),
    fields=tuple(
        f"spec.{where}securityContext.seLinuxOptions.{option}"
        for option in ("type", "user", "role")
        for where in ("", "containers[*].", "initContainers[*].", "ephemeralContainers[*].")
    ),
    versions=(
        V1_0,
        replace(
            V1_0,
            minimum_minor=31,
            name="seLinuxOptions1_31",
            allowed={"types": (*V1_0.allowed["types"], "container_engine_t")},
            change="Also allows the container_engine_t type.",
        ),
    ),
    doc=__doc__ or "",
)
