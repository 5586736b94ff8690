"""Reading PSA's configuration file: the API server's AdmissionConfiguration, or a bare PodSecurityConfiguration.

Why here: the policy layer validates the configuration as PSA does but reads no
files; the file can be the whole ``--admission-control-config-file`` (whose
``PodSecurity`` plugin entry holds the configuration inline or names a file by
``path``, relative to the file that names it, as the API server resolves it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.manifests.config_file import read_one_document
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfigError, PsaConfiguration, parse_configuration

ADMISSION_API_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1", "apiserver.k8s.io/v1alpha1")
PLUGIN = "PodSecurity"


def _load(path: Path) -> Any:
    document = read_one_document(path, PsaConfigError)
    if not isinstance(document, dict):
        raise PsaConfigError(f"{path}: must hold exactly one mapping (found a {type(document).__name__})")
    return document


def read_psa_config(path: str | Path) -> PsaConfiguration:
    """The PSA configuration in ``path``; an AdmissionConfiguration without a PodSecurity entry means PSA's defaults."""
    path = Path(path)
    document = _load(path)
    where = str(path)
    if document.get("kind") == "AdmissionConfiguration":
        if document.get("apiVersion") not in ADMISSION_API_VERSIONS:
            raise PsaConfigError(f"{path}: unknown AdmissionConfiguration apiVersion {document.get('apiVersion')!r}")
        plugins = document.get("plugins") or []
        entry = next((p for p in plugins if isinstance(p, dict) and p.get("name") == PLUGIN), None)
        if entry is None:
            return PSA_DEFAULTS
        if entry.get("configuration") is not None:
            document = entry["configuration"]
            where = f"{path}: plugins[{PLUGIN}].configuration"
        elif entry.get("path"):
            named = Path(entry["path"])
            named = named if named.is_absolute() else path.parent / named
            document, where = _load(named), str(named)
        else:
            return PSA_DEFAULTS
        if not isinstance(document, dict):
            raise PsaConfigError(f"{where}: must be a mapping")
    try:
        return parse_configuration(document)
    except PsaConfigError as exc:
        raise PsaConfigError(f"{where}: {exc}") from None
