"""The echo transport: echoing, scripted replies, and a `respond` function."""

from __future__ import annotations

from typing import Any

import actorbus as ab


def echo_models(transport: ab.EchoTransport) -> ab.Models:
    return ab.Models(ab.ModelsConfig.offline(), transports={"echo": transport})


def by_system_prompt(body: dict[str, Any]) -> str:
    """Answer from the request body: the model and the system prompt."""
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    return f"{body['model']} as {system}"


CHAT = [ab.system("a critic"), ab.user("judge this")]


class TestRespond:
    async def test_without_respond_it_echoes_the_last_user_message(self) -> None:
        async with echo_models(ab.EchoTransport()) as models:
            done = await models.complete(CHAT, model="gpt-4.1")
        assert done.text == "echo: judge this"

    async def test_respond_answers_from_the_decoded_request_body(self) -> None:
        async with echo_models(ab.EchoTransport(respond=by_system_prompt)) as models:
            done = await models.complete(CHAT, model="gpt-4.1", max_tokens=5)
        assert done.text == "gpt-4.1 as a critic"
        assert done.usage.completion_tokens > 0  # priced like any answer
        assert done.cost is not None
        assert done.cost > 0

    async def test_scripted_replies_come_first_then_respond(self) -> None:
        transport = ab.EchoTransport(["first"], respond=by_system_prompt)
        async with echo_models(transport) as models:
            texts = [(await models.complete(CHAT, model="m")).text for _ in range(2)]
            transport.script("queued")
            texts.append((await models.complete(CHAT, model="m")).text)
            texts.append((await models.complete(CHAT, model="m")).text)
        assert texts == ["first", "m as a critic", "queued", "m as a critic"]

    async def test_respond_answers_streams_too(self) -> None:
        async with echo_models(ab.EchoTransport(respond=by_system_prompt)) as models:
            deltas = [d async for d in models.stream(CHAT, model="m")]
        assert "".join(deltas) == "m as a critic"
