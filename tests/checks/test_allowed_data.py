"""Every Python implementation reads its allowed values from the version it runs, as the Rego does.

A version's ``allowed`` is the only copy of its values: the evaluator passes it to the
implementation, and the plans in levels.rego pass the same data as a literal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from generator.policy.model import Check, CheckVersion
from generator.policy.pod import pod_view
from generator.policy.registry import CHECKS

# A pod that reaches every comparison with allowed values: each field holds a value no list allows.
EVERYTHING = {
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "annotations": {
            "seccomp.security.alpha.kubernetes.io/pod": "x",
            "container.seccomp.security.alpha.kubernetes.io/a": "x",
            "container.apparmor.security.beta.kubernetes.io/a": "x",
        },
    },
    "spec": {
        "securityContext": {
            "sysctls": [{"name": "x", "value": "1"}],
            "seccompProfile": {"type": "x"},
            "seLinuxOptions": {"type": "x"},
            "appArmorProfile": {"type": "x"},
        },
        "containers": [
            {
                "name": "a",
                "securityContext": {
                    "procMount": "x",
                    "capabilities": {"add": ["x"], "drop": ["x"]},
                    "seccompProfile": {"type": "x"},
                    "seLinuxOptions": {"type": "x"},
                    "appArmorProfile": {"type": "x"},
                },
            }
        ],
        "volumes": [{"name": "v", "nfs": {}}],
    },
}


class Recording(Mapping[str, tuple[str, ...]]):
    """Allowed values that remember which names were read."""

    def __init__(self, data: Mapping[str, tuple[str, ...]]) -> None:
        self.data = data
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> tuple[str, ...]:
        self.read.add(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


VERSIONS = [(c, v) for c in CHECKS for v in c.versions if v.allowed]


@pytest.mark.parametrize(("check", "version"), VERSIONS, ids=[f"{c.id}-{v.name}" for c, v in VERSIONS])
def test_implementation_reads_every_allowed_list(check: Check, version: CheckVersion) -> None:
    allowed = Recording(version.allowed)
    assert version.evaluate(pod_view(EVERYTHING), allowed) is not None, check.id
    assert allowed.read == set(version.allowed), check.id


@pytest.mark.parametrize(("check", "version"), VERSIONS, ids=[f"{c.id}-{v.name}" for c, v in VERSIONS])
def test_no_allowed_values_no_evaluation(check: Check, version: CheckVersion) -> None:
    # Without its data an implementation cannot decide: nothing falls back to a constant of its own.
    with pytest.raises(KeyError):
        version.evaluate(pod_view(EVERYTHING), {})
