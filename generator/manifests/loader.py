"""The strict loader: values as kubectl's go-yaml v2 reads them, and no duplicate keys.

- Values are read as kubectl's go-yaml v2 reads them, not as YAML 1.1 in full:
  ``y``/``n`` are booleans, ``1e3`` is a float, timestamps stay the text they
  are, there are no base-60 numbers, unknown tags are ignored. Then
  ``generator.manifests.shape.as_api_json`` makes them what the API server would receive.
- Duplicate mapping keys are an error, as in the Kubernetes YAML decoder: a
  last-wins reading would let ``privileged: true`` hide behind a second key.
  A key a ``<<`` merge supplies counts too (go-yaml lets a merge override an
  earlier key, PyYAML the reverse: either reading is a bypass of the other).

PyYAML's constructor reads this way what ``generator.manifests.yaml_events``
hands to nodes; its fast path resolves plain scalars with the same resolvers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator.manifests.shape import NotJSONError, json_key

if TYPE_CHECKING:  # checked as the pure-Python loader: libyaml's has the same constructor and resolver
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_C_PARSER = _BaseLoader is not yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"


def _go_yaml_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """PyYAML's implicit resolvers with go-yaml v2's bool, int and float forms, and no timestamps or ``=``."""
    replaced = {_TAG + name for name in ("bool", "int", "float", "timestamp", "value")}
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in replaced]
        for first, entries in _BaseLoader.yaml_implicit_resolvers.items()
    }
    forms = [
        ("bool", r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF", "yYnNtTfFoO"),
        ("float", r"""[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                     |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                     |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                     |[-+]?\.(?:inf|Inf|INF)
                     |\.(?:nan|NaN|NAN)""", "-+0123456789."),
        ("int", r"""[-+]?0b[0-1_]+
                   |[-+]?0o[0-7_]+
                   |[-+]?0[0-7_]+
                   |[-+]?(?:0|[1-9][0-9_]*)
                   |[-+]?0x[0-9a-fA-F_]+""", "-+0123456789"),
    ]  # fmt: skip
    for name, pattern, firsts in forms:
        regexp = re.compile(rf"^(?:{pattern})$", re.VERBOSE)
        for first in firsts:
            resolvers.setdefault(first, []).append((_TAG + name, regexp))
    return resolvers


_BOOLS = {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False, "off": False}


class _StrictLoader(_BaseLoader):
    """Safe loading as go-yaml v2 reads values, rejecting duplicate keys."""

    yaml_implicit_resolvers = _go_yaml_resolvers()

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping node, but found {node.id}", node.start_mark)
        self.flatten_mapping(node)  # merged pairs first, then the node's own: any repeat is a duplicate
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key.__class__ is not str:  # named as JSON names it: `1:` and `"1":` are the duplicates they become
                try:
                    key = json_key(key)
                except NotJSONError as exc:
                    raise ConstructorError(None, None, exc.problem, key_node.start_mark) from None
            if key in mapping:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_go_bool(self, node: ScalarNode) -> bool:
        value = self.construct_scalar(node)
        try:
            return _BOOLS[value.lower()]
        except KeyError:
            raise ConstructorError(None, None, f"cannot read {value!r} as a boolean", node.start_mark) from None

    def construct_checked_int(self, node: ScalarNode) -> int:
        try:
            return SafeConstructor.construct_yaml_int(self, node)
        except ValueError:
            raise ConstructorError(None, None, f"cannot read {node.value!r} as an integer", node.start_mark) from None

    def construct_checked_float(self, node: ScalarNode) -> float:
        try:
            return SafeConstructor.construct_yaml_float(self, node)
        except ValueError:
            raise ConstructorError(None, None, f"cannot read {node.value!r} as a number", node.start_mark) from None

    def construct_as_text(self, node: ScalarNode) -> str:
        """A timestamp stays the text it is: go-yaml v2 hands kubectl the string, never a time."""
        return self.construct_scalar(node)

    def construct_untagged(self, node: Node) -> Any:
        """Unknown tags (and !!set, !!omap, !!pairs) are ignored, as go-yaml v2 does: the node's own kind decides."""
        if isinstance(node, MappingNode):
            return self.construct_yaml_map(node)
        if isinstance(node, SequenceNode):
            return self.construct_yaml_seq(node)
        return self.construct_scalar(cast(ScalarNode, node))  # neither of the others


_StrictLoader.add_constructor(_TAG + "bool", _StrictLoader.construct_go_bool)
_StrictLoader.add_constructor(_TAG + "int", _StrictLoader.construct_checked_int)
_StrictLoader.add_constructor(_TAG + "float", _StrictLoader.construct_checked_float)
_StrictLoader.add_constructor(_TAG + "timestamp", _StrictLoader.construct_as_text)
for _tag in ("set", "omap", "pairs"):
    _StrictLoader.add_constructor(_TAG + _tag, _StrictLoader.construct_untagged)
_StrictLoader.add_constructor(None, _StrictLoader.construct_untagged)
