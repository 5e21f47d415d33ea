"""Building blocks for model tests: answers, and models over an httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

import actorbus as ab

KEY_ENV = "ACTORBUS_TEST_MODEL_KEY"
SENTINEL_KEY = "sk-SENTINEL-4f9d0c1e-never-print-me"


def answer(
    text: str = "hello",
    *,
    model: str = "gpt-4.1",
    prompt: int = 10,
    completion: int = 5,
    finish: str = "stop",
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return a chat completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def sse(*texts: str, usage: dict[str, Any] | None = None, done: bool = True) -> bytes:
    """Return a server-sent event stream of ``texts`` as content deltas."""
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    ]
    events += [{"choices": [{"index": 0, "delta": {"content": t}}]} for t in texts]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage is not None:
        events.append({"choices": [], "usage": usage})
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def models_over(
    handler: Handler,
    *,
    config: ab.ModelsConfig | None = None,
    **provider: Any,
) -> tuple[ab.Models, list[httpx.Request]]:
    """Return models whose provider "p" is answered by ``handler``, and the requests seen."""
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        await request.aread()
        seen.append(request)
        result = handler(request)
        if not isinstance(result, httpx.Response):
            result = await result
        return result

    settings: dict[str, Any] = {
        "name": "p",
        "base_url": "https://gateway.test/v1",
        "api_key_env": KEY_ENV,
        "retry_base": 0.001,
        "retry_cap": 0.01,
        **provider,
    }
    if config is None:
        config = ab.ModelsConfig(providers=[ab.Provider(**settings)])
    models = ab.Models(config, transports={"p": httpx.MockTransport(record)})
    return models, seen
