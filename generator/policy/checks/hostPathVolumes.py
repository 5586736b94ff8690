"""HostPath Volumes.

HostPath volumes must be forbidden.

**Restricted Fields:**

spec.volumes[*].hostPath

**Allowed Values:** undefined/null
"""

from __future__ import annotations

from generator.policy.checks._helpers import join_quote, pluralize
from generator.policy.model import Allowed, Check, CheckVersion, Forbidden
from generator.policy.pod import PodView


def hostPathVolumes_1_0(pod: PodView, _: Allowed) -> Forbidden | None:
    host_volumes = [v.get("name") or "" for v in pod.volumes if v.get("hostPath") is not None]
    if not host_volumes:
        return None
    return Forbidden(
        "hostPath volumes",
        f"{pluralize('volume', 'volumes', len(host_volumes))} {join_quote(host_volumes)}",
    )


CHECK = Check(
    id="hostPathVolumes",
    level="baseline",
    control="HostPath Volumes",
    reasons=("hostPath volumes",),
    fields=("spec.volumes[*].hostPath",),
    versions=(
        CheckVersion(
            0,
            "hostPathVolumes_1_0",
            hostPathVolumes_1_0,
            rego="hostPathVolumes_1_0",
            change="Forbids hostPath volumes.",
        ),
    ),
    doc=__doc__ or "",
)
