"""Sysctls.

Sysctls can disable security mechanisms or affect all containers on a host,
and should be disallowed except for an allowed "safe" subset.

A sysctl is considered safe if it is namespaced in the container or the Pod,
and it is isolated from other Pods or processes on the same Node.

**Restricted Fields:**
spec.securityContext.sysctls[*].name

**Allowed Values:**
'kernel.shm_rmid_forced'
'net.ipv4.ip_local_port_range'
'net.ipv4.tcp_syncookies'
'net.ipv4.ping_group_range'
'net.ipv4.ip_unprivileged_port_start'
'net.ipv4.ip_local_reserved_ports'
'net.ipv4.tcp_keepalive_time'
'net.ipv4.tcp_fin_timeout'
'net.ipv4.tcp_keepalive_intvl'
'net.ipv4.tcp_keepalive_probes'
'net.ipv4.tcp_rmem'
'net.ipv4.tcp_wmem'
'net.ipv4.tcp_slow_start_after_idle'
'net.ipv4.tcp_notsent_lowat'
"""

from __future__ import annotations

from dataclasses import replace

from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView


def sysctls(pod: PodView, allowed: Allowed) -> Forbidden | None:
    """Upstream's shared sysctls: names not allowed, in spec order, duplicates kept; values are not examined."""
    security_context = pod.security_context
    if security_context is None:
        return None
    entries = security_context.get("sysctls")
    if not entries:
        return None
    names = allowed["sysctls"]
    forbidden = [name for sysctl in entries if (name := sysctl.get("name") or "") not in names]
    if not forbidden:
        return None
    return Forbidden("forbidden sysctls", ", ".join(forbidden))


def _also_allowing(previous: CheckVersion, minor: int, added: tuple[str, ...]) -> CheckVersion:
    """The next version: upstream's sysctlsV1Dot<minor>, the previous version's names plus ``added``."""
    return replace(
        previous,
        minimum_minor=minor,
        name=f"sysctlsV1Dot{minor}",
        allowed={"sysctls": (*previous.allowed["sysctls"], *added)},
        change=f"Also allows {', '.join(added)}.",
    )


V1_0 = CheckVersion(
    0,
    "sysctlsV1Dot0",
    sysctls,
    rego="sysctls",
    allowed={
        "sysctls": (
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_unprivileged_port_start",
        ),
    },
    change="Allows only a safe set of namespaced sysctls.",
)
V1_27 = _also_allowing(V1_0, 27, ("net.ipv4.ip_local_reserved_ports",))
V1_29 = _also_allowing(
    V1_27,
    29,
    (
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ),
)
V1_32 = _also_allowing(V1_29, 32, ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"))
V1_37 = _also_allowing(V1_32, 37, ("net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"))

CHECK = Check(
    id="sysctls",
    level="baseline",
    control="Sysctls",
    reasons=("forbidden sysctls",),
    fields=("spec.securityContext.sysctls[*].name",),
    versions=(V1_0, V1_27, V1_29, V1_32, V1_37),
    doc=__doc__ or "",
)
