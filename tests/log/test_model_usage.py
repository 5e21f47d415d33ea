"""What a log's journal tells of the model calls: prompts and answers, cost per actor over time.

Issue 16, point 2: per request, what each model was sent and answered; per
actor, cost and tokens over time, per model. The log is written by a real run
(a bus on a `SqliteLog`, its models answered by `FakeOpenAI` over HTTP), then
read back through the log's reader and compared with what the run itself
counted (`Bus.costs`).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import actorbus as ab
from actorbus._log import UsageTally, activity, model_turns
from actorbus._log._calls import handling_calls
from actorbus.testing import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # model calls (aiolimiter) are asyncio-only


class UsageAsk(ab.Message):
    text: str


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Planner(ab.Actor):
    subscribe = ("plan",)
    model = "gpt-big"

    async def on_ask(self, msg: UsageAsk, ctx: ab.Context) -> None:
        await ctx.complete([ab.system("You plan trips."), ab.user(msg.text)], tools=[get_weather])


class Writer(ab.Actor):
    subscribe = ("write",)
    model = "gpt-small"

    async def on_ask(self, msg: UsageAsk, ctx: ab.Context) -> None:
        await ctx.complete([ab.user(msg.text)])


class Breaker(ab.Actor):
    subscribe = ("break",)
    max_retries = 1
    retry_delay = 0

    async def on_ask(self, msg: UsageAsk, ctx: ab.Context) -> None:
        raise RuntimeError("always")


SCRIPT = (
    Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
    Reply(text="Pack for sun."),
    Reply(text="Dear diary."),
    Reply(text="Second entry."),
)
PRICES = {"gpt-big": ab.Price(input=3.0, output=6.0), "gpt-small": ab.Price(input=0.5, output=1.0)}


async def test_the_journal_tells_prompts_answers_and_costs_per_actor(tmp_path: Path) -> None:
    log = ab.SqliteLog(tmp_path / "run.db")
    with FakeOpenAI() as fake, anyio.fail_after(60):
        fake.script(*SCRIPT)
        provider = ab.Provider(name="fake", base_url=fake.base_url, max_attempts=1)
        models = ab.Models(ab.ModelsConfig(providers=[provider], prices=PRICES))
        async with ab.Bus(log=log, models=models) as bus:
            for actor in (Planner, Writer, Breaker):
                await bus.spawn(actor, name=actor.__name__.lower())
            plan = await bus.publish("plan", UsageAsk(text="Three days in Paris?"))
            await bus.drain()  # one at a time: the script's replies go in order
            await bus.publish("write", UsageAsk(text="Write it down."))
            await bus.publish("break", UsageAsk(text="Break."))
            await bus.drain()
            async with log.reader() as reader:
                calls = await handling_calls(reader.journal, "planner", plan.id)
                tally = UsageTally()
                assert await tally.update(reader) == 3
                assert await tally.update(reader) == 0  # nothing new: nothing read again
                await bus.publish("write", UsageAsk(text="Again."))
                await bus.drain()
                assert await tally.update(reader) == 1  # only what came since
                costs = bus.costs()
                turns = [turn async for turn in model_turns(reader)]
    async with log.reader() as reader:  # the bus closed: every cursor is in the file
        actors = {each.name: each for each in await activity(reader)}

    [call] = calls
    first, second = call.turns
    assert [(m.role, m.content) for m in first.sent] == [
        ("system", "You plan trips."),
        ("user", "Three days in Paris?"),
    ]
    assert first.answer == ""
    assert [m.role for m in second.sent] == ["assistant", "tool"]
    assert second.sent[0].tool_calls[0]["name"] == "get_weather"
    assert second.sent[0].tool_calls[0]["arguments"] == {"city": "Paris"}
    assert second.sent[1].content == "sunny in Paris"
    assert second.answer == "Pack for sun."
    assert first.at is not None
    assert second.at is not None
    assert first.at <= second.at

    assert [(t.actor, t.model) for t in turns] == [
        ("planner", "gpt-big"),
        ("planner", "gpt-big"),
        ("writer", "gpt-small"),
        ("writer", "gpt-small"),
    ]
    assert [t.position for t in turns] == sorted({t.position for t in turns})

    big, small = tally.by_actor["planner"]["gpt-big"], tally.by_actor["writer"]["gpt-small"]
    assert (big.calls, small.calls) == (2, 2)
    assert big.cost == pytest.approx(costs.by_actor["planner"].cost)
    assert small.cost == pytest.approx(costs.by_actor["writer"].cost)
    assert big.prompt_tokens == costs.by_actor["planner"].prompt_tokens
    assert tally.total_cost() == pytest.approx(costs.total.cost)
    series = tally.series("writer")
    assert len(series) == 2
    assert series[-1].cost == pytest.approx(small.cost)
    assert series[0].at <= series[1].at
    assert series[-1].tokens == small.prompt_tokens + small.completion_tokens

    assert (actors["writer"].handled, actors["writer"].failed) == (2, 0)
    assert (actors["breaker"].failed, actors["breaker"].dead_lettered) == (2, 1)
    assert actors["breaker"].handled == 0
    assert actors["planner"].cursor is not None
