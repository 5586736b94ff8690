"""The Gatekeeper bundle under ``out/gatekeeper``: ConstraintTemplates, Constraints, kustomization, gator suite.

Why one template per level with the version as a parameter: PSA pins a
namespace to ``level:version``; a Constraint pins the same pair, so a cluster
can run ``baseline:latest`` and ``restricted:v1.30`` side by side with two
Constraints and no second copy of the Rego.

Why the libs are ``rego_modules()`` output verbatim: Gatekeeper compiles each
template with its own copy of its libs, and a copy made by hand would drift
(gatekeeper-library's one flaw). Here the libs are the very text written to
``out/rego/lib``; the tests compare them.

Why the suite's expectations come from ``generator.policy.evaluate``: a count typed by
hand proves only that two people agreed. Each sample is also checked here to
do what its description claims (allowed where it says so, denied where it says
so), so a change in the checks cannot silently turn a sample into a no-op.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jinja2
import yaml

from generator import __version__
from generator.policy.evaluate import evaluate
from generator.policy.fields import INT64
from generator.policy.model import Violation
from generator.policy.pod import API_GROUPS, EVALUATED_KINDS
from generator.policy.registry import CHECKS
from generator.policy.versions import NEWEST_MINOR, VERSION_PATTERN, Version
from generator.render.environment import environment
from generator.render.literals import HEADER, rego_literal
from generator.render.rego import rego_modules

# Levels with a template; privileged allows everything, so "privileged" is simply no Constraint.
TEMPLATE_LEVELS: tuple[str, ...] = ("baseline", "restricted")

# PSA admission.go ignoredPodSubresources: Pod subresources that cannot change the pod spec.
# Every other Pod subresource (ephemeralcontainers, resize) carries a Pod and is judged.
IGNORED_POD_SUBRESOURCES: frozenset[str] = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)

# Why each shipped Constraint enforces as it does; written into its YAML as a comment.
ENFORCEMENT: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "baseline": (
        "deny",
        (
            "enforcementAction deny: baseline only forbids known privilege escalations",
            "(privileged, host namespaces, hostPath, dangerous capabilities, ...), so",
            "ordinary workloads pass it; this mirrors the common PSA setup of",
            "enforce=baseline. Workloads are denied too (PSA only warns for them and",
            "rejects their Pods later), so the error reaches whoever applies the",
            "Deployment instead of a ReplicaSet's events.",
        ),
    ),
    "restricted": (
        "warn",
        (
            "enforcementAction warn: restricted needs every pod to run as non-root,",
            "drop ALL capabilities and set a seccomp profile, which most existing",
            "workloads do not yet do. warn reports violations to the client (kubectl",
            "prints them) and to audit without blocking, like PSA's warn=restricted;",
            "switch to deny once audit shows no violations.",
        ),
    ),
}

# Why these namespaces are excluded; written into each Constraint's YAML.
EXCLUDED_NAMESPACES: tuple[str, ...] = ("kube-system", "gatekeeper-system")
EXCLUSION_COMMENT: tuple[str, ...] = (
    "excludedNamespaces: kube-system runs control-plane and node components",
    "(kube-proxy, CNI and CSI daemons) that need host namespaces, hostPath and",
    "privileges by design; gatekeeper-system holds Gatekeeper itself, and a",
    "policy that blocked its own pods could leave the webhook unable to start.",
    "PSA exempts such namespaces the same way (exemptions.namespaces).",
)

SUITE_PATH = "suite.yaml"
KUSTOMIZATION_PATH = "kustomization.yaml"


# --- view models ---------------------------------------------------------------------------------


def yaml_string(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escaping is valid YAML), so no value is ever re-typed."""
    return json.dumps(text, ensure_ascii=False)


def schema_version_pattern() -> str:
    """PSA's version syntax (generator.policy.versions.VERSION_PATTERN) or ``latest``, for the CRD schema."""
    if not (VERSION_PATTERN.startswith("^") and VERSION_PATTERN.endswith("$")):
        raise ValueError(f"VERSION_PATTERN must be anchored: {VERSION_PATTERN!r}")
    return f"^(latest|{VERSION_PATTERN[1:-1]})$"


def template_kind(level: str) -> str:
    return f"K8sPSS{level.capitalize()}"


def template_name(level: str) -> str:
    """Gatekeeper requires ``metadata.name`` to be the lower-cased kind."""
    return template_kind(level).lower()


def template_path(level: str) -> str:
    return f"templates/{template_name(level)}.yaml"


def constraint_path(level: str) -> str:
    return f"constraints/{level}.yaml"


@dataclass(frozen=True)
class RegoView:
    """What the template's entry module needs: its package, level, PSA's ignored subresources, and the int64
    limits as Gatekeeper's driver rounds them."""

    level: str
    ignored_subresources: str  # Rego set literal
    ignored_subresources_text: str
    rounded_int64_limits: str  # Rego array literal of [rounded, limit] pairs

    @property
    def package(self) -> str:
        return template_name(self.level)


@dataclass(frozen=True)
class TemplateView:
    level: str
    rego: str
    libs: tuple[str, ...]
    version_pattern: str  # quoted YAML scalar
    bundle_version: str  # quoted YAML scalar

    @property
    def kind(self) -> str:
        return template_kind(self.level)

    @property
    def name(self) -> str:
        return template_name(self.level)


@dataclass(frozen=True)
class MatchKindsView:
    api_group: str  # quoted YAML scalar
    kinds: str  # a YAML flow sequence


@dataclass(frozen=True)
class ConstraintView:
    level: str
    name: str
    enforcement_action: str
    version: str  # quoted YAML scalar
    kinds: tuple[MatchKindsView, ...]
    excluded_namespaces: str  # a YAML flow sequence
    comment: tuple[str, ...]

    @property
    def kind(self) -> str:
        return template_kind(self.level)


@dataclass(frozen=True)
class AssertionView:
    violations: int
    message: str  # quoted YAML scalar (a Go regexp); "" asserts on every violation


@dataclass(frozen=True)
class CaseView:
    name: str
    object: str
    assertions: tuple[AssertionView, ...]


@dataclass(frozen=True)
class SuiteTestView:
    name: str
    template: str
    constraint: str
    invalid: bool
    cases: tuple[CaseView, ...]


@dataclass(frozen=True)
class DocumentView:
    """A YAML document dumped in Python (samples), with its comment lines."""

    comment: tuple[str, ...]
    body: str


def _flow(items: Sequence[str]) -> str:
    return "[" + ", ".join(yaml_string(i) for i in items) + "]"


def lib_modules() -> dict[str, str]:
    """The shared library (``lib/…`` modules of ``rego_modules()``), exactly as written to out/rego/lib."""
    return {path: text for path, text in rego_modules().items() if path.startswith("lib/")}


def match_kinds() -> tuple[MatchKindsView, ...]:
    """Pods and every pod-template workload, grouped by API group; refuses kinds it has no group for."""
    if set(API_GROUPS) != set(EVALUATED_KINDS):
        raise ValueError(f"API_GROUPS {sorted(API_GROUPS)} must list exactly the kinds {sorted(EVALUATED_KINDS)}")
    groups: dict[str, list[str]] = {}
    for kind, group in API_GROUPS.items():
        groups.setdefault(group, []).append(kind)
    return tuple(MatchKindsView(yaml_string(g), _flow(kinds)) for g, kinds in groups.items())


def rounded_int64_limits() -> tuple[tuple[int, int], ...]:
    """``(n, limit)`` for each int64 limit that Gatekeeper hands to Rego as another number ``n``.

    Gatekeeper's Rego driver passes the review through encoding/json into Go's
    ``interface{}``, so every number becomes a float64 and reaches OPA as Go's
    shortest float text: 2**63 - 1 and -2**63 both round to 2**63 in
    magnitude, printed ``9.223372036854776e+18``, which is outside int64 and
    fails the type gate. The API server has refused any int64 that overflows
    before admission, so under Gatekeeper such a number can only be a limit.
    (Python's ``repr`` of a float is the same shortest round-trip text.)
    """
    pairs = []
    for limit in (INT64.low, INT64.high):
        rounded = int(Decimal(repr(float(limit))))
        if rounded != limit:
            pairs.append((rounded, limit))
    return tuple(pairs)


def rego_view(level: str) -> RegoView:
    return RegoView(
        level=level,
        ignored_subresources=rego_literal(IGNORED_POD_SUBRESOURCES, inline_from=0),
        ignored_subresources_text=", ".join(sorted(IGNORED_POD_SUBRESOURCES)),
        rounded_int64_limits=rego_literal([list(pair) for pair in rounded_int64_limits()], inline_from=0),
    )


def entry_module(env: jinja2.Environment, level: str) -> str:
    """The template's own Rego (its ``violation`` rule); the checks live in the libs."""
    return _render(env, "gatekeeper/violation.rego.j2", template=rego_view(level))


def template_view(env: jinja2.Environment, level: str) -> TemplateView:
    return TemplateView(
        level=level,
        rego=entry_module(env, level),
        libs=tuple(lib_modules().values()),
        version_pattern=yaml_string(schema_version_pattern()),
        bundle_version=yaml_string(__version__),
    )


def constraint_view(
    level: str, *, name: str | None = None, version: str = "latest", purpose: Sequence[str] = ()
) -> ConstraintView:
    """A Constraint for ``level`` at ``version``; the shipped ones explain their choices in a comment."""
    action, why = ENFORCEMENT[level]
    return ConstraintView(
        level=level,
        name=name or f"pss-{level}",
        enforcement_action=action,
        version=yaml_string(version),
        kinds=match_kinds(),
        excluded_namespaces=_flow(EXCLUDED_NAMESPACES),
        comment=(*purpose, *([""] if purpose else []), *why, "", *EXCLUSION_COMMENT),
    )


# --- samples and the suite -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One object the suite reviews (a Kubernetes object or an AdmissionReview) and what it shows."""

    name: str
    description: str
    object: Mapping[str, Any]

    @property
    def path(self) -> str:
        return f"samples/{self.name}.yaml"


@dataclass(frozen=True)
class PinnedTest:
    """A Constraint pinned to an older version, and the samples whose verdict the pin changes."""

    level: str
    version: str
    samples: tuple[str, ...]
    why: str

    @property
    def name(self) -> str:
        return f"{self.level}-{self.version}"

    @property
    def constraint_path(self) -> str:
        return f"samples/constraints/{self.name}.yaml"


NAMESPACE = "default"
IMAGE = "registry.example/app:1.0"


def _pod(name: str, spec: Mapping[str, Any], *, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": dict(spec)}


def _container(name: str = "app", image: str = IMAGE, **security_context: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "securityContext": dict(security_context)}


def _compliant_spec() -> dict[str, Any]:
    """Restricted at every version: non-root, RuntimeDefault seccomp, no escalation, all capabilities dropped."""
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"]})],
    }


def _privileged_spec() -> dict[str, Any]:
    spec = _compliant_spec()
    spec["containers"] = [_container(allowPrivilegeEscalation=True, privileged=True, capabilities={"drop": ["ALL"]})]
    return spec


def _admission_review(
    name: str, operation: str, obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None, subresource: str = ""
) -> dict[str, Any]:
    """An AdmissionReview of a Pod as the API server sends it; gator verify takes these as objects."""
    request: dict[str, Any] = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://pssgen.invalid/samples/{name}")),  # stable
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": (obj or old or {})["metadata"]["name"],
        "namespace": NAMESPACE,
        "operation": operation,
        "userInfo": {"username": "jane@example.com", "groups": ["system:authenticated"]},
    }
    if subresource:
        request["subResource"] = subresource
    if obj is not None:
        request["object"] = dict(obj)
    if old is not None:
        request["oldObject"] = dict(old)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _changed_sysctl() -> tuple[str, str]:
    """A sysctl the newest version allows and the version before its first addition forbids, from the data."""
    (check,) = [c for c in CHECKS if c.id == "sysctls"]
    first_change = check.versions[1]
    before = check.version_at(first_change.minimum_minor - 1)
    newest = check.version_at(NEWEST_MINOR)
    assert before is not None and newest is not None
    added = [s for s in newest.allowed["sysctls"] if s not in before.allowed["sysctls"]]
    return added[0], f"v1.{first_change.minimum_minor - 1}"


def samples() -> tuple[Sample, ...]:
    """The suite's objects; stable names and content, so the bundle is byte-identical run to run."""
    sysctl, _ = _changed_sysctl()
    compliant = _pod("compliant", _compliant_spec())
    privileged = _pod("privileged", _privileged_spec())
    running = _pod("debug-target", _compliant_spec())
    debugged = _pod("debug-target", {
        **_compliant_spec(),
        "ephemeralContainers": [
            _container("debugger", "registry.example/debug:1.0", privileged=True, allowPrivilegeEscalation=True)
        ],
    })  # fmt: skip
    sysctl_spec = _compliant_spec()
    sysctl_spec["securityContext"] = {**sysctl_spec["securityContext"], "sysctls": [{"name": sysctl, "value": "1"}]}
    host_spec = {**_compliant_spec(), "hostNetwork": True, "hostPID": True, "restartPolicy": "OnFailure"}
    windows_spec = {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "app", "image": "registry.example/win-app:1.0"}],
    }
    return (
        Sample("pod-compliant", "A Pod that meets restricted at every version.", compliant),
        Sample("pod-privileged", "A privileged container: denied at baseline and restricted.", privileged),
        Sample(
            "pod-restricted-violation",
            "A Pod with no security settings: allowed at baseline, denied at restricted.",
            _pod("defaults", {"containers": [{"name": "app", "image": IMAGE}]}),
        ),
        Sample(
            "deployment-privileged",
            "A Deployment whose pod template is privileged: judged through its template.",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "privileged", "namespace": NAMESPACE},
                "spec": {
                    "selector": {"matchLabels": {"app": "privileged"}},
                    "template": {"metadata": {"labels": {"app": "privileged"}}, "spec": _privileged_spec()},
                },
            },
        ),
        Sample(
            "cronjob-host-namespaces",
            "A CronJob whose job template shares the host's network and PID namespaces.",
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": "host-namespaces", "namespace": NAMESPACE},
                "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": host_spec}}}},
            },
        ),
        Sample(
            "pod-sysctl",
            f"A Pod setting {sysctl}: allowed at latest, forbidden before the version that added it.",
            _pod("sysctl", sysctl_spec),
        ),
        Sample(
            "pod-windows",
            "A Windows Pod with no Linux-only settings: restricted exempts it from three checks since v1.25.",
            _pod("windows", windows_spec),
        ),
        Sample(
            "update-ephemeral-privileged",
            "kubectl debug adding a privileged ephemeral container: an UPDATE of pods/ephemeralcontainers.",
            _admission_review("ephemeral", "UPDATE", debugged, running, "ephemeralcontainers"),
        ),
        Sample(
            "update-labels-only",
            "A label change on a privileged Pod: PSA does not judge updates that change no image or container.",
            _admission_review(
                "labels", "UPDATE", _pod("privileged", _privileged_spec(), labels={"team": "a"}), privileged
            ),
        ),
        Sample(
            "delete-privileged",
            "Deleting a privileged Pod: never judged.",
            _admission_review("delete", "DELETE", None, privileged),
        ),
    )


def pinned_tests() -> tuple[PinnedTest, ...]:
    _, sysctl_version = _changed_sysctl()
    return (
        PinnedTest("baseline", sysctl_version, ("pod-compliant", "pod-sysctl"), "sysctls added later are forbidden"),
        PinnedTest("restricted", "v1.24", ("pod-compliant", "pod-windows"), "no Windows exemptions before v1.25"),
    )


INVALID_VERSION = "v1.026"  # a leading zero: PSA's parser refuses it, and so must the schema


def significant_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """PSA admission.go isSignificantPodUpdate, over manifests: what the template's Rego mirrors."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    for key in ("containers", "initContainers"):
        ours, theirs = new_spec.get(key) or [], old_spec.get(key) or []
        if len(ours) != len(theirs):
            return True
        if any(a.get("image", "") != b.get("image", "") for a, b in zip(ours, theirs, strict=True)):
            return True
    old_ephemeral = old_spec.get("ephemeralContainers") or []
    for container in new_spec.get("ephemeralContainers") or []:
        same = [o for o in old_ephemeral if o.get("name", "") == container.get("name", "")]
        if not same or same[0].get("image", "") != container.get("image", ""):
            return True
    return False


def expected_violations(obj: Mapping[str, Any], level: str, version: str | Version) -> tuple[Violation, ...]:
    """What the template must report for ``obj``, from the Python evaluator and PSA's admission rules."""
    if obj.get("kind") != "AdmissionReview":
        return evaluate(obj, level, version).violations
    request = obj["request"]
    operation, subresource = request["operation"], request.get("subResource", "")
    new, old = request.get("object"), request.get("oldObject")
    if operation == "DELETE" or new is None or subresource in IGNORED_POD_SUBRESOURCES:
        return ()
    if operation == "UPDATE" and old is not None and not significant_pod_update(new, old):
        return ()
    return evaluate(new, level, version).violations


def violation_message(violation: Violation) -> str:
    """PSA's ForbiddenDetail entry, as the template's ``msg``."""
    return f"{violation.reason} ({violation.detail})" if violation.detail else violation.reason


def go_quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta: gator matches ``message`` with Go regexps, which refuse Python's extra escapes."""
    return "".join("\\" + ch if ch in r"\.+*?()|[]{}^$" else ch for ch in text)


def _case(sample: Sample, level: str, version: str) -> CaseView:
    found = expected_violations(sample.object, level, version)
    assertions = [AssertionView(len(found), "")]
    assertions += [AssertionView(1, yaml_string(f"^{go_quote_meta(violation_message(v))}$")) for v in found]
    return CaseView(sample.name, sample.path, tuple(assertions))


def _check_samples(by_name: Mapping[str, Sample]) -> None:
    """Each sample must still show what it claims; otherwise the suite would prove nothing."""

    def count(name: str, level: str, version: str = "latest") -> int:
        return len(expected_violations(by_name[name].object, level, version))

    sysctl_version = _changed_sysctl()[1]
    claims = {
        "pod-compliant allowed at restricted": count("pod-compliant", "restricted") == 0,
        "pod-privileged denied at baseline": count("pod-privileged", "baseline") > 0,
        "pod-restricted-violation allowed at baseline": count("pod-restricted-violation", "baseline") == 0,
        "pod-restricted-violation denied at restricted": count("pod-restricted-violation", "restricted") > 0,
        "deployment-privileged denied at baseline": count("deployment-privileged", "baseline") > 0,
        "cronjob-host-namespaces denied at baseline": count("cronjob-host-namespaces", "baseline") > 0,
        "pod-sysctl allowed at latest": count("pod-sysctl", "baseline") == 0,
        f"pod-sysctl denied at {sysctl_version}": count("pod-sysctl", "baseline", sysctl_version) > 0,
        "pod-windows allowed at restricted latest": count("pod-windows", "restricted") == 0,
        "pod-windows denied at restricted v1.24": count("pod-windows", "restricted", "v1.24") > 0,
        "ephemeral update denied at baseline": count("update-ephemeral-privileged", "baseline") > 0,
        "label-only update not judged": count("update-labels-only", "baseline") == 0,
        "delete not judged": count("delete-privileged", "baseline") == 0,
    }
    broken = [claim for claim, holds in claims.items() if not holds]
    if broken:
        raise ValueError(f"Gatekeeper samples no longer show what they claim: {', '.join(broken)}")


def suite_tests() -> tuple[SuiteTestView, ...]:
    by_name = {s.name: s for s in samples()}
    _check_samples(by_name)
    tests = [
        SuiteTestView(
            level,
            template_path(level),
            constraint_path(level),
            False,
            tuple(_case(s, level, "latest") for s in by_name.values()),
        )
        for level in TEMPLATE_LEVELS
    ]
    for pin in pinned_tests():
        cases = tuple(_case(by_name[name], pin.level, pin.version) for name in pin.samples)
        tests.append(SuiteTestView(pin.name, template_path(pin.level), pin.constraint_path, False, cases))
    tests.append(SuiteTestView("invalid-version", template_path("baseline"), _invalid_constraint_path(), True, ()))
    return tuple(tests)


def _invalid_constraint_path() -> str:
    return "samples/constraints/invalid-version.yaml"


# --- rendering -----------------------------------------------------------------------------------


def _render(env: jinja2.Environment, source: str, **context: Any) -> str:
    """Render one template, refusing output without the header or (for YAML) output YAML cannot read."""
    text = env.get_template(source).render(**context)
    if not text.startswith(HEADER + "\n"):
        raise ValueError(f"{source}: rendered output must start with the header {HEADER!r}")
    if source.endswith(".yaml.j2"):
        try:
            list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise ValueError(f"{source}: rendered output is not YAML: {exc}") from exc
    return text


def _document(env: jinja2.Environment, comment: Sequence[str], data: Mapping[str, Any]) -> str:
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return _render(env, "gatekeeper/document.yaml.j2", document=DocumentView(tuple(comment), body))


def render_constraint(env: jinja2.Environment, view: ConstraintView) -> str:
    return _render(env, "gatekeeper/constraint.yaml.j2", constraint=view)


def gatekeeper_bundle() -> dict[str, str]:
    """Every file of ``out/gatekeeper``, keyed by its path there; byte-identical for the same checks."""
    env = environment()
    files: dict[str, str] = {}
    for level in TEMPLATE_LEVELS:
        files[template_path(level)] = _render(env, "gatekeeper/template.yaml.j2", template=template_view(env, level))
        files[constraint_path(level)] = render_constraint(env, constraint_view(level))
    for pin in pinned_tests():
        purpose = (f"A sample Constraint for suite.yaml: {pin.level} pinned to {pin.version} ({pin.why}).",)
        name = f"pss-{pin.name.replace('.', '-')}"
        view = constraint_view(pin.level, name=name, version=pin.version, purpose=purpose)
        files[pin.constraint_path] = render_constraint(env, view)
    purpose = (f"A sample Constraint for suite.yaml: version {INVALID_VERSION} must be refused by the schema.",)
    invalid = constraint_view("baseline", name="pss-invalid-version", version=INVALID_VERSION, purpose=purpose)
    files[_invalid_constraint_path()] = render_constraint(env, invalid)
    for sample in samples():
        files[sample.path] = _document(env, (sample.description,), sample.object)
    resources = [p for level in TEMPLATE_LEVELS for p in (template_path(level),)]
    resources += [constraint_path(level) for level in TEMPLATE_LEVELS]
    files[KUSTOMIZATION_PATH] = _render(env, "gatekeeper/kustomization.yaml.j2", resources=resources)
    files[SUITE_PATH] = _render(env, "gatekeeper/suite.yaml.j2", tests=suite_tests())
    return dict(sorted(files.items()))
