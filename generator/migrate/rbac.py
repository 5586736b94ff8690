"""Who may use which PSP, from RBAC objects: the PSPs a namespace's pods could have been admitted under.

PSP admission let a pod in when its creator or its service account could ``use`` a PSP that admits it, in the
pod's namespace. A RoleBinding grants in its own namespace; a ClusterRoleBinding everywhere, except to service
accounts of one namespace (a ServiceAccount subject, or the group ``system:serviceaccounts:<ns>``), whose pods
are in that namespace. A rule without ``resourceNames`` grants every PSP, which here means every PSP in the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

RBAC_KINDS: Final = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
EVERY_NAMESPACE: Final = "*"
_GROUPS: Final = ("policy", "extensions", "*")
_RESOURCES: Final = ("podsecuritypolicies", "*")
_VERBS: Final = ("use", "*")
_SA_GROUP: Final = "system:serviceaccounts:"


@dataclass
class Grants:
    """The PSPs usable per namespace (``*``: in every namespace), and what could not be followed."""

    by_namespace: dict[str, set[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.by_namespace)

    def usable(self, namespace: str) -> set[str]:
        return self.by_namespace.get(namespace, set()) | self.by_namespace.get(EVERY_NAMESPACE, set())


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _granted(rules: Any, every_psp: set[str]) -> set[str]:
    """The PSP names a role's rules let its subjects ``use``."""
    out: set[str] = set()
    for rule in rules if isinstance(rules, list) else ():
        if not isinstance(rule, Mapping):
            continue
        if not (
            set(_strings(rule.get("apiGroups"))) & set(_GROUPS)
            and set(_strings(rule.get("resources"))) & set(_RESOURCES)
            and set(_strings(rule.get("verbs"))) & set(_VERBS)
        ):
            continue
        names = _strings(rule.get("resourceNames"))
        out |= set(names) if names else every_psp
    return out


def _meta(obj: Mapping[str, Any], key: str) -> str:
    metadata = obj.get("metadata")
    value = metadata.get(key) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) else ""


def _scopes(subjects: Any) -> set[str]:
    """Where a ClusterRoleBinding's subjects create pods: one namespace for service accounts, else everywhere."""
    out: set[str] = set()
    for subject in subjects if isinstance(subjects, list) else ():
        if not isinstance(subject, Mapping):
            continue
        kind, name, namespace = subject.get("kind"), subject.get("name"), subject.get("namespace")
        if kind == "ServiceAccount" and isinstance(namespace, str) and namespace:
            out.add(namespace)
        elif kind == "Group" and isinstance(name, str) and name.startswith(_SA_GROUP) and name != _SA_GROUP:
            out.add(name.removeprefix(_SA_GROUP))
        else:
            out.add(EVERY_NAMESPACE)
    return out


def grants(objects: Iterable[Mapping[str, Any]], psp_names: Iterable[str]) -> Grants:
    """The PSPs usable in each namespace, from Roles, ClusterRoles and their bindings among ``objects``."""
    every_psp = set(psp_names)
    objects = list(objects)
    roles = {(_meta(o, "namespace"), _meta(o, "name")): o for o in objects if o.get("kind") == "Role"}
    cluster_roles = {_meta(o, "name"): o for o in objects if o.get("kind") == "ClusterRole"}
    out = Grants()
    for binding in objects:
        kind = binding.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ref = binding.get("roleRef") if isinstance(binding.get("roleRef"), Mapping) else {}
        assert isinstance(ref, Mapping)
        ref_kind, ref_name = ref.get("kind"), ref.get("name")
        namespace = _meta(binding, "namespace")
        role = (
            roles.get((namespace, str(ref_name)))
            if ref_kind == "Role" and kind == "RoleBinding"
            else cluster_roles.get(str(ref_name))
            if ref_kind == "ClusterRole"
            else None
        )
        if role is None:
            out.notes.append(f"{kind} {namespace + '/' if namespace else ''}{_meta(binding, 'name')}: "
                             f"{ref_kind} {ref_name!s} is not in the input; not counted")  # fmt: skip
            continue
        granted = _granted(role.get("rules"), every_psp)
        if not granted:
            continue
        scopes = {namespace or EVERY_NAMESPACE} if kind == "RoleBinding" else _scopes(binding.get("subjects"))
        for scope in scopes:
            out.by_namespace.setdefault(scope, set()).update(granted)
    return out
