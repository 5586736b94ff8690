"""PSA's label resolution (api.PolicyToEvaluate), case by case."""

from __future__ import annotations

from generator.policy.namespaces import LevelVersion, default_policy, policy_from_labels
from generator.policy.versions import LATEST, Version

P = "pod-security.kubernetes.io/"
DEFAULTS = default_policy("baseline", Version(30))


def lv(level: str, version: Version = LATEST) -> LevelVersion:
    return LevelVersion(level, version)


def test_no_labels_keeps_defaults() -> None:
    assert policy_from_labels({}, DEFAULTS) == DEFAULTS
    assert policy_from_labels(None, DEFAULTS) == DEFAULTS
    assert policy_from_labels({"app": "x"}, DEFAULTS).enforce == lv("baseline", Version(30))


def test_labels_override_defaults() -> None:
    labels = {P + "enforce": "restricted", P + "enforce-version": "v1.25", P + "audit": "baseline"}
    p = policy_from_labels(labels, DEFAULTS)
    assert p.enforce == lv("restricted", Version(25))
    assert p.audit == lv("baseline")
    assert p.errors == ()


def test_warn_follows_a_stricter_enforce_level_and_its_version() -> None:
    p = policy_from_labels({P + "enforce": "restricted", P + "enforce-version": "v1.25"}, DEFAULTS)
    assert p.warn == lv("restricted", Version(25))
    p = policy_from_labels({P + "enforce": "restricted", P + "warn-version": "v1.20"}, DEFAULTS)
    assert p.warn == lv("restricted", Version(20))
    p = policy_from_labels({P + "enforce": "restricted", P + "warn": "privileged"}, DEFAULTS)
    assert p.warn == lv("privileged")


def test_warn_does_not_follow_a_defaulted_or_invalid_enforce() -> None:
    p = policy_from_labels({P + "enforce-version": "v1.25"}, DEFAULTS)
    assert p.enforce == lv("baseline", Version(25)) and p.warn == lv("privileged")
    p = policy_from_labels({P + "enforce": "strict"}, DEFAULTS)
    assert p.enforce.level == "restricted" and p.warn == lv("privileged")
    assert p.errors and "enforce" in p.errors[0]


def test_invalid_values_fail_as_psa_does() -> None:
    p = policy_from_labels(
        {P + "audit": "nope", P + "warn": "Baseline", P + "audit-version": "v1.05", P + "warn-version": "1.2"},
        DEFAULTS,
    )
    assert p.audit == lv("privileged") and p.warn == lv("privileged")
    assert len(p.errors) == 4


def test_errors_are_psa_field_errors_word_for_word() -> None:
    # api.PolicyToEvaluate's appendErr: field.Invalid(metadata.labels[<key>], value, ParseLevel's/ParseVersion's
    # error), whose Error() Go-quotes a string value (%q), in PSA's order: enforce, audit, warn, level before version.
    p = policy_from_labels(
        {P + "warn-version": "v1.5\n", P + "audit": 'lo"ud', P + "enforce-version": "v1.05", P + "enforce": "strict"},
        DEFAULTS,
    )
    assert p.errors == (
        'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": '
        "must be one of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "v1.05": '
        'must be "latest" or "v1.x"',
        'metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "lo\\"ud": '
        "must be one of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "v1.5\\n": '
        'must be "latest" or "v1.x"',
    )


def test_a_minor_beyond_go_int_is_invalid_as_strconv_atoi_refuses_it() -> None:
    # ParseVersion: the regexp matches, then strconv.Atoi fails with a range error above 2**63-1.
    p = policy_from_labels({P + "enforce-version": f"v1.{2**63}"}, DEFAULTS)
    assert p.enforce == lv("baseline", LATEST) and len(p.errors) == 1
    p = policy_from_labels({P + "enforce-version": f"v1.{2**63 - 1}"}, DEFAULTS)
    assert p.enforce == lv("baseline", Version(2**63 - 1)) and p.errors == ()
    assert str(p.enforce) == f"baseline:v1.{2**63 - 1}"  # judged as the newest, printed as written


def test_an_empty_level_is_invalid_and_an_empty_labels_map_is_none() -> None:
    p = policy_from_labels({P + "enforce": "", P + "warn": ""}, DEFAULTS)
    assert p.enforce == lv("restricted", Version(30)) and p.warn == lv("privileged")
    assert [e.split(": Invalid")[0] for e in p.errors] == [
        "metadata.labels[pod-security.kubernetes.io/enforce]",
        "metadata.labels[pod-security.kubernetes.io/warn]",
    ]
