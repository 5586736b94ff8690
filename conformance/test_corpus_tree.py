"""The committed project corpus (conformance/corpus) is exactly what generator/parity/fixtures.py builds.

Like upstream's TestFixtures: missing, extra and changed files all fail and
name the command that rewrites the tree; and when the registry has a version
the corpus does not cover (a new PSA release, a new check version), the
failure is a sentence naming the forgotten step.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import pytest

from generator.parity import fixtures
from generator.parity.corpus import load_corpus
from generator.policy.registry import BY_ID, CHECKS
from generator.policy.versions import NEWEST_MINOR

REGENERATE = f"run `{fixtures.REGENERATE}` ({fixtures.MODULE_COMMAND}) and commit the result"


@pytest.fixture(scope="module")
def fresh() -> list[fixtures.Entry]:
    return fixtures.build()


def _listing(title: str, paths: tuple[PurePosixPath, ...]) -> str:
    shown = "\n".join(f"    {p}" for p in paths[:20])
    more = f"\n    ... and {len(paths) - 20} more" if len(paths) > 20 else ""
    return f"  {title} ({len(paths)}):\n{shown}{more}" if paths else ""


def test_committed_tree_equals_a_fresh_build(fresh: list[fixtures.Entry]) -> None:
    diff = fixtures.compare_tree(fixtures.CORPUS_DIR, fixtures.render(fresh))
    parts = [
        _listing("missing", diff.missing),
        _listing("extra", diff.extra),
        _listing("different from a fresh build", diff.changed),
    ]
    assert not diff, f"{fixtures.CORPUS_DIR} is stale: {REGENERATE}\n" + "\n".join(p for p in parts if p)


def test_the_build_covers_every_check_version(fresh: list[fixtures.Entry]) -> None:
    problems = fixtures.coverage_problems(fresh)
    assert not problems, "\n".join(problems)


def test_the_committed_tree_covers_every_check_version() -> None:
    committed = fixtures.entries_from(load_corpus(fixtures.CORPUS_DIR, strict=True))
    problems = fixtures.coverage_problems(committed, fix=REGENERATE)
    assert not problems, "\n".join(problems)


def test_a_registry_version_newer_than_the_corpus_is_named(fresh: list[fixtures.Entry]) -> None:
    """What a PSA release that adds a sysctls version would look like before anyone adds its cases."""
    sysctls = BY_ID["sysctls"]
    newer = dataclasses.replace(
        sysctls.versions[-1], minimum_minor=NEWEST_MINOR + 1, name=f"sysctlsV1Dot{NEWEST_MINOR + 1}"
    )
    doctored = tuple(dataclasses.replace(c, versions=(*c.versions, newer)) if c is sysctls else c for c in CHECKS)
    problems = fixtures.coverage_problems(fresh, doctored, newest=NEWEST_MINOR + 1)
    v = f"v1.{NEWEST_MINOR + 1}"
    assert problems == [
        f"the registry's newest version is {v} (NEWEST_MINOR) but the corpus stops at v1.{NEWEST_MINOR}: "
        f"{fixtures.ADD_CASES}",
        *(
            f"check sysctls has a version {v} (sysctlsV1Dot{NEWEST_MINOR + 1}) with no {expect} fixtures at {level}: "
            f"{fixtures.ADD_CASES}"
            for level in ("baseline", "restricted")
            for expect in ("pass", "fail")
        ),
        f"check sysctls's version {v} (sysctlsV1Dot{NEWEST_MINOR + 1}) changes no fixture's verdict: add a case in "
        f"generator/parity/fixtures.py that v1.{NEWEST_MINOR} and {v} judge differently, and run `make corpus`",
    ]


def test_a_check_without_cases_is_named(fresh: list[fixtures.Entry]) -> None:
    privileged = BY_ID["privileged"]
    renamed = dataclasses.replace(privileged, id="privilegedTwin")
    problems = fixtures.coverage_problems(fresh, (*CHECKS, renamed))
    assert "check privilegedTwin has no case generator: add one to GENERATORS in generator/parity/fixtures.py" in (
        problems
    )
    assert f"check privilegedTwin runs at baseline but has no fail fixtures there: {fixtures.ADD_CASES}" in problems


def test_every_check_has_pass_and_fail_fixtures_at_each_level_it_runs(fresh: list[fixtures.Entry]) -> None:
    """Spelled out apart from coverage_problems: the levels each check's fixtures sit at, per PSA's registry."""
    levels = {(e.check, e.level, e.expect) for e in fresh if e.check is not None}
    for check in CHECKS:
        for level in ("baseline", "restricted"):
            runs = any(fixtures.applies(check, level, m) for m in range(NEWEST_MINOR + 1))
            for expect in ("pass", "fail"):
                assert ((check.id, level, expect) in levels) is runs, (check.id, level, expect)
    # hostPathVolumes never runs at restricted (restrictedVolumes overrides it from v1.0); restrictedVolumes only there.
    assert ("hostPathVolumes", "restricted", "fail") not in levels
    assert ("restrictedVolumes", "baseline", "fail") not in levels


def test_fixtures_sit_either_side_of_each_boundary(fresh: list[fixtures.Entry]) -> None:
    """Each version's first minor, the one before each later version, and the newest, wherever the check runs."""
    minors: dict[tuple[str | None, str], set[int]] = {}
    for e in fresh:
        minors.setdefault((e.check, e.level), set()).add(e.minor)
    for check in CHECKS:
        for level in ("baseline", "restricted"):
            have = minors.get((check.id, level), set())
            for i, version in enumerate(check.versions):
                m = version.minimum_minor
                if fixtures.applies(check, level, m):
                    assert m in have, (check.id, level, m)
                    assert i == 0 or m - 1 in have, (check.id, level, m - 1)
            assert fixtures.applies(check, level, NEWEST_MINOR) is (NEWEST_MINOR in have), (check.id, level)
    # capabilities_baseline runs at restricted until capabilities_restricted overrides it: the last minor it runs.
    stops = BY_ID["capabilities_restricted"].first_minor
    assert max(minors[("capabilities_baseline", "restricted")]) == stops - 1
    assert ("capabilities_baseline", "restricted") in minors and stops not in minors[
        ("capabilities_baseline", "restricted")
    ]


def test_every_file_says_it_is_generated(fresh: list[fixtures.Entry]) -> None:
    for entry in fresh:
        text = entry.text()
        assert text.startswith("# generated by pssgen; do not edit"), entry.path
        assert f"\n# {entry.why}\n" in text and "\n" not in entry.why


def test_write_makes_a_tree_exact(tmp_path: Path) -> None:
    files = {PurePosixPath("README.md"): "x\n", PurePosixPath("baseline/v1.0/pass/base.yaml"): "kind: Pod\n"}
    stale = tmp_path / "baseline" / "v1.9" / "fail" / "old0.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("kind: Pod\n")
    (tmp_path / "README.md").write_text("old\n")
    diff = fixtures.write(tmp_path, files)
    assert diff.missing == (PurePosixPath("baseline/v1.0/pass/base.yaml"),)
    assert diff.extra == (PurePosixPath("baseline/v1.9/fail/old0.yaml"),)
    assert diff.changed == (PurePosixPath("README.md"),)
    assert not fixtures.compare_tree(tmp_path, files)
    assert not (tmp_path / "baseline" / "v1.9").exists()
