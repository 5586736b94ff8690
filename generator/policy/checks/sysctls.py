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

from generator.policy.model import Check, CheckVersion, Forbidden
from generator.policy.pod import PodView

SYSCTLS_V1_0 = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
)
_ADDED_V1_27 = ("net.ipv4.ip_local_reserved_ports",)
_ADDED_V1_29 = (
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
_ADDED_V1_32 = ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")
_ADDED_V1_37 = ("net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat")

SYSCTLS_V1_27 = (*SYSCTLS_V1_0, *_ADDED_V1_27)
SYSCTLS_V1_29 = (*SYSCTLS_V1_27, *_ADDED_V1_29)
SYSCTLS_V1_32 = (*SYSCTLS_V1_29, *_ADDED_V1_32)
SYSCTLS_V1_37 = (*SYSCTLS_V1_32, *_ADDED_V1_37)


def sysctls(pod: PodView, allowed: tuple[str, ...]) -> Forbidden | None:
    """Names not in ``allowed``, in spec order, duplicates kept; values are not examined."""
    security_context = pod.security_context
    if security_context is None:
        return None
    entries = security_context.get("sysctls")
    if not entries:
        return None
    forbidden = [name for sysctl in entries if (name := sysctl.get("name") or "") not in allowed]
    if not forbidden:
        return None
    return Forbidden("forbidden sysctls", ", ".join(forbidden))


def sysctlsV1Dot0(pod: PodView) -> Forbidden | None:
    return sysctls(pod, SYSCTLS_V1_0)


def sysctlsV1Dot27(pod: PodView) -> Forbidden | None:
    return sysctls(pod, SYSCTLS_V1_27)


def sysctlsV1Dot29(pod: PodView) -> Forbidden | None:
    return sysctls(pod, SYSCTLS_V1_29)


def sysctlsV1Dot32(pod: PodView) -> Forbidden | None:
    return sysctls(pod, SYSCTLS_V1_32)


def sysctlsV1Dot37(pod: PodView) -> Forbidden | None:
    return sysctls(pod, SYSCTLS_V1_37)


def _also_allows(added: tuple[str, ...]) -> str:
    return f"Also allows {', '.join(added)}."


CHECK = Check(
    id="sysctls",
    level="baseline",
    control="Sysctls",
    fields=("spec.securityContext.sysctls[*].name",),
    versions=(
        CheckVersion(
            0,
            "sysctlsV1Dot0",
            sysctlsV1Dot0,
            allowed={"sysctls": SYSCTLS_V1_0},
            change="Allows only a safe set of namespaced sysctls.",
        ),
        CheckVersion(
            27,
            "sysctlsV1Dot27",
            sysctlsV1Dot27,
            allowed={"sysctls": SYSCTLS_V1_27},
            change=_also_allows(_ADDED_V1_27),
        ),
        CheckVersion(
            29,
            "sysctlsV1Dot29",
            sysctlsV1Dot29,
            allowed={"sysctls": SYSCTLS_V1_29},
            change=_also_allows(_ADDED_V1_29),
        ),
        CheckVersion(
            32,
            "sysctlsV1Dot32",
            sysctlsV1Dot32,
            allowed={"sysctls": SYSCTLS_V1_32},
            change=_also_allows(_ADDED_V1_32),
        ),
        CheckVersion(
            37,
            "sysctlsV1Dot37",
            sysctlsV1Dot37,
            allowed={"sysctls": SYSCTLS_V1_37},
            change=_also_allows(_ADDED_V1_37),
        ),
    ),
    doc=__doc__ or "",
)
