from __future__ import annotations

import pytest

from generator.policy.versions import LATEST, NEWEST_MINOR, Version, VersionError, parse_level, parse_version


@pytest.mark.parametrize("text", ["latest", "v1.0", "v1.9", "v1.10", "v1.37", "v1.99"])
def test_accepts_psa_forms(text: str) -> None:
    assert str(parse_version(text)) == text


@pytest.mark.parametrize(
    "text", ["v1.2\n", "", "1.25", "v1.05", "v1.22.0", "v2.0", "V1.2", "v1.", "v1.-1", " latest", "Latest"]
)
def test_rejects_other_forms(text: str) -> None:
    with pytest.raises(VersionError, match=r'must be "latest" or "v1\.x"'):
        parse_version(text)


def test_clamping() -> None:
    assert LATEST.resolved_minor == NEWEST_MINOR
    assert Version(NEWEST_MINOR + 40).resolved_minor == NEWEST_MINOR
    assert Version(3).resolved_minor == 3


def test_levels() -> None:
    assert parse_level("baseline") == "baseline"
    with pytest.raises(VersionError, match="privileged, baseline, restricted"):
        parse_level("Baseline")
