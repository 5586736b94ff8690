"""The catalogue of controls and checks in force at a level and version, for humans and machines."""

from __future__ import annotations

import json
from typing import Any

from generator.registry import active_checks
from generator.versions import Version


def catalogue(level: str, version: Version) -> list[dict[str, Any]]:
    """One entry per active check, in PSA's evaluation order."""
    entries = []
    for check, impl in active_checks(level, version.resolved_minor):
        entries.append(
            {
                "check": check.id,
                "control": check.control,
                "level": check.level,
                "since": f"v1.{check.first_minor}",
                "implementation": impl.name,
                "implementation_since": f"v1.{impl.minimum_minor}",
                "overrides": list(check.overrides),
                "fields": list(check.fields),
                "allowed": {k: list(v) for k, v in impl.allowed.items()},
                "exempt_windows": impl.exempt_windows,
                "relax_user_namespaces": impl.relax_user_namespaces,
            }
        )
    return entries


def catalogue_table(level: str, version: Version, entries: list[dict[str, Any]]) -> str:
    """A fixed-width table; allowed values are summarised by count so lines stay readable."""
    header = f"PSS {level}:{version}"
    if version.minor is None or version.minor != version.resolved_minor:
        header += f" (evaluated as v1.{version.resolved_minor})"
    if not entries:
        return f"{header}: no checks (the privileged level allows everything)"
    rows = [("CONTROL", "CHECK", "LEVEL", "SINCE", "IMPLEMENTATION", "NOTES")]
    for e in entries:
        notes = []
        if e["exempt_windows"]:
            notes.append("Windows pods exempt")
        if e["relax_user_namespaces"]:
            notes.append("hostUsers=false exempt")
        for name, values in e["allowed"].items():
            shown = ", ".join(json.dumps(v) for v in values) if len(values) <= 3 else f"{len(values)} values"
            notes.append(f"{name}: {shown}")
        rows.append(
            (e["control"], e["check"], e["level"], e["since"], e["implementation"], ", ".join(notes) or "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [header, ""]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines)
