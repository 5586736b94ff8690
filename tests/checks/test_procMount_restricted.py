"""procMount_restricted: only Default (or unset) from v1.35, with no user-namespace relaxation."""

from __future__ import annotations

import pytest

from generator.policy.checks import procMount
from generator.policy.checks.procMount_restricted import CHECK
from generator.policy.pod import pod_view

REASON = "procMount"


def view(spec):
    return pod_view({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def evaluated(spec, level, version):
    from generator.policy.evaluate import evaluate

    return evaluate({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, level, version)


def reported(spec, version, check_id=CHECK.id, level="restricted"):
    found = [(v.reason, v.detail) for v in evaluated(spec, level, version).violations if v.check == check_id]
    return found[0] if found else None


def test_versions():
    assert CHECK.level == "restricted"
    assert CHECK.control == "/proc Mount Type"
    (only,) = CHECK.versions
    assert (only.minimum_minor, only.name) == (35, "procMount_1_0")
    assert only.overrides == ("procMount",)
    # Upstream's procMount_restricted runs the baseline check's procMount_1_0, with its allowed values.
    assert only.evaluate is procMount.procMount_1_0
    assert only.rego == "procMount.procMount_1_0"
    assert only.relaxations == ()
    assert only.allowed == {"proc_mount_types": ("Default",)}
    assert only.change
    assert CHECK.version_at(34) is None


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {
                "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {}},
                    {"name": "c", "securityContext": {"procMount": "Default"}},
                    {"name": "n", "securityContext": {"procMount": None}},
                ]
            },
            None,
            id="unset-or-default",
        ),
        pytest.param(
            {"containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]},
            'container "a" must not set securityContext.procMount to "Unmasked"',
            id="singular",
        ),
        pytest.param(
            {
                "initContainers": [{"name": "i", "securityContext": {"procMount": "other"}}],
                "containers": [
                    {"name": "c", "securityContext": {"procMount": "Unmasked"}},
                    {"name": "ok", "securityContext": {"procMount": "Default"}},
                ],
                "ephemeralContainers": [{"name": "e", "securityContext": {"procMount": "Unmasked"}}],
            },
            'containers "i", "c", "e" must not set securityContext.procMount to "Unmasked", "other"',
            id="init-regular-ephemeral-sorted-unique-types",
        ),
    ],
)
def test_procMount_1_0(spec, detail):
    forbidden = CHECK.versions[0].evaluate(view(spec), CHECK.versions[0].allowed)
    assert (None if forbidden is None else (forbidden.reason, forbidden.detail)) == (
        None if detail is None else (REASON, detail)
    )


UNMASKED = {"containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]}
DETAIL = 'container "a" must not set securityContext.procMount to "Unmasked"'


@pytest.mark.parametrize(
    ("host_users", "version", "by_check"),
    [
        # Before v1.35 the baseline procMount check runs at restricted, unrelaxed.
        (None, "v1.0", "procMount"),
        (False, "v1.34", "procMount"),
        # From v1.35 procMount_restricted replaces it and never relaxes.
        (None, "v1.35", CHECK.id),
        (True, "v1.35", CHECK.id),
        (False, "v1.35", CHECK.id),
        (False, "latest", CHECK.id),
    ],
)
def test_restricted_reports_unmasked(host_users, version, by_check):
    spec = UNMASKED if host_users is None else {**UNMASKED, "hostUsers": host_users}
    result = evaluated(spec, "restricted", version)
    assert [(v.check, v.reason, v.detail) for v in result.violations if v.check.startswith("procMount")] == [
        (by_check, REASON, DETAIL)
    ]


def test_user_namespaced_unmasked_allowed_at_baseline_but_not_restricted():
    spec = {**UNMASKED, "hostUsers": False}
    assert evaluated(spec, "baseline", "v1.35").allowed
    assert reported(spec, "v1.34", "procMount", level="baseline") == (REASON, DETAIL)
    assert reported(spec, "v1.35") == (REASON, DETAIL)


def test_windows_pods_are_not_exempt():
    assert reported({**UNMASKED, "os": {"name": "windows"}}, "latest") == (REASON, DETAIL)
