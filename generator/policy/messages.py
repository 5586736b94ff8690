"""Reading PSA's denial and warning text back into the checks that failed.

Why: a live API server answers with text only (``pods "x" is forbidden: violates
PodSecurity "restricted:latest": reason (detail), ...``), never with check IDs.
The cluster engine turns that text into the Result every engine returns, so its
reports line up with the other engines' check by check.

The text is PSA's ``reason (detail)`` pairs joined with ", ", in the order PSA
runs its checks. Details hold user text (container names, sysctl names, profile
values) that may itself contain ", " or parentheses, so the text is split only
where a known reason of that level and version starts, the checks must come in
PSA's order, and the pieces must render back to exactly the same text. Where
user text imitates a later check's ``), reason (`` the reading is ambiguous; the
finest split wins (each detail ends at its first possible ``)``), which is PSA's
own text whenever no detail holds such a sequence. The verdict never depends on
this reading; a text with no reading at all is left to the caller as it stands.
"""

from __future__ import annotations

import re
from functools import cache

from generator.policy.model import ENFORCE_HEAD, WARN_HEAD, Violation
from generator.policy.registry import active_checks
from generator.policy.versions import parse_version

_HEAD = re.compile(rf'^(?:{re.escape(WARN_HEAD)}|{re.escape(ENFORCE_HEAD)}) "([^":]+):([^"]+)": ')


@cache
def _reasons(level: str, minor: int) -> tuple[tuple[str, str, int], ...]:
    """(reason, check ID, PSA's position of the check) for every reason PSA can report at ``level`` and ``minor``."""
    return tuple(
        (reason, check.id, position)
        for position, (check, _) in enumerate(active_checks(level, minor))
        for reason in check.reasons
    )


def split_head(text: str) -> tuple[str, str, str] | None:
    """``(level, version, forbidden detail)`` of a ``violates PodSecurity "l:v": ...`` text, or None."""
    match = _HEAD.match(text)
    if match is None:
        return None
    return match.group(1), match.group(2), text[match.end() :]


def parse_forbidden(detail: str, level: str, version: str) -> tuple[Violation, ...] | None:
    """The violations whose ``reason (detail)`` pairs, joined as PSA joins them, are exactly ``detail``.

    None when no reading exists (a reason this level and version never reports, text out of order).
    """
    try:
        minor = parse_version(version).resolved_minor
    except ValueError:
        return None
    if level not in ("baseline", "restricted"):
        return None
    reasons = _reasons(level, minor)
    found: list[tuple[Violation, ...]] = []

    def walk(start: int, after: int, sofar: tuple[Violation, ...]) -> None:
        if found:
            return
        for reason, check_id, position in reasons:
            if position <= after or not detail.startswith(reason, start):
                continue
            rest = start + len(reason)
            if rest == len(detail):
                found.append((*sofar, Violation(check_id, reason, "")))
                continue
            if detail.startswith(", ", rest):
                walk(rest + 2, position, (*sofar, Violation(check_id, reason, "")))
            if detail.startswith(" (", rest):
                for close in _closings(detail, rest + 2):
                    violation = Violation(check_id, reason, detail[rest + 2 : close])
                    if close + 1 == len(detail):
                        found.append((*sofar, violation))
                    else:
                        walk(close + 3, position, (*sofar, violation))

    walk(0, -1, ())
    return found[0] if found else None


def _closings(text: str, start: int) -> list[int]:
    """Positions of ``)`` after ``start`` that end the text or are followed by ", ": where a detail may end."""
    ends = []
    at = text.find(")", start)
    while at != -1:
        if at + 1 == len(text) or text.startswith(", ", at + 1):
            ends.append(at)
        at = text.find(")", at + 1)
    return ends
