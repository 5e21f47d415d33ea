"""The chat completions wire format: request bodies out, completions and chunks in.

Answers are decoded straight into typed Structs with msgspec, so a missing field or
a wrong type is a `ModelResponseError` naming the problem, never a KeyError later.
Unknown fields are ignored: gateways add their own.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._errors import ModelResponseError
from ._chat import ChatMessage, FunctionCall, ToolCall, Usage
from ._secret import Secret

__all__ = [
    "Chunk",
    "ToolCallParts",
    "WireCompletion",
    "decode_chunk",
    "decode_completion",
    "encode_request",
]


class WireFunction(msgspec.Struct, kw_only=True):
    """The function of a tool call as a gateway sends it.

    ``arguments`` should be JSON text; some gateways send the object itself,
    which is taken too (and written back as text).
    """

    name: str = ""
    arguments: Any = ""


class WireToolCall(msgspec.Struct, kw_only=True):
    """A tool call of an answer, or a piece of one in a streamed delta."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: WireFunction | None = None


class WireMessage(msgspec.Struct, kw_only=True):
    """An answer's message."""

    role: str = "assistant"
    content: str | None = None
    tool_calls: list[WireToolCall] | None = None


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
    tool_calls: list[WireToolCall] | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    """One choice of a streamed chunk."""

    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None


class Chunk(msgspec.Struct, kw_only=True):
    """One server-sent event of a streamed answer.

    ``error`` is set when the provider reports a failure in the middle of a
    stream (OpenAI and others send ``data: {"error": {...}}`` then stop).
    """

    model: str = ""
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    error: Any = None


_encoder = msgspec.json.Encoder()


def tool_calls_of(calls: list[WireToolCall] | None) -> list[ToolCall] | None:
    """Return an answer's tool calls, typed (None when it has none).

    A call without an id gets ``call_<position>`` (its result must name one).
    """
    if not calls:
        return None
    return [
        ToolCall(
            id=call.id or f"call_{n}",
            function=FunctionCall(
                name=call.function.name if call.function else "",
                arguments=_text(call.function.arguments if call.function else ""),
            ),
        )
        for n, call in enumerate(calls)
    ]


def _text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return _encoder.encode(arguments).decode()


class ToolCallParts:
    """Tool calls assembled from streamed deltas: ids and names first, arguments in pieces."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, *argument pieces]

    def add(self, pieces: list[WireToolCall]) -> None:
        """Take the tool-call pieces of one delta."""
        for n, piece in enumerate(pieces):
            index = piece.index if piece.index is not None else self._unindexed(piece, n)
            parts = self._calls.setdefault(index, ["", ""])
            if piece.id:
                parts[0] = piece.id
            function = piece.function
            if function is not None:
                if function.name and not parts[1]:  # sent once, in the call's first piece
                    parts[1] = function.name
                if function.arguments:
                    parts.append(_text(function.arguments))

    def _unindexed(self, piece: WireToolCall, n: int) -> int:
        # A server that sends no index: a new id starts a new call; otherwise the
        # piece continues the latest call (or is the n-th of a first delta).
        calls = self._calls
        if not calls:
            return n
        last = max(calls)
        if piece.id and calls[last][0] and piece.id != calls[last][0]:
            return last + 1
        return last

    def calls(self) -> list[ToolCall] | None:
        """Return the assembled calls, in index order (None when there were none)."""
        if not self._calls:
            return None
        return [
            ToolCall(
                id=parts[0] or f"call_{n}",
                function=FunctionCall(name=parts[1], arguments="".join(parts[2:])),
            )
            for n, (_, parts) in enumerate(sorted(self._calls.items()))
        ]


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


def decode_completion(model: str, status: int, body: bytes, secret: Secret) -> WireCompletion:
    """Decode an answer body; an error quotes its start, with ``secret`` masked.

    Raises:
        ModelResponseError: it is not JSON, not a completion, or has no choice.
    """
    try:
        answer = _completion.decode(body)
    except msgspec.ValidationError as exc:
        reason = f"not a chat completion: {exc}"
    except msgspec.DecodeError as exc:
        reason = f"not valid JSON: {exc}"
    else:
        if answer.choices:
            return answer
        reason = "the completion has no choices"
    raise ModelResponseError(model, status, secret.mask(reason), secret.excerpt(body))


def decode_chunk(model: str, data: bytes, secret: Secret) -> Chunk:
    """Decode one streamed event's data; an error quotes it, with ``secret`` masked.

    Raises:
        ModelResponseError: the event is not a completion chunk, or reports an error.
    """
    try:
        chunk = _chunk.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        reason = secret.mask(f"a streamed chunk is invalid: {exc}")
    else:
        if chunk.error is None:
            return chunk
        reason = "the provider reported an error in the middle of the stream"
    raise ModelResponseError(model, 200, reason, secret.excerpt(data))
