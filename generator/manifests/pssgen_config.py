"""Reading pssgen's own configuration file (``--config``): the per-check exclusions PSA cannot express.

Why here: the policy layer validates the configuration but reads no files.
"""

from __future__ import annotations

from pathlib import Path

from generator.manifests.config_file import read_one_document
from generator.policy.exclusions import Exclusion, ExclusionError, parse_configuration


def read_pssgen_config(path: str | Path) -> tuple[Exclusion, ...]:
    """The exclusions in ``path``: one YAML document, a ``PssgenConfiguration``."""
    path = Path(path)
    return parse_configuration(read_one_document(path, ExclusionError), str(path))
