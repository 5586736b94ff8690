"""The corpus loader: upstream's fixture naming, its counts, and what a bad corpus directory looks like."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from generator.parity.corpus import (
    EXPECTED_SUBSTRINGS,
    CorpusError,
    Fixture,
    expected_substring,
    fixture_prefix,
    load_corpus,
    upstream_corpus,
)

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: i\n"


@pytest.fixture(scope="module")
def upstream() -> list[Fixture]:
    return upstream_corpus()


def _write(root: Path, relative: str, text: str | None = None) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(POD.format(name=path.stem) if text is None else text)
    return path


@pytest.mark.parametrize(
    ("stem", "prefix"),
    [
        ("base", "base"),
        ("base_linux", "base_linux"),
        ("base_windows", "base_windows"),
        ("sysctls1", "sysctls"),
        ("restrictedvolumes19", "restrictedvolumes"),
        ("capabilities_baseline3", "capabilities_baseline"),
        ("procmount_restricted0", "procmount_restricted"),
        ("seccompprofile_baseline12", "seccompprofile_baseline"),
    ],
)
def test_prefix_strips_only_trailing_digits(stem: str, prefix: str) -> None:
    assert fixture_prefix(stem) == prefix


@pytest.mark.parametrize(
    ("prefix", "substring"),
    [
        # upstream generators that set expectErrorSubstring
        ("apparmorprofile", "forbidden AppArmor profile"),
        ("capabilities_baseline", "capabilities"),
        ("capabilities_restricted", "unrestricted capabilities"),
        ("hostnamespaces", "host namespaces"),
        ("hostpathvolumes", "hostPath"),
        ("hostports", "hostPort"),
        ("hostprobesandhostlifecycle", "probe or lifecycle host"),
        ("privileged", "privileged"),
        ("procmount", "procMount"),
        ("procmount_restricted", "procMount"),
        ("restrictedvolumes", "restricted volume types"),
        ("seccompprofile_baseline", "seccompProfile"),
        ("seccompprofile_restricted", "seccompProfile"),
        ("selinuxoptions", "seLinuxOptions"),
        ("sysctls", "forbidden sysctl"),
        ("windowshostprocess", "hostProcess"),
        # generators without one: upstream falls back to the check ID
        ("allowprivilegeescalation", "allowPrivilegeEscalation"),
        ("runasnonroot", "runAsNonRoot"),
        ("runasuser", "runAsUser"),
    ],
)
def test_expected_substring_per_prefix(prefix: str, substring: str) -> None:
    assert expected_substring(prefix) == substring


def test_pass_only_prefixes_have_no_substring() -> None:
    for prefix in ("base", "base_linux", "base_windows", "nosuchcheck"):
        assert expected_substring(prefix) is None
    assert len(EXPECTED_SUBSTRINGS) == 19


def test_upstream_counts_per_level(upstream: list[Fixture]) -> None:
    counts = Counter((f.level, f.expect) for f in upstream)
    assert counts == {
        ("baseline", "pass"): 433,
        ("baseline", "fail"): 1122,
        ("restricted", "pass"): 618,
        ("restricted", "fail"): 2364,
    }
    assert len(upstream) == 4537


def test_upstream_covers_every_version_of_both_levels(upstream: list[Fixture]) -> None:
    minors = {level: {f.minor for f in upstream if f.level == level} for level in ("baseline", "restricted")}
    assert minors == {"baseline": set(range(38)), "restricted": set(range(38))}


def test_upstream_substrings_match_expectation(upstream: list[Fixture]) -> None:
    assert all(f.substring is None for f in upstream if f.expect == "pass")
    assert all(f.substring for f in upstream if f.expect == "fail")
    restricted_volumes = [f for f in upstream if f.id == "restricted/v1.37/fail/restrictedvolumes0"]
    assert [f.substring for f in restricted_volumes] == ["restricted volume types"]


def test_upstream_fixture_identity_and_content(upstream: list[Fixture]) -> None:
    by_id = {f.id: f for f in upstream}
    assert len(by_id) == len(upstream), "fixture ids must be unique"
    privileged = by_id["restricted/v1.37/fail/privileged0"]
    assert (privileged.level, privileged.minor, privileged.version) == ("restricted", 37, "v1.37")
    assert privileged.path.name == "privileged0.yaml"
    assert privileged.path.parent.parent.parent.parent.name == "testdata"
    assert privileged.object["kind"] == "Pod"
    assert privileged.object["metadata"]["name"] == "privileged0"
    assert "base_windows" not in {f.path.stem for f in upstream if f.minor < 29}
    assert by_id["restricted/v1.29/pass/base_windows"].substring is None


def test_upstream_order_is_deterministic(upstream: list[Fixture]) -> None:
    keys = [(f.level != "baseline", f.minor, f.expect != "pass", f.path.name) for f in upstream]
    assert keys == sorted(keys)
    assert upstream[0].id == "baseline/v1.0/pass/apparmorprofile0"
    assert upstream[-1].id == "restricted/v1.37/fail/windowshostprocess1"


def test_user_directory_laid_out_like_upstream(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "not a fixture\n")
    _write(tmp_path, "restricted/v1.10/fail/privileged0.yaml")
    _write(tmp_path, "restricted/v1.2/fail/runasuser1.yaml")
    _write(tmp_path, "restricted/v1.2/pass/base.yaml")
    _write(tmp_path, "baseline/v1.0/fail/mycase3.yml")
    _write(tmp_path, "baseline/v1.0/pass/.hidden.yaml")

    fixtures = load_corpus(tmp_path)

    assert [f.id for f in fixtures] == [
        "baseline/v1.0/fail/mycase3",
        "restricted/v1.2/pass/base",
        "restricted/v1.2/fail/runasuser1",
        "restricted/v1.10/fail/privileged0",
    ]
    assert [f.substring for f in fixtures] == [None, None, "runAsUser", "privileged"]
    assert fixtures[3].object == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged0"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    assert fixtures[3].path == tmp_path / "restricted/v1.10/fail/privileged0.yaml"


def test_strict_loading_requires_known_fail_prefixes(tmp_path: Path) -> None:
    _write(tmp_path, "baseline/v1.0/fail/mycase3.yaml")
    with pytest.raises(CorpusError, match="no expected message substring for prefix 'mycase'"):
        load_corpus(tmp_path, strict=True)


@pytest.mark.parametrize(
    ("relative", "text", "message"),
    [
        ("privileged/v1.0/pass/base.yaml", None, "level directory must be one of baseline, restricted"),
        ("baseline/1.0/pass/base.yaml", None, "version directory must be named v1.N"),
        ("baseline/v1.05/pass/base.yaml", None, "version directory must be named v1.N"),
        ("baseline/latest/pass/base.yaml", None, "version directory must be named v1.N"),
        ("baseline/v1.0/ok/base.yaml", None, "must be named pass or fail"),
        ("baseline/v1.0/pass/base.json", None, "only .yaml fixture files belong here"),
        ("baseline/v1.0/pass/nested/base.yaml", None, "only .yaml fixture files belong here"),
        ("baseline/v1.0/base.yaml", None, "unexpected file where a pass/fail directory belongs"),
        ("baseline/base.yaml", None, "unexpected file where a version directory belongs"),
        ("base.yaml", None, "unexpected file where a level directory belongs"),
        ("baseline/v1.0/pass/base.yaml", "- a list\n", "exactly one YAML mapping"),
        ("baseline/v1.0/pass/base.yaml", "", r"exactly one YAML mapping \(found 0"),
        ("baseline/v1.0/pass/base.yaml", "kind: Pod\n---\nkind: Pod\n", r"exactly one YAML mapping \(found 2"),
        ("baseline/v1.0/pass/base.yaml", "kind: [Pod\n", "cannot read YAML"),
    ],
)
def test_bad_layout_raises_a_clear_error(tmp_path: Path, relative: str, text: str | None, message: str) -> None:
    _write(tmp_path, relative, text)
    with pytest.raises(CorpusError, match=message):
        load_corpus(tmp_path)


def test_missing_or_empty_corpus_raises(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")
    (tmp_path / "baseline" / "v1.0" / "pass").mkdir(parents=True)
    with pytest.raises(CorpusError, match="no fixtures found"):
        load_corpus(tmp_path)
