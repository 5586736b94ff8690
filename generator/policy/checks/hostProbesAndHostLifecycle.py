"""Host Probes / Lifecycle Hooks.

Host field is restricted in the probes and lifecycle handlers.

**Restricted Fields:**

* spec.containers[*].livenessProbe.httpGet.host
* spec.containers[*].readinessProbe.httpGet.host
* spec.containers[*].startupProbe.httpGet.host
* spec.containers[*].livenessProbe.tcpSocket.host
* spec.containers[*].readinessProbe.tcpSocket.host
* spec.containers[*].startupProbe.tcpSocket.host
* spec.containers[*].lifecycle.postStart.tcpSocket.host // Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility.
* spec.containers[*].lifecycle.preStop.tcpSocket.host // Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility.
* spec.containers[*].lifecycle.postStart.httpGet.host
* spec.containers[*].lifecycle.preStop.httpGet.host
* spec.initContainers[*].livenessProbe.httpGet.host
* spec.initContainers[*].readinessProbe.httpGet.host
* spec.initContainers[*].startupProbe.httpGet.host
* spec.initContainers[*].livenessProbe.tcpSocket.host
* spec.initContainers[*].readinessProbe.tcpSocket.host
* spec.initContainers[*].startupProbe.tcpSocket.host
* spec.initContainers[*].lifecycle.postStart.tcpSocket.host // Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility.
* spec.initContainers[*].lifecycle.preStop.tcpSocket.host // Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility.
* spec.initContainers[*].lifecycle.postStart.httpGet.host
* spec.initContainers[*].lifecycle.preStop.httpGet.host
* spec.ephemeralContainers[*].livenessProbe.httpGet.host
* spec.ephemeralContainers[*].readinessProbe.httpGet.host
* spec.ephemeralContainers[*].startupProbe.httpGet.host
* spec.ephemeralContainers[*].livenessProbe.tcpSocket.host
* spec.ephemeralContainers[*].readinessProbe.tcpSocket.host
* spec.ephemeralContainers[*].startupProbe.tcpSocket.host
* spec.ephemeralContainers[*].lifecycle.postStart.tcpSocket.host // Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility.
* spec.ephemeralContainers[*].lifecycle.preStop.tcpSocket.host // Deprecated. TCPSocket is NOT supported as a LifecycleHandler and kept for backward compatibility.
* spec.ephemeralContainers[*].lifecycle.postStart.httpGet.host
* spec.ephemeralContainers[*].lifecycle.preStop.httpGet.host

Allowed Values: "", undefined/null
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.policy.checks._helpers import containers_phrase, join_quote, pluralize
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HANDLERS = ("postStart", "preStop")
HOST_ACTIONS = ("httpGet", "tcpSocket")


def getForbiddenHosts(handler: Mapping[str, Any], bad_hosts: list[str]) -> None:
    """Upstream's getForbiddenHostProbes and getForbiddenHostLifecycle: the non-empty hosts of a handler."""
    # HOST_ACTIONS, written out as upstream does: the loop cost more than the two reads.
    http_get = handler.get("httpGet")
    if http_get is not None and (host := http_get.get("host")):
        bad_hosts.append(host)
    tcp_socket = handler.get("tcpSocket")
    if tcp_socket is not None and (host := tcp_socket.get("host")):
        bad_hosts.append(host)


def hostProbesAndHostLifecycleV1Dot34(pod: PodView, _: Allowed) -> Forbidden | None:
    bad_containers: set[str] = set()
    forbidden: set[str] = set()
    bad_hosts: list[str] = []
    for c in pod.containers:
        # PROBES and LIFECYCLE_HANDLERS, one after the other as upstream writes them (cheaper than a loop).
        if probe := c.get("livenessProbe"):
            getForbiddenHosts(probe, bad_hosts)
        if probe := c.get("readinessProbe"):
            getForbiddenHosts(probe, bad_hosts)
        if probe := c.get("startupProbe"):
            getForbiddenHosts(probe, bad_hosts)
        if lifecycle := c.get("lifecycle"):
            if handler := lifecycle.get("postStart"):
                getForbiddenHosts(handler, bad_hosts)
            if handler := lifecycle.get("preStop"):
                getForbiddenHosts(handler, bad_hosts)
        if bad_hosts:
            bad_containers.add(c.get("name") or "")
            forbidden.update(bad_hosts)
            bad_hosts.clear()
    if not bad_containers:
        return None
    return Forbidden(
        "probe or lifecycle host",
        f"{containers_phrase(sorted(bad_containers))} {pluralize('uses', 'use', len(bad_containers))}"
        f" {pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(forbidden))}"
        f" {join_quote(sorted(forbidden))}",
    )


CHECK = Check(
    id="hostProbesAndHostLifecycle",
    level="baseline",
    control="Host Probes / Lifecycle Hooks",
    reasons=("probe or lifecycle host",),
    fields=tuple(
        f"spec.{kind}[*].{handler}.{action}.host"
        for kind in ("containers", "initContainers", "ephemeralContainers")
        for handler in (*PROBES, *(f"lifecycle.{h}" for h in LIFECYCLE_HANDLERS))
        for action in HOST_ACTIONS
    ),
    versions=(
        CheckVersion(
            34,
            "hostProbesAndHostLifecycleV1Dot34",
            hostProbesAndHostLifecycleV1Dot34,
            rego="hostProbesAndHostLifecycleV1Dot34",
            change="Forbids a host in the httpGet and tcpSocket handlers of probes and lifecycle hooks.",
        ),
    ),
    doc=__doc__ or "",
)
