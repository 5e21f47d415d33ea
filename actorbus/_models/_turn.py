"""One request to a model (a turn): sent, answered plainly or as a stream, and settled.

A turn is what a tool loop is made of, and what a plain call is: the request is
routed, limited, retried and priced by `Models` (``_answer`` and ``_settle``),
and the answer becomes a `Completion` whose text and tool-call arguments have had
the API key masked. A streamed turn yields its text deltas as they arrive, then
its `Completion`; a plain one yields only the `Completion`.

How a structured output is asked for depends on the provider that serves the
turn (``Provider.structured_output``): a ``response_format`` with the JSON schema,
``json_object`` plus the schema in the instructions, or the schema in the
instructions alone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
import httpx
import msgspec

from .._errors import ModelResponseError, ModelTimeout
from ._chat import (
    ChatMessage,
    Completion,
    FunctionCall,
    ToolCall,
    Usage,
    estimate_tokens,
    prompt_chars,
)
from ._client import ProviderClient
from ._costs import Reservation
from ._schema import Output
from ._secret import Secret
from ._sse import EventReader
from ._wire import (
    Chunk,
    ToolCallParts,
    WireCompletion,
    decode_chunk,
    decode_completion,
    tool_calls_of,
)

if TYPE_CHECKING:
    from ._models import Models

__all__ = ["Answered", "Turn", "plain_turn", "shaped", "streamed_turn", "whole"]

Turn = AsyncGenerator["str | Completion[None]", None]
"""A turn as it runs: text deltas (streamed turns only), then its `Completion`."""


class Answered(NamedTuple):
    """A request that was answered 200: the answer, and what settling it needs."""

    result: Any  # a decoded WireCompletion, or the open response of a stream
    model: str
    client: ProviderClient
    tokens: int
    reservation: Reservation
    attempts: int
    latency: float
    deadline: float  # when the call must end (time.monotonic), streaming included


def shaped(
    chat: list[ChatMessage], params: dict[str, Any], output: Output[Any] | None, mode: str
) -> tuple[list[ChatMessage], dict[str, Any]]:
    """Return the chat and parameters of a request asking for ``output`` in ``mode``."""
    if output is None:
        return chat, params
    if mode == "json_schema":
        return chat, {**params, "response_format": output.response_format()}
    instructed = _instructed(chat, output.instruction())
    if mode == "json_object":
        return instructed, {**params, "response_format": {"type": "json_object"}}
    return instructed, params


def _instructed(chat: list[ChatMessage], instruction: str) -> list[ChatMessage]:
    # Into the first system message (some chat templates refuse a second one).
    if chat and chat[0].role == "system":
        first = msgspec.structs.replace(
            chat[0], content=f"{chat[0].content or ''}\n\n{instruction}"
        )
        return [first, *chat[1:]]
    return [ChatMessage(role="system", content=instruction), *chat]


async def whole(client: ProviderClient, model: str, response: httpx.Response) -> WireCompletion:
    """Read and decode a plain answer (inside the attempt, so a cut body is retried)."""
    body = await client.read(response, model)
    return decode_completion(model, response.status_code, body, client.secret)


async def plain_turn(
    models: Models,
    chat: list[ChatMessage],
    model: str,
    actor: str | None,
    params: dict[str, Any],
    output: Output[Any] | None,
) -> Turn:
    """Run one plain request; yield its `Completion`."""
    call = await models._answer(model, actor, chat, params, output, stream=False)
    answer: WireCompletion = call.result
    choice = answer.choices[0]
    secret = call.client.secret
    text = secret.mask(choice.message.content or "")
    tool_calls = _masked(secret, tool_calls_of(choice.message.tool_calls))
    usage, estimated = _usage(answer.usage, chat, params, text, tool_calls)
    completion = models._settle(
        call.client, call.model, actor, call.reservation, usage, text=text,
        finish_reason=choice.finish_reason, tool_calls=tool_calls, latency=call.latency,
        attempts=call.attempts, answered_by=answer.model or call.model, estimated=estimated,
    )  # fmt: skip
    await call.client.correct_tokens(call.tokens, usage)
    yield completion


async def streamed_turn(
    models: Models,
    chat: list[ChatMessage],
    model: str,
    actor: str | None,
    params: dict[str, Any],
    output: Output[Any] | None,
) -> Turn:
    """Run one streamed request; yield its text deltas, then its `Completion`.

    A reader that stops early releases the connection and the reservation.
    """
    call = await models._answer(model, actor, chat, params, output, stream=True)
    response: httpx.Response = call.result
    client, candidate, reservation = call.client, call.model, call.reservation
    settled = False
    try:
        started = time.monotonic()
        parts: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        answered_by = candidate
        mask = client.secret.stream()
        calls = ToolCallParts()
        async for chunk in _events(client, response, candidate, call.deadline, call.attempts):
            answered_by = chunk.model or answered_by
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.finish_reason is not None:
                    finish = choice.finish_reason
                if choice.delta.tool_calls:
                    calls.add(choice.delta.tool_calls)
                if choice.delta.content and (shown := mask.feed(choice.delta.content)):
                    parts.append(shown)
                    yield shown
        if shown := mask.flush():
            parts.append(shown)
            yield shown
        text = client.secret.mask("".join(parts))
        tool_calls = _masked(client.secret, calls.calls())
        usage, estimated = _usage(usage, chat, params, text, tool_calls)
        completion = models._settle(
            client, candidate, actor, reservation, usage, text=text, finish_reason=finish,
            tool_calls=tool_calls, latency=time.monotonic() - started, attempts=call.attempts,
            answered_by=answered_by, estimated=estimated,
        )  # fmt: skip
        settled = True
        await client.correct_tokens(call.tokens, usage)
    finally:
        if not settled:
            models._ledger.release(reservation)
        await response.aclose()
    yield completion


def _usage(
    reported: Usage | None,
    chat: list[ChatMessage],
    params: dict[str, Any],
    text: str,
    tool_calls: list[ToolCall] | None,
) -> tuple[Usage, bool]:
    """Return a request's usage and whether it is an estimate.

    A provider that reports none (or only zeros) is charged an estimate of the
    prompt and of what came back, so budgets and token limits still bind.
    """
    if reported is not None and (reported.prompt_tokens or reported.completion_tokens):
        return reported, False
    prompt = estimate_tokens(prompt_chars(chat, params))
    calls = sum(len(c.function.name) + len(c.function.arguments) for c in tool_calls or ())
    out = estimate_tokens(len(text) + calls)
    return Usage(prompt_tokens=prompt, completion_tokens=out, total_tokens=prompt + out), True


def _masked(secret: Secret, calls: list[ToolCall] | None) -> list[ToolCall] | None:
    """Return tool calls with the key masked in their arguments (a gateway may echo it)."""
    if not calls or not secret.key:
        return calls
    return [
        ToolCall(
            id=call.id,
            function=FunctionCall(
                name=call.function.name, arguments=secret.mask(call.function.arguments)
            ),
        )
        for call in calls
    ]


async def _events(
    client: ProviderClient, response: httpx.Response, model: str, deadline: float, attempts: int
) -> AsyncIterator[Chunk]:
    """Yield the chunks of a server-sent event stream until ``[DONE]``.

    Each read ends by ``deadline``: a server that keeps the stream alive (comments,
    empty deltas) without finishing cannot hold the call past it.

    Raises:
        ModelResponseError: the stream ends (or breaks) before ``[DONE]``, a chunk
            is invalid or reports an error, or the stream exceeds ``max_response_bytes``.
        ModelTimeout: ``deadline`` passed before the stream ended.
    """
    provider = client.provider
    limit = provider.max_response_bytes
    size = 0
    reader = EventReader()
    pieces = response.aiter_bytes()
    try:
        while (piece := await _next_piece(pieces, deadline)) is not None:
            size += len(piece)
            if size > limit:
                raise ModelResponseError(
                    model, 200, f"the stream is larger than max_response_bytes={limit}"
                )
            for data in reader.feed(piece):
                if data == b"[DONE]":
                    return
                yield decode_chunk(model, data, client.secret)
        if reader.pending() == b"[DONE]":
            return
    except _Late:
        during = "while the answer streamed"
        raise ModelTimeout(model, attempts, provider.deadline, during) from None
    except httpx.HTTPError as exc:
        raise ModelResponseError(
            model, 200, f"the stream broke before its end ({type(exc).__name__}: {exc})"
        ) from None
    raise ModelResponseError(model, 200, "the stream ended without [DONE]: the answer is cut short")


class _Late(Exception):
    """A stream's deadline passed (internal: becomes `ModelTimeout`)."""


async def _next_piece(pieces: AsyncIterator[bytes], deadline: float) -> bytes | None:
    """Return the stream's next bytes (None at its end), waiting no later than ``deadline``.

    Raises:
        _Late: the deadline passed first.
    """
    left = deadline - time.monotonic()
    if left > 0:
        with anyio.move_on_after(left):
            return await anext(pieces, None)
    raise _Late
