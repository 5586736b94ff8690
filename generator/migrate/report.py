"""What ``pssgen migrate-psp`` says about each PSP and namespace: built once, printed as text, JSON or markdown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from generator.migrate.proof import DEFAULT_PODS, DEFAULT_SEED, Proof, prove, unmutated_verdict
from generator.migrate.rbac import EVERY_NAMESPACE, Grants
from generator.policy import psp as pspmap
from generator.policy.registry import BY_ID
from generator.policy.versions import LEVELS, NEWEST_MINOR, all_minors

LABEL: Final = "pod-security.kubernetes.io/enforce"
_RANK: Final = {level: i for i, level in enumerate(LEVELS)}


def minor_ranges(minors: Iterable[int]) -> str:
    """``v1.0-v1.18, v1.34+``: consecutive minors joined, the newest open-ended."""
    spans: list[list[int]] = []
    for minor in sorted(minors):
        if spans and spans[-1][1] == minor - 1:
            spans[-1][1] = minor
        else:
            spans.append([minor, minor])
    return ", ".join(
        f"v1.{a}+" if b == NEWEST_MINOR and a != b else f"v1.{a}" if a == b else f"v1.{a}-v1.{b}" for a, b in spans
    )


@dataclass(frozen=True)
class OpenField:
    """A check a PSP leaves open, the PSP field and value responsible, at which versions."""

    check: str
    level: str
    field: str
    value: str
    why: str
    minors: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "control": BY_ID[self.check].control,
            "level": self.level,
            "field": self.field,
            "value": self.value,
            "why": self.why,
            "versions": minor_ranges(self.minors),
        }


@dataclass(frozen=True)
class Suggestion:
    level: str
    version: str  # "latest" for privileged, else the newest version at which the level holds

    @property
    def labels(self) -> dict[str, str]:
        labels = {LABEL: self.level}
        if self.version != "latest":
            labels[f"{LABEL}-version"] = self.version
        return labels


def suggest(levels: Mapping[int, str]) -> Suggestion:
    """The strictest level reached at any version, pinned to the newest version where it holds (a newer version
    may add a check the PSP never had: v1.34 did)."""
    best = max(levels.values(), key=_RANK.__getitem__)
    if best == "privileged":
        return Suggestion(best, "latest")
    return Suggestion(best, f"v1.{max(m for m, level in levels.items() if level == best)}")


@dataclass
class PspReport:
    """Everything reported about one PSP."""

    where: str  # "file: document N[ item M]"
    source: str
    document: int
    item: int | None
    psp: pspmap.Psp
    levels: dict[int, str]
    suggestion: Suggestion
    open: list[OpenField]
    # Each default with PSA's words for the pod without it at the suggested level and at restricted (None: allowed).
    mutations: list[tuple[pspmap.Mutation, str | None, str | None]]
    unmapped: tuple[pspmap.Unmapped, ...]
    proof: Proof

    def level_ranges(self) -> list[tuple[str, str]]:
        """(level, versions) in version order."""
        out: list[tuple[str, list[int]]] = []
        for minor in all_minors():
            level = self.levels[minor]
            if out and out[-1][0] == level:
                out[-1][1].append(minor)
            else:
                out.append((level, [minor]))
        return [(level, minor_ranges(minors)) for level, minors in out]

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"source": self.source, "document": self.document}
        if self.item is not None:
            entry["item"] = self.item
        entry |= {
            "name": self.psp.name,
            "levels": [{"level": level, "versions": versions} for level, versions in self.level_ranges()],
            "suggested": {
                "level": self.suggestion.level,
                "version": self.suggestion.version,
                "labels": self.suggestion.labels,
            },
            "open": [o.as_dict() for o in self.open],
            "mutations": [
                {
                    "field": m.field,
                    "value": m.value,
                    "effect": m.effect,
                    "change": m.change,
                    "without_it": {
                        "suggested": at_suggested or "allowed",
                        f"restricted:v1.{NEWEST_MINOR}": at_restricted or "allowed",
                    },
                }
                for m, at_suggested, at_restricted in self.mutations
            ],
            "unmapped": [{"field": u.field, "value": u.value, "why": u.why} for u in self.unmapped],
            "proof": {
                "pods": self.proof.pods,
                "verdicts": self.proof.verdicts,
                "witnesses": self.proof.witnesses,
                "failures": [f.message for f in self.proof.failures],
            },
        }
        return entry


def build(
    psp: pspmap.Psp,
    where: str,
    source: str,
    document: int,
    item: int | None,
    *,
    pods: int = DEFAULT_PODS,
    seed: int = DEFAULT_SEED,
) -> PspReport:
    """The mapping of ``psp`` at every version, and its proof."""
    levels = {minor: pspmap.level_at(psp, minor) for minor in all_minors()}
    suggestion = suggest(levels)
    grouped: dict[tuple[str, str, str, str, str], list[int]] = {}
    for minor in all_minors():
        for level in ("baseline", "restricted"):
            for found in pspmap.openings(psp, level, minor):
                if BY_ID[found.check].level != level:
                    continue  # a baseline check run at restricted: reported once, at baseline
                o = found.opening
                grouped.setdefault((found.check, level, o.field, o.value, o.why), []).append(minor)
    open_fields = [OpenField(c, lv, f, v, w, tuple(m)) for (c, lv, f, v, w), m in grouped.items()]
    open_fields.sort(key=lambda o: (_RANK[o.level], o.check, o.field))
    version = suggestion.version if suggestion.version != "latest" else f"v1.{NEWEST_MINOR}"
    newest = f"v1.{NEWEST_MINOR}"
    mutations = [
        (m, unmutated_verdict(psp, m, suggestion.level, version), unmutated_verdict(psp, m, "restricted", newest))
        for m in pspmap.mutations(psp)
    ]
    return PspReport(
        where,
        source,
        document,
        item,
        psp,
        levels,
        suggestion,
        open_fields,
        mutations,
        pspmap.unmapped(psp),
        prove(psp, pods=pods, seed=seed),
    )


# ---------------------------------------------------------------- namespaces


@dataclass(frozen=True)
class NamespaceSuggestion:
    namespace: str  # "*": every namespace without a grant of its own
    psps: tuple[str, ...]
    unknown: tuple[str, ...]  # PSPs granted that are not in the input
    suggestion: Suggestion

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "psps": list(self.psps),
            "unknown_psps": list(self.unknown),
            "suggested": {
                "level": self.suggestion.level,
                "version": self.suggestion.version,
                "labels": self.suggestion.labels,
            },
        }


def namespace_suggestions(grants: Grants, reports: Sequence[PspReport]) -> list[NamespaceSuggestion]:
    """Per namespace, the loosest level of the PSPs its pods could use, at each version: any of them could have
    admitted a pod. A PSP named but not in the input could admit anything: privileged."""
    by_name = {r.psp.name: r for r in reports}
    out = []
    for namespace in sorted(grants.by_namespace, key=lambda n: (n == EVERY_NAMESPACE, n)):
        names = grants.usable(namespace)
        known = tuple(sorted(n for n in names if n in by_name))
        unknown = tuple(sorted(n for n in names if n not in by_name))
        levels = {
            minor: "privileged"
            if unknown
            else min((by_name[n].levels[minor] for n in known), key=_RANK.__getitem__, default="restricted")
            for minor in all_minors()
        }
        out.append(NamespaceSuggestion(namespace, known, unknown, suggest(levels)))
    return out


# ---------------------------------------------------------------- text and markdown


def _labels_text(suggestion: Suggestion) -> str:
    return ", ".join(f"{k}={v}" for k, v in suggestion.labels.items())


def text_lines(report: PspReport) -> list[str]:
    """The report of one PSP as indented lines."""
    levels = "; ".join(f"{level} at {versions}" for level, versions in report.level_ranges())
    lines = [
        f'{report.where}: podsecuritypolicies "{report.psp.name}": {levels}',
        f"  suggested: {_labels_text(report.suggestion)}",
    ]
    for level in ("baseline", "restricted"):
        found = [o for o in report.open if o.level == level]
        if found:
            lines.append(f"  keeps it from {level}:")
            for o in found:
                value = f" = {o.value}" if o.value else ""
                lines.append(f"    {o.check} ({o.minors and minor_ranges(o.minors)}): {o.field}{value}: {o.why}")
    if report.mutations:
        lines.append("  defaults PSA will not apply (pods that relied on them change):")
        at = f"{report.suggestion.level}:{report.suggestion.version}"
        for m, at_suggested, at_restricted in report.mutations:
            outcome = f"denied at {at}: {at_suggested}" if at_suggested else f"allowed at {at}"
            if report.suggestion.level != "restricted":
                outcome += f"; at restricted:v1.{NEWEST_MINOR}: " + (
                    f"denied: {at_restricted}" if at_restricted else "allowed"
                )
            lines.append(f"    {m.field} = {m.value}: {m.effect}; {m.change} (without it: {outcome})")
    if report.unmapped:
        lines.append("  no PSS equivalent (PSA will not enforce):")
        lines += [f"    {u.field} = {u.value}: {u.why}" for u in report.unmapped]
    proof = report.proof
    if proof.ok:
        lines.append(
            f"  proof: {proof.pods} pods the PSP admits, {proof.verdicts} verdicts: each allowed at the level "
            f"claimed for its version, {proof.witnesses} witnesses denied by the check named"
        )
    else:
        lines.append(f"  proof FAILED ({len(proof.failures)}): {proof.failures[0].message}")
    return lines


def namespace_lines(suggestions: Sequence[NamespaceSuggestion], notes: Sequence[str]) -> list[str]:
    lines = ["namespaces (from RBAC: who may use which PSP):"] if suggestions or notes else []
    for s in suggestions:
        where = "every other namespace" if s.namespace == EVERY_NAMESPACE else f"namespace {s.namespace}"
        used = ", ".join([*s.psps, *(f"{n} (not in the input)" for n in s.unknown)])
        lines.append(f"  {where}: {_labels_text(s.suggestion)} (may use {used})")
    lines += [f"  note: {note}" for note in notes]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(reports: Sequence[PspReport], suggestions: Sequence[NamespaceSuggestion], notes: Sequence[str]) -> str:
    """One section per PSP, tables for its open fields, defaults and unmapped settings, then the namespaces."""
    out = ["# PodSecurityPolicy to Pod Security Standards", ""]
    out += ["| PSP | source | levels | suggested labels | proof |", "|---|---|---|---|---|"]
    for r in reports:
        levels = "; ".join(f"{level} {versions}" for level, versions in r.level_ranges())
        proof = f"{r.proof.pods} pods, {r.proof.verdicts} verdicts" if r.proof.ok else "**FAILED**"
        out.append(
            f"| `{_cell(r.psp.name)}` | {_cell(r.where)} | {levels} | `{_cell(_labels_text(r.suggestion))}` | {proof} |"
        )
    for r in reports:
        out += ["", f"## `{_cell(r.psp.name)}`", ""]
        if r.open:
            out += ["| keeps it from | check | versions | PSP field | value | why |", "|---|---|---|---|---|---|"]
            out += [
                f"| {o.level} | `{o.check}` | {minor_ranges(o.minors)} | `{_cell(o.field)}` | {_cell(o.value)} "
                f"| {_cell(o.why)} |"
                for o in r.open
            ]
        if r.mutations:
            out += [
                "",
                "Defaults PSA will not apply:",
                "",
                "| PSP field | value | the PSP | instead, in the pod |",
                "|---|---|---|---|",
            ]
            out += [
                f"| `{_cell(m.field)}` | {_cell(m.value)} | {_cell(m.effect)} | {_cell(m.change)} |"
                for m, _, _ in r.mutations
            ]
        if r.unmapped:
            out += ["", "No PSS equivalent:", "", "| PSP field | value | why |", "|---|---|---|"]
            out += [f"| `{_cell(u.field)}` | {_cell(u.value)} | {_cell(u.why)} |" for u in r.unmapped]
        if not r.proof.ok:
            out += ["", *(f"- proof failure: {_cell(f.message)}" for f in r.proof.failures)]
    if suggestions or notes:
        out += ["", "## Namespaces", "", "| namespace | may use | suggested labels |", "|---|---|---|"]
        for s in suggestions:
            used = ", ".join([*s.psps, *(f"{n} (not in the input)" for n in s.unknown)])
            out.append(f"| {_cell(s.namespace)} | {_cell(used)} | `{_cell(_labels_text(s.suggestion))}` |")
        out += [f"- note: {_cell(n)}" for n in notes]
    return "\n".join(out) + "\n"
