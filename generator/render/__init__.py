"""Render the generated bundle under ``out/`` from the checks' data: Rego, the Gatekeeper bundle, docs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from generator.policy.catalogue import catalogue_markdown
from generator.policy.exclusions import Exclusion
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration
from generator.render.gatekeeper import gatekeeper_bundle
from generator.render.rego import rego_modules
from generator.render.vap import vap_bundle


# Each bundle under out/: its folder and the function rendering its files. Gatekeeper and docs go here.
def docs_bundle() -> dict[str, str]:
    """The controls reference page, the same text `pssgen controls --output markdown` prints."""
    return {"controls.md": catalogue_markdown()}


def bundles(
    config: PsaConfiguration = PSA_DEFAULTS,
    *,
    deny_workloads: bool = False,
    source: str = "PSA's defaults (no file)",
    exclusions: Sequence[Exclusion] = (),
) -> tuple[tuple[str, Callable[[], dict[str, str]]], ...]:
    """Each bundle's folder and renderer; the Gatekeeper and VAP bundles are rendered for PSA's configuration."""
    gatekeeper = partial(gatekeeper_bundle, config, deny_workloads=deny_workloads, source=source,
                         exclusions=exclusions)  # fmt: skip
    vap = partial(vap_bundle, config, deny_workloads=deny_workloads, source=source)
    return (("rego", rego_modules), ("gatekeeper", gatekeeper), ("vap", vap), ("docs", docs_bundle))


def render_all(
    config: PsaConfiguration = PSA_DEFAULTS,
    *,
    deny_workloads: bool = False,
    source: str = "PSA's defaults (no file)",
    exclusions: Sequence[Exclusion] = (),
) -> dict[str, str]:
    """Every generated file, keyed by its path under ``out/``; byte-identical for the same checks and configuration."""
    rendered: dict[str, str] = {}
    for folder, render in bundles(config, deny_workloads=deny_workloads, source=source, exclusions=exclusions):
        rendered.update({f"{folder}/{path}": text for path, text in render().items()})
    return dict(sorted(rendered.items()))
