"""JSON schemas a model is given: of a structured output, or of a tool's arguments.

msgspec describes a type (``msgspec.json.schema``); what OpenAI-compatible APIs
accept in strict mode is narrower (OpenAI's "Structured Outputs" rules): the root
must be an object, not a ``$ref``; every object must list all its properties in
``required`` and set ``additionalProperties: false``. `strict_schema` turns the
one into the other where it can, and says when it cannot (a ``dict[str, X]`` is
an open object: such a schema is sent with ``strict: false``). An output whose
type is not an object (a list, a literal, a union) is wrapped as ``{"value": ...}``
and unwrapped after decoding, as other libraries do.

Pure: no I/O, so it is tested exhaustively.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Generic, TypeVar, final

import msgspec

from .._errors import SchemaError

__all__ = ["Output", "describe", "schema_name", "strict_schema"]

T = TypeVar("T")

_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n(.*)\n\s*```\s*$", re.DOTALL)
WRAP = "value"
"""The property a non-object output is wrapped in."""


def schema_name(text: str) -> str:
    """Return ``text`` as a schema or tool name: ``[a-zA-Z0-9_-]``, 1 to 64 characters."""
    name = _NAME.sub("_", text).strip("_")[:64]
    return name or "output"


def describe(tp: Any, subject: str) -> dict[str, Any]:
    """Return msgspec's JSON schema of ``tp``.

    Raises:
        SchemaError: msgspec cannot describe ``tp`` (``subject`` says whose type it is).
    """
    try:
        return msgspec.json.schema(tp)
    except (TypeError, ValueError) as exc:
        problem = str(exc).strip().splitlines()[-1]
        raise SchemaError(
            subject, f"its type {_shown(tp)} has no JSON schema ({problem})"
        ) from None


def strict_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Return ``schema`` (not changed) made strict, and whether that was possible.

    The root ``$ref`` is inlined; every object schema with properties gets them
    all in ``required`` and ``additionalProperties: false``; a ``default`` moves
    into the field's description (a strict schema requires every field, so the
    model must send one: it is told which value means "as usual"). An
    open object (``additionalProperties`` a schema: a ``dict``) cannot be strict.
    """
    schema = copy.deepcopy(schema)
    defs: dict[str, Any] = schema.pop("$defs", {})
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(schema) == 1:
        name = ref.removeprefix("#/$defs/")
        schema = copy.deepcopy(defs[name])
        if ref.encode() not in msgspec.json.encode(defs):  # not recursive: inlined only
            del defs[name]
    strict = _tighten(schema)
    for definition in defs.values():
        strict = _tighten(definition) and strict
    if defs:
        schema["$defs"] = defs
    return schema, strict


def _tighten(node: Any) -> bool:
    # Make every object schema under ``node`` strict, in place; False if one cannot be.
    # (Every node is visited, strict or not: no short-circuit.)
    if isinstance(node, list):
        results = [_tighten(item) for item in node]
        return all(results)
    if not isinstance(node, dict):
        return True
    if "default" in node:  # a strict schema requires the field: say what to send
        default = msgspec.json.encode(node.pop("default")).decode()
        said = node.get("description")
        node["description"] = f"{said} (default: {default})" if said else f"default: {default}"
    strict = True
    if node.get("type") == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) or ("properties" not in node and extra is not False):
            strict = False  # an open object: a dict of any keys
        else:
            node["required"] = list(node.get("properties", {}))
            node["additionalProperties"] = False
    for key, value in node.items():
        children = list(value.values()) if key == "properties" else [value]
        for child in children:
            if isinstance(child, dict | list) and not _tighten(child):
                strict = False
    return strict


@final
class Output(Generic[T]):
    """A structured output: its type, the schema the model is given, and its decoder.

    Raises:
        SchemaError: msgspec cannot describe the type.
    """

    __slots__ = ("_tag", "name", "schema", "strict", "type", "wrapped")

    def __init__(self, tp: type[T] | Any) -> None:
        self.type = tp
        described, self.strict = strict_schema(describe(tp, "the output"))
        self.wrapped = described.get("type") != "object"
        self._tag = _tag_of(tp)
        if self._tag is not None and not self.wrapped:  # the model need not send the tag
            field = self._tag[0]
            described.get("properties", {}).pop(field, None)
            described["required"] = [r for r in described.get("required", []) if r != field]
        if self.wrapped:
            defs = described.pop("$defs", None)
            described = {
                "type": "object",
                "properties": {WRAP: described},
                "required": [WRAP],
                "additionalProperties": False,
            }
            if defs:
                described["$defs"] = defs
        self.schema = described
        self.name = schema_name(getattr(tp, "__name__", None) or _shown(tp))

    def __repr__(self) -> str:
        return f"Output({_shown(self.type)})"

    def decode(self, text: str) -> T:
        """Return the answer ``text`` decoded and validated as the output type.

        A JSON document fenced in Markdown (```json ... ```) is taken from its fence.

        Raises:
            msgspec.DecodeError: the text is not JSON, or not a valid value of the
                type (``msgspec.ValidationError``, naming the path).
        """
        fenced = _FENCE.match(text.strip())
        if fenced is not None:
            text = fenced.group(1)
        if not self.wrapped:
            if self._tag is None:
                result: T = msgspec.json.decode(text, type=self.type)
                return result
            found = msgspec.json.decode(text)
            if isinstance(found, dict):
                found.setdefault(*self._tag)
            tagged: T = msgspec.convert(found, type=self.type)
            return tagged
        wrapper = msgspec.json.decode(text)
        if not isinstance(wrapper, dict) or WRAP not in wrapper:
            raise msgspec.ValidationError(f"Expected an object with the field `{WRAP}`")
        try:
            value: T = msgspec.convert(wrapper[WRAP], type=self.type)
        except msgspec.ValidationError as exc:
            raise msgspec.ValidationError(str(exc).replace("`$", f"`$.{WRAP}", 1)) from None
        return value

    def response_format(self) -> dict[str, Any]:
        """Return the ``response_format`` that asks for this output (``json_schema``)."""
        spec = {"name": self.name, "schema": self.schema, "strict": self.strict}
        return {"type": "json_schema", "json_schema": spec}

    def instruction(self) -> str:
        """Return the instruction given where the schema cannot be sent as a format."""
        return (
            "Answer with JSON only: one JSON value matching this JSON schema, with no "
            f"other text.\nSchema: {msgspec.json.encode(self.schema).decode()}"
        )

    def feedback(self, error: str) -> str:
        """Return what the model is told when its answer did not validate."""
        return (
            f"Your answer is not valid: {error}. Answer again with JSON only, matching "
            "the schema you were given."
        )


def _tag_of(tp: Any) -> tuple[str, str | int] | None:
    """Return a tagged Struct class's (tag field, tag), such as a `Message`'s; else None."""
    if not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
        return None
    config = tp.__struct_config__
    if config.tag_field is None or config.tag is None:
        return None
    return config.tag_field, config.tag


def _shown(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")
