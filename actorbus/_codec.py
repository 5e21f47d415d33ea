"""Encoding messages for durable logs, and decoding them back by their type tag.

Messages are encoded once, with msgpack, when a durable log writes them; they are
never pickled. Decoding finds the class by the tag stored beside the payload, in
the registry of every `Message` subclass defined in this process, and validates
the payload against it. A field annotated with the base `Message` (such as
`DeadLetter.message`) holds any message: it is decoded by its own tag.

Decoders are built once per class and reused.
"""

from __future__ import annotations

import typing
from typing import Any, final

import msgspec

from ._errors import UndecodableRecord
from ._message import Message, message_registry

__all__ = ["MessageCodec"]

_encoder = msgspec.msgpack.Encoder()


@final
class MessageCodec:
    """Encodes messages to bytes and decodes them back by tag, with cached decoders."""

    __slots__ = ("_decoders",)

    def __init__(self) -> None:
        self._decoders: dict[type[Message], Any] = {}

    @staticmethod
    def encode(msg: Message) -> bytes:
        """Return the msgpack encoding of ``msg``."""
        return _encoder.encode(msg)

    def decode(self, tag: str, payload: bytes, seq: int) -> Message:
        """Decode ``payload`` as the message class tagged ``tag``.

        Raises:
            UndecodableRecord: no class has the tag (or two do), or the payload does
                not validate against it; the error names ``seq``.
        """
        cls = self._class(tag, seq)
        try:
            return self._decode(cls, payload, seq)
        except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError) as exc:
            raise UndecodableRecord(seq, tag, f"the payload does not fit {tag}: {exc}") from exc

    def _class(self, tag: str, seq: int) -> type[Message]:
        found = message_registry().get(tag)
        if found is None:
            raise UndecodableRecord(
                seq,
                tag,
                "no Message subclass with this tag is defined in this process; import "
                "the module that defines it before reading the log",
            )
        if isinstance(found, list):
            names = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in found)
            raise UndecodableRecord(
                seq, tag, f"several classes share this tag ({names}); give each its own tag="
            )
        return found

    def _decode(self, cls: type[Message], payload: bytes, seq: int = 0) -> Message:
        decoder = self._decoders.get(cls)
        if decoder is None:
            decoder = self._decoders[cls] = _decoder_for(cls)
        if isinstance(decoder, _Polymorphic):
            return decoder.decode(payload, self, seq)
        result: Message = decoder.decode(payload)
        return result


@final
class _Polymorphic:
    """Decodes a class with fields typed `Message`: those fields by their own tags."""

    __slots__ = ("_cls", "_fields", "_wire")

    def __init__(self, cls: type[Message], fields: tuple[str, ...]) -> None:
        self._cls = cls
        self._fields = fields
        wire_fields = [
            (f.name, msgspec.Raw if f.name in fields else f.type, _default(f))
            for f in msgspec.structs.fields(cls)
        ]
        wire = msgspec.defstruct(
            f"{cls.__name__}Wire", wire_fields, kw_only=True, tag=cls.__struct_config__.tag
        )
        self._wire = msgspec.msgpack.Decoder(wire)

    def decode(self, payload: bytes, codec: MessageCodec, seq: int) -> Message:
        wire = self._wire.decode(payload)
        values = {name: getattr(wire, name) for name in _names(wire)}
        for name in self._fields:
            raw = values[name]
            inner_tag = msgspec.msgpack.decode(raw, type=_Tagged).type
            values[name] = codec._decode(codec._class(inner_tag, seq), bytes(raw), seq)
        return self._cls(**values)


class _Tagged(msgspec.Struct):
    type: str


def _names(struct: msgspec.Struct) -> tuple[str, ...]:
    return tuple(f.name for f in msgspec.structs.fields(struct))


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return msgspec.field(default_factory=field.default_factory)
    return msgspec.NODEFAULT


def _decoder_for(cls: type[Message]) -> Any:
    hints = typing.get_type_hints(cls)
    polymorphic = tuple(name for name, hint in hints.items() if hint is Message)
    if polymorphic:
        return _Polymorphic(cls, polymorphic)
    return msgspec.msgpack.Decoder(cls)
