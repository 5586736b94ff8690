"""PodSecurityPolicy, field by field, against the PSS checks: what a PSP leaves open, changes, or cannot say in PSS.

The mapping is the Kubernetes page "Mapping PodSecurityPolicies to Pod
Security Standards" (reference/access-authn-authz/psp-to-pod-security-standards),
with every allowed value read from the check data (``CheckVersion.allowed``) of
the version in force, never restated, and the page's approximations replaced by
what the checks really judge:

- A PSP is judged by the pods it admits as they are stored, after its own
  defaults (``MUTATIONS`` lists those defaults, which PSA does not apply).
- ``runAsUser: MustRunAsNonRoot`` admits a container that sets a non-zero
  ``runAsUser`` without ``runAsNonRoot: true``; restricted's runAsNonRoot check
  denies it, and no PSP field can require ``runAsNonRoot: true``.
- PSP read seccomp from the pod's annotations as well as its fields; from v1.19
  PSA reads the fields only, so a profile given by annotation alone meets
  baseline but not restricted.
- Fields added to the Pod API after PodSecurityPolicy was removed (v1.25:
  ``appArmorProfile``, ``hostUsers``, image volumes) are not part of the pods a
  PSP admitted; AppArmor is the PSP's annotations.
- A check PSP had no field for (``hostProbesAndHostLifecycle``, from v1.34) is
  open for every PSP: nothing stopped a pod's probe from naming a host.

``RULES`` holds one rule per check ID of the registry (a test fails when a check
has none); a rule returns the ``Opening``s a PSP leaves in that check, each with
the PSP field and value responsible and a witness: the change to an admitted pod
that shows it. ``admits`` is PSP's own validation of a pod, so a proof can show
that every pod it judges is one the PSP would have let in.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from generator.errors import PssgenError
from generator.policy.checks import sysctls as sysctls_check
from generator.policy.model import Allowed
from generator.policy.registry import active_checks

Obj = dict[str, Any]

PSP_KIND: Final = "PodSecurityPolicy"
PSP_API_VERSIONS: Final = ("policy/v1beta1", "extensions/v1beta1")

SECCOMP_ALLOWED: Final = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT: Final = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
APPARMOR_ALLOWED: Final = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT: Final = "apparmor.security.beta.kubernetes.io/defaultProfileName"
SECCOMP_POD_ANNOTATION: Final = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION: Final = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER_ANNOTATION: Final = "container.apparmor.security.beta.kubernetes.io/"
ANY: Final = "*"

# PSP's FSType names (policy/v1beta1) and the pod volume source each stands for: the same name but for cephFS.
PSP_VOLUME_TYPES: Final[Mapping[str, str]] = {
    name: name
    for name in (
        "awsElasticBlockStore",
        "azureDisk",
        "azureFile",
        "cinder",
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "fc",
        "flexVolume",
        "flocker",
        "gcePersistentDisk",
        "gitRepo",
        "glusterfs",
        "hostPath",
        "iscsi",
        "nfs",
        "persistentVolumeClaim",
        "photonPersistentDisk",
        "portworxVolume",
        "projected",
        "quobyte",
        "rbd",
        "scaleIO",
        "secret",
        "storageos",
        "vsphereVolume",
    )
} | {"cephFS": "cephfs"}

USER_RULES: Final = ("MustRunAs", "MustRunAsNonRoot", "RunAsAny")
GROUP_RULES: Final = ("MustRunAs", "MayRunAs", "RunAsAny")
SELINUX_RULES: Final = ("MustRunAs", "RunAsAny")

# The sysctls the kubelet let any pod set while PSP existed (its "safe" set, which PSP allowed without
# allowedUnsafeSysctls): PSA's first sysctls version, which took exactly that set.
PSP_ERA_SAFE_SYSCTLS: Final = sysctls_check.CHECK.versions[0].allowed["sysctls"]

CONTAINER_KINDS: Final = ("initContainers", "containers", "ephemeralContainers")
# The two containers of every pod the proof builds: one init, one regular.
CONTAINERS: Final = (("initContainers", "init"), ("containers", "app"))


class PspError(PssgenError, ValueError):
    """A PodSecurityPolicy the API server would refuse (the message names the field)."""


# ---------------------------------------------------------------- the PSP as read


@dataclass(frozen=True)
class IdRange:
    min: int
    max: int

    def __str__(self) -> str:
        return f"{self.min}-{self.max}"


@dataclass(frozen=True)
class IdRule:
    """runAsUser, runAsGroup, supplementalGroups or fsGroup: a rule and its ranges."""

    rule: str
    ranges: tuple[IdRange, ...] = ()

    def allows(self, value: int) -> bool:
        return any(r.min <= value <= r.max for r in self.ranges)

    def __str__(self) -> str:
        return self.rule + (f" {', '.join(map(str, self.ranges))}" if self.ranges else "")


@dataclass(frozen=True)
class Psp:
    """The fields of a PodSecurityPolicy that pods meet, with the API's defaults applied."""

    name: str
    privileged: bool = False
    default_add_capabilities: tuple[str, ...] = ()
    allowed_capabilities: tuple[str, ...] = ()
    required_drop_capabilities: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    host_ports: tuple[IdRange, ...] = ()
    selinux_rule: str = "RunAsAny"
    selinux_options: Mapping[str, str] = dataclasses.field(default_factory=dict)
    run_as_user: IdRule = IdRule("RunAsAny")
    run_as_group: IdRule | None = None
    supplemental_groups: IdRule = IdRule("RunAsAny")
    fs_group: IdRule = IdRule("RunAsAny")
    read_only_root_filesystem: bool = False
    default_allow_privilege_escalation: bool | None = None
    allow_privilege_escalation: bool = True  # the API's default when unset
    allowed_host_paths: tuple[str, ...] = ()
    allowed_flex_volumes: tuple[str, ...] = ()
    allowed_csi_drivers: tuple[str, ...] = ()
    allowed_unsafe_sysctls: tuple[str, ...] = ()
    forbidden_sysctls: tuple[str, ...] = ()
    allowed_proc_mount_types: tuple[str, ...] = ("Default",)
    default_runtime_class: str | None = None
    allowed_runtime_classes: tuple[str, ...] | None = None
    seccomp_allowed: tuple[str, ...] | None = None  # None: the annotation is absent (no profile may be set)
    seccomp_default: str | None = None
    apparmor_allowed: tuple[str, ...] | None = None  # None: absent (any profile)
    apparmor_default: str | None = None

    @property
    def volume_sources(self) -> frozenset[str]:
        """The pod volume sources it admits (``*``: every one PSP knew)."""
        if ANY in self.volumes:
            return frozenset(PSP_VOLUME_TYPES.values())
        return frozenset(PSP_VOLUME_TYPES[v] for v in self.volumes)

    @property
    def addable_capabilities(self) -> tuple[str, ...]:
        """What a container may add: the allowed and the default ones (``*``: anything)."""
        return tuple(dict.fromkeys((*self.allowed_capabilities, *self.default_add_capabilities)))

    def seccomp_profiles(self) -> tuple[str, ...] | None:
        """The profiles a stored pod can carry ("" for none); None for any. Its default replaces "none"."""
        allowed = self.seccomp_allowed
        if allowed is None:  # no profile may be set; a default given anyway is the one profile pods carry
            allowed = ("",) if self.seccomp_default is None else (self.seccomp_default,)
        return _stored_profiles(allowed, self.seccomp_default, any_allowed=self.seccomp_any)

    @property
    def seccomp_any(self) -> bool:
        return self.seccomp_allowed is not None and ANY in self.seccomp_allowed

    def apparmor_profiles(self) -> tuple[str, ...] | None:
        """The AppArmor profiles a stored pod's containers can carry ("" for none); None for any."""
        if self.apparmor_allowed is None or ANY in self.apparmor_allowed:
            return None
        return _stored_profiles(self.apparmor_allowed, self.apparmor_default, any_allowed=False)


def _stored_profiles(allowed: tuple[str, ...], default: str | None, *, any_allowed: bool) -> tuple[str, ...] | None:
    if any_allowed:
        return None
    profiles = [p for p in allowed if p != ANY]
    if default is not None:
        profiles = [p for p in profiles if p != ""]  # a pod without a profile is given the default
    return tuple(dict.fromkeys(profiles))


def _kind_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return "null"


class _Reader:
    """Typed access to one PSP's fields, each wrong type a ``PspError`` naming the field."""

    def __init__(self, obj: Mapping[str, Any], path: str) -> None:
        self.obj = obj
        self.path = path

    def _fail(self, key: str, want: str, value: Any) -> PspError:
        return PspError(f"{_kind_path(self.path, key)}: must be {want}, got {_type_name(value)}")

    def boolean(self, key: str, default: bool | None = None) -> bool | None:
        value = self.obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean", value)
        return value

    def string(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(key, "a list of strings", value)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self._fail(f"{key}[{i}]", "a string", item)
        return tuple(value)

    def objects(self, key: str) -> list[_Reader]:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list", value)
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self._fail(f"{key}[{i}]", "an object", item)
            out.append(_Reader(item, f"{_kind_path(self.path, key)}[{i}]"))
        return out

    def child(self, key: str, *, required: bool = False) -> _Reader | None:
        value = self.obj.get(key)
        if value is None:
            if required:
                raise PspError(f"{_kind_path(self.path, key)}: required")
            return None
        if not isinstance(value, Mapping):
            raise self._fail(key, "an object", value)
        return _Reader(value, _kind_path(self.path, key))

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer", value)
        if not low <= value <= high:
            raise PspError(f"{_kind_path(self.path, key)}: must be between {low} and {high}, got {value}")
        return value


def _ranges(reader: _Reader, key: str, low: int, high: int) -> tuple[IdRange, ...]:
    out = []
    for item in reader.objects(key):
        found = IdRange(item.integer("min", low, high), item.integer("max", low, high))
        if found.min > found.max:
            raise PspError(f"{item.path}: min {found.min} is above max {found.max}")
        out.append(found)
    return tuple(out)


def _id_rule(spec: _Reader, key: str, rules: tuple[str, ...], *, required: bool) -> IdRule | None:
    reader = spec.child(key, required=required)
    if reader is None:
        return None
    rule = reader.string("rule")
    if rule not in rules:
        raise PspError(f"{reader.path}.rule: must be one of {', '.join(rules)}, got {rule!r}")
    ranges = _ranges(reader, "ranges", 0, 2**31 - 1)
    if rule in ("MustRunAs", "MayRunAs") and not ranges:
        raise PspError(f"{reader.path}.ranges: required for rule {rule}")
    return IdRule(rule, ranges)


def _profiles(annotations: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = annotations.get(key)
    if value is None:
        return None
    return tuple(p.strip() for p in str(value).split(","))


def read_psp(obj: Mapping[str, Any]) -> Psp:
    """A PSP object as the API server would hold it, or a ``PspError`` naming the first field it would refuse."""
    metadata = _Reader(obj, "").child("metadata") or _Reader({}, "metadata")
    name = metadata.string("name") or ""
    if not name:
        raise PspError("metadata.name: required")
    annotations_reader = metadata.child("annotations")
    annotations: Mapping[str, Any] = annotations_reader.obj if annotations_reader else {}
    for key, value in annotations.items():
        if not isinstance(value, str):
            raise PspError(f"metadata.annotations[{key!r}]: must be a string, got {_type_name(value)}")
    spec = _Reader(obj, "").child("spec", required=True)
    assert spec is not None
    volumes = spec.strings("volumes")
    for i, volume in enumerate(volumes):
        if volume != ANY and volume not in PSP_VOLUME_TYPES:
            raise PspError(f"spec.volumes[{i}]: unsupported volume type {volume!r}")
    selinux = spec.child("seLinux", required=True)
    assert selinux is not None
    selinux_rule = selinux.string("rule")
    if selinux_rule not in SELINUX_RULES:
        raise PspError(f"spec.seLinux.rule: must be one of {', '.join(SELINUX_RULES)}, got {selinux_rule!r}")
    options = selinux.child("seLinuxOptions")
    selinux_options = {k: options.string(k) or "" for k in ("user", "role", "type", "level")} if options else {}
    run_as_user = _id_rule(spec, "runAsUser", USER_RULES, required=True)
    supplemental = _id_rule(spec, "supplementalGroups", GROUP_RULES, required=True)
    fs_group = _id_rule(spec, "fsGroup", GROUP_RULES, required=True)
    assert run_as_user is not None and supplemental is not None and fs_group is not None
    runtime = spec.child("runtimeClass")
    host_paths = tuple(p.string("pathPrefix") or "" for p in spec.objects("allowedHostPaths"))
    flex = tuple(p.string("driver") or "" for p in spec.objects("allowedFlexVolumes"))
    csi = tuple(p.string("name") or "" for p in spec.objects("allowedCSIDrivers"))
    allowed_caps = spec.strings("allowedCapabilities")
    required_drop = spec.strings("requiredDropCapabilities")
    both = sorted(set(allowed_caps) & set(required_drop))
    if both:
        raise PspError(f"spec.allowedCapabilities: {', '.join(both)} is also in requiredDropCapabilities")
    return Psp(
        name=name,
        privileged=bool(spec.boolean("privileged", False)),
        default_add_capabilities=spec.strings("defaultAddCapabilities"),
        allowed_capabilities=allowed_caps,
        required_drop_capabilities=required_drop,
        volumes=volumes,
        host_network=bool(spec.boolean("hostNetwork", False)),
        host_pid=bool(spec.boolean("hostPID", False)),
        host_ipc=bool(spec.boolean("hostIPC", False)),
        host_ports=_ranges(spec, "hostPorts", 0, 65535),
        selinux_rule=selinux_rule,
        selinux_options=selinux_options,
        run_as_user=run_as_user,
        run_as_group=_id_rule(spec, "runAsGroup", GROUP_RULES, required=False),
        supplemental_groups=supplemental,
        fs_group=fs_group,
        read_only_root_filesystem=bool(spec.boolean("readOnlyRootFilesystem", False)),
        default_allow_privilege_escalation=spec.boolean("defaultAllowPrivilegeEscalation"),
        allow_privilege_escalation=bool(spec.boolean("allowPrivilegeEscalation", True)),
        allowed_host_paths=host_paths,
        allowed_flex_volumes=flex,
        allowed_csi_drivers=csi,
        allowed_unsafe_sysctls=spec.strings("allowedUnsafeSysctls"),
        forbidden_sysctls=spec.strings("forbiddenSysctls"),
        allowed_proc_mount_types=spec.strings("allowedProcMountTypes") or ("Default",),
        default_runtime_class=runtime.string("defaultRuntimeClassName") if runtime else None,
        allowed_runtime_classes=runtime.strings("allowedRuntimeClassNames") if runtime else None,
        seccomp_allowed=_profiles(annotations, SECCOMP_ALLOWED),
        seccomp_default=annotations.get(SECCOMP_DEFAULT),
        apparmor_allowed=_profiles(annotations, APPARMOR_ALLOWED),
        apparmor_default=annotations.get(APPARMOR_DEFAULT),
    )


# ---------------------------------------------------------------- pods: the admitted base pod and its changes


def _contexts(pod: Obj) -> Iterator[Obj]:
    """Each container's securityContext (made where missing)."""
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod["spec"].get(kind) or ():
            yield container.setdefault("securityContext", {})


def _pod_context(pod: Obj) -> Obj:
    context: Obj = pod["spec"].setdefault("securityContext", {})
    return context


def _annotations(pod: Obj) -> Obj:
    annotations: Obj = pod["metadata"].setdefault("annotations", {})
    return annotations


def _container_names(pod: Obj) -> list[str]:
    return [
        c["name"]
        for kind in ("initContainers", "containers", "ephemeralContainers")
        for c in pod["spec"].get(kind) or ()
    ]


SECCOMP_FIELD_TYPES: Final[Mapping[str, str]] = {"runtime/default": "RuntimeDefault", "unconfined": "Unconfined"}


def seccomp_field(profile: str) -> Obj | None:
    """The securityContext.seccompProfile PSP read as ``profile`` (PSP's name for it), if the field can say it:
    ``docker/default`` and ``""`` only ever existed as annotations (or nothing)."""
    if profile in SECCOMP_FIELD_TYPES:
        return {"type": SECCOMP_FIELD_TYPES[profile]}
    if profile.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": profile.removeprefix("localhost/").replace("*", "x") or "x"}
    return None


def concrete(profile: str) -> str:
    """A profile a pod can name for one PSP entry (``localhost/*`` admits any localhost profile)."""
    return profile.replace("*", "profile.json") if profile.startswith("localhost/") else profile


def set_seccomp(pod: Obj, profile: str, *, annotation: bool, field_too: bool) -> None:
    """Give the pod ``profile`` as a pod annotation, as the pod-level field, or both."""
    annotations = _annotations(pod)
    context = _pod_context(pod)
    annotations.pop(SECCOMP_POD_ANNOTATION, None)
    context.pop("seccompProfile", None)
    if profile == "":
        return
    if annotation:
        annotations[SECCOMP_POD_ANNOTATION] = profile
    as_field = seccomp_field(profile)
    if field_too and as_field is not None:
        context["seccompProfile"] = as_field


def base_pod(psp: Psp) -> Obj:
    """The plainest pod ``psp`` admits as stored: what its defaults would have set, and everything else as
    restricted wants it where the PSP lets a pod say so (``runAsNonRoot: true``, ``drop: [ALL]``, no escalation,
    the PSP's best seccomp profile in both forms), so that a witness's change is what a denial is about."""
    containers: Obj = {
        kind: [{"name": name, "image": "registry.k8s.io/pause", "securityContext": {}}] for kind, name in CONTAINERS
    }
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"psp-{psp.name}"}, "spec": containers}
    pod_context = _pod_context(pod)
    rule = psp.run_as_user
    if rule.rule == "MustRunAs":
        uid = next((max(r.min, 1) for r in rule.ranges if r.max >= 1), rule.ranges[0].min)
        pod_context["runAsUser"] = uid
    if rule.rule != "MustRunAs" or pod_context["runAsUser"] != 0:
        pod_context["runAsNonRoot"] = True
    if psp.selinux_rule == "MustRunAs":
        pod_context["seLinuxOptions"] = {k: v for k, v in psp.selinux_options.items() if v}
    profiles = psp.seccomp_profiles()
    if profiles is None or profiles:
        choices = profiles if profiles is not None else ("runtime/default",)
        best = next((p for p in choices if p == "runtime/default"), next((p for p in choices if p), ""))
        set_seccomp(pod, concrete(best), annotation=True, field_too=True)
    apparmor = psp.apparmor_profiles()
    if apparmor is not None and "" not in apparmor and apparmor:
        best = "runtime/default" if "runtime/default" in apparmor else concrete(apparmor[0])
        for name in _container_names(pod):
            _annotations(pod)[APPARMOR_CONTAINER_ANNOTATION + name] = best
    drops = list(psp.required_drop_capabilities) or ["ALL"]
    for context in _contexts(pod):
        context["allowPrivilegeEscalation"] = False
        context["capabilities"] = {"drop": drops}
        if psp.default_add_capabilities:
            context["capabilities"]["add"] = list(psp.default_add_capabilities)
        if psp.read_only_root_filesystem:
            context["readOnlyRootFilesystem"] = True
    if psp.run_as_group is not None and psp.run_as_group.rule == "MustRunAs":
        pod_context["runAsGroup"] = psp.run_as_group.ranges[0].min
    if psp.supplemental_groups.rule == "MustRunAs":
        pod_context["supplementalGroups"] = [psp.supplemental_groups.ranges[0].min]
    if psp.fs_group.rule == "MustRunAs":
        pod_context["fsGroup"] = psp.fs_group.ranges[0].min
    if psp.default_runtime_class is not None:
        pod["spec"]["runtimeClassName"] = psp.default_runtime_class
    if not pod_context:
        del pod["spec"]["securityContext"]
    if not pod["metadata"].get("annotations", True):
        del pod["metadata"]["annotations"]
    return pod


Witness = Callable[[Obj], None]


def _on_app(change: Callable[[Obj], None]) -> Witness:
    """A witness changing the regular container's securityContext."""

    def apply(pod: Obj) -> None:
        change(pod["spec"]["containers"][0].setdefault("securityContext", {}))

    return apply


def _set_spec(**values: Any) -> Witness:
    def apply(pod: Obj) -> None:
        pod["spec"].update(values)

    return apply


# ---------------------------------------------------------------- openings: what a PSP leaves in each check


@dataclass(frozen=True)
class Opening:
    """One way a PSP lets through pods a check denies: the PSP field and value, why, and a pod that shows it."""

    field: str  # the PSP field ("spec.hostNetwork"), or an annotation, or "(no PodSecurityPolicy field)"
    value: str
    why: str
    witness: Witness = dataclasses.field(compare=False, repr=False)


NO_PSP_FIELD: Final = "(no PodSecurityPolicy field)"

Rule = Callable[[Psp, Allowed], list[Opening]]


def _privileged(psp: Psp, _allowed: Allowed) -> list[Opening]:
    if not psp.privileged:
        return []
    return [
        Opening(
            "spec.privileged", "true", "containers may run privileged", _on_app(lambda c: c.update(privileged=True))
        )
    ]


def _add_witness(capabilities: Sequence[str]) -> Witness:
    def change(context: Obj) -> None:
        caps = context.setdefault("capabilities", {})
        caps["add"] = [*caps.get("add", ()), *capabilities]

    return _on_app(change)


def _capability_source(psp: Psp, capability: str) -> str:
    return "spec.allowedCapabilities" if capability in psp.allowed_capabilities else "spec.defaultAddCapabilities"


def _extra_capabilities(psp: Psp, allowed: Sequence[str]) -> list[Opening]:
    addable = psp.addable_capabilities
    if ANY in addable:
        outside = next(name for name in ("SYS_ADMIN", "NET_ADMIN", "NET_RAW") if name not in allowed)
        return [Opening("spec.allowedCapabilities", ANY, "containers may add any capability", _add_witness([outside]))]
    extra = [c for c in addable if c not in allowed]
    by_field: dict[str, list[str]] = {}
    for capability in extra:
        by_field.setdefault(_capability_source(psp, capability), []).append(capability)
    return [
        Opening(where, ", ".join(caps), f"containers may add {', '.join(caps)}", _add_witness(caps))
        for where, caps in by_field.items()
    ]


def _capabilities_baseline(psp: Psp, allowed: Allowed) -> list[Opening]:
    return _extra_capabilities(psp, allowed["capabilities"])


def _capabilities_restricted(psp: Psp, allowed: Allowed) -> list[Opening]:
    out = _extra_capabilities(psp, allowed["add"])
    if not any(c in allowed["drop"] for c in psp.required_drop_capabilities):

        def keep_capabilities(context: Obj) -> None:
            context["capabilities"] = {"drop": [c for c in psp.required_drop_capabilities]}

        value = ", ".join(psp.required_drop_capabilities) or "(unset)"
        why = f"containers need not drop {', '.join(allowed['drop'])}"
        out.append(Opening("spec.requiredDropCapabilities", value, why, _on_app(keep_capabilities)))
    return out


def _host_namespaces(psp: Psp, _allowed: Allowed) -> list[Opening]:
    out = []
    for name, on in (("hostNetwork", psp.host_network), ("hostPID", psp.host_pid), ("hostIPC", psp.host_ipc)):
        if on:
            out.append(Opening(f"spec.{name}", "true", f"pods may set {name}: true", _set_spec(**{name: True})))
    return out


def _host_path_witness(psp: Psp) -> Witness:
    path = psp.allowed_host_paths[0] if psp.allowed_host_paths else "/"

    def apply(pod: Obj) -> None:
        pod["spec"].setdefault("volumes", []).append({"name": "host", "hostPath": {"path": path or "/"}})

    return apply


def _host_path_volumes(psp: Psp, _allowed: Allowed) -> list[Opening]:
    if "hostPath" not in psp.volume_sources:
        return []
    value = ANY if ANY in psp.volumes else "hostPath"
    return [Opening("spec.volumes", value, "pods may mount hostPath volumes", _host_path_witness(psp))]


def _host_ports(psp: Psp, _allowed: Allowed) -> list[Opening]:
    open_ranges = [r for r in psp.host_ports if r.max > 0]
    if not open_ranges:
        return []
    port = max(r.max for r in open_ranges)

    def apply(pod: Obj) -> None:
        pod["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": port}]

    value = ", ".join(map(str, psp.host_ports))
    return [Opening("spec.hostPorts", value, f"containers may use host ports (up to {port})", apply)]


def _host_probes(_psp: Psp, _allowed: Allowed) -> list[Opening]:
    def apply(pod: Obj) -> None:
        pod["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"host": "10.0.0.1", "port": 8080}}

    why = "PodSecurityPolicy never limited the host a probe or lifecycle handler names"
    return [Opening(NO_PSP_FIELD, "", why, apply)]


def _proc_mount(psp: Psp, allowed: Allowed) -> list[Opening]:
    extra = [t for t in psp.allowed_proc_mount_types if t not in allowed["proc_mount_types"]]
    if not extra:
        return []
    return [
        Opening(
            "spec.allowedProcMountTypes",
            ", ".join(extra),
            f"containers may set procMount: {extra[0]}",
            _on_app(lambda c: c.update(procMount=extra[0])),
        )
    ]


def _selinux(psp: Psp, allowed: Allowed) -> list[Opening]:
    if psp.selinux_rule == "RunAsAny":

        def apply(pod: Obj) -> None:
            _pod_context(pod)["seLinuxOptions"] = {"type": "spc_t"}

        return [Opening("spec.seLinux.rule", "RunAsAny", "pods may set any SELinux user, role and type", apply)]
    out = []
    options = psp.selinux_options
    for key in ("user", "role"):
        if options.get(key):
            why = f"every pod runs with SELinux {key} {options[key]!r}"
            out.append(Opening(f"spec.seLinux.seLinuxOptions.{key}", options[key], why, lambda pod: None))
    if options.get("type", "") not in allowed["types"]:
        why = f"every pod runs with SELinux type {options['type']!r}"
        out.append(Opening("spec.seLinux.seLinuxOptions.type", options["type"], why, lambda pod: None))
    return out


def _seccomp_value(psp: Psp) -> str:
    return ",".join(psp.seccomp_allowed) if psp.seccomp_allowed is not None else "(unset)"


SECCOMP_FIELD_NAME: Final = f"metadata.annotations[{SECCOMP_ALLOWED}]"
APPARMOR_FIELD_NAME: Final = f"metadata.annotations[{APPARMOR_ALLOWED}]"


def _seccomp_witness(profile: str, *, as_field: bool) -> Witness:
    def apply(pod: Obj) -> None:
        set_seccomp(pod, profile, annotation=not as_field, field_too=as_field)

    return apply


def _seccomp_forbidden(profile: str, allowed: Allowed) -> bool:
    """Whether a pod carrying ``profile`` fails the seccomp check whose version has ``allowed``: v1.0-v1.18 read
    the annotation, v1.19 on the field only (an annotation alone is not judged; docker/default has no field)."""
    if "annotation_values" in allowed:
        return (
            profile != ""
            and profile not in allowed["annotation_values"]
            and not profile.startswith(allowed["annotation_prefixes"])
        )
    shown = seccomp_field(profile)
    return shown is not None and shown["type"] not in allowed["types"]


def _seccomp_baseline(psp: Psp, allowed: Allowed) -> list[Opening]:
    profiles = psp.seccomp_profiles()
    as_field = "annotation_values" not in allowed
    if profiles is None:
        why = "pods may set any seccomp profile, unconfined included"
        return [Opening(SECCOMP_FIELD_NAME, ANY, why, _seccomp_witness("unconfined", as_field=as_field))]
    return [
        Opening(
            SECCOMP_FIELD_NAME,
            _seccomp_value(psp),
            f"pods may set the seccomp profile {p!r}",
            _seccomp_witness(p, as_field=as_field),
        )
        for p in profiles
        if _seccomp_forbidden(p, allowed)
    ]


def _seccomp_restricted(psp: Psp, allowed: Allowed) -> list[Opening]:
    out = _seccomp_baseline(psp, allowed)
    profiles = psp.seccomp_profiles()
    if profiles is None:
        return out
    if "" in profiles:
        why = (
            "pods may run without a seccomp profile"
            if psp.seccomp_allowed is not None
            else "no seccomp profile may be set, so pods run without one"
        )
        out.append(Opening(SECCOMP_FIELD_NAME, _seccomp_value(psp), why, _seccomp_witness("", as_field=True)))
    good = sorted(
        (p for p in profiles if p and not _seccomp_forbidden(p, allowed)), key=lambda p: p != "runtime/default"
    )
    if good:
        why = (
            f"PodSecurityPolicy accepted the profile as a pod annotation ({good[0]}); restricted reads only "
            "securityContext.seccompProfile"
        )
        witness = _seccomp_witness(concrete(good[0]), as_field=False)
        out.append(Opening(SECCOMP_FIELD_NAME, _seccomp_value(psp), why, witness))
    return out


def _apparmor_witness(profile: str) -> Witness:
    def apply(pod: Obj) -> None:
        _annotations(pod)[APPARMOR_CONTAINER_ANNOTATION + "app"] = profile

    return apply


def _apparmor(psp: Psp, allowed: Allowed) -> list[Opening]:
    profiles = psp.apparmor_profiles()
    value = ",".join(psp.apparmor_allowed) if psp.apparmor_allowed is not None else "(unset)"
    if profiles is None:
        why = "pods may set any AppArmor profile, unconfined included"
        return [Opening(APPARMOR_FIELD_NAME, value, why, _apparmor_witness("unconfined"))]
    forbidden = [
        p
        for p in profiles
        if p not in allowed["annotation_values"] and not p.startswith(allowed["annotation_prefixes"])
    ]
    return [
        Opening(APPARMOR_FIELD_NAME, value, f"containers may set the AppArmor profile {p!r}", _apparmor_witness(p))
        for p in forbidden
    ]


def _sysctl_witness(name: str) -> Witness:
    def apply(pod: Obj) -> None:
        _pod_context(pod)["sysctls"] = [{"name": name, "value": "1"}]

    return apply


def _sysctls(psp: Psp, allowed: Allowed) -> list[Opening]:
    names = allowed["sysctls"]
    out = []
    for safe in PSP_ERA_SAFE_SYSCTLS:  # what every PSP let through; PSA has kept allowing each of them
        if safe not in names and not matches(safe, psp.forbidden_sysctls):
            out.append(Opening(NO_PSP_FIELD, safe, f"every PSP allowed the safe sysctl {safe}", _sysctl_witness(safe)))
    for entry in psp.allowed_unsafe_sysctls:
        if entry.endswith("*"):
            example = entry.removesuffix("*") + ("kernel.msgmax" if entry == ANY else "x")
            why = f"pods may set any sysctl matching {entry}"
            out.append(Opening("spec.allowedUnsafeSysctls", entry, why, _sysctl_witness(example)))
        elif entry not in names:
            why = f"pods may set the sysctl {entry}"
            out.append(Opening("spec.allowedUnsafeSysctls", entry, why, _sysctl_witness(entry)))
    return out


def matches(name: str, patterns: Sequence[str]) -> bool:
    """PSP's sysctl patterns: an exact name, or a prefix followed by ``*``."""
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns)


def _windows_host_process(psp: Psp, _allowed: Allowed) -> list[Opening]:
    if not psp.host_network:
        return []  # the API refuses a HostProcess pod without hostNetwork: true

    def apply(pod: Obj) -> None:
        pod["spec"]["hostNetwork"] = True
        _pod_context(pod)["windowsOptions"] = {"hostProcess": True}

    why = "with hostNetwork allowed, PodSecurityPolicy had no field to refuse Windows HostProcess pods"
    return [Opening("spec.hostNetwork", "true", why, apply)]


def _allow_privilege_escalation(psp: Psp, _allowed: Allowed) -> list[Opening]:
    if not psp.allow_privilege_escalation:
        return []
    return [
        Opening(
            "spec.allowPrivilegeEscalation",
            "true",
            "containers may allow privilege escalation",
            _on_app(lambda c: c.update(allowPrivilegeEscalation=True)),
        )
    ]


def _restricted_volumes(psp: Psp, allowed: Allowed) -> list[Opening]:
    if ANY in psp.volumes:

        def nfs(pod: Obj) -> None:
            pod["spec"].setdefault("volumes", []).append({"name": "nfs", "nfs": {"server": "nfs", "path": "/"}})

        return [Opening("spec.volumes", ANY, "pods may use any volume type", nfs)]
    names = [name for name in psp.volumes if PSP_VOLUME_TYPES[name] not in allowed["volume_types"]]
    if not names:
        return []
    host_path = _host_path_witness(psp)

    def apply(pod: Obj) -> None:
        for name in names:
            source = PSP_VOLUME_TYPES[name]
            if source == "hostPath":
                host_path(pod)
            else:
                pod["spec"].setdefault("volumes", []).append({"name": source.lower(), source: {}})

    return [
        Opening("spec.volumes", ", ".join(names), f"pods may use {len(names)} volume types restricted forbids", apply)
    ]


def _unset_run_as_non_root(pod: Obj) -> None:
    _pod_context(pod).pop("runAsNonRoot", None)
    for context in _contexts(pod):
        context.pop("runAsNonRoot", None)


def _run_as_non_root(psp: Psp, _allowed: Allowed) -> list[Opening]:
    rule = psp.run_as_user
    if rule.rule == "RunAsAny" or (rule.rule == "MustRunAs" and rule.allows(0)):

        def as_root(pod: Obj) -> None:
            _unset_run_as_non_root(pod)
            _pod_context(pod)["runAsUser"] = 0

        return [Opening("spec.runAsUser.rule", str(rule), "containers may run as root", as_root)]
    uid = next(max(r.min, 1) for r in rule.ranges if r.max >= 1) if rule.rule == "MustRunAs" else 1000

    def without_flag(pod: Obj) -> None:
        _unset_run_as_non_root(pod)
        _pod_context(pod)["runAsUser"] = uid

    why = (
        f"admits a container with runAsUser: {uid} and no runAsNonRoot: true; restricted requires "
        "runAsNonRoot: true, which no PodSecurityPolicy field can require"
    )
    return [Opening("spec.runAsUser.rule", str(rule), why, without_flag)]


def _run_as_user(psp: Psp, _allowed: Allowed) -> list[Opening]:
    rule = psp.run_as_user
    if rule.rule == "MustRunAsNonRoot" or (rule.rule == "MustRunAs" and not rule.allows(0)):
        return []

    def as_root(pod: Obj) -> None:
        _unset_run_as_non_root(pod)
        _pod_context(pod)["runAsUser"] = 0

    return [Opening("spec.runAsUser.rule", str(rule), "containers may set runAsUser: 0", as_root)]


RULES: Final[Mapping[str, Rule]] = {
    "allowPrivilegeEscalation": _allow_privilege_escalation,
    "appArmorProfile": _apparmor,
    "capabilities_baseline": _capabilities_baseline,
    "capabilities_restricted": _capabilities_restricted,
    "hostNamespaces": _host_namespaces,
    "hostPathVolumes": _host_path_volumes,
    "hostPorts": _host_ports,
    "hostProbesAndHostLifecycle": _host_probes,
    "privileged": _privileged,
    "procMount": _proc_mount,
    "procMount_restricted": _proc_mount,
    "restrictedVolumes": _restricted_volumes,
    "runAsNonRoot": _run_as_non_root,
    "runAsUser": _run_as_user,
    "seLinuxOptions": _selinux,
    "seccompProfile_baseline": _seccomp_baseline,
    "seccompProfile_restricted": _seccomp_restricted,
    "sysctls": _sysctls,
    "windowsHostProcess": _windows_host_process,
}


@dataclass(frozen=True)
class CheckOpening:
    """An opening of one check at one level and version."""

    check: str
    level: str
    minor: int
    opening: Opening


def openings(psp: Psp, level: str, minor: int) -> tuple[CheckOpening, ...]:
    """Every opening ``psp`` leaves in the checks PSA runs at ``level`` and ``minor``, in PSA's order. A check
    without a rule (a check newer than this mapping) is open: nothing shows the PSP closes it."""
    out: list[CheckOpening] = []
    for check, version in active_checks(level, minor):
        rule = RULES.get(check.id)
        if rule is None:
            unknown = Opening(
                NO_PSP_FIELD, "", "no mapping from PodSecurityPolicy is known for this check", lambda pod: None
            )
            out.append(CheckOpening(check.id, level, minor, unknown))
            continue
        out += [CheckOpening(check.id, level, minor, o) for o in rule(psp, version.allowed)]
    return tuple(out)


def level_at(psp: Psp, minor: int) -> str:
    """The strictest level every pod ``psp`` admits meets at ``minor``."""
    if openings(psp, "baseline", minor):
        return "privileged"
    if openings(psp, "restricted", minor):
        return "baseline"
    return "restricted"


# ---------------------------------------------------------------- defaults PSA will not apply, and what PSS cannot say


@dataclass(frozen=True)
class Mutation:
    """A default the PSP set on pods that PSA never sets: pods that relied on it change, or are denied."""

    field: str
    value: str
    effect: str  # what the PSP did
    change: str  # what to write in the pod spec instead
    undo: Witness = dataclasses.field(compare=False, repr=False)  # the pod as written, without the PSP's default


def _drop_from_contexts(key: str) -> Witness:
    def apply(pod: Obj) -> None:
        for context in _contexts(pod):
            context.pop(key, None)

    return apply


def _drop_from_pod(key: str) -> Witness:
    def apply(pod: Obj) -> None:
        _pod_context(pod).pop(key, None)

    return apply


def _drop_capabilities(part: str) -> Witness:
    def apply(pod: Obj) -> None:
        for context in _contexts(pod):
            context.get("capabilities", {}).pop(part, None)

    return apply


def mutations(psp: Psp) -> tuple[Mutation, ...]:
    """The PSP's defaults, each with the pod-spec change that keeps the pod as the PSP made it."""
    out: list[Mutation] = []
    if psp.default_add_capabilities:
        caps = ", ".join(psp.default_add_capabilities)
        out.append(
            Mutation(
                "spec.defaultAddCapabilities",
                caps,
                f"added {caps} to every container",
                f"list them in securityContext.capabilities.add: [{caps}]",
                _drop_capabilities("add"),
            )
        )
    if psp.required_drop_capabilities:
        caps = ", ".join(psp.required_drop_capabilities)
        out.append(
            Mutation(
                "spec.requiredDropCapabilities",
                caps,
                f"dropped {caps} from every container",
                f"set securityContext.capabilities.drop: [{caps}]",
                _drop_capabilities("drop"),
            )
        )
    escalation = psp.default_allow_privilege_escalation
    if escalation is None and not psp.allow_privilege_escalation:
        escalation = False
    if escalation is not None:
        text = str(escalation).lower()
        where = (
            "spec.defaultAllowPrivilegeEscalation"
            if psp.default_allow_privilege_escalation is not None
            else "spec.allowPrivilegeEscalation"
        )
        out.append(
            Mutation(
                where,
                text,
                f"set allowPrivilegeEscalation: {text} on containers that left it unset",
                f"set securityContext.allowPrivilegeEscalation: {text}",
                _drop_from_contexts("allowPrivilegeEscalation"),
            )
        )
    if psp.read_only_root_filesystem:
        out.append(
            Mutation(
                "spec.readOnlyRootFilesystem",
                "true",
                "set readOnlyRootFilesystem: true on containers that left it unset",
                "set securityContext.readOnlyRootFilesystem: true",
                _drop_from_contexts("readOnlyRootFilesystem"),
            )
        )
    rule = psp.run_as_user
    if rule.rule == "MustRunAs":
        out.append(
            Mutation(
                "spec.runAsUser",
                str(rule),
                f"gave containers without a user runAsUser: {rule.ranges[0].min}",
                f"set securityContext.runAsUser: {rule.ranges[0].min}",
                _drop_from_pod("runAsUser"),
            )
        )
    if rule.rule == "MustRunAsNonRoot":
        out.append(
            Mutation(
                "spec.runAsUser",
                str(rule),
                "set runAsNonRoot: true on containers that set neither runAsNonRoot nor runAsUser",
                "set securityContext.runAsNonRoot: true",
                _unset_run_as_non_root,
            )
        )
    for where, key, group in (
        ("spec.runAsGroup", "runAsGroup", psp.run_as_group),
        ("spec.supplementalGroups", "supplementalGroups", psp.supplemental_groups),
        ("spec.fsGroup", "fsGroup", psp.fs_group),
    ):
        if group is not None and group.rule == "MustRunAs":
            value = group.ranges[0].min
            shown = f"[{value}]" if key == "supplementalGroups" else str(value)
            out.append(
                Mutation(
                    where,
                    str(group),
                    f"gave pods without one {key}: {shown}",
                    f"set spec.securityContext.{key}: {shown}",
                    _drop_from_pod(key),
                )
            )
    if psp.selinux_rule == "MustRunAs" and psp.selinux_options:
        options = ", ".join(f"{k}: {v}" for k, v in psp.selinux_options.items() if v)
        out.append(
            Mutation(
                "spec.seLinux",
                f"MustRunAs {options}",
                "gave pods without SELinux options the PSP's",
                f"set spec.securityContext.seLinuxOptions: {{{options}}}",
                _drop_from_pod("seLinuxOptions"),
            )
        )
    if psp.seccomp_default is not None:
        default_field = seccomp_field(psp.seccomp_default)
        change = (
            f"set spec.securityContext.seccompProfile.type: {default_field['type']}"
            if default_field is not None
            else f"set the annotation {SECCOMP_POD_ANNOTATION}: {psp.seccomp_default} (no field says it)"
        )

        def no_seccomp(pod: Obj) -> None:
            set_seccomp(pod, "", annotation=True, field_too=True)

        out.append(
            Mutation(
                f"metadata.annotations[{SECCOMP_DEFAULT}]",
                psp.seccomp_default,
                f"gave pods without a seccomp profile {psp.seccomp_default}",
                change,
                no_seccomp,
            )
        )
    if psp.apparmor_default is not None:

        def no_apparmor(pod: Obj) -> None:
            for key in [k for k in _annotations(pod) if k.startswith(APPARMOR_CONTAINER_ANNOTATION)]:
                del _annotations(pod)[key]

        kind = "RuntimeDefault" if psp.apparmor_default == "runtime/default" else "Localhost"
        change = f"set securityContext.appArmorProfile.type: {kind} (from v1.30; the annotation before)"
        out.append(
            Mutation(
                f"metadata.annotations[{APPARMOR_DEFAULT}]",
                psp.apparmor_default,
                f"gave containers without an AppArmor profile {psp.apparmor_default}",
                change,
                no_apparmor,
            )
        )
    if psp.default_runtime_class is not None:

        def no_runtime_class(pod: Obj) -> None:
            pod["spec"].pop("runtimeClassName", None)

        out.append(
            Mutation(
                "spec.runtimeClass.defaultRuntimeClassName",
                psp.default_runtime_class,
                f"gave pods without one runtimeClassName: {psp.default_runtime_class}",
                f"set spec.runtimeClassName: {psp.default_runtime_class}",
                no_runtime_class,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Unmapped:
    """A PSP setting no PSS check can express: PSA will not enforce it."""

    field: str
    value: str
    why: str


def unmapped(psp: Psp) -> tuple[Unmapped, ...]:
    """What the PSP limits that PSA has no check for (nothing is listed for a field the PSP leaves open)."""
    newest = sysctls_check.CHECK.versions[-1].allowed["sysctls"]
    out: list[Unmapped] = []
    if psp.read_only_root_filesystem:
        out.append(Unmapped("spec.readOnlyRootFilesystem", "true", "PSS has no read-only root filesystem control"))
    sources = psp.volume_sources
    if psp.allowed_host_paths and "hostPath" in sources:
        out.append(
            Unmapped(
                "spec.allowedHostPaths",
                ", ".join(psp.allowed_host_paths),
                "PSS allows any hostPath or none: baseline forbids them all, privileged allows every path",
            )
        )
    if psp.allowed_flex_volumes and "flexVolume" in sources:
        out.append(
            Unmapped(
                "spec.allowedFlexVolumes",
                ", ".join(psp.allowed_flex_volumes),
                "PSS cannot limit flexVolume drivers (baseline allows any, restricted none)",
            )
        )
    if psp.allowed_csi_drivers and "csi" in sources:
        out.append(
            Unmapped(
                "spec.allowedCSIDrivers",
                ", ".join(psp.allowed_csi_drivers),
                "PSS cannot limit CSI drivers: baseline and restricted allow any inline CSI volume",
            )
        )
    unsafe = [s for s in psp.allowed_unsafe_sysctls if s.endswith("*") or s not in newest]
    if unsafe:
        out.append(
            Unmapped(
                "spec.allowedUnsafeSysctls",
                ", ".join(unsafe),
                "PSS allows no sysctl outside its safe set: pods that need these need privileged",
            )
        )
    if psp.forbidden_sysctls:
        out.append(
            Unmapped(
                "spec.forbiddenSysctls", ", ".join(psp.forbidden_sysctls), "PSS cannot forbid a sysctl of its safe set"
            )
        )
    if [r for r in psp.host_ports if r.max > 0]:
        out.append(
            Unmapped(
                "spec.hostPorts",
                ", ".join(map(str, psp.host_ports)),
                "PSS cannot limit host ports to ranges: baseline forbids them all",
            )
        )
    if psp.run_as_user.rule == "MustRunAs":
        out.append(
            Unmapped(
                "spec.runAsUser",
                str(psp.run_as_user),
                "PSS cannot limit user IDs to ranges (restricted forbids only 0)",
            )
        )
    for where, group in (
        ("spec.runAsGroup", psp.run_as_group),
        ("spec.supplementalGroups", psp.supplemental_groups),
        ("spec.fsGroup", psp.fs_group),
    ):
        if group is not None and group.rule != "RunAsAny":
            out.append(Unmapped(where, str(group), "PSS has no group ID control"))
    if psp.selinux_rule == "MustRunAs" and psp.selinux_options.get("level"):
        out.append(
            Unmapped(
                "spec.seLinux.seLinuxOptions.level", psp.selinux_options["level"], "PSS never checks the SELinux level"
            )
        )
    if psp.allowed_runtime_classes is not None:
        out.append(
            Unmapped(
                "spec.runtimeClass.allowedRuntimeClassNames",
                ", ".join(psp.allowed_runtime_classes) or "(none)",
                "PSS has no runtime class control",
            )
        )
    for where, profiles in ((SECCOMP_FIELD_NAME, psp.seccomp_allowed), (APPARMOR_FIELD_NAME, psp.apparmor_allowed)):
        named = [p for p in profiles or () if p.startswith("localhost/") and p != "localhost/*"]
        if named:
            out.append(Unmapped(where, ", ".join(named), "PSS allows any localhost/ profile, not named ones"))
    return tuple(out)


def fresh_base_pod(psp: Psp) -> Obj:
    """A deep copy of ``base_pod`` for one witness to change."""
    return copy.deepcopy(base_pod(psp))


# ---------------------------------------------------------------- PSP's own validation of a pod


def _profile_ok(profile: str, allowed: Sequence[str] | None) -> bool:
    """PSP's match for a seccomp or AppArmor profile: exact, ``*``, or ``localhost/*`` for any localhost profile."""
    if allowed is None:
        return True
    return any(
        entry in (ANY, profile) or (entry == "localhost/*" and profile.startswith("localhost/")) for entry in allowed
    )


def _seccomp_name(profile: Mapping[str, Any] | None) -> str:
    """PSP's name for a seccompProfile field (as its 1.19 strategy converted it)."""
    if not profile:
        return ""
    kind = profile.get("type")
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Unconfined":
        return "unconfined"
    if kind == "Localhost":
        return "localhost/" + str(profile.get("localhostProfile") or "")
    return str(kind)


# Pod fields added after PodSecurityPolicy was removed: no pod it admitted had them.
NEWER_POD_FIELDS: Final = ("hostUsers",)
NEWER_CONTEXT_FIELDS: Final = ("appArmorProfile",)


def admits(psp: Psp, pod: Mapping[str, Any]) -> list[str]:
    """What PSP's validation would refuse in ``pod`` as stored (empty: admitted), for every field a PSS check reads.

    The fields PSS never reads (groups, readOnlyRootFilesystem, runtime classes) are left out: they change no verdict.
    """
    problems: list[str] = []
    spec = pod.get("spec") or {}
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    pod_context = spec.get("securityContext") or {}
    for key in NEWER_POD_FIELDS:
        if key in spec:
            problems.append(f"spec.{key}: not in the Pod API of PodSecurityPolicy's time")
    for key in NEWER_CONTEXT_FIELDS:
        if key in pod_context:
            problems.append(f"spec.securityContext.{key}: not in the Pod API of PodSecurityPolicy's time")
    for name in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(name) is True and not getattr(
            psp, {"hostNetwork": "host_network", "hostPID": "host_pid", "hostIPC": "host_ipc"}[name]
        ):
            problems.append(f"spec.{name}: not allowed")
    sources = psp.volume_sources
    for volume in spec.get("volumes") or ():
        set_sources = [k for k in volume if k != "name"] or ["emptyDir"]
        for source in set_sources:
            if source not in sources:
                problems.append(f"volume {volume.get('name')!r}: {source} not allowed")
            if source == "hostPath" and psp.allowed_host_paths:
                path = str((volume.get("hostPath") or {}).get("path") or "")
                if not any(path.startswith(p) for p in psp.allowed_host_paths):
                    problems.append(f"volume {volume.get('name')!r}: host path {path!r} not allowed")
    sysctl_names = [str(s.get("name") or "") for s in pod_context.get("sysctls") or ()]
    for name in sysctl_names:
        if matches(name, psp.forbidden_sysctls) or not (
            name in PSP_ERA_SAFE_SYSCTLS or matches(name, psp.allowed_unsafe_sysctls)
        ):
            problems.append(f"sysctl {name!r}: not allowed")
    problems += _user_and_selinux(psp, pod_context, "pod")
    names = {str(c.get("name") or "") for kind in CONTAINER_KINDS for c in spec.get(kind) or ()}
    for key in annotations:
        if (
            key.startswith(APPARMOR_CONTAINER_ANNOTATION)
            and key.removeprefix(APPARMOR_CONTAINER_ANNOTATION) not in names
        ):
            problems.append(f"annotation {key!r}: no such container (refused by the API)")
    if spec.get("hostNetwork") is not True and (pod_context.get("windowsOptions") or {}).get("hostProcess") is True:
        problems.append("hostProcess without hostNetwork: refused by the API")
    pod_profile = annotations.get(SECCOMP_POD_ANNOTATION) or _seccomp_name(pod_context.get("seccompProfile"))
    if not _profile_ok(pod_profile, psp.seccomp_profiles()):
        problems.append(f"pod seccomp profile {pod_profile!r}: not allowed")
    for kind in CONTAINER_KINDS:
        for container in spec.get(kind) or ():
            problems += _container_problems(psp, pod, container, pod_context, annotations, pod_profile)
    return problems


def _user_and_selinux(psp: Psp, context: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    uid = context.get("runAsUser")
    rule = psp.run_as_user
    if uid is not None and rule.rule == "MustRunAs" and not rule.allows(uid):
        problems.append(f"{where}: runAsUser {uid} not in {rule}")
    if psp.selinux_rule == "MustRunAs" and context.get("seLinuxOptions") is not None:
        options = context["seLinuxOptions"]
        if any((options.get(k) or "") != (psp.selinux_options.get(k) or "") for k in ("user", "role", "type", "level")):
            problems.append(f"{where}: seLinuxOptions differ from the PSP's")
    if where != "pod":
        for key in NEWER_CONTEXT_FIELDS:
            if key in context:
                problems.append(f"{where}: {key} not in the Pod API of PodSecurityPolicy's time")
    return problems


def _container_problems(
    psp: Psp,
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    pod_context: Mapping[str, Any],
    annotations: Mapping[str, Any],
    pod_profile: str,
) -> list[str]:
    name = str(container.get("name") or "")
    where = f"container {name!r}"
    context = container.get("securityContext") or {}
    problems = _user_and_selinux(psp, context, where)
    if context.get("privileged") is True and not psp.privileged:
        problems.append(f"{where}: privileged not allowed")
    if context.get("allowPrivilegeEscalation") is not False and not psp.allow_privilege_escalation:
        problems.append(f"{where}: allowPrivilegeEscalation must be false")
    capabilities = context.get("capabilities") or {}
    addable = psp.addable_capabilities
    for capability in capabilities.get("add") or ():
        if capability in psp.required_drop_capabilities or (ANY not in addable and capability not in addable):
            problems.append(f"{where}: capability {capability!r} may not be added")
    drops = capabilities.get("drop") or ()
    for capability in psp.required_drop_capabilities:
        if capability not in drops and "ALL" not in drops:
            problems.append(f"{where}: must drop {capability}")
    proc_mount = context.get("procMount")
    if proc_mount is not None and proc_mount not in psp.allowed_proc_mount_types:
        problems.append(f"{where}: procMount {proc_mount!r} not allowed")
    rule = psp.run_as_user
    uid = context.get("runAsUser", pod_context.get("runAsUser"))
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if rule.rule == "MustRunAsNonRoot":
        if (uid is None and non_root is None) or non_root is False or uid == 0:
            problems.append(f"{where}: must run as non-root")
    elif rule.rule == "MustRunAs" and uid is None:
        problems.append(f"{where}: runAsUser required")
    for port in container.get("ports") or ():
        host_port = port.get("hostPort") or 0
        if not host_port and pod["spec"].get("hostNetwork") is True:
            host_port = port.get("containerPort") or 0  # the API server's default for a hostNetwork pod
        if host_port and not any(r.min <= host_port <= r.max for r in psp.host_ports):
            problems.append(f"{where}: hostPort {host_port} not allowed")
    if pod["spec"].get("hostNetwork") is not True and (context.get("windowsOptions") or {}).get("hostProcess") is True:
        problems.append(f"{where}: hostProcess without hostNetwork: refused by the API")
    profile = annotations.get(SECCOMP_CONTAINER_ANNOTATION + name) or _seccomp_name(context.get("seccompProfile"))
    if not _profile_ok(profile or pod_profile, psp.seccomp_profiles()):
        problems.append(f"{where}: seccomp profile {profile!r} not allowed")
    apparmor = psp.apparmor_profiles()
    armor = str(annotations.get(APPARMOR_CONTAINER_ANNOTATION + name) or "")
    if apparmor is not None and not _profile_ok(armor, apparmor):
        problems.append(f"{where}: AppArmor profile {armor!r} not allowed")
    return problems
