"""The chat completions wire format: request bodies out, completions and chunks in.

Answers are decoded straight into typed Structs with msgspec, so a missing field or
a wrong type is a `ModelResponseError` naming the problem, never a KeyError later.
Unknown fields are ignored: gateways add their own.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._errors import ModelResponseError
from ._chat import ChatMessage, Usage

__all__ = ["Chunk", "WireCompletion", "decode_chunk", "decode_completion", "encode_request"]

EXCERPT = 200  # characters of a bad body kept in the error


class WireMessage(msgspec.Struct, kw_only=True):
    """An answer's message."""

    role: str = "assistant"
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class WireChoice(msgspec.Struct, kw_only=True):
    """One choice of an answer."""

    index: int = 0
    message: WireMessage
    finish_reason: str | None = None


class WireCompletion(msgspec.Struct, kw_only=True):
    """A whole (non-streamed) answer."""

    id: str = ""
    model: str = ""
    choices: list[WireChoice]
    usage: Usage | None = None


class Delta(msgspec.Struct, kw_only=True):
    """What one streamed chunk adds."""

    role: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    """One choice of a streamed chunk."""

    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None


class Chunk(msgspec.Struct, kw_only=True):
    """One server-sent event of a streamed answer."""

    model: str = ""
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None


_encoder = msgspec.json.Encoder()
_completion = msgspec.json.Decoder(WireCompletion)
_chunk = msgspec.json.Decoder(Chunk)


def encode_request(
    model: str, messages: list[ChatMessage], params: dict[str, Any], stream: bool
) -> bytes:
    """Return the JSON body of a chat completions request."""
    body: dict[str, Any] = {**params, "model": model, "messages": messages}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return _encoder.encode(body)


def excerpt(body: bytes | str) -> str:
    """Return the start of ``body`` for an error message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


def decode_completion(model: str, status: int, body: bytes) -> WireCompletion:
    """Decode an answer body.

    Raises:
        ModelResponseError: it is not JSON, not a completion, or has no choice.
    """
    try:
        answer = _completion.decode(body)
    except msgspec.ValidationError as exc:
        raise ModelResponseError(
            model, status, f"not a chat completion: {exc}", excerpt(body)
        ) from None
    except msgspec.DecodeError as exc:
        raise ModelResponseError(model, status, f"not valid JSON: {exc}", excerpt(body)) from None
    if not answer.choices:
        raise ModelResponseError(model, status, "the completion has no choices", excerpt(body))
    return answer


def decode_chunk(model: str, data: bytes) -> Chunk:
    """Decode one streamed event's data.

    Raises:
        ModelResponseError: the event is not a completion chunk.
    """
    try:
        return _chunk.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ModelResponseError(
            model, 200, f"a streamed chunk is invalid: {exc}", excerpt(data)
        ) from None
