"""The one strict Jinja environment, loading the packaged templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import jinja2
import yaml

from generator.render.literals import (
    ADMISSION_PACKAGE,
    CHECKS_PACKAGE,
    HEADER,
    LEVELS_PACKAGE,
    LIB_PACKAGE,
    TYPES_PACKAGE,
    rego_literal,
    rego_string,
)

FILTERS: dict[str, Callable[..., str]] = {
    "rego_string": rego_string,
    "rego_literal": rego_literal,
}


def environment() -> jinja2.Environment:
    """The one Jinja environment: strict, whitespace-exact, loading from the packaged templates."""
    root = files("generator.templates")
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _load(root, name)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    env.globals.update(
        header=HEADER,
        lib_package=LIB_PACKAGE,
        checks_package=CHECKS_PACKAGE,
        levels_package=LEVELS_PACKAGE,
        types_package=TYPES_PACKAGE,
        admission_package=ADMISSION_PACKAGE,
    )
    return env


def _load(root: Traversable, name: str) -> str | None:
    """A template's source by its slash-separated name, or None (Jinja's "not found")."""
    node = root
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8") if node.is_file() else None


def render_template(env: jinja2.Environment, source: str, /, **context: Any) -> str:
    """Render one template, refusing output without the generated-file header or (for YAML) output YAML cannot
    read: a template that renders broken YAML fails here, not in a cluster."""
    text = env.get_template(source).render(**context)
    if not text.startswith(HEADER + "\n"):
        raise ValueError(f"{source}: rendered output must start with the header {HEADER!r}")
    if source.endswith(".yaml.j2"):
        try:
            list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise ValueError(f"{source}: rendered output is not YAML: {exc}") from exc
    return text


@dataclass(frozen=True)
class DocumentView:
    """YAML documents dumped in Python, with their comment lines."""

    comment: tuple[str, ...]
    body: str


def yaml_dump(data: Mapping[str, Any]) -> str:
    """One YAML document as every bundle writes them: keys in the order built, block style, 120 columns."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def render_document(env: jinja2.Environment, comment: Sequence[str], documents: Sequence[Mapping[str, Any]]) -> str:
    """A generated YAML file: the header, ``comment`` as comment lines, then ``documents``."""
    body = "---\n".join(yaml_dump(d) for d in documents)
    return render_template(env, "document.yaml.j2", document=DocumentView(tuple(comment), body))
