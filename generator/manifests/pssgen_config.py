"""Reading pssgen's own configuration file (``--config``): the per-check exclusions PSA cannot express.

Why here: the policy layer validates the configuration but reads no files.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.policy.exclusions import Exclusion, ExclusionError, parse_configuration


def read_pssgen_config(path: str | Path) -> tuple[Exclusion, ...]:
    """The exclusions in ``path``: one YAML document, a ``PssgenConfiguration``."""
    path = Path(path)
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, UnicodeDecodeError) as exc:
        raise ExclusionError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ExclusionError(f"{path}: not YAML: {' '.join(str(exc).split())}") from None
    if len(documents) != 1:
        raise ExclusionError(f"{path}: must hold exactly one document (found {len(documents)})")
    return parse_configuration(documents[0], str(path))
