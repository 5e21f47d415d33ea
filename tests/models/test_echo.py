"""The echo transport: echoing, scripted replies, and a `respond` function."""

from __future__ import annotations

from typing import Any

import pytest

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


async def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


def calls(*names_and_arguments: tuple[str, str]) -> ab.ChatMessage:
    """An assistant message calling tools, as a model answers."""
    return ab.assistant(
        "",
        tool_calls=[
            ab.ToolCall(id=f"call_{i}", function=ab.FunctionCall(name=name, arguments=arguments))
            for i, (name, arguments) in enumerate(names_and_arguments)
        ],
    )


class TestToolCalls:
    async def test_a_reply_with_tool_calls_is_answered_as_a_model_calls_tools(self) -> None:
        transport = ab.EchoTransport([calls(("add", '{"a": 2, "b": 3}'))])
        async with echo_models(transport) as models:
            done = await models.complete(CHAT, model="m")  # no tools offered: not run
        assert done.finish_reason == "tool_calls"
        assert done.text == ""
        assert done.tool_calls == calls(("add", '{"a": 2, "b": 3}')).tool_calls
        assert done.usage.completion_tokens > 0  # the calls are priced as output

    @pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
    async def test_respond_can_drive_a_tool_loop(self, streamed: bool) -> None:
        bodies: list[dict[str, Any]] = []

        def respond(body: dict[str, Any]) -> str | ab.ChatMessage:
            bodies.append(body)
            results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
            if not results:
                return calls(("add", '{"a": 2, "b": 3}'), ("add", '{"a": 1, "b": 1}'))
            return f"the sums are {' and '.join(results)}"

        async with echo_models(ab.EchoTransport(respond=respond)) as models:
            if streamed:
                stream = models.stream(CHAT, model="m", tools=[add])
                deltas = [d async for d in stream]
                assert "".join(deltas) == "the sums are 5.0 and 2.0"
                done = stream.completion
                assert done is not None
            else:
                done = await models.complete(CHAT, model="m", tools=[add])
        assert done.text == "the sums are 5.0 and 2.0"
        assert [(run.call_id, run.result) for run in done.tools] == [
            ("call_0", "5.0"),
            ("call_1", "2.0"),
        ]
        assert [t.finish_reason for t in done.turns] == ["tool_calls", "stop"]
        assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["add"]
        assert [m["role"] for m in bodies[1]["messages"]] == [
            "system", "user", "assistant", "tool", "tool",
        ]  # fmt: skip

    async def test_scripted_replies_may_call_tools_too(self) -> None:
        transport = ab.EchoTransport([calls(("add", '{"a": 2, "b": 3}')), "five"])
        async with echo_models(transport) as models:
            done = await models.complete(CHAT, model="m", tools=[add])
        assert (done.text, [run.result for run in done.tools]) == ("five", ["5.0"])

    async def test_a_reply_of_another_type_is_refused_saying_what_a_reply_is(self) -> None:
        transport = ab.EchoTransport(respond=lambda body: 42)  # type: ignore[arg-type,return-value]
        async with echo_models(transport) as models:
            with pytest.raises(TypeError, match=r"a str or an ab.assistant\(\.\.\.\) message"):
                await models.complete(CHAT, model="m")
