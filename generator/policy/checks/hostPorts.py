"""Host Ports.

HostPort ports must be forbidden.

**Restricted Fields:**

spec.containers[*].ports[*].hostPort
spec.initContainers[*].ports[*].hostPort
spec.ephemeralContainers[*].ports[*].hostPort

**Allowed Values:** undefined/0
"""

from __future__ import annotations

from generator.policy.checks._helpers import containers_phrase, pluralize
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView


def hostPorts_1_0(pod: PodView, _: Allowed) -> Forbidden | None:
    bad_containers: list[str] = []
    forbidden_host_ports: set[str] = set()
    for c in pod.containers:
        valid = True
        for port in c.get("ports") or ():
            host_port = port.get("hostPort")
            if host_port:
                valid = False
                forbidden_host_ports.add(str(host_port))
        if not valid:
            bad_containers.append(c.get("name") or "")
    if not bad_containers:
        return None
    count = len(bad_containers)
    return Forbidden(
        "hostPort",
        f"{containers_phrase(bad_containers)} {pluralize('uses', 'use', count)}"
        f" {pluralize('hostPort', 'hostPorts', len(forbidden_host_ports))}"
        f" {', '.join(sorted(forbidden_host_ports))}",
    )


CHECK = Check(
    id="hostPorts",
    level="baseline",
    control="Host Ports",
    reasons=("hostPort",),
    fields=(
        "spec.containers[*].ports[*].hostPort",
        "spec.initContainers[*].ports[*].hostPort",
        "spec.ephemeralContainers[*].ports[*].hostPort",
    ),
    versions=(
        CheckVersion(
            0,
            "hostPorts_1_0",
            hostPorts_1_0,
            rego="hostPorts_1_0",
            change="Forbids any non-zero hostPort on container ports.",
        ),
    ),
    doc=__doc__ or "",
)
