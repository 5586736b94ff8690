"""The Go type of every field on the way to a field a PSA check reads, as the API's decoder types it.

Plain data, no I/O: the Rego renderer (``generator.render.types``) turns it into
the type gate every Rego entry point runs first, so a value the API would
refuse (``privileged: "yes"``, ``containers: {}``) fails closed instead of
reading as "not true". ``generator.manifests.shape`` checks the same types in
Python; ``tests/test_render.py`` fails when the two disagree (shape may
check more fields, for the reports' sake, never a different type).

A type is written as a plain Python value:
  BOOL, STRING, INT32, INT64   a Go scalar of that type
  {"field": type, ...}         a Go struct (or pointer to one): the named fields are checked, others ignored
  [type]                       a Go slice of that type
  MapOf(type)                  a Go map[string]type
``{}`` is "any object": a struct none of whose fields are read (a volume source).
JSON null is accepted everywhere, as Go accepts it (nil, or the zero value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from generator.policy.pod import TEMPLATE_PATHS, VOLUME_SOURCES


@dataclass(frozen=True, slots=True)
class Scalar:
    """A Go scalar type, with the range of an integer type."""

    name: str
    low: int = 0
    high: int = 0


@dataclass(frozen=True, slots=True)
class MapOf:
    """A Go ``map[string]<value>``."""

    value: Any


BOOL: Final = Scalar("boolean")
STRING: Final = Scalar("string")
INT32: Final = Scalar("int32", -(2**31), 2**31 - 1)
INT64: Final = Scalar("int64", -(2**63), 2**63 - 1)

SECCOMP_PROFILE = {"type": STRING}
APPARMOR_PROFILE = {"type": STRING}
SELINUX_OPTIONS = {"type": STRING, "user": STRING, "role": STRING}
WINDOWS_OPTIONS = {"hostProcess": BOOL}
_SECURITY_CONTEXT_COMMON = {
    "runAsNonRoot": BOOL,
    "runAsUser": INT64,
    "seLinuxOptions": SELINUX_OPTIONS,
    "seccompProfile": SECCOMP_PROFILE,
    "appArmorProfile": APPARMOR_PROFILE,
    "windowsOptions": WINDOWS_OPTIONS,
}
CAPABILITIES = {"add": [STRING], "drop": [STRING]}
SECURITY_CONTEXT = {
    **_SECURITY_CONTEXT_COMMON,
    "privileged": BOOL,
    "allowPrivilegeEscalation": BOOL,
    "capabilities": CAPABILITIES,
    "procMount": STRING,
}
SYSCTL = {"name": STRING}
POD_SECURITY_CONTEXT = {**_SECURITY_CONTEXT_COMMON, "sysctls": [SYSCTL]}
HANDLER = {"httpGet": {"host": STRING}, "tcpSocket": {"host": STRING}}  # ProbeHandler, LifecycleHandler
LIFECYCLE = {"postStart": HANDLER, "preStop": HANDLER}
CONTAINER_PORT = {"hostPort": INT32, "containerPort": INT32}
CONTAINER = {  # Container and EphemeralContainer alike
    "name": STRING,
    "securityContext": SECURITY_CONTEXT,
    "ports": [CONTAINER_PORT],
    "livenessProbe": HANDLER,  # Probe inlines ProbeHandler
    "readinessProbe": HANDLER,
    "startupProbe": HANDLER,
    "lifecycle": LIFECYCLE,
}
VOLUME = {"name": STRING, **{source: {} for source in VOLUME_SOURCES}}
POD_OS = {"name": STRING}
POD_SPEC = {
    "hostNetwork": BOOL,
    "hostPID": BOOL,
    "hostIPC": BOOL,
    "hostUsers": BOOL,
    "os": POD_OS,
    "securityContext": POD_SECURITY_CONTEXT,
    "volumes": [VOLUME],
    "containers": [CONTAINER],
    "initContainers": [CONTAINER],
    "ephemeralContainers": [CONTAINER],
}
OBJECT_META = {"name": STRING, "namespace": STRING}  # what reports print
POD_META = {**OBJECT_META, "annotations": MapOf(STRING)}
TEMPLATE_META = {"annotations": MapOf(STRING)}
POD_TEMPLATE_SPEC = {"metadata": TEMPLATE_META, "spec": POD_SPEC}


def _wrapped(path: tuple[str, ...], inner: dict[str, Any]) -> dict[str, Any]:
    for key in reversed(path):
        inner = {key: inner}
    return inner


# The root type of every evaluated kind: Pods directly, workloads around their template.
SCHEMAS: Mapping[str, Any] = {
    "Pod": {"metadata": POD_META, "spec": POD_SPEC},
    **{kind: {"metadata": OBJECT_META, **_wrapped(path, POD_TEMPLATE_SPEC)} for kind, path in TEMPLATE_PATHS.items()},
}

# The k8s.io/api names of the shared structs, for the names of the Rego functions that check them; a struct
# not named here is named after the first path it is met at.
GO_NAMES: Mapping[str, Any] = {
    "PodSpec": POD_SPEC,
    "PodTemplateSpec": POD_TEMPLATE_SPEC,
    "PodSecurityContext": POD_SECURITY_CONTEXT,
    "PodOS": POD_OS,
    "Sysctl": SYSCTL,
    "Volume": VOLUME,
    "Container": CONTAINER,
    "ContainerPort": CONTAINER_PORT,
    "SecurityContext": SECURITY_CONTEXT,
    "Capabilities": CAPABILITIES,
    "SELinuxOptions": SELINUX_OPTIONS,
    "SeccompProfile": SECCOMP_PROFILE,
    "AppArmorProfile": APPARMOR_PROFILE,
    "WindowsSecurityContextOptions": WINDOWS_OPTIONS,
    "ProbeHandler": HANDLER,
    "Lifecycle": LIFECYCLE,
    "ObjectMeta": OBJECT_META,
}
