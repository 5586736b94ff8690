"""The Rego type gate (``out/rego/lib/pss/types.rego``), rendered from ``generator.policy.fields``.

Manifests reach the Rego unchecked when users run OPA or conftest on their
files, and both read YAML their own way (``opa eval -i`` as YAML 1.2, where
``privileged: yes`` is the string "yes"). A check that tests ``== true`` would
allow such a pod, while kubectl sends ``true`` and PSA denies it. So every
entry point first asks the gate, which fails closed on any value of a checked
field the API's decoder would refuse.

Each struct of the field data becomes two Rego functions: ``_bad_<name>(x)``, a
cheap boolean test (one body per field, undefined fields cost a failed lookup)
that every object pays for, and ``_find_<name>(x)``, the set of ``[path,
expected, value]`` behind it, evaluated only for an object that fails. Both are
built here from the same walk, so they cannot disagree about a field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.policy.fields import GO_NAMES, SCHEMAS, MapOf, Scalar
from generator.render.literals import rego_literal, rego_string

_ARTICLE = {"boolean": "a boolean", "string": "a string", "int32": "an int32", "int64": "an int64"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def snake(name: str) -> str:
    """``SELinuxOptions`` -> ``se_linux_options``, ``hostPID`` -> ``host_pid``: Rego names are snake case."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _ref(field: str) -> str:
    """``x.field``, or ``x["field"]`` when the name is no Rego identifier."""
    return f"x.{field}" if _IDENTIFIER.match(field) else f"x[{rego_string(field)}]"


@dataclass(frozen=True)
class Test:
    """One way a field can be bad: ``bad`` is the body of a ``_bad_<struct>`` rule, ``find`` the comprehension
    yielding its ``[path, expected, value]`` triples."""

    bad: tuple[str, ...]
    find: str


@dataclass(frozen=True)
class StructView:
    """A Go struct of the field data: its Rego name, where it is first met, and the tests of its fields."""

    name: str
    where: str
    tests: tuple[Test, ...]
    objects: str  # its fields of any object type, as a Rego set literal ("" for none)


@dataclass(frozen=True)
class ScalarView:
    """A Go scalar: the name of its ``_bad_`` function, and the Rego test of a good non-null value."""

    name: str
    test: str


@dataclass(frozen=True)
class TypesView:
    """What ``rego/types.rego.j2`` renders: scalars, structs (children first), and the root struct of each kind."""

    scalars: tuple[ScalarView, ...]
    structs: tuple[StructView, ...]
    kinds: tuple[tuple[str, str], ...]  # (kind as a Rego string, root struct name), Pod first as in the data


def _scalar_test(scalar: Scalar) -> str:
    if scalar.name == "boolean":
        return "is_boolean(x)"
    if scalar.name == "string":
        return "is_string(x)"
    return f"_integer(x, {scalar.low}, {scalar.high})"


class _Builder:
    """Walks the field data once, naming each struct (by GO_NAMES, else after its parent and field)."""

    def __init__(self) -> None:
        self.go_names = {id(schema): snake(name) for name, schema in GO_NAMES.items()}
        self.names: dict[int, str] = {}
        self.structs: list[StructView] = []
        self.scalars: dict[str, Scalar] = {}

    def struct(self, schema: Mapping[str, Any], name: str, where: str) -> str:
        """The name of ``schema``'s functions, rendering them (after their children) the first time it is met."""
        if id(schema) in self.names:
            return self.names[id(schema)]
        name = self.go_names.get(id(schema), name)
        if name in self.names.values():
            raise ValueError(f"two structs of generator.policy.fields would both be named {name!r}")
        self.names[id(schema)] = name
        tests = [Test(("_bad_object(x)",), '{["", "an object", x] | _bad_object(x)}')]
        any_objects = sorted(f for f, t in schema.items() if isinstance(t, dict) and not t)
        for field, sub in schema.items():
            if isinstance(sub, dict) and not sub:
                continue
            tests.extend(self.field(field, sub, f"{name}_{snake(field)}", f"{where}.{field}"))
        objects = ""
        if any_objects:  # many optional objects (volume sources): iterate the keys present instead of each field
            objects = rego_literal(frozenset(any_objects))
            tests.append(
                Test(
                    bad=("some key, value in x", f"_{name}_objects[key]", "_bad_object(value)"),
                    find=f'{{[concat("", [".", key]), "an object", value] | '
                    f"some key, value in x; _{name}_objects[key]; _bad_object(value)}}",
                )
            )
        self.structs.append(StructView(name, where, tuple(tests), objects))
        return name

    def field(self, field: str, sub: Any, name: str, where: str) -> list[Test]:
        ref = _ref(field)
        path = rego_string(f".{field}")
        if isinstance(sub, Scalar):
            self.scalars[sub.name] = sub
            fn = f"_bad_{sub.name}"
            return [Test((f"{fn}({ref})",), f"{{[{path}, {rego_string(_ARTICLE[sub.name])}, {ref}] | {fn}({ref})}}")]
        if isinstance(sub, dict):
            child = self.struct(sub, name, where)
            return [
                Test(
                    (f"_bad_{child}({ref})",),
                    f'{{[concat("", [{path}, p]), e, v] | some [p, e, v] in _find_{child}({ref})}}',
                )
            ]
        if isinstance(sub, list) and len(sub) == 1:
            return [
                Test((f"_bad_array({ref})",), f'{{[{path}, "an array", {ref}] | _bad_array({ref})}}'),
                self.element(ref, sub[0], name, f"{where}[]", f"is_array({ref})", '".%s[%d]%s"', field),
            ]
        if isinstance(sub, MapOf):
            return [
                Test((f"_bad_object({ref})",), f'{{[{path}, "an object", {ref}] | _bad_object({ref})}}'),
                self.element(ref, sub.value, name, f"{where}[]", f"is_object({ref})", '".%s[%s]%s"', field),
            ]
        raise TypeError(f"{where}: not a field type of generator.policy.fields: {sub!r}")

    def element(self, ref: str, elem: Any, name: str, where: str, guard: str, layout: str, field: str) -> Test:
        """The test of each element of an array (or value of a map) at ``ref``: null is the zero value, so fine."""
        each = f"{guard}; some i, e in {ref}"
        if isinstance(elem, Scalar):
            self.scalars[elem.name] = elem
            fn, expected = f"_bad_{elem.name}", rego_string(_ARTICLE[elem.name])
            triple = f'[sprintf({layout}, [{rego_string(field)}, i, ""]), {expected}, e]'
            return Test((f"some e in {ref}", f"{fn}(e)"), f"{{{triple} | {each}; {fn}(e)}}")
        if isinstance(elem, dict) and elem:
            child = self.struct(elem, f"{name}_item", where)
            triple = f"[sprintf({layout}, [{rego_string(field)}, i, p]), ex, v]"
            return Test(
                (f"some e in {ref}", f"_bad_{child}(e)"),
                f"{{{triple} | {each}; some [p, ex, v] in _find_{child}(e)}}",
            )
        raise TypeError(f"{where}: elements must be scalars or structs: {elem!r}")


def types_view() -> TypesView:
    """The gate's data: every struct reachable from each evaluated kind's root, each rendered once."""
    builder = _Builder()
    kinds = tuple((rego_string(kind), builder.struct(schema, snake(kind), kind)) for kind, schema in SCHEMAS.items())
    scalars = tuple(ScalarView(s.name, _scalar_test(s)) for s in sorted(builder.scalars.values(), key=lambda s: s.name))
    return TypesView(scalars=scalars, structs=tuple(builder.structs), kinds=kinds)
