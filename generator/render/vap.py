"""The ValidatingAdmissionPolicy bundle under ``out/vap``: Pod Security Admission as CEL the API server runs itself.

Why VAP: since Kubernetes 1.30 the API server evaluates CEL policies in
process, with no webhook and no controller to keep alive. The policy here is
rendered from the same check data as the Python evaluator and the Rego: each
check version's CEL (``templates/vap/checks/<checkId>.cel.j2``) is fed that
version's allowed values as CEL literals, and PSA's plan (which version of
which check runs, per level and minor version, overrides applied) comes from
``registry.active_checks``, so no allowed value is typed twice.

Why one policy and a binding per mode: PSA's level and version come from the
namespace's ``pod-security.kubernetes.io/<mode>[-version]`` labels (read from
``namespaceObject`` with PSA's rules), never from a copy of the policy per
version. Each binding names its mode in its parameters (a ConfigMap, which
also holds PSA's configured defaults and exemptions) and maps it to a
validation action: enforce to Deny, warn to Warn, audit to Audit (plus an
``audit-violations`` audit annotation with PSA's text).

Each failed check is one ``reason (detail)`` item, in PSA's check order; the
denial joins them as PSA does, with its ``violates PodSecurity "level:version"``
head. What CEL cannot say byte for byte is listed in ``MESSAGE_DIFFERENCES``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from generator import __version__
from generator.errors import PssgenError
from generator.policy.admission import IGNORED_POD_SUBRESOURCES
from generator.policy.checks import appArmorProfile, seccompProfile_baseline
from generator.policy.checks._helpers import go_quote
from generator.policy.model import ENFORCE_HEAD, WARN_HEAD, Check, CheckVersion
from generator.policy.namespaces import INVALID_LEVEL, LABEL_PREFIX, MODES, STRICTNESS
from generator.policy.pod import API_GROUPS
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration
from generator.policy.registry import BY_ID, CHECKS, active_checks
from generator.policy.versions import LEVELS, MAX_MINOR, NEWEST_MINOR, VERSION_PATTERN, all_minors
from generator.render.environment import environment, render_document, render_template

POLICY_NAME = "pssgen-pod-security"
PARAMS_NAMESPACE = "kube-system"  # exists in every cluster, and only administrators write to it
MODE_ACTIONS: Mapping[str, str] = {"enforce": "Deny", "warn": "Warn", "audit": "Audit"}
AUDIT_ANNOTATION = "audit-violations"  # published as "<policy>/audit-violations"
POLICY_PATH = "policy.yaml"
BINDINGS_PATH = "bindings.yaml"
PARAMS_PATH = "params.yaml"
KUSTOMIZATION_PATH = "kustomization.yaml"
# The API server drops a messageExpression result over this many bytes (celconfig's
# MaxEvaluatedMessageExpressionSizeBytes) or with a newline, and shows the static message instead: the policy cuts
# and escapes its message to stay within.
MAX_MESSAGE_BYTES = 5 * 1024
CUT_MARK = " [message cut to 5 KiB]"
# CEL charges sort() the square of a list's length: a check sorts at most this many values (then "..." if more differ).
SORT_LIMIT = 256
CUT_ITEM = "..."  # ASCII: a message stays ASCII, and is cut at exactly 5 KiB
# Separates the exemption lists in a ConfigMap value (which holds only strings); no exempt name may contain it.
LIST_SEPARATOR = "\n"

# Where the CEL policy's messages differ from PSA's, and why: the README lists them, tests/test_vap.py pins each.
MESSAGE_DIFFERENCES: Mapping[str, str] = {
    "non-printable-quoted": (
        "An annotation value PSA quotes with Go's %q (seccomp and AppArmor annotations) that holds a character "
        "above U+00FF Go does not print (U+2028, U+FEFF, an unassigned code point...): Go writes \\u2028, CEL's "
        "strings.quote the character itself. Control and Latin-1 characters are escaped as Go does."
    ),
    "over-5-KiB": (
        "A message over 5 KiB (PSA has no limit): the API server would replace it with the static message, so the "
        f"policy cuts it and ends it with {CUT_MARK.strip()!r}. The verdict and the first checks are unchanged."
    ),
    "newline": (
        "A message with a newline (a probe host or a sysctl name holding one, which PSA prints raw): the API "
        "server refuses multi-line messages, so the policy writes \\n."
    ),
    "long-lists": (
        f"A check that sorts more than {SORT_LIMIT} values (capabilities, host ports, hosts, ...; before removing "
        f"repeats) whose values after the {SORT_LIMIT}th are not all among the first {SORT_LIMIT}: it lists the "
        f'distinct values among the first {SORT_LIMIT}, sorted, then "{CUT_ITEM}". CEL charges a sort the square of '
        "the list's length, and 700 values would pass the per-expression cost limit. The verdict and check are PSA's."
    ),
    "wrapper": (
        "The API server wraps every VAP message: a denial reads \"ValidatingAdmissionPolicy 'pssgen-pod-security' "
        "with binding 'pssgen-pod-security-enforce' denied request: violates PodSecurity ...\", a warning "
        '"Validation failed for ValidatingAdmissionPolicy ... with binding ...: would violate PodSecurity ..."; '
        "PSA's own text follows, unchanged."
    ),
}


def vap_message(psa_message: str) -> str:
    """The text the policy gives for ``psa_message`` (PSA's own): newlines escaped, then cut to the API server's
    5 KiB (the "newline" and "over-5-KiB" differences; the policy's message variable does the same in CEL)."""
    message = psa_message.replace("\n", "\\n")
    if len(message.encode()) <= MAX_MESSAGE_BYTES:
        return message
    keep = MAX_MESSAGE_BYTES if message.isascii() else MAX_MESSAGE_BYTES // 4
    return message[: keep - len(CUT_MARK)] + CUT_MARK


def _cel_quoted(psa_message: str) -> str:
    """``psa_message`` with each of Go's \\u/\\U escapes above U+00FF written as the character, as CEL's strings.quote
    writes it (the "non-printable-quoted" difference); other escapes (\\x, \\u00XX, \\n, ...) are the policy's too."""
    out, i = [], 0
    while i < len(psa_message):
        ch = psa_message[i]
        if ch == "\\" and i + 1 < len(psa_message):
            width = {"u": 4, "U": 8}.get(psa_message[i + 1], 0)
            digits = psa_message[i + 2 : i + 2 + width]
            if width and len(digits) == width and all(c in "0123456789abcdef" for c in digits):
                code = int(digits, 16)
                if code > 0xFF:
                    out.append(chr(code))
                    i += 2 + width
                    continue
            out.append(psa_message[i : i + 2])  # an escape the policy writes as Go does, "\\\\" included
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def listed_difference(psa_message: str, vap_text: str) -> tuple[str, ...] | None:
    """Which of MESSAGE_DIFFERENCES turn PSA's message into the policy's text (its order: quoting, newline, the
    5 KiB cut), () when they are equal, None when the text is not PSA's message under listed differences."""
    if vap_text == psa_message:
        return ()
    quoted = _cel_quoted(psa_message)
    if vap_message(quoted) != vap_text:
        return None
    escaped = quoted.replace("\n", "\\n")
    found = [key for key, applies in (
        ("non-printable-quoted", quoted != psa_message),
        ("newline", escaped != quoted),
        ("over-5-KiB", escaped != vap_text),
    ) if applies]  # fmt: skip
    return tuple(found)


class VapRenderError(PssgenError, ValueError):
    """The configuration cannot be expressed in the VAP bundle's parameters."""


def cel_string(text: str) -> str:
    """A CEL string literal: single-quoted, with backslash escapes for quotes, backslashes and unprintables."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in ("'", "\\"):
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F or (code > 0xFF and ch.isprintable()):
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "'" + "".join(out) + "'"


def cel_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(cel_string(i) for i in items) + "]"


def go_quote_fixes() -> str:
    """The ``.replace`` calls that turn CEL's ``strings.quote`` into Go's %q for every character up to U+00FF.

    strings.quote escapes only \\a \\b \\f \\n \\r \\t \\v, the backslash and the double quote; Go also escapes
    every other character it does not print. Computed from ``go_quote``, the project's %q.
    """
    named = set('\a\b\f\n\r\t\v"\\')
    fixes = []
    for code in range(0x100):
        ch = chr(code)
        if ch in named:
            continue
        escaped = go_quote(ch)[1:-1]
        if escaped != ch:
            fixes.append(f".replace({cel_string(ch)}, {cel_string(escaped)})")
    return "".join(fixes)


# --- the checks as CEL ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One entry of ``spec.variables``: a name, a CEL expression, and the comment above it."""

    name: str
    expression: str
    comment: str = ""


def _implementation(check: Check, version: CheckVersion) -> tuple[str, str]:
    """The check template and macro a version runs (``rego`` names it, as for the Rego: ``[checkId.]function``)."""
    owner, _, function = version.rego.rpartition(".")
    owner = owner or check.id
    if owner not in BY_ID:
        raise ValueError(f"{check.id} {version.name}: implementation {version.rego!r} names no check")
    return owner, function


def _macro(env: jinja2.Environment, owner: str, function: str) -> Any:
    module = env.get_template(f"vap/checks/{owner}.cel.j2").module
    macro = getattr(module, function, None)
    if macro is None:
        raise ValueError(f"templates/vap/checks/{owner}.cel.j2 defines no macro {function!r}")
    return macro


def _tidy(expression: str) -> str:
    """A rendered CEL expression without blank lines or trailing spaces (CEL ignores layout; YAML keeps it)."""
    return "\n".join(line.rstrip() for line in expression.strip().splitlines() if line.strip())


def check_variables(env: jinja2.Environment) -> tuple[tuple[Variable, ...], dict[tuple[str, str], str]]:
    """One variable per distinct (implementation, allowed values), and for each (check, version) the CEL that runs
    it: the variable, behind the version's relaxations."""
    variables: dict[tuple[str, str, tuple[tuple[str, str], ...]], Variable] = {}
    refs: dict[tuple[str, str], str] = {}
    for check in CHECKS:
        for version in check.versions:
            owner, function = _implementation(check, version)
            allowed = {name: cel_list(values) for name, values in version.allowed.items()}
            key = (owner, function, tuple(sorted(allowed.items())))
            if key not in variables:
                name = version.name
                if any(v.name == name for v in variables.values()):
                    raise ValueError(f"two implementations would both be the variable {name!r}")
                expression = _tidy(str(_macro(env, owner, function)(allowed)))
                comment = f"{check.id} {version.name}: {version.change}" if version.change else check.id
                variables[key] = Variable(name, expression, comment)
            ref = f"variables.{variables[key].name}"
            if version.relaxations:
                if not all(r.cel for r in version.relaxations):
                    raise ValueError(f"{check.id} {version.name}: a relaxation has no CEL test")
                ref = f"({' || '.join(r.cel for r in version.relaxations)} ? [] : {ref})"
            refs[(check.id, version.name)] = ref
    return tuple(variables.values()), refs


@dataclass(frozen=True)
class PlansView:
    """PSA's plans: per level the plan index of every minor version, and each plan's CEL (its checks' items)."""

    index: Mapping[str, str]  # level -> CEL list literal of plan indexes, by minor version
    plans: tuple[str, ...]


def plans_view(refs: Mapping[tuple[str, str], str]) -> PlansView:
    plans: list[tuple[str, ...]] = []
    index: dict[str, list[int]] = {}
    for level in ("baseline", "restricted"):
        for minor in all_minors():
            plan = tuple(refs[(check.id, version.name)] for check, version in active_checks(level, minor))
            if plan not in plans:
                plans.append(plan)
            index.setdefault(level, []).append(plans.index(plan))
    return PlansView(
        index={level: "[" + ", ".join(map(str, numbers)) + "]" for level, numbers in index.items()},
        plans=tuple(" +\n".join(plan) if plan else "[]" for plan in plans),
    )


# --- the policy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    group: str
    resources: tuple[str, ...]


@dataclass(frozen=True)
class PolicyView:
    """What policy.yaml.j2 needs, all finished text or plain data."""

    name: str
    bundle_version: str
    rules: tuple[RuleView, ...]
    ignored_subresources: str  # CEL list
    checks: tuple[Variable, ...]
    plans: PlansView
    modes: tuple[str, ...]
    level_labels: Mapping[str, str]  # mode -> CEL string of its level label
    version_labels: Mapping[str, str]
    invalid_level: Mapping[str, str]  # mode -> CEL string of the level an invalid label gives it
    levels: str  # CEL list of the level names
    strictness: str  # CEL map level -> rank
    version_pattern: str  # CEL string
    max_minor_digits: str  # CEL string: the largest minor PSA parses
    max_minor_length: int  # len("v1.") + its digits
    newest_minor: int
    newest_length: int  # the longest version string that can name a minor up to NEWEST_MINOR
    enforce_head: str
    warn_head: str
    audit_annotation: str
    max_message_bytes: int
    cut_mark: str
    separator: str  # CEL string


def _rules() -> tuple[RuleView, ...]:
    """Pods (every subresource: PSA ignores some in CEL, as it does in Go) and each workload kind, by API group."""
    resources: dict[str, list[str]] = {}
    for kind, group in API_GROUPS.items():
        plural = kind.lower() + "s"
        resources.setdefault(group, []).extend([plural, f"{plural}/*"] if kind == "Pod" else [plural])
    return tuple(RuleView(group, tuple(names)) for group, names in resources.items())


def policy_view(env: jinja2.Environment) -> PolicyView:
    variables, refs = check_variables(env)
    return PolicyView(
        name=POLICY_NAME,
        bundle_version=__version__,
        rules=_rules(),
        ignored_subresources=cel_list(sorted(IGNORED_POD_SUBRESOURCES)),
        checks=variables,
        plans=plans_view(refs),
        modes=MODES,
        level_labels={m: cel_string(f"{LABEL_PREFIX}{m}") for m in MODES},
        version_labels={m: cel_string(f"{LABEL_PREFIX}{m}-version") for m in MODES},
        invalid_level={m: cel_string(INVALID_LEVEL[m]) for m in MODES},
        levels=cel_list(LEVELS),
        strictness="{" + ", ".join(f"{cel_string(k)}: {v}" for k, v in STRICTNESS.items()) + "}",
        version_pattern=cel_string(VERSION_PATTERN),
        max_minor_digits=cel_string(str(MAX_MINOR)),
        max_minor_length=len("v1.") + len(str(MAX_MINOR)),
        newest_minor=NEWEST_MINOR,
        newest_length=len("v1.") + len(str(NEWEST_MINOR)),
        enforce_head=cel_string(ENFORCE_HEAD),
        warn_head=cel_string(WARN_HEAD),
        audit_annotation=AUDIT_ANNOTATION,
        max_message_bytes=MAX_MESSAGE_BYTES,
        cut_mark=cel_string(CUT_MARK),
        separator=cel_string(LIST_SEPARATOR),
    )


def binding_name(mode: str) -> str:
    return f"{POLICY_NAME}-{mode}"


def binding(mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": binding_name(mode)},
        "spec": {
            "policyName": POLICY_NAME,
            "validationActions": [MODE_ACTIONS[mode]],
            "paramRef": {"name": binding_name(mode), "namespace": PARAMS_NAMESPACE, "parameterNotFoundAction": "Deny"},
        },
    }


def params(config: PsaConfiguration, mode: str, *, deny_workloads: bool = False) -> dict[str, Any]:
    """The ConfigMap a mode's binding reads: its mode, PSA's defaults (every mode's: warn can follow enforce) and
    the exemptions, as the configuration file spells them."""
    data: dict[str, str] = {"mode": mode}
    for name, lv in (("enforce", config.defaults.enforce), ("audit", config.defaults.audit),
                     ("warn", config.defaults.warn)):  # fmt: skip
        data[name] = lv.level
        data[f"{name}-version"] = str(lv.version)
    exemptions = {"exemptNamespaces": config.namespaces, "exemptRuntimeClasses": config.runtime_classes,
                  "exemptUsernames": config.usernames}  # fmt: skip
    for key, names in exemptions.items():
        bad = [n for n in names if LIST_SEPARATOR in n or not n]
        if bad:
            raise VapRenderError(f"{key}: {bad[0]!r} cannot be listed in a ConfigMap value (empty, or has a newline)")
        data[key] = LIST_SEPARATOR.join(names)
    data["denyWorkloads"] = "true" if deny_workloads else "false"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": binding_name(mode), "namespace": PARAMS_NAMESPACE},
        "data": data,
    }


def vap_environment() -> jinja2.Environment:
    """The shared environment, with the constants the check templates name."""
    env = environment()
    env.globals.update(
        go_quote_fixes=go_quote_fixes(),
        pod_annotation=seccompProfile_baseline.ANNOTATION_KEY_POD,
        container_annotation_prefix=seccompProfile_baseline.ANNOTATION_KEY_CONTAINER_PREFIX,
        apparmor_annotation_prefix=appArmorProfile.ANNOTATION_KEY_PREFIX,
        sort_limit=SORT_LIMIT,
        cut_item=cel_string(CUT_ITEM),
    )
    return env


def vap_bundle(
    config: PsaConfiguration = PSA_DEFAULTS,
    *,
    deny_workloads: bool = False,
    source: str = "PSA's defaults (no file)",
) -> dict[str, str]:
    """Every file of ``out/vap`` for ``config``, keyed by its path there; byte-identical for the same input."""
    env = vap_environment()
    bindings = [binding(mode) for mode in MODE_ACTIONS]
    parameters = [params(config, mode, deny_workloads=deny_workloads) for mode in MODE_ACTIONS]
    files = {
        POLICY_PATH: render_template(env, "vap/policy.yaml.j2", policy=policy_view(env)),
        BINDINGS_PATH: render_document(
            env,
            (
                "One binding per PSA mode, each reading its mode, defaults and exemptions from its ConfigMap",
                f"({PARAMS_PATH}); a missing ConfigMap denies (parameterNotFoundAction: Deny).",
            ),
            bindings,
        ),
        PARAMS_PATH: render_document(
            env,
            (
                "The bindings' parameters: the mode, PSA's defaults for a namespace without labels, and the",
                f"exemptions (one name per line), from {source}.",
            ),
            parameters,
        ),
    }
    resources = [POLICY_PATH, PARAMS_PATH, BINDINGS_PATH]
    files[KUSTOMIZATION_PATH] = render_template(env, "vap/kustomization.yaml.j2", resources=resources)
    return dict(sorted(files.items()))
