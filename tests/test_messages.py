"""Reading PSA's denial text back into checks: the live cluster engine's only way to name what failed.

The texts come from the PSA oracle, never from pssgen's own evaluator, so a reading that merely mirrors pssgen's
rendering cannot pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.parity.corpus import upstream_corpus
from generator.parity.fixtures import project_corpus
from generator.parity.oracle import Oracle
from generator.policy.messages import parse_forbidden, split_head
from generator.policy.model import Result, Violation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    with Oracle() as running:
        yield running


@pytest.mark.tools
def test_every_oracle_denial_of_both_corpora_reads_back_to_its_checks(oracle: Oracle) -> None:
    fixtures = [*upstream_corpus(), *project_corpus()]
    items = [
        (f.object, level, v) for f in fixtures for level in ("baseline", "restricted") for v in ("latest", f.version)
    ]
    denied = 0
    for (_, level, version), verdict in zip(items, oracle.evaluate_many(items), strict=True):
        if verdict.error is not None or verdict.allowed:
            continue
        denied += 1
        text = verdict.message
        head = split_head(text)
        assert head == (level, version, text.split('": ', 1)[1])
        assert parse_forbidden(head[2], level, version) == verdict.violations, text
    assert denied > 10_000  # both corpora, both levels, two versions each


def _detail(*violations: Violation) -> str:
    return Result(False, violations, "baseline", "latest").forbidden_detail


def test_user_text_that_imitates_an_earlier_check_is_kept_inside_its_detail() -> None:
    # A sysctl named like a privileged denial: privileged runs before sysctls, so it cannot follow one.
    sysctls = Violation("sysctls", "forbidden sysctls", "a), privileged (b")
    assert parse_forbidden(_detail(sysctls), "baseline", "latest") == (sysctls,)
    two = (Violation("privileged", "privileged", 'container "x" must not set securityContext.privileged=true'), sysctls)
    assert parse_forbidden(_detail(*two), "baseline", "latest") == two


def test_text_with_no_reading_is_not_attributed() -> None:
    assert parse_forbidden("no such reason (x)", "baseline", "latest") is None
    assert parse_forbidden("privileged (x) and more", "baseline", "latest") is None
    assert parse_forbidden("sysctls (x), privileged (y)", "baseline", "latest") is None  # out of PSA's order
    # ...unless the second piece can be the first one's detail: one check, its detail as written
    assert parse_forbidden("privileged (x), privileged (y)", "baseline", "latest") == (
        Violation("privileged", "privileged", "x), privileged (y"),
    )
    # runAsNonRoot is restricted: a baseline denial never names it
    assert parse_forbidden("runAsNonRoot != true (pod must set it)", "baseline", "latest") is None
    assert parse_forbidden("privileged (x)", "privileged", "latest") is None
    assert parse_forbidden("privileged (x)", "baseline", "v01.2") is None
    assert split_head('pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged') is None
    assert split_head('would violate PodSecurity "restricted:v1.24": x') == ("restricted", "v1.24", "x")


def test_a_reason_without_detail_and_a_newer_version_than_known() -> None:
    assert parse_forbidden("hostPort", "baseline", "v1.99") == (Violation("hostPorts", "hostPort", ""),)
