"""Tool calls are counted per actor: `bus.statistics()` and `bus.costs()` (issue 13, point 6).

A real tool loop (models answered by `FakeOpenAI` over HTTP): each actor's
statistics carry its model requests, their cost, and its tool calls and error
results, the same numbers as `bus.costs()`, whose table shows a tools column once
a tool has run.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

import actorbus as ab
from actorbus._models._costs import Ledger
from actorbus.testing import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.timeout(60)

MODEL = "gpt-test"


class CountedAsk(ab.Message):
    text: str


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


class Calculator(ab.Actor):
    subscribe = ("sums",)
    model = MODEL

    async def on_ask(self, msg: CountedAsk, ctx: ab.Context) -> ab.Response:
        done = await ctx.complete([ab.user(msg.text)], tools=[add])
        return ab.Response(content=done.text)


class Chatter(ab.Actor):
    subscribe = ("chat",)
    model = MODEL

    async def on_ask(self, msg: CountedAsk, ctx: ab.Context) -> ab.Response:
        done = await ctx.complete([ab.user(msg.text)])
        return ab.Response(content=done.text)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def models_for(fake: FakeOpenAI) -> ab.Models:
    provider = ab.Provider(name="fake", base_url=fake.base_url, max_attempts=1)
    prices = {MODEL: ab.Price(input=1.0, output=2.0)}
    return ab.Models(ab.ModelsConfig(providers=[provider], prices=prices))


async def test_each_actors_statistics_count_its_model_and_tool_calls(fake: FakeOpenAI) -> None:
    fake.script(
        Reply(
            tool_calls=[
                ToolCall("add", {"a": 1, "b": 2}),
                ToolCall("add", {"a": "one", "b": 2}),  # invalid: an error result
                ToolCall("divide", {"a": 1}),  # no such tool: an error result
            ]
        ),
        Reply(text="3"),
        Reply(text="hello"),
    )
    with anyio.fail_after(30):
        async with ab.Bus(models=models_for(fake)) as bus:
            calculator = await bus.spawn(Calculator, name="calculator")
            await bus.spawn(Chatter, name="chatter")
            await bus.ask("sums", CountedAsk(text="1 + 2?"), timeout=20)
            await bus.ask("chat", CountedAsk(text="hi"), timeout=20)
            stats = bus.statistics().actors
            from_ref = calculator.statistics()
            report = bus.costs()
    calc, chat = stats["calculator"], stats["chatter"]
    assert (calc.model_calls, calc.tool_calls, calc.tool_errors) == (2, 3, 2)
    assert (chat.model_calls, chat.tool_calls, chat.tool_errors) == (1, 0, 0)
    assert calc.cost == pytest.approx(report.by_actor["calculator"].cost)
    assert calc.cost > 0
    assert chat.cost == pytest.approx(report.by_actor["chatter"].cost)
    assert calc.unpriced_calls == chat.unpriced_calls == 0
    assert from_ref.tool_calls == 3
    assert from_ref.model_calls == 2


async def test_an_actor_that_called_no_model_counts_zero() -> None:
    async with ab.Bus(models=ab.Models()) as bus:
        ref = await bus.spawn(Chatter, name="idle")
        stats = bus.statistics().actors["idle"]
    assert (stats.model_calls, stats.cost, stats.tool_calls, stats.tool_errors) == (0, 0.0, 0, 0)
    assert ref.statistics().model_calls == 0


async def test_unpriced_requests_are_counted_apart_from_the_cost(fake: FakeOpenAI) -> None:
    provider = ab.Provider(name="fake", base_url=fake.base_url, max_attempts=1)
    models = ab.Models(ab.ModelsConfig(providers=[provider]))  # gpt-test has no price
    async with ab.Bus(models=models) as bus:
        await bus.spawn(Chatter, name="chatter")
        await bus.ask("chat", CountedAsk(text="hi"), timeout=20)
        stats = bus.statistics().actors["chatter"]
    assert (stats.model_calls, stats.unpriced_calls, stats.cost) == (1, 1, 0.0)


class TestCostReportTools:
    def test_a_tools_column_counts_each_actors_tool_calls_and_errors(self) -> None:
        ledger = Ledger(ab.Budgets())
        ledger.charge("calc", "m", ab.Usage(prompt_tokens=10, completion_tokens=5), 0.5)
        ledger.charge("chat", "m", ab.Usage(prompt_tokens=1, completion_tokens=1), 0.25)
        for error in (False, True, False):
            ledger.tool_ran("calc", error=error)
        lines = ledger.report().format().splitlines()
        header = ["calls", "in", "tok", "out", "tok", "tools", "errors", "cost", "$"]
        assert lines[0].split() == header
        rows = {line[:24].strip(): line[24:].split() for line in lines[1:]}
        assert rows["actor calc"] == ["1", "10", "5", "3", "1", "0.500000"]
        assert rows["actor chat"] == ["1", "1", "1", "0", "0", "0.250000"]
        assert rows["model m"] == ["2", "11", "6", "-", "-", "0.750000"]
        assert rows["total"] == ["2", "11", "6", "3", "1", "0.750000"]

    def test_without_tool_calls_there_is_no_tools_column(self) -> None:
        ledger = Ledger(ab.Budgets())
        ledger.charge("chat", "m", ab.Usage(prompt_tokens=1, completion_tokens=1), 0.25)
        text = ledger.report().format()
        assert "tools" not in text
        assert text.splitlines()[0].split() == ["calls", "in", "tok", "out", "tok", "cost", "$"]
