"""The Gatekeeper bundle under ``out/gatekeeper``: one ConstraintTemplate, a Constraint per PSA mode, the PSA
configuration it is equivalent to, and a gator suite.

Why one template whose level comes from the namespace: a cluster configured
with PSA does not run one level everywhere; each namespace's
``pod-security.kubernetes.io/*`` labels pick the level and version per mode,
with the configuration file's defaults for the rest. The template reads them
with PSA's own rules (``lib/pss/admission.rego``), so moving from PSA to
Gatekeeper changes nothing a namespace sees. The three Constraints are PSA's
three modes: enforce denies, warn warns, audit reports (dryrun).

Why the libs are ``rego_modules()`` output verbatim: Gatekeeper compiles each
template with its own copy of its libs, and a copy made by hand would drift
(gatekeeper-library's one flaw). Here the libs are the very text written to
``out/rego/lib``; the tests compare them.

Why the suite's expectations come from ``generator.policy.admission``: a count
typed by hand proves only that two people agreed. Each sample configuration
is also checked here to show what it claims (every mode both allows and
reports, every exemption exempts), so a change in the checks cannot silently
turn the suite into a no-op.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jinja2
import yaml

from generator import __version__
from generator.policy.admission import (
    IGNORED_POD_SUBRESOURCES,
    UNKNOWN_NAMESPACE,
    WORKLOAD_KINDS,
    Decision,
    Request,
    admit,
)
from generator.policy.exclusions import (
    CHECK_ORDER,
    CONTAINER_LISTS,
    POD_LEVEL_VALUES,
    SELECTOR_OPERATORS,
    VALUE_FIELDS,
    Exclusion,
    parse_configuration,
    rules_data,
)
from generator.policy.fields import INT64
from generator.policy.namespaces import LABEL_PREFIX, MODES, LevelVersion, NamespacePolicy
from generator.policy.pod import API_GROUPS, EVALUATED_KINDS
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration
from generator.policy.registry import CHECKS
from generator.policy.versions import LEVELS, NEWEST_MINOR, VERSION_PATTERN, parse_version
from generator.render.environment import environment, render_document, render_template
from generator.render.literals import rego_literal
from generator.render.rego import rego_modules

TEMPLATE_KIND = "K8sPodSecurity"
TEMPLATE_NAME = TEMPLATE_KIND.lower()  # Gatekeeper requires metadata.name to be the lower-cased kind
TEMPLATE_PATH = f"templates/{TEMPLATE_NAME}.yaml"
# Each PSA mode and the enforcementAction that gives its effect in Gatekeeper.
MODE_ACTIONS: Mapping[str, str] = {"enforce": "deny", "warn": "warn", "audit": "dryrun"}
ADMISSION_CONFIGURATION_PATH = "admission-configuration.yaml"
SYNC_CONFIG_PATH = "samples/sync-namespaces.yaml"
NAMESPACES_PATH = "samples/namespaces.yaml"
SUITE_PATH = "suite.yaml"
KUSTOMIZATION_PATH = "kustomization.yaml"
INVALID_VERSION = "v1.026"  # a leading zero: PSA's parser refuses it, and so must the schema

_PSC_API_VERSION = "pod-security.admission.config.k8s.io/v1"


def constraint_name(mode: str) -> str:
    return f"pod-security-{mode}"


def constraint_path(mode: str) -> str:
    return f"constraints/{constraint_name(mode)}.yaml"


# --- view models ---------------------------------------------------------------------------------


def yaml_string(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escaping is valid YAML), so no value is ever re-typed."""
    return json.dumps(text, ensure_ascii=False)


def schema_version_pattern() -> str:
    """PSA's version syntax (generator.policy.versions.VERSION_PATTERN) or ``latest``, for the CRD schema."""
    if not (VERSION_PATTERN.startswith("^") and VERSION_PATTERN.endswith("$")):
        raise ValueError(f"VERSION_PATTERN must be anchored: {VERSION_PATTERN!r}")
    return f"^(latest|{VERSION_PATTERN[1:-1]})$"


@dataclass(frozen=True)
class RegoView:
    """What the template's entry module needs, as finished Rego literals and text."""

    package: str
    kind: str
    ignored_subresources: str  # Rego set literal
    ignored_subresources_text: str
    workload_kinds: str  # Rego set literal
    workload_kinds_text: str
    rounded_int64_limits: str  # Rego array literal of [rounded, limit] pairs
    unknown_namespace: str  # a Go format with one %q: the namespace
    check_order: str  # Rego array literal: PSA's check order
    container_lists: str  # Rego array literal
    container_value_checks: str  # Rego set literal: checks whose excusable values are each container's


@dataclass(frozen=True)
class TemplateView:
    kind: str
    name: str
    rego: str
    libs: tuple[str, ...]
    schema: str  # the parameters' openAPIV3Schema, as block YAML
    bundle_version: str  # quoted YAML scalar


@dataclass(frozen=True)
class AssertionView:
    violations: int
    message: str  # quoted YAML scalar (a Go regexp); "" asserts on every violation


@dataclass(frozen=True)
class CaseView:
    name: str
    object: str
    inventory: tuple[str, ...]
    assertions: tuple[AssertionView, ...]


@dataclass(frozen=True)
class SuiteTestView:
    name: str
    template: str
    constraint: str
    invalid: bool
    cases: tuple[CaseView, ...]


def lib_modules() -> dict[str, str]:
    """The shared library (``lib/…`` modules of ``rego_modules()``), exactly as written to out/rego/lib."""
    return {path: text for path, text in rego_modules().items() if path.startswith("lib/")}


def match_kinds() -> list[dict[str, Any]]:
    """Pods and every pod-template workload, grouped by API group; refuses kinds it has no group for."""
    if set(API_GROUPS) != set(EVALUATED_KINDS):
        raise ValueError(f"API_GROUPS {sorted(API_GROUPS)} must list exactly the kinds {sorted(EVALUATED_KINDS)}")
    groups: dict[str, list[str]] = {}
    for kind, group in API_GROUPS.items():
        groups.setdefault(group, []).append(kind)
    return [{"apiGroups": [group], "kinds": kinds} for group, kinds in groups.items()]


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


def rego_view() -> RegoView:
    return RegoView(
        package=TEMPLATE_NAME,
        kind=TEMPLATE_KIND,
        ignored_subresources=rego_literal(IGNORED_POD_SUBRESOURCES, inline_from=0),
        ignored_subresources_text=", ".join(sorted(IGNORED_POD_SUBRESOURCES)),
        workload_kinds=rego_literal(WORKLOAD_KINDS, inline_from=0),
        workload_kinds_text=", ".join(sorted(WORKLOAD_KINDS)),
        rounded_int64_limits=rego_literal([list(pair) for pair in rounded_int64_limits()], inline_from=0),
        unknown_namespace=UNKNOWN_NAMESPACE,
        check_order=rego_literal(list(CHECK_ORDER)),
        container_lists=rego_literal(list(CONTAINER_LISTS), inline_from=0),
        container_value_checks=rego_literal(set(VALUE_FIELDS) - POD_LEVEL_VALUES, inline_from=0),
    )


def entry_module(env: jinja2.Environment) -> str:
    """The template's own Rego (its ``violation`` rule); the checks and PSA's admission rules live in the libs."""
    return render_template(env, "gatekeeper/podsecurity.rego.j2", template=rego_view())


def parameters_schema() -> dict[str, Any]:
    """The Constraint parameters, with PSA's own syntax for levels and versions: a bad one is refused at apply."""
    level = {"type": "string", "enum": list(LEVELS)}
    version = {"type": "string", "pattern": schema_version_pattern()}
    names = {"type": "array", "items": {"type": "string"}}
    defaults = {
        key: {**(version if key.endswith("-version") else level)} for mode in MODES for key in (mode, f"{mode}-version")
    }
    return {
        "type": "object",
        "properties": {
            "mode": {
                "type": "string",
                "enum": list(MODE_ACTIONS),
                "description": "Which PSA mode this Constraint is: enforce (deny), warn, audit (dryrun).",
            },
            "defaults": {
                "type": "object",
                "description": "PSA's defaults, as in its configuration file: the level and version of each "
                "mode for a namespace without that label.",
                "properties": defaults,
            },
            "exemptions": {
                "type": "object",
                "description": "PSA's exemptions, as in its configuration file (exact names).",
                "properties": {"usernames": names, "runtimeClasses": names, "namespaces": names},
            },
            "denyWorkloads": {
                "type": "boolean",
                "description": "Enforce on workloads (Deployment, CronJob, ...) too; PSA only warns and audits them.",
            },
            "exclusions": {
                "type": "array",
                "description": "pssgen's per-check exclusions (pssgen generate --config): each waives its checks "
                "only for what it names.",
                "items": {
                    "type": "object",
                    "properties": {
                        **{key: names for key in ("checks", "images", "containers", "values", "namespaces")},
                        "namespaceSelector": {
                            "type": "object",
                            "properties": {
                                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "matchExpressions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "key": {"type": "string"},
                                            "operator": {"type": "string", "enum": list(SELECTOR_OPERATORS)},
                                            "values": names,
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }


def template_view(env: jinja2.Environment) -> TemplateView:
    schema = yaml.safe_dump(parameters_schema(), sort_keys=False, default_flow_style=False, width=120)
    return TemplateView(
        kind=TEMPLATE_KIND,
        name=TEMPLATE_NAME,
        rego=entry_module(env),
        libs=tuple(lib_modules().values()),
        schema=schema,
        bundle_version=yaml_string(__version__),
    )


# --- Constraints and the PSA configuration -------------------------------------------------------


def defaults_data(policy: NamespacePolicy) -> dict[str, str]:
    """The defaults as PSA's configuration file spells them (``enforce``, ``enforce-version``, ...)."""
    data: dict[str, str] = {}
    for mode in MODES:
        lv: LevelVersion = getattr(policy, mode)
        data[mode], data[f"{mode}-version"] = lv.level, str(lv.version)
    return data


def constraint_parameters(config: PsaConfiguration, mode: str, *, deny_workloads: bool = False,
                          exclusions: Sequence[Exclusion] = ()) -> dict[str, Any]:  # fmt: skip
    parameters: dict[str, Any] = {
        "mode": mode,
        "defaults": defaults_data(config.defaults),
        "exemptions": config.exemptions_data(),
    }
    if deny_workloads:
        parameters["denyWorkloads"] = True
    if exclusions:
        parameters["exclusions"] = rules_data(exclusions)
    return parameters


def constraint(config: PsaConfiguration, mode: str, *, name: str | None = None, deny_workloads: bool = False,
               exclusions: Sequence[Exclusion] = ()) -> dict[str, Any]:  # fmt: skip
    """The Constraint for one of PSA's modes under ``config``, matching every kind PSA judges."""
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": TEMPLATE_KIND,
        "metadata": {"name": name or constraint_name(mode)},
        "spec": {
            "enforcementAction": MODE_ACTIONS[mode],
            "match": {"kinds": match_kinds()},
            "parameters": constraint_parameters(config, mode, deny_workloads=deny_workloads, exclusions=exclusions),
        },
    }


def admission_configuration(config: PsaConfiguration) -> dict[str, Any]:
    """The kube-apiserver ``--admission-control-config-file`` that makes built-in PSA judge as the bundle does."""
    psc = {"apiVersion": _PSC_API_VERSION, "kind": "PodSecurityConfiguration",
           "defaults": defaults_data(config.defaults), "exemptions": config.exemptions_data()}  # fmt: skip
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [{"name": "PodSecurity", "configuration": psc}],
    }


def sync_config() -> dict[str, Any]:
    """Gatekeeper's sync Config replicating Namespaces into data.inventory, the template's fallback."""
    return {
        "apiVersion": "config.gatekeeper.sh/v1alpha1",
        "kind": "Config",
        "metadata": {"name": "config", "namespace": "gatekeeper-system"},
        "spec": {"sync": {"syncOnly": [{"group": "", "version": "v1", "kind": "Namespace"}]}},
    }


_MODE_COMMENT: Mapping[str, tuple[str, ...]] = {
    "enforce": (
        "PSA's enforce mode: a Pod the namespace's enforce level forbids is denied with",
        "PSA's message. Workloads are not enforced (PSA only warns and audits them)",
        "unless parameters.denyWorkloads is true (pssgen generate --deny-workloads).",
    ),
    "warn": (
        "PSA's warn mode: kubectl prints PSA's warning for a Pod or workload the",
        "namespace's warn level forbids, when the request is otherwise allowed.",
    ),
    "audit": (
        "PSA's audit mode: Gatekeeper's audit lists every stored Pod and workload the",
        "namespace's audit level forbids (kubectl get k8spodsecurity pod-security-audit",
        "-o yaml, status.violations), with PSA's audit-violations text.",
    ),
}


def _configuration_comment(config: PsaConfiguration, source: str) -> tuple[str, ...]:
    d = config.defaults
    listed = [f"{what} {', '.join(names)}" for what, names in (
        ("usernames", config.usernames), ("runtimeClasses", config.runtime_classes), ("namespaces", config.namespaces),
    ) if names]  # fmt: skip
    return (
        f"From {source}: a namespace without PSA labels is {d.enforce} in enforce, {d.audit} in audit",
        f"and {d.warn} in warn; exempt: {'; '.join(listed) or 'nothing'}.",
    )


# --- samples and the suite -----------------------------------------------------------------------

IMAGE = "registry.example/app:1.0"
EXEMPT_USER = "ci-bot"
EXEMPT_RUNTIME_CLASS = "kata"
EXEMPT_NAMESPACE = "kube-system"
UNKNOWN = "not-synced"
NET_TEAM = "net-team"  # enforce=restricted, and team=net, which a sample exclusion selects
USER = "jane@example.com"


def _sysctl_pin() -> tuple[str, str]:
    """A sysctl the newest version allows and the version before its first addition forbids, from the data."""
    (check,) = [c for c in CHECKS if c.id == "sysctls"]
    first_change = check.versions[1]
    before = check.version_at(first_change.minimum_minor - 1)
    newest = check.version_at(NEWEST_MINOR)
    assert before is not None and newest is not None
    added = [s for s in newest.allowed["sysctls"] if s not in before.allowed["sysctls"]]
    return added[0], f"v1.{first_change.minimum_minor - 1}"


def sample_namespaces() -> dict[str, dict[str, str]]:
    """The namespaces the suite's requests are made in, by their PSA labels (gator's inventory)."""
    _, sysctl_version = _sysctl_pin()
    p = LABEL_PREFIX
    return {
        "unlabelled": {},
        "restricted": {f"{p}enforce": "restricted"},
        "baseline-warn-restricted": {f"{p}enforce": "baseline", f"{p}warn": "restricted", f"{p}audit": "restricted"},
        "warn-only": {f"{p}warn": "baseline", f"{p}audit": "baseline"},
        "baseline-pinned": {f"{p}enforce": "baseline", f"{p}enforce-version": sysctl_version},
        "restricted-v1-24": {f"{p}enforce": "restricted", f"{p}enforce-version": "v1.24"},
        "invalid-labels": {f"{p}enforce": "strict", f"{p}audit-version": INVALID_VERSION},
        "future": {f"{p}enforce": "restricted", f"{p}enforce-version": f"v1.{NEWEST_MINOR + 62}"},
        EXEMPT_NAMESPACE: {f"{p}enforce": "restricted"},
        NET_TEAM: {f"{p}enforce": "restricted", "team": "net"},
    }


def _namespace(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


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


def _pod(name: str, spec: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": dict(spec)}


def _objects() -> dict[str, dict[str, Any]]:
    """The objects the suite's requests carry, by name."""
    sysctl, _ = _sysctl_pin()
    sysctl_spec = _compliant_spec()
    sysctl_spec["securityContext"] = {**sysctl_spec["securityContext"], "sysctls": [{"name": sysctl, "value": "1"}]}
    host_spec = {**_compliant_spec(), "hostNetwork": True, "hostPID": True, "restartPolicy": "OnFailure"}
    windows_spec = {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "app", "image": "registry.example/win-app:1.0"}],
    }
    debugger = _container("debugger", "registry.example/debug:1.0", privileged=True, allowPrivilegeEscalation=True)
    debugged = {**_compliant_spec(), "ephemeralContainers": [debugger]}
    return {
        "compliant": _pod("compliant", _compliant_spec()),
        "privileged": _pod("privileged", _privileged_spec()),
        "privileged-relabelled": _pod("privileged", _privileged_spec(), {"team": "a"}),
        "defaults": _pod("defaults", {"containers": [{"name": "app", "image": IMAGE}]}),
        "kata": _pod("kata", {**_privileged_spec(), "runtimeClassName": EXEMPT_RUNTIME_CLASS}),
        **_exclusion_objects(),
        "sysctl": _pod("sysctl", sysctl_spec),
        "windows": _pod("windows", windows_spec),
        "debug-target": _pod("debug-target", _compliant_spec()),
        "debugged": _pod("debug-target", debugged),
        "deployment-privileged": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "privileged"},
            "spec": {
                "selector": {"matchLabels": {"app": "privileged"}},
                "template": {"metadata": {"labels": {"app": "privileged"}}, "spec": _privileged_spec()},
            },
        },
        "cronjob-host-namespaces": {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "host-namespaces"},
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": host_spec}}}},
        },
    }


def _one_container(name: str, image: str = IMAGE, **security_context: Any) -> dict[str, Any]:
    """A restricted Pod of one container, with ``security_context`` over the compliant one's."""
    spec = _compliant_spec()
    (container,) = spec["containers"]
    spec["containers"] = [{**container, "image": image,
                           "securityContext": {**container["securityContext"], **security_context}}]  # fmt: skip
    return _pod(name, spec)


def _exclusion_objects() -> dict[str, dict[str, Any]]:
    """For each form of exclusion, a Pod it waives and a near-identical one it does not."""
    no_seccomp = _pod("no-seccomp", _compliant_spec())
    no_seccomp["spec"]["securityContext"] = {"runAsNonRoot": True}
    host_port = _one_container("host-port")
    host_port["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 8080}]
    legacy = {}
    for name, tag in (("legacy-1-0", "1.0"), ("legacy-1-1", "1.1")):  # no runAsNonRoot anywhere
        legacy[name] = _one_container(name, f"registry.example/legacy:{tag}")
        legacy[name]["spec"]["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    found = {
        "no-seccomp": no_seccomp,
        "host-port": host_port,
        **legacy,
        "vendor-escalates": _one_container("vendor", "registry.example/vendor/agent:2", allowPrivilegeEscalation=True),
        "vendorx-escalates": _one_container(
            "vendorx", "registry.example/vendorx/agent:2", allowPrivilegeEscalation=True
        ),
        "net-admin": _one_container(
            "net-admin", "registry.example/net/router:1", capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}
        ),
        "net-raw": _one_container(
            "net-raw", "registry.example/net/router:1", capabilities={"drop": ["ALL"], "add": ["NET_RAW"]}
        ),
    }
    for name, container in (("fix-permissions", "fix-permissions"), ("fix-permission", "fix-permission")):
        pod = _one_container(name, runAsUser=0)
        pod["spec"]["containers"][0]["name"] = container
        found[name] = pod
    for name, sysctl in (("somaxconn", "net.core.somaxconn"), ("msgmax", "kernel.msgmax")):
        pod = _pod(name, _compliant_spec())
        pod["spec"]["securityContext"] = {**pod["spec"]["securityContext"], "sysctls": [{"name": sysctl, "value": "1"}]}
        found[name] = pod
    for name, volume in (("nfs", {"nfs": {"server": "nfs.example", "path": "/data"}}),
                         ("cephfs", {"cephfs": {"monitors": ["10.0.0.1:6789"]}})):  # fmt: skip
        found[f"volume-{name}"] = _pod(f"volume-{name}", {**_compliant_spec(), "volumes": [{"name": "data", **volume}]})
    return found


# The sample exclusions: one of each form, as a pssgen configuration file spells them.
SAMPLE_EXCLUSIONS: dict[str, Any] = {
    "apiVersion": "pssgen.dev/v1alpha1",
    "kind": "PssgenConfiguration",
    "exclusions": [
        {"checks": ["hostPorts"], "namespaces": [NET_TEAM]},
        {"checks": ["seccompProfile_restricted"], "namespaceSelector": {"matchLabels": {"team": "net"}}},
        {"checks": ["runAsNonRoot"], "images": ["registry.example/legacy:1.0"]},
        {"checks": ["allowPrivilegeEscalation"], "images": ["registry.example/vendor/*"]},
        {"checks": ["runAsUser"], "containers": ["fix-permissions"]},
        {"controls": ["Capabilities"], "images": ["registry.example/net/*"], "values": ["NET_ADMIN"]},
        {"checks": ["sysctls"], "values": ["net.core.somaxconn"]},
        {"checks": ["restrictedVolumes"], "values": ["nfs"]},
    ],
}
# Each form: (form, the object it waives, in which namespace, its near-identical twin). Every twin is judged in
# TWIN_NAMESPACE (enforce=restricted), where the exclusion leaves it denied.
EXCLUSION_PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("namespaces", "host-port", NET_TEAM, "host-port"),
    ("namespaceSelector", "no-seccomp", NET_TEAM, "no-seccomp"),
    ("images (exact)", "legacy-1-0", "restricted", "legacy-1-1"),
    ("images (prefix*)", "vendor-escalates", "restricted", "vendorx-escalates"),
    ("containers", "fix-permissions", "restricted", "fix-permission"),
    ("values (capabilities.add)", "net-admin", "restricted", "net-raw"),
    ("values (sysctls)", "somaxconn", "restricted", "msgmax"),
    ("values (volume types)", "volume-nfs", "restricted", "volume-cephfs"),
)
TWIN_NAMESPACE = "restricted"


def sample_exclusions() -> tuple[Exclusion, ...]:
    return parse_configuration(SAMPLE_EXCLUSIONS, "the sample exclusions")


def exclusion_pairs() -> tuple[tuple[str, Case, Case], ...]:
    """For each form of exclusion: the case it waives and the near-identical case it leaves denied."""
    return tuple(
        (form,
         Case(f"excluded-{waived}", f"Exclusion by {form}: waived.", waived, namespace, group="exclusions"),
         Case(f"excluded-{twin}-{TWIN_NAMESPACE}", f"Exclusion by {form}: the near-identical Pod it does not waive.",
              twin, TWIN_NAMESPACE, group="exclusions"))
        for form, waived, namespace, twin in EXCLUSION_PAIRS
    )  # fmt: skip


def _exclusion_cases() -> tuple[Case, ...]:
    return tuple(case for _, waived, twin in exclusion_pairs() for case in (waived, twin))


@dataclass(frozen=True)
class Case:
    """One admission request of the suite, and what it shows."""

    name: str
    description: str
    obj: str  # a key of _objects()
    namespace: str
    operation: str = "CREATE"
    username: str = USER
    subresource: str = ""
    old: str | None = None
    group: str = "admission"  # which sample configurations review it: "admission" or "exclusions"

    @property
    def path(self) -> str:
        return f"samples/{self.name}.yaml"

    def request(self) -> Request:
        """The request; a DELETE's object is what it deletes (its ``obj`` and ``old`` are the same)."""
        objects = _objects()
        old = objects[self.old] if self.old else None
        return Request(objects[self.obj], self.namespace, self.operation, self.username, self.subresource, old)

    def decision(self, config: PsaConfiguration, deny_workloads: bool = False,
                 exclusions: Sequence[Exclusion] = ()) -> Decision:  # fmt: skip
        labels = sample_namespaces().get(self.namespace)
        return admit(self.request(), labels, config, namespace_known=labels is not None,
                     deny_workloads=deny_workloads, exclusions=exclusions)  # fmt: skip


def cases() -> tuple[Case, ...]:
    sysctl, sysctl_version = _sysctl_pin()
    return (
        Case("pod-compliant", "A Pod meeting restricted at every version.", "compliant", "restricted"),
        Case("pod-privileged-unlabelled", "A privileged Pod in a namespace without labels: the defaults.",
             "privileged", "unlabelled"),
        Case("pod-privileged-restricted", "A privileged Pod where enforce=restricted: denied, so no warning.",
             "privileged", "restricted"),
        Case("pod-defaults-warned", "A Pod with no security settings where enforce=baseline, warn=restricted.",
             "defaults", "baseline-warn-restricted"),
        Case("pod-privileged-warn-only", "A privileged Pod where only warn and audit are set: allowed, warned.",
             "privileged", "warn-only"),
        Case("deployment-privileged", "A privileged Deployment where enforce=restricted: PSA never enforces on "
             "workloads; warn follows enforce.", "deployment-privileged", "restricted"),
        Case("cronjob-host-namespaces", "A CronJob sharing the host's namespaces, judged through its job template.",
             "cronjob-host-namespaces", "baseline-warn-restricted"),
        Case("pod-sysctl-pinned", f"A Pod setting {sysctl} where enforce-version={sysctl_version}, before it was "
             "allowed.", "sysctl", "baseline-pinned"),
        Case("pod-windows-v1-24", "A Windows Pod at restricted v1.24, before its exemptions.", "windows",
             "restricted-v1-24"),
        Case("pod-windows-latest", "The same Windows Pod at restricted latest: allowed.", "windows", "restricted"),
        Case("pod-invalid-labels", "enforce=strict is no level: PSA enforces restricted (fail closed).", "defaults",
             "invalid-labels"),
        Case("pod-future-version", "enforce-version above the newest: judged as the newest, printed as labelled.",
             "privileged", "future"),
        Case("pod-exempt-namespace", "A privileged Pod in a namespace the configuration exempts.", "privileged",
             EXEMPT_NAMESPACE),
        Case("pod-exempt-user", "A privileged Pod created by a user the configuration exempts.", "privileged",
             "restricted", username=EXEMPT_USER),
        Case("pod-exempt-runtime-class", "A privileged Pod whose runtimeClassName the configuration exempts.",
             "kata", "restricted"),
        Case("pod-unknown-namespace", "A Pod in a namespace the policy cannot see (not synced): refused.",
             "compliant", UNKNOWN),
        Case("update-labels-only", "A label change on a privileged Pod: PSA does not judge updates that change no "
             "image or container.", "privileged-relabelled", "restricted", "UPDATE", old="privileged"),
        Case("update-ephemeral-privileged", "kubectl debug adding a privileged ephemeral container "
             "(pods/ephemeralcontainers).", "debugged", "restricted", "UPDATE", subresource="ephemeralcontainers",
             old="debug-target"),
        Case("update-status", "A status update of a privileged Pod: an ignored subresource.", "privileged",
             "restricted", "UPDATE", subresource="status", old="privileged"),
        Case("delete-privileged", "Deleting a privileged Pod: never judged.", "privileged", "restricted", "DELETE",
             old="privileged"),
        *_exclusion_cases(),
    )  # fmt: skip


def _admission_review(case: Case) -> dict[str, Any]:
    """The case's request as the API server sends it; gator verify takes an AdmissionReview as the object."""
    request_of = case.request()
    obj = request_of.obj
    group = API_GROUPS[str(obj.get("kind"))]
    plural = f"{str(obj['kind']).lower()}s"
    request: dict[str, Any] = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://pssgen.invalid/samples/{case.name}")),  # stable
        "kind": {"group": group, "version": "v1", "kind": obj["kind"]},
        "resource": {"group": group, "version": "v1", "resource": plural},
        "name": obj["metadata"]["name"],
        "namespace": case.namespace,
        "operation": case.operation,
        "userInfo": {"username": case.username, "groups": ["system:authenticated"]},
    }
    if case.subresource:
        request["subResource"] = case.subresource
    if case.operation != "DELETE":
        request["object"] = _in_namespace(obj, case.namespace)
    if request_of.old is not None:
        request["oldObject"] = _in_namespace(request_of.old, case.namespace)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _in_namespace(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}


@dataclass(frozen=True)
class SampleConfiguration:
    """A configuration the suite runs the template under, with its Constraints under samples/constraints/."""

    name: str
    description: str
    config: PsaConfiguration
    deny_workloads: bool = False
    modes: tuple[str, ...] = tuple(MODE_ACTIONS)
    shipped: bool = False  # the bundle's own Constraints, rendered from the configuration generate was given
    claims: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # case -> (mode, "reports" | "allows")
    exclusions: tuple[Exclusion, ...] = ()
    groups: tuple[str, ...] = ("admission",)  # the cases it reviews

    def decision(self, case: Case) -> Decision:
        return case.decision(self.config, self.deny_workloads, self.exclusions)

    def constraint_path(self, mode: str) -> str:
        return constraint_path(mode) if self.shipped else f"samples/constraints/{self.name}-{mode}.yaml"


def configured_sample() -> PsaConfiguration:
    """The suite's sample configuration: enforce baseline, audit and warn restricted, an exemption of each kind."""
    latest = parse_version("latest")
    defaults = NamespacePolicy(LevelVersion("baseline", latest), LevelVersion("restricted", latest),
                               LevelVersion("restricted", latest))  # fmt: skip
    return PsaConfiguration(defaults, (EXEMPT_USER,), (EXEMPT_NAMESPACE,), (EXEMPT_RUNTIME_CLASS,))


def sample_configurations(config: PsaConfiguration, deny_workloads: bool, exclusions: Sequence[Exclusion] = ()
                          ) -> tuple[SampleConfiguration, ...]:  # fmt: skip
    """The shipped Constraints, then the samples whose claims pin each mode, exemption, exclusion and the workload
    switch."""
    waived = {case.name: ("enforce", "allows") for _, case, _ in exclusion_pairs()}
    twins = {case.name: ("enforce", "reports") for _, _, case in exclusion_pairs()}
    return (
        SampleConfiguration(
            "shipped",
            "the bundle's Constraints",
            config,
            deny_workloads,
            shipped=True,
            exclusions=tuple(exclusions),
            groups=("admission", "exclusions") if exclusions else ("admission",),
        ),
        SampleConfiguration(
            "configured",
            "defaults enforce=baseline, audit and warn restricted; each kind of exemption",
            configured_sample(),
            claims={
                "pod-privileged-unlabelled": ("enforce", "reports"),
                "pod-defaults-warned": ("warn", "reports"),
                "pod-privileged-restricted": ("warn", "allows"),
                "deployment-privileged": ("enforce", "allows"),
                "cronjob-host-namespaces": ("audit", "reports"),
                "pod-exempt-namespace": ("enforce", "allows"),
                "pod-exempt-user": ("enforce", "allows"),
                "pod-exempt-runtime-class": ("enforce", "allows"),
                "pod-unknown-namespace": ("enforce", "reports"),
                "update-labels-only": ("enforce", "allows"),
                "update-ephemeral-privileged": ("enforce", "reports"),
                "update-status": ("enforce", "allows"),
                "delete-privileged": ("enforce", "allows"),
                "pod-sysctl-pinned": ("enforce", "reports"),
                "pod-windows-v1-24": ("enforce", "reports"),
                "pod-windows-latest": ("enforce", "allows"),
                "pod-invalid-labels": ("enforce", "reports"),
                "pod-future-version": ("enforce", "reports"),
                "pod-privileged-warn-only": ("enforce", "reports"),
            },
        ),
        SampleConfiguration(
            "deny-workloads",
            "PSA's defaults with --deny-workloads: workloads are enforced too",
            PSA_DEFAULTS,
            deny_workloads=True,
            modes=("enforce",),
            claims={"deployment-privileged": ("enforce", "reports")},
        ),
        SampleConfiguration(
            "exclusions",
            "the configured sample with one exclusion of each form",
            configured_sample(),
            modes=("enforce",),
            claims={**waived, **twins},
            exclusions=sample_exclusions(),
            groups=("exclusions",),
        ),
    )


def _check_claims(sample: SampleConfiguration, by_name: Mapping[str, Case]) -> None:
    """Each sample configuration must still show what it claims; otherwise the suite would prove nothing."""
    broken = []
    for name, (mode, claim) in sample.claims.items():
        message = sample.decision(by_name[name]).message(mode)
        if (message is not None) != (claim == "reports"):
            broken.append(f"{name} {claim} in {mode}")
    if broken:
        raise ValueError(f"Gatekeeper suite configuration {sample.name} no longer shows: {', '.join(broken)}")


def go_quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta: gator matches ``message`` with Go regexps, which refuse Python's extra escapes."""
    return "".join("\\" + ch if ch in r"\.+*?()|[]{}^$" else ch for ch in text)


def _case_view(case: Case, sample: SampleConfiguration, mode: str) -> CaseView:
    message = sample.decision(case).message(mode)
    assertions = [AssertionView(0 if message is None else 1, "")]
    if message is not None:
        assertions.append(AssertionView(1, yaml_string(f"^{go_quote_meta(message)}$")))
    return CaseView(case.name, case.path, (NAMESPACES_PATH,), tuple(assertions))


def suite_tests(config: PsaConfiguration, deny_workloads: bool, exclusions: Sequence[Exclusion] = ()
                ) -> tuple[SuiteTestView, ...]:  # fmt: skip
    by_name = {c.name: c for c in cases()}
    tests = []
    for sample in sample_configurations(config, deny_workloads, exclusions):
        _check_claims(sample, by_name)
        for mode in sample.modes:
            views = tuple(_case_view(c, sample, mode) for c in by_name.values() if c.group in sample.groups)
            tests.append(SuiteTestView(f"{sample.name}-{mode}", TEMPLATE_PATH, sample.constraint_path(mode), False,
                                       views))  # fmt: skip
    tests.append(SuiteTestView("invalid-version", TEMPLATE_PATH, _invalid_constraint_path(), True, ()))
    return tuple(tests)


def _invalid_constraint_path() -> str:
    return "samples/constraints/invalid-version.yaml"


def _invalid_constraint() -> dict[str, Any]:
    found = constraint(PSA_DEFAULTS, "enforce", name="pss-invalid-version")
    found["spec"]["parameters"]["defaults"]["enforce-version"] = INVALID_VERSION
    return found


# --- rendering -----------------------------------------------------------------------------------


def _document(env: jinja2.Environment, comment: Sequence[str], *documents: Mapping[str, Any]) -> str:
    return render_document(env, comment, documents)


def gatekeeper_bundle(
    config: PsaConfiguration = PSA_DEFAULTS,
    *,
    deny_workloads: bool = False,
    source: str = "PSA's defaults (no file)",
    exclusions: Sequence[Exclusion] = (),
) -> dict[str, str]:
    """Every file of ``out/gatekeeper`` for ``config``, keyed by its path there; byte-identical for the same input."""
    env = environment()
    files: dict[str, str] = {
        TEMPLATE_PATH: render_template(env, "gatekeeper/template.yaml.j2", template=template_view(env))
    }
    where = _configuration_comment(config, source)
    for mode in MODE_ACTIONS:
        comment = (*_MODE_COMMENT[mode], "", *where)
        body = constraint(config, mode, deny_workloads=deny_workloads, exclusions=exclusions)
        files[constraint_path(mode)] = _document(env, comment, body)
    files[ADMISSION_CONFIGURATION_PATH] = _document(env, (
        "The kube-apiserver --admission-control-config-file equivalent to this bundle: built-in PSA with it judges",
        "every request as the bundle's Constraints do. Use it to go back, or to run both side by side.",
        *where), admission_configuration(config))  # fmt: skip
    files[SYNC_CONFIG_PATH] = _document(env, (
        "Only for a Gatekeeper that does not give Rego input.review.namespaceObject: replicate Namespaces",
        "into data.inventory, where the template then reads their labels. Gatekeeper has one Config",
        "(gatekeeper-system/config); merge this into yours rather than replacing it.",
    ), sync_config())  # fmt: skip
    namespaces = [_namespace(n, labels) for n, labels in sample_namespaces().items()]
    files[NAMESPACES_PATH] = _document(env, ("The suite's namespaces (gator's inventory), with their PSA labels.",),
                                       *namespaces)  # fmt: skip
    for case in cases():
        files[case.path] = _document(env, (case.description,), _admission_review(case))
    for sample in sample_configurations(config, deny_workloads, exclusions):
        if sample.shipped:
            continue
        for mode in sample.modes:
            name = f"{sample.name}-{mode}"
            comment = (f"A sample Constraint for suite.yaml: {sample.description}.",)
            body = constraint(sample.config, mode, name=name, deny_workloads=sample.deny_workloads,
                              exclusions=sample.exclusions)  # fmt: skip
            files[sample.constraint_path(mode)] = _document(env, comment, body)
    files[_invalid_constraint_path()] = _document(env, (
        f"A sample Constraint for suite.yaml: enforce-version {INVALID_VERSION} must be refused by the schema.",
    ), _invalid_constraint())  # fmt: skip
    resources = [TEMPLATE_PATH, *(constraint_path(mode) for mode in MODE_ACTIONS)]
    files[KUSTOMIZATION_PATH] = render_template(env, "gatekeeper/kustomization.yaml.j2", resources=resources)
    tests = suite_tests(config, deny_workloads, exclusions)
    files[SUITE_PATH] = render_template(env, "gatekeeper/suite.yaml.j2", tests=tests)
    return dict(sorted(files.items()))
