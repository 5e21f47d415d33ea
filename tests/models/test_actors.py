"""Actors calling models through the bus: routing, costs, journal replay, budgets, Trio."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
import trio

import actorbus as ab


class Ask(ab.Message):
    text: str


class Answer(ab.Message):
    text: str
    model: str
    journaled: bool = False


class Researcher(ab.Actor):
    subscribe = ("research",)
    model = "deepseek-v3"

    async def on_ask(self, msg: Ask, ctx: ab.Context) -> Answer:
        done = await ctx.complete([ab.system("research"), ab.user(msg.text)])
        return Answer(text=done.text, model=done.model, journaled=done.journaled)


class Streamer(ab.Actor):
    subscribe = ("stream",)
    model = "gpt-4.1"

    async def on_ask(self, msg: Ask, ctx: ab.Context) -> Answer:
        stream = ctx.stream([ab.user(msg.text)])
        text = "".join([delta async for delta in stream])
        assert stream.completion is not None
        return Answer(text=text, model=stream.completion.model)


def echo_models(transport: ab.EchoTransport | None = None, **config: object) -> ab.Models:
    settings = ab.ModelsConfig(providers=[ab.Provider(name="echo", base_url="echo:")], **config)  # type: ignore[arg-type]
    return ab.Models(settings, transports={"echo": transport or ab.EchoTransport()})


class TestCalls:
    async def test_an_actor_calls_its_declared_model_and_the_bus_totals_the_cost(self) -> None:
        async with ab.Bus(models=echo_models()) as bus:
            await bus.spawn(Researcher, name="researcher")
            reply = await bus.ask("research", Ask(text="actors"), timeout=5)
            report = bus.costs()
            stats = bus.statistics().models["echo"]
        assert stats.requests == 1
        assert stats.cost == report.total.cost
        assert reply == Answer(text="echo: actors", model="deepseek-v3")
        assert report.by_actor["researcher"].calls == 1
        assert report.by_model.keys() == {"deepseek-v3"}
        assert report.total.cost > 0

    async def test_the_assignment_table_overrides_the_actors_model(self) -> None:
        models = echo_models(assignments={"cheap-researcher": "gemini-2.5-flash"})
        async with ab.Bus(models=models) as bus:
            await bus.spawn(Researcher, name="cheap-researcher")
            await bus.spawn(Researcher, name="plain-researcher", subscribe=["research.plain"])
            cheap = await bus.ask("research", Ask(text="x"), timeout=5)
            plain = await bus.ask("research.plain", Ask(text="x"), timeout=5)
        assert isinstance(cheap, Answer)
        assert cheap.model == "gemini-2.5-flash"
        assert isinstance(plain, Answer)
        assert plain.model == "deepseek-v3"

    async def test_an_actor_streams_deltas(self) -> None:
        async with ab.Bus(models=echo_models()) as bus:
            await bus.spawn(Streamer, name="streamer")
            reply = await bus.ask("stream", Ask(text="one two three"), timeout=5)
        assert reply == Answer(text="echo: one two three", model="gpt-4.1")

    async def test_a_bus_without_models_fails_the_call_with_what_to_do(self) -> None:
        async with ab.Bus() as bus:
            await bus.spawn(Researcher, name="researcher")
            with pytest.raises(ab.AskFailed) as caught:
                await bus.ask("research", Ask(text="x"), timeout=5)
        assert caught.value.error_type.endswith("ModelsConfigError")
        assert "Bus(models=" in caught.value.error

    async def test_a_handler_over_its_budget_fails_without_calling(self) -> None:
        transport = ab.EchoTransport()
        models = echo_models(transport, budget=ab.Budgets(actors={"researcher": 1e-9}))
        async with ab.Bus(models=models) as bus:
            await bus.spawn(Researcher, name="researcher")
            with pytest.raises(ab.AskFailed) as caught:
                await bus.ask("research", Ask(text="x"), timeout=5)
        assert caught.value.error_type.endswith("BudgetExceeded")
        assert transport.requests == 0

    async def test_the_models_connections_close_with_the_bus(self) -> None:
        models = echo_models()
        async with ab.Bus(models=models) as bus:
            await bus.spawn(Researcher, name="researcher")
            await bus.ask("research", Ask(text="x"), timeout=5)
        with pytest.raises(ab.ModelsConfigError, match="not open"):
            await models.complete([ab.user("x")], model="echo")


class Flaky(ab.Actor):
    """Calls a model, then fails the first time: the retry must not pay again."""

    subscribe = ("flaky",)
    model = "deepseek-v3"
    retry_delay = 0
    runs = 0

    async def on_ask(self, msg: Ask, ctx: ab.Context) -> Answer:
        done = await ctx.complete([ab.user(msg.text)])
        type(self).runs += 1
        if type(self).runs == 1:
            raise RuntimeError("fails after paying")
        return Answer(text=done.text, model=done.model, journaled=done.journaled)


class Stuck(ab.Actor):
    """Calls a model, then hangs until the process 'crashes' (the bus is cancelled)."""

    subscribe = ("work",)
    model = "deepseek-v3"
    called: anyio.Event

    async def on_ask(self, msg: Ask, ctx: ab.Context) -> None:
        await ctx.complete([ab.user(msg.text)])
        type(self).called.set()
        await anyio.sleep_forever()


class Finisher(ab.Actor):
    subscribe = ("work",)
    model = "deepseek-v3"
    seen: list[ab.Completion[None]]

    async def on_ask(self, msg: Ask, ctx: ab.Context) -> None:
        type(self).seen.append(await ctx.complete([ab.user(msg.text)]))


class TestJournal:
    async def test_a_retried_handler_gets_the_recorded_completion_for_free(self) -> None:
        Flaky.runs = 0
        transport = ab.EchoTransport()
        async with ab.Bus(models=echo_models(transport)) as bus:
            await bus.spawn(Flaky, name="flaky")
            reply = await bus.ask("flaky", Ask(text="pay once"), timeout=5)
            report = bus.costs()
        assert reply == Answer(text="echo: pay once", model="deepseek-v3", journaled=True)
        assert transport.requests == 1
        assert Flaky.runs == 2
        assert report.total.calls == 1

    async def test_after_a_crash_the_rerun_handler_does_not_pay_again(self, tmp_path: Path) -> None:
        path = tmp_path / "events.db"
        transport = ab.EchoTransport()
        Stuck.called = anyio.Event()
        with anyio.CancelScope() as crash:
            async with ab.Bus(log=ab.SqliteLog(path), models=echo_models(transport)) as bus:
                await bus.spawn(Stuck, name="worker")
                await bus.publish("work", Ask(text="expensive"))
                await Stuck.called.wait()
                crash.cancel()  # the handler never finishes: its cursor stays before the message
        assert transport.requests == 1

        Finisher.seen = []
        async with ab.Bus(log=ab.SqliteLog(path), models=echo_models(transport)) as bus:
            await bus.spawn(Finisher, name="worker")  # same name: resumes after its cursor
            await bus.drain()
            report = bus.costs()
        (completion,) = Finisher.seen
        assert completion.journaled
        assert completion.text == "echo: expensive"
        assert transport.requests == 1  # the recorded completion was replayed, not bought
        assert report.total.calls == 0


def test_models_refuse_trio_with_a_clear_error() -> None:
    async def main() -> None:
        async with ab.Bus(models=ab.Models()):
            pass

    with pytest.raises(ab.AsyncioRequired, match="asyncio"):
        trio.run(main)


def test_the_bus_without_models_still_runs_on_trio() -> None:
    async def main() -> ab.CostReport:
        async with ab.Bus() as bus:
            return bus.costs()

    assert trio.run(main).total.calls == 0
