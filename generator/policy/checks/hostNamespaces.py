"""Host Namespaces.

Sharing the host network, PID, and IPC namespaces must be disallowed.

**Restricted Fields:**

spec.hostNetwork
spec.hostPID
spec.hostIPC

**Allowed Values:** undefined, false
"""

from __future__ import annotations

from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView


def hostNamespaces_1_0(pod: PodView, _: Allowed) -> Forbidden | None:
    spec = pod.spec
    host_network = spec.get("hostNetwork") is True
    host_pid = spec.get("hostPID") is True
    host_ipc = spec.get("hostIPC") is True
    if not (host_network or host_pid or host_ipc):
        return None
    host_namespaces = []
    if host_network:
        host_namespaces.append("hostNetwork=true")
    if host_pid:
        host_namespaces.append("hostPID=true")
    if host_ipc:
        host_namespaces.append("hostIPC=true")
    return Forbidden("host namespaces", ", ".join(host_namespaces))


CHECK = Check(
    id="hostNamespaces",
    level="baseline",
    control="Host Namespaces",
    reasons=("host namespaces",),
    fields=("spec.hostNetwork", "spec.hostPID", "spec.hostIPC"),
    versions=(
        CheckVersion(
            0,
            "hostNamespaces_1_0",
            hostNamespaces_1_0,
            rego="hostNamespaces_1_0",
            change="Forbids hostNetwork, hostPID and hostIPC.",
        ),
    ),
    doc=__doc__ or "",
)
