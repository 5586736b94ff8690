"""go_quote and the messages built on it are the same under Python 3.11, 3.12 and 3.13.

Each interpreter knows another Unicode (14.0, 15.0, 15.1); Go 1.26's %q knows
15.0. The table in ``_goprint`` makes pssgen's answer independent of that,
and this runs the same computation under each interpreter on the machine
(pyenv's 3.12 and 3.13 here, found in its versions folder; ``PSSGEN_OTHER_PYTHONS``
names others, space separated) and compares it with this one's, over every code point and
through evaluate() on AppArmor and seccomp annotations.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WANTED = ("3.11", "3.12", "3.13")

# Run under another interpreter with only the checkout on sys.path (the policy package is stdlib only).
PROGRAM = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from generator.policy.checks._helpers import go_quote
from generator.policy.evaluate import evaluate
digest = hashlib.sha256()
for start in range(0, 0x110000, 4096):
    chunk = "".join(chr(c) for c in range(start, min(start + 4096, 0x110000)) if not 0xD800 <= c <= 0xDFFF)
    digest.update(go_quote(chunk).encode("utf-8", "surrogatepass"))
odd = "".join(chr(c) for c in (0x0CF3, 0x11F00, 0x1E030, 0x1FAE8, 0x31350, 0x2EBF0, 0x1FBFA, 0x85, 0x2028, 0xFEFF))
pod = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "annotations": {
            "container.apparmor.security.beta.kubernetes.io/c": "x" + odd,
            "seccomp.security.alpha.kubernetes.io/pod": "y" + odd,
        },
    },
    "spec": {"containers": [{"name": "c", "image": "i"}]},
}
for version in ("v1.0", "v1.18", "v1.19", "latest"):
    for level in ("baseline", "restricted"):
        digest.update(evaluate(pod, level, version).message.encode("utf-8"))
print(sys.version_info[0], sys.version_info[1], digest.hexdigest())
"""


def _interpreters() -> dict[str, str]:
    """Minor version -> an interpreter of it: this one, PSSGEN_OTHER_PYTHONS, pythonX.Y on PATH, then pyenv's.

    pyenv's shims on PATH refuse a version that is not selected, so its
    versions folder is searched directly.
    """
    found = {f"{sys.version_info[0]}.{sys.version_info[1]}": sys.executable}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = os.environ.get("PSSGEN_OTHER_PYTHONS", "").split() + [f"python{minor}" for minor in WANTED]
    candidates += [str(path) for minor in WANTED for path in sorted(pyenv.glob(f"{minor}.*/bin/python{minor}"))]
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is None:
            continue
        run = subprocess.run([path, "-c", "import sys; print(*sys.version_info[:2], sep='.')"], capture_output=True)
        minor = run.stdout.decode().strip()
        if run.returncode == 0 and minor not in found:
            found[minor] = path
    return found


def _digest(python: str) -> str:
    run = subprocess.run([python, "-I", "-c", PROGRAM, str(ROOT)], capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()
    return run.stdout.decode().split()[2]


@pytest.mark.slow
def test_go_quote_and_its_messages_do_not_depend_on_the_interpreter() -> None:
    pythons = _interpreters()
    missing = [minor for minor in WANTED if minor not in pythons]
    assert not missing, f"no Python {', '.join(missing)} found (pyenv install, or PSSGEN_OTHER_PYTHONS)"
    here = _digest(sys.executable)
    assert {minor: _digest(python) for minor, python in pythons.items()} == dict.fromkeys(pythons, here)
