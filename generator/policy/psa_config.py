"""PSA's own configuration file, as the API server reads it: defaults for unlabelled namespaces, and exemptions.

Why: a team moving to pssgen already has this file (the ``PodSecurity`` entry of
the API server's ``--admission-control-config-file``). Reading it as the API
server does, refusing what it refuses with the same words, lets ``pssgen
check`` judge offline exactly as that cluster will.

What the API server does, in order (``k8s.io/pod-security-admission/admission/api``):
decode ``PodSecurityConfiguration`` strictly (v1, v1beta1 and v1alpha1 are the
same type: no field differs between them; an unknown field is an error), fill
empty defaults with ``privileged`` and ``latest``, turn the defaults into a
policy (every bad level or version, ``PodSecurity configuration error: ...``),
then validate the exemptions (each bad or repeated entry, ``PodSecurity invalid:
...``). The messages below are PSA's and apimachinery's, byte for byte (the live
cluster suite starts a kube-apiserver with each bad file and compares).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.errors import PssgenError
from generator.policy.namespaces import LevelVersion, NamespacePolicy
from generator.policy.pod import pod_template
from generator.policy.versions import LEVEL_PROBLEM, VERSION_PROBLEM, parse_level, parse_version

GROUP = "pod-security.admission.config.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha1")  # one type: no field differs
KIND = "PodSecurityConfiguration"
_DEFAULT_FIELDS = ("enforce", "enforce-version", "audit", "audit-version", "warn", "warn-version")
_EXEMPTION_FIELDS = ("usernames", "namespaces", "runtimeClasses")
# PSA's reasons for not judging a request, in the order it tests them (the ``exempt`` audit annotation's values).
EXEMPT_NAMESPACE, EXEMPT_USER, EXEMPT_RUNTIME_CLASS = "namespace", "user", "runtimeClass"
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


class PsaConfigError(PssgenError, ValueError):
    """The configuration is one the API server refuses to start with; the message is its own."""


@dataclass(frozen=True, slots=True)
class PsaConfiguration:
    """The defaults for namespaces without labels, and who and what PSA never judges."""

    defaults: NamespacePolicy
    usernames: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    runtime_classes: tuple[str, ...] = ()

    def exempt(self, *, namespace: str | None, username: str | None, runtime_class: str | None) -> str | None:
        """Why PSA would not judge this request (``namespace``, ``user`` or ``runtimeClass``), or None.

        PSA's order (admission.go: ValidatePod, then EvaluatePod) and its test: an exact match of a non-empty value.
        """
        if namespace and namespace in self.namespaces:
            return EXEMPT_NAMESPACE
        if username and username in self.usernames:
            return EXEMPT_USER
        if runtime_class and runtime_class in self.runtime_classes:
            return EXEMPT_RUNTIME_CLASS
        return None

    def exempt_request(self, *, namespace: str | None, username: str | None, obj: Mapping[str, Any]) -> str | None:
        """``exempt`` for a request creating ``obj``, whose runtime class is its pod's or pod template's."""
        return self.exempt(namespace=namespace, username=username, runtime_class=runtime_class(obj))

    def exemptions_data(self) -> dict[str, list[str]]:
        """The exemptions as the configuration file spells them, the data the Rego's exemption takes."""
        return {
            "namespaces": list(self.namespaces),
            "runtimeClasses": list(self.runtime_classes),
            "usernames": list(self.usernames),
        }


def runtime_class(obj: Mapping[str, Any]) -> str | None:
    """``spec.runtimeClassName`` of the pod PSA evaluates in ``obj``; None for other kinds or when it is unset."""
    template = pod_template(obj)
    spec = template.get("spec") if template is not None else None
    value = spec.get("runtimeClassName") if isinstance(spec, Mapping) else None
    return value if isinstance(value, str) else None


_PRIVILEGED = LevelVersion("privileged", parse_version("latest"))
PSA_DEFAULTS = PsaConfiguration(NamespacePolicy(_PRIVILEGED, _PRIVILEGED, _PRIVILEGED))  # no file: privileged:latest


def _quote(value: str) -> str:
    """apimachinery's rendering of a string value in a field error (Go's %q)."""
    return json.dumps(value, ensure_ascii=False)


def _aggregate(errors: Sequence[str]) -> str:
    """apimachinery's utilerrors aggregate: one message as it is, several in brackets; repeats only once."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else f"[{', '.join(unique)}]"


def _unknown_fields(config: Mapping[str, Any]) -> list[str]:
    """Fields the type does not have, in the document's order (as the strict decoder lists them)."""
    known = {"defaults": _DEFAULT_FIELDS, "exemptions": _EXEMPTION_FIELDS}
    found = []
    for key, value in config.items():
        if key in ("apiVersion", "kind"):
            continue
        if key not in known:
            found.append(key)
        elif isinstance(value, Mapping):
            found += [f"{key}.{inner}" for inner in value if inner not in known[key]]
    return found


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PsaConfigError(f"{where} must be a list of strings")
    return value


def parse_configuration(config: Mapping[str, Any]) -> PsaConfiguration:
    """A ``PodSecurityConfiguration`` object (already read from YAML or JSON) as PSA would load it."""
    api_version, kind = config.get("apiVersion"), config.get("kind")
    if api_version not in API_VERSIONS or kind != KIND:
        raise PsaConfigError(
            f"expected apiVersion {' or '.join(API_VERSIONS)} and kind {KIND}, got {api_version!r} {kind!r}"
        )
    unknown = _unknown_fields(config)
    if unknown:
        raise PsaConfigError("strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown))
    defaults = config.get("defaults") or {}
    exemptions = config.get("exemptions") or {}
    if not isinstance(defaults, Mapping) or not isinstance(exemptions, Mapping):
        raise PsaConfigError("defaults and exemptions must be mappings")
    values: dict[str, str] = {}
    for name in _DEFAULT_FIELDS:
        value = defaults.get(name)
        if value is not None and not isinstance(value, str):
            raise PsaConfigError(f"defaults.{name} must be a string")
        values[name] = value or ("latest" if name.endswith("-version") else "privileged")
    # ToPolicy, in its order: enforce, audit, warn, each level then version.
    problems: list[str] = []
    modes: dict[str, LevelVersion] = {}
    for mode in ("enforce", "audit", "warn"):
        level, version = values[mode], values[f"{mode}-version"]
        try:
            parsed_level = parse_level(level)
        except ValueError:
            problems.append(f"{mode}: {LEVEL_PROBLEM}")
        try:
            parsed_version = parse_version(version)
        except ValueError:
            problems.append(f"{mode}-version: {VERSION_PROBLEM}")
        if not problems:
            modes[mode] = LevelVersion(parsed_level, parsed_version)
    if problems:
        raise PsaConfigError(f"PodSecurity configuration error: {_aggregate(problems)}")
    usernames = _strings(exemptions.get("usernames"), "exemptions.usernames")
    namespaces = _strings(exemptions.get("namespaces"), "exemptions.namespaces")
    runtime_classes = _strings(exemptions.get("runtimeClasses"), "exemptions.runtimeClasses")
    invalid = [
        *_entries("exemptions.namespaces", namespaces, _namespace_problem),
        *_entries("exemptions.runtimeClasses", runtime_classes, _subdomain_problem),
        *_entries("exemptions.usernames", usernames, lambda u: "username must not be empty" if not u else None),
    ]
    if invalid:
        raise PsaConfigError(f"PodSecurity invalid: {_aggregate(invalid)}")
    policy = NamespacePolicy(modes["enforce"], modes["audit"], modes["warn"])
    return PsaConfiguration(policy, tuple(usernames), tuple(namespaces), tuple(runtime_classes))


def _entries(path: str, values: Sequence[str], problem: Any) -> list[str]:
    """PSA's exemption list validation: each invalid entry, then each repeat of a valid one (by index)."""
    errors, seen = [], set()
    for i, value in enumerate(values):
        why = problem(value)
        if why is not None:
            errors.append(f"{path}[{i}]: Invalid value: {_quote(value)}: {why}")
        elif value in seen:
            errors.append(f"{path}[{i}]: Duplicate value: {_quote(value)}")
        else:
            seen.add(value)
    return errors


def _namespace_problem(name: str) -> str | None:
    """apimachinery's ValidateNamespaceName (IsDNS1123Label), its messages joined as PSA joins them."""
    found = []
    if len(name) > 63:
        found.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.match(name):
        # a valid subdomain that is no label: the length was checked, so it must be its dots
        found.append("must not contain dots" if _DNS1123_SUBDOMAIN.match(name) else _LABEL_MESSAGE)
    return ", ".join(found) or None


def _subdomain_problem(name: str) -> str | None:
    """apimachinery's NameIsDNSSubdomain (IsDNS1123Subdomain)."""
    found = []
    if len(name) > 253:
        found.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(name):
        found.append(_SUBDOMAIN_MESSAGE)
    return ", ".join(found) or None
