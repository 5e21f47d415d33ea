"""The offline echo provider: an httpx transport that answers chat completions itself.

It lets the demo team and tests run with no network and no key while going
through exactly the code real calls take (limits, retries, costs, journal): only
the bytes come from this transport instead of a socket. It answers with
scripted replies, in order, while any are queued; then with what its ``respond``
function makes of the request (a scripted provider, such as one answering by
role); else with ``"echo: "`` and the last user message. Plainly or as a
server-sent event stream.

A reply is text, or an assistant `ChatMessage` (``ab.assistant(text,
tool_calls=[...])``): its tool calls are sent as a model sends them, so an
offline script can drive a tool loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeAlias, final

import httpx
import msgspec

from ._chat import ChatMessage, ToolCall, estimate_tokens

__all__ = ["EchoTransport"]

_json = msgspec.json

EchoReply: TypeAlias = "str | ChatMessage"
"""What the echo provider answers: text, or an assistant message (text and tool calls)."""


@final
class EchoTransport(httpx.AsyncBaseTransport):
    """Answers ``POST .../chat/completions`` without a network.

    Each answer is text or an assistant `ChatMessage`; a message's ``tool_calls``
    (`ToolCall`: ``id``, ``function=FunctionCall(name, arguments)``) are sent as
    the model's tool calls, with ``finish_reason`` ``"tool_calls"``.

    Args:
        replies: answers for the first requests, in order.
        respond: makes the answer to each later request from its decoded JSON body
            (``model``, ``messages``, ``tools``...); it runs in the event loop, so
            it must not block. None (the default): echo the last user message.
    """

    def __init__(
        self,
        replies: Iterable[EchoReply] = (),
        *,
        respond: Callable[[dict[str, Any]], EchoReply] | None = None,
    ) -> None:
        self._replies: deque[EchoReply] = deque(replies)
        self._respond = respond
        self.requests = 0

    def script(self, *replies: EchoReply) -> None:
        """Queue replies for the next requests; after them, it echoes again."""
        self._replies.extend(replies)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        if not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"error": {"message": "not found"}})
        self.requests += 1
        body = _json.decode(await request.aread())
        model = str(body.get("model", "echo"))
        messages: list[dict[str, Any]] = body.get("messages", [])
        if self._replies:
            reply = self._replies.popleft()
        elif self._respond is not None:
            reply = self._respond(body)
        else:
            reply = _echo(messages)
        text, calls = (reply, []) if isinstance(reply, str) else _parts(reply)
        finish = "tool_calls" if calls else "stop"
        prompt = estimate_tokens(sum(len(m.get("content") or "") for m in messages))
        out = estimate_tokens(len(text) + sum(len(c.name) + len(c.arguments) for c in calls))
        usage = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
        if body.get("stream"):
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_Events(_stream(model, text, calls, finish, usage)),
            )
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:  # content null when it only calls tools, as OpenAI sends it
            message["tool_calls"] = [msgspec.to_builtins(c) for c in calls]
        else:
            message["content"] = text
        answer = {
            "id": f"echo-{self.requests}",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        return httpx.Response(200, json=answer)


def _echo(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return f"echo: {message.get('content') or ''}"
    return "echo:"


def _parts(reply: ChatMessage) -> tuple[str, list[ToolCall]]:
    if not isinstance(reply, ChatMessage):
        raise TypeError(
            f"an echo reply must be a str or an ab.assistant(...) message, not {reply!r}"
        )
    return reply.content or "", list(reply.tool_calls or ())


def _stream(
    model: str, text: str, calls: list[ToolCall], finish: str, usage: dict[str, int]
) -> list[bytes]:
    def event(choices: list[Any], **extra: Any) -> bytes:
        chunk = {"object": "chat.completion.chunk", "model": model, "choices": choices, **extra}
        return b"data: " + _json.encode(chunk) + b"\n\n"

    def delta(**fields: Any) -> bytes:
        return event([{"index": 0, "delta": fields}])

    words = text.split(" ") if text or not calls else []
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    events = [delta(role="assistant", content="")]
    events += [delta(content=p) for p in pieces]
    events += [
        delta(tool_calls=[{"index": i, **msgspec.to_builtins(call)}])
        for i, call in enumerate(calls)
    ]
    events.append(event([{"index": 0, "delta": {}, "finish_reason": finish}]))
    events.append(event([], usage=usage))
    events.append(b"data: [DONE]\n\n")
    return events


@final
class _Events(httpx.AsyncByteStream):
    def __init__(self, events: list[bytes]) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self._events:
            yield event
