"""Checking the JSON Schemas a request carries: their shape, and OpenAI's strict mode.

Tool ``parameters`` and ``response_format.json_schema.schema`` are JSON Schemas.
`schema_problem` walks one and names the first thing wrong with it, the way the
real API does: ``In context=('properties', 'when'), ...``, the context being the
path of keys from the schema's root. It checks the shape every schema must have
(subschemas are objects, ``type`` names JSON types, ``properties`` is an object of
schemas, ``required`` a list of names...) and, in strict mode, OpenAI's rules for
Structured Outputs: the root is ``"type": "object"``, and every object schema sets
``additionalProperties`` to false and lists every property in ``required``. It
does not resolve ``$ref`` (each ``$defs`` entry is checked on its own) nor check
OpenAI's limits on size, depth or supported keywords. Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_DEPTH", "Context", "json_type", "schema_problem"]

Context = tuple[str, ...]

MAX_DEPTH = 64
"""Deeper schemas are refused rather than walked (the real limit in strict mode is lower)."""

_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMAS = ("not", "additionalProperties", "contains", "if", "then", "else")
_STRINGS = ("$ref", "title", "description")


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type, for messages (``"object"``, ``"array"``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((str, "string"), (int, "integer"), (float, "number"), (list, "array")):
        if isinstance(value, kind):
            return name
    return "object"


def schema_problem(
    schema: object, *, strict: bool, object_root: bool = False
) -> tuple[Context, str] | None:
    """The first problem of the root ``schema``, as (where, what), or ``None``.

    With ``strict``, every object schema in it must follow strict mode. With
    ``strict`` or ``object_root`` (a function's parameters), the root must say
    ``"type": "object"``: a root ``$ref`` or ``anyOf`` is refused, as OpenAI does.
    """
    if not isinstance(schema, dict):
        return (), f"a schema must be a JSON object, got {json_type(schema)}."
    if (strict or object_root) and schema.get("type") != "object":
        got = schema.get("type")
        return (), f"""schema must be a JSON Schema of 'type: "object"', got 'type: "{got}"'."""
    return _walk(schema, (), strict)


def _walk(node: object, context: Context, strict: bool) -> tuple[Context, str] | None:
    if isinstance(node, bool):
        return None  # ``true``/``false`` are schemas too (anything / nothing)
    if not isinstance(node, dict):
        return context, f"a schema must be a JSON object, got {json_type(node)}."
    if len(context) > MAX_DEPTH:
        return context, f"the schema is nested more than {MAX_DEPTH} levels deep."
    problem = _own_problem(node, strict)
    if problem is not None:
        return context, problem
    for where, sub in _subschemas(node):
        found = _walk(sub, (*context, *where), strict)
        if found is not None:
            return found
    return None


def _own_problem(node: dict[str, Any], strict: bool) -> str | None:
    """What is wrong with ``node`` itself, not counting its subschemas."""
    return _keyword_problem(node) or (_strict_problem(node) if strict else None)


def _keyword_problem(node: dict[str, Any]) -> str | None:
    if "type" in node and not _valid_type(node["type"]):
        return f"'type' must be one of {sorted(_TYPES)} or a list of them, got {node['type']!r}."
    for key in _SCHEMA_MAPS:
        if key in node and not isinstance(node[key], dict):
            return f"'{key}' must be an object of schemas, got {json_type(node[key])}."
    for key in _SCHEMA_LISTS:
        if key in node and not (isinstance(node[key], list) and node[key]):
            return f"'{key}' must be a non-empty array of schemas, got {node[key]!r}."
    required = node.get("required", [])
    if not (isinstance(required, list) and all(isinstance(name, str) for name in required)):
        return f"'required' must be an array of property names, got {required!r}."
    if "enum" in node and not (isinstance(node["enum"], list) and node["enum"]):
        return f"'enum' must be a non-empty array, got {node['enum']!r}."
    for key in _STRINGS:
        if key in node and not isinstance(node[key], str):
            return f"'{key}' must be a string, got {json_type(node[key])}."
    return None


def _valid_type(value: object) -> bool:
    if isinstance(value, str):
        return value in _TYPES
    return isinstance(value, list) and bool(value) and all(t in _TYPES for t in value)


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if isinstance(kind, list):
        return "object" in kind
    return kind == "object" or (kind is None and "properties" in node)


def _strict_problem(node: dict[str, Any]) -> str | None:
    if not _is_object(node):
        return None
    if node.get("additionalProperties") is not False:
        return "'additionalProperties' is required to be supplied and to be false."
    required = node.get("required")
    missing = [name for name in node.get("properties", {}) if name not in (required or [])]
    if required is None or missing:
        detail = f" Missing '{missing[0]}'." if missing else ""
        return (
            "'required' is required to be supplied and to be an array including every "
            f"key in properties.{detail}"
        )
    return None


def _subschemas(node: dict[str, Any]) -> list[tuple[Context, object]]:
    """Each subschema of ``node`` with the keys leading to it."""
    found: list[tuple[Context, object]] = []
    for key in _SCHEMA_MAPS:
        found += [((key, name), sub) for name, sub in node.get(key, {}).items()]
    for key in _SCHEMA_LISTS:
        found += [((key, str(i)), sub) for i, sub in enumerate(node.get(key, []))]
    items = node.get("items")
    if isinstance(items, list):  # the older tuple form
        found += [(("items", str(i)), sub) for i, sub in enumerate(items)]
    elif "items" in node:
        found.append((("items",), items))
    found += [((key,), node[key]) for key in _SCHEMAS if key in node]
    return found
