"""Lifecycle hooks: on_start before any message, on_stop on stop and at close."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Hello(ab.Message):
    sender: str


class Job(ab.Message):
    n: int


class Greeter(ab.Actor):
    """Announces itself from on_start; logs every hook and message."""

    subscribe = ("jobs",)

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self, ctx: ab.Context) -> None:
        self.log.append("on_start")
        await anyio.lowlevel.checkpoint()
        await ctx.publish("hello", Hello(sender=ctx.actor))
        self.log.append("on_start done")

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.log.append(f"job {msg.n}")

    async def on_stop(self, ctx: ab.Context) -> None:
        self.log.append("on_stop")


class SlowStarter(Greeter):
    """Its on_start waits for ``proceed``, so messages can be published meanwhile."""

    def __init__(self, log: list[str], starting: anyio.Event, proceed: anyio.Event) -> None:
        super().__init__(log)
        self.starting = starting
        self.proceed = proceed

    async def on_start(self, ctx: ab.Context) -> None:
        self.log.append("on_start")
        self.starting.set()
        await self.proceed.wait()
        self.log.append("on_start done")


class HelloListener(ab.Actor):
    subscribe = ("hello",)

    def __init__(self) -> None:
        self.envelopes: list[ab.Envelope] = []

    async def on_hello(self, msg: Hello, ctx: ab.Context) -> None:
        self.envelopes.append(ctx.envelope)


class FailingStop(ab.Actor):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_stop(self, ctx: ab.Context) -> None:
        self.log.append("on_stop")
        raise RuntimeError("stop failed")


class PublishesOnStop(ab.Actor):
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors

    async def on_stop(self, ctx: ab.Context) -> None:
        try:
            await ctx.publish("bye", Job(n=0))
        except ab.BusClosed as exc:
            self.errors.append(exc)


class TestOnStart:
    async def test_on_start_runs_before_any_message(self) -> None:
        log: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Greeter, log)
                assert log == ["on_start", "on_start done"]
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        assert log == ["on_start", "on_start done", "job 1", "on_stop"]

    async def test_no_message_is_handled_while_on_start_runs(self) -> None:
        log: list[str] = []
        starting, proceed = anyio.Event(), anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(bus.spawn, SlowStarter, log, starting, proceed)
                    await starting.wait()
                    await bus.publish("jobs", Job(n=1))
                    await anyio.wait_all_tasks_blocked()
                    proceed.set()
                await bus.publish("jobs", Job(n=2))
                await bus.drain()
        assert log[:2] == ["on_start", "on_start done"]
        assert "job 2" in log

    async def test_on_start_can_publish_as_the_actor(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                listener = await bus.spawn(HelloListener)
                await bus.spawn(Greeter, [], name="greeter")
                await bus.drain()
        [env] = listener.actor.envelopes
        assert env.message == Hello(sender="greeter")
        assert env.sender == "greeter"
        assert env.causation is None


class TestOnStop:
    async def test_on_stop_runs_on_bus_stop(self) -> None:
        log: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Greeter, log, name="g")
                await bus.publish("jobs", Job(n=1))
                await bus.stop("g")
                assert log[-2:] == ["job 1", "on_stop"]
        assert log.count("on_stop") == 1  # not again at close

    async def test_on_stop_runs_when_the_bus_closes(self) -> None:
        log: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Greeter, log)
                await bus.publish("jobs", Job(n=1))
        assert log[-2:] == ["job 1", "on_stop"]

    async def test_on_stop_does_not_run_on_kill(self) -> None:
        log: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Greeter, log, name="g")
                bus.kill("g")
        assert "on_stop" not in log

    async def test_an_on_stop_error_propagates_from_bus_stop(self) -> None:
        log: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(FailingStop, log, name="f")
                with pytest.raises(RuntimeError, match="stop failed"):
                    await bus.stop("f")
                assert bus.actors() == ()
        assert log == ["on_stop"]

    async def test_an_on_stop_error_at_close_does_not_stop_the_others(self) -> None:
        log: list[str] = []
        other: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Greeter, other)
                await bus.spawn(FailingStop, log)
        assert log == ["on_stop"]
        assert other[-1] == "on_stop"

    async def test_publishing_from_on_stop_at_close_raises_bus_closed(self) -> None:
        errors: list[Exception] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(PublishesOnStop, errors)
        [error] = errors
        assert isinstance(error, ab.BusClosed)
