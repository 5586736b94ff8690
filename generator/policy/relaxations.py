"""The pods PSA lets through some check versions unexamined, each stated once for every engine and reader.

From v1.25 the restricted checks allowPrivilegeEscalation, capabilities_restricted
and seccompProfile_restricted pass pods with ``spec.os.name: windows``; from
v1.35 procMount, runAsNonRoot and runAsUser pass pods with ``hostUsers: false``
(upstream's relaxPolicyForUserNamespacePod). Upstream writes both as an ``if``
at the top of the version's function; here a version names the relaxations
that apply to it, and this table holds everything each one means: the Python
test, the Rego test, the CEL test, and the words the docs, ``pssgen controls`` and
``pssgen diff`` use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from generator.policy.pod import PodView


@dataclass(frozen=True)
class Relaxation:
    """One kind of pod a check version passes without running, in every form pssgen states it."""

    key: str  # its name in the catalogue's and the diff's JSON, e.g. "exempt_windows"
    applies: Callable[[PodView], bool]  # the Python test: True for a pod the version lets through
    rego: str  # the same test in Rego, over ``pod`` from data.lib.pss.pod (inlined: cheaper than a call)
    rego_function: str  # the shared library's named form of the test, for policies written by hand
    rego_comment: str  # what the library says of that function
    label: str  # the short note in `pssgen controls` and `pssgen diff`
    pods: str  # the pods it lets through, as the docs' version history names them
    # The same test in CEL, over the ValidatingAdmissionPolicy's ``variables.spec`` (the pod spec, as the API
    # server gives it: no nulls); "" for a relaxation the CEL cannot state, which the renderer refuses.
    cel: str = ""

    @property
    def rego_guard(self) -> str:
        """The Rego expression that must hold for a version with this relaxation to run."""
        return f"not {self.rego}"


def _is_windows(pod: PodView) -> bool:
    """PSA's test: ``spec.os.name == "windows"``, exactly."""
    os_ = pod.spec.get("os")
    return os_ is not None and os_.get("name") == "windows"


def _user_namespaced(pod: PodView) -> bool:
    """PSA's relaxPolicyForUserNamespacePod: an explicit ``hostUsers: false``."""
    return pod.spec.get("hostUsers") is False


WINDOWS = Relaxation(
    key="exempt_windows",
    applies=_is_windows,
    rego='pod.spec.os.name == "windows"',
    rego_function="is_windows",
    rego_comment='PSA\'s exemption test, spec.os.name == "windows" exactly.',
    label="Windows pods exempt",
    pods="Windows pods (spec.os.name: windows)",
    cel="variables.spec.?os.?name.orValue('') == 'windows'",
)

USER_NAMESPACES = Relaxation(
    key="relax_user_namespaces",
    applies=_user_namespaced,
    rego="pod.spec.hostUsers == false",
    rego_function="user_namespaced",
    rego_comment="PSA's relaxPolicyForUserNamespacePod, an explicit hostUsers: false.",
    label="hostUsers: false pods exempt",
    pods="user-namespaced pods (spec.hostUsers: false)",
    cel="variables.spec.?hostUsers.orValue(true) == false",
)

# Every relaxation, in the order docs, JSON and Rego guards list them.
RELAXATIONS: tuple[Relaxation, ...] = (WINDOWS, USER_NAMESPACES)
