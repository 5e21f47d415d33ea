"""The offline echo provider: an httpx transport that answers chat completions itself.

It lets the demo team and tests run with no network and no key while going
through exactly the code real calls take (limits, retries, costs, journal): only
the bytes come from this transport instead of a socket. It answers with
scripted replies, in order, while any are queued; then with what its ``respond``
function makes of the request (a scripted provider, such as one answering by
role); else with ``"echo: "`` and the last user message. Plainly or as a
server-sent event stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, final

import httpx
import msgspec

from ._chat import estimate_tokens

__all__ = ["EchoTransport"]

_json = msgspec.json


@final
class EchoTransport(httpx.AsyncBaseTransport):
    """Answers ``POST .../chat/completions`` without a network.

    Args:
        replies: answers for the first requests, in order.
        respond: makes the answer to each later request from its decoded JSON body
            (``model``, ``messages``, ...); it runs in the event loop, so it must
            not block. None (the default): echo the last user message.
    """

    def __init__(
        self,
        replies: Iterable[str] = (),
        *,
        respond: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self._replies = deque(replies)
        self._respond = respond
        self.requests = 0

    def script(self, *replies: str) -> None:
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
            text = self._replies.popleft()
        elif self._respond is not None:
            text = self._respond(body)
        else:
            text = _echo(messages)
        prompt = estimate_tokens(sum(len(m.get("content") or "") for m in messages))
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": estimate_tokens(len(text)),
            "total_tokens": prompt + estimate_tokens(len(text)),
        }
        if body.get("stream"):
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_Events(_stream(model, text, usage)),
            )
        answer = {
            "id": f"echo-{self.requests}",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"}
            ],
            "usage": usage,
        }  # fmt: skip
        return httpx.Response(200, json=answer)


def _echo(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return f"echo: {message.get('content') or ''}"
    return "echo:"


def _stream(model: str, text: str, usage: dict[str, int]) -> list[bytes]:
    def event(choices: list[Any], **extra: Any) -> bytes:
        chunk = {"object": "chat.completion.chunk", "model": model, "choices": choices, **extra}
        return b"data: " + _json.encode(chunk) + b"\n\n"

    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    events = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    events += [event([{"index": 0, "delta": {"content": p}}]) for p in pieces]
    events.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
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
