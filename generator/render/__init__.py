"""Render the generated bundle under ``out/`` from the checks' data: Rego, the Gatekeeper bundle, docs."""

from __future__ import annotations

from collections.abc import Callable

from generator.policy.catalogue import catalogue_markdown
from generator.render.gatekeeper import gatekeeper_bundle
from generator.render.rego import rego_modules


# Each bundle under out/: its folder and the function rendering its files. Gatekeeper and docs go here.
def docs_bundle() -> dict[str, str]:
    """The controls reference page, the same text `pssgen controls --output markdown` prints."""
    return {"controls.md": catalogue_markdown()}


BUNDLES: tuple[tuple[str, Callable[[], dict[str, str]]], ...] = (
    ("rego", rego_modules),
    ("gatekeeper", gatekeeper_bundle),
    ("docs", docs_bundle),
)


def render_all() -> dict[str, str]:
    """Every generated file, keyed by its path under ``out/``; byte-identical for the same checks."""
    rendered: dict[str, str] = {}
    for folder, render in BUNDLES:
        rendered.update({f"{folder}/{path}": text for path, text in render().items()})
    return dict(sorted(rendered.items()))
