"""The bus's life: entering and closing, spawn, stop, kill, drain, shutdown, statistics."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import anyio
import pytest

import actorbus as ab


class Job(ab.Message):
    n: int


class Gated(ab.Actor):
    """Logs each job's start and end; a job waits for ``gate`` before it ends."""

    subscribe = ("jobs",)

    def __init__(
        self, log: list[str], gate: anyio.Event, started: anyio.Event | None = None
    ) -> None:
        self.log = log
        self.gate = gate
        self.started = started

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.log.append(f"start {msg.n}")
        if self.started is not None:
            self.started.set()
        try:
            await self.gate.wait()
        except anyio.get_cancelled_exc_class():
            self.log.append(f"cancelled {msg.n}")
            raise
        self.log.append(f"end {msg.n}")

    async def on_stop(self, ctx: ab.Context) -> None:
        self.log.append("on_stop")


class TinyGated(Gated):
    mailbox_size = 1


class Plain(ab.Actor):
    subscribe = ("plain",)

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.got: list[int] = []

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.got.append(msg.n)


class FailsToStart(ab.Actor):
    async def on_start(self, ctx: ab.Context) -> None:
        raise RuntimeError("no start")


class Link(ab.Actor):
    """One link of a chain: handles jobs on ``link.<i>`` and passes them on to ``link.<i+1>``."""

    def __init__(self, index: int, last: int, got: list[tuple[int, int]]) -> None:
        self.index = index
        self.last = last
        self.got = got

    subscribe = ("link.*",)

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        if ctx.topic != f"link.{self.index}":
            return
        await anyio.lowlevel.checkpoint()
        self.got.append((self.index, msg.n))
        if self.index < self.last:
            await ctx.publish(f"link.{self.index + 1}", msg)


class TestEnterAndClose:
    async def test_async_with_opens_the_bus_and_returns_it(self) -> None:
        bus = ab.Bus()
        with anyio.fail_after(5):
            async with bus as entered:
                assert entered is bus
                assert bus.actors() == ()
                await bus.publish("plain", Job(n=1))

    async def test_publish_before_entering_raises_bus_closed(self) -> None:
        bus = ab.Bus()
        with pytest.raises(ab.BusClosed) as caught:
            await bus.publish("plain", Job(n=1))
        assert caught.value.state == "new"
        assert bus.log.last_seq == 0

    @pytest.mark.parametrize(
        "call",
        [
            pytest.param(lambda bus: bus.spawn(Plain), id="spawn"),
            pytest.param(lambda bus: bus.ask("plain", Job(n=1)), id="ask"),
            pytest.param(lambda bus: bus.drain(), id="drain"),
        ],
    )
    async def test_other_calls_before_entering_raise_bus_closed(
        self, call: Callable[[ab.Bus], Awaitable[object]]
    ) -> None:
        bus = ab.Bus()
        with pytest.raises(ab.BusClosed):
            await call(bus)

    async def test_publish_after_exit_raises_bus_closed(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.publish("plain", Job(n=1))
        with pytest.raises(ab.BusClosed) as caught:
            await bus.publish("plain", Job(n=2))
        assert caught.value.state == "closed"
        assert bus.log.last_seq == 1
        with pytest.raises(ab.BusClosed):
            await bus.spawn(Plain)

    async def test_a_closed_bus_cannot_be_reentered(self) -> None:
        bus = ab.Bus()
        with anyio.fail_after(5):
            async with bus:
                pass
        with pytest.raises(ab.BusClosed, match="cannot be reopened"):
            async with bus:
                pytest.fail("re-entered a closed bus")

    async def test_aclose_closes_like_leaving_the_block_and_twice_is_harmless(self) -> None:
        log: list[str] = []
        gate = anyio.Event()
        gate.set()
        with anyio.fail_after(5):
            bus = ab.Bus()
            await bus.__aenter__()
            await bus.spawn(Gated, log, gate)
            await bus.publish("jobs", Job(n=1))
            await bus.aclose()
            await bus.aclose()
        assert log == ["start 1", "end 1", "on_stop"]
        with pytest.raises(ab.BusClosed):
            await bus.publish("jobs", Job(n=2))


class TestSpawn:
    async def test_spawn_builds_the_actor_with_the_given_arguments(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Plain, "hello", name="p")
                assert isinstance(ref, ab.ActorRef)
                assert ref.name == "p"
                assert ref.actor.label == "hello"
                assert ref.actor.actor_name == "p"
                assert bus.actors() == ("p",)

    async def test_spawn_accepts_an_instance(self) -> None:
        actor = Plain("mine")
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(actor, name="p")
                await bus.publish("plain", Job(n=3))
                await bus.drain()
        assert ref.actor is actor
        assert actor.got == [3]

    async def test_names_default_to_the_class_name_and_a_number(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                first = await bus.spawn(Plain)
                second = await bus.spawn(Plain)
        assert first.name.startswith("plain-")
        assert second.name.startswith("plain-")
        assert first.name != second.name

    async def test_a_taken_name_raises_duplicate_actor_and_keeps_the_first(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                first = await bus.spawn(Plain, "first", name="worker")
                with pytest.raises(ab.DuplicateActor) as caught:
                    await bus.spawn(Plain, "second", name="worker")
                await bus.publish("plain", Job(n=1))
                await bus.drain()
                assert bus.actors() == ("worker",)
        assert caught.value.name == "worker"
        assert isinstance(caught.value, ValueError)
        assert first.actor.got == [1]

    async def test_a_name_unusable_in_a_topic_raises_invalid_topic(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                with pytest.raises(ab.InvalidTopic):
                    await bus.spawn(Plain, name="bad name")
                assert bus.actors() == ()

    async def test_a_failing_on_start_fails_spawn_and_frees_the_name(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                with pytest.raises(RuntimeError, match="no start"):
                    await bus.spawn(FailsToStart, name="x")
                assert bus.actors() == ()
                await bus.spawn(Plain, name="x")
                assert bus.actors() == ("x",)


class TestStop:
    async def test_stop_handles_what_is_queued_then_runs_on_stop(self) -> None:
        log: list[str] = []
        gate, started, stopped = anyio.Event(), anyio.Event(), anyio.Event()

        async def stop(bus: ab.Bus) -> None:
            await bus.stop("g")
            stopped.set()

        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Gated, log, gate, started, name="g")
                for n in (1, 2, 3):
                    await bus.publish("jobs", Job(n=n))
                await started.wait()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(stop, bus)
                    await anyio.wait_all_tasks_blocked()
                    assert not stopped.is_set()
                    assert log == ["start 1"]
                    # A stopping actor takes no new messages.
                    await bus.publish("jobs", Job(n=4))
                    gate.set()
                assert bus.actors() == ()
        assert log == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3", "on_stop"]

    async def test_stop_of_an_idle_actor_runs_on_stop_at_once(self) -> None:
        log: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Gated, log, anyio.Event(), name="g")
                await bus.stop("g")
                assert log == ["on_stop"]
                assert bus.actors() == ()
        assert log == ["on_stop"]

    async def test_stopping_an_unknown_name_raises_unknown_actor(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Plain, name="known")
                with pytest.raises(ab.UnknownActor) as caught:
                    await bus.stop("unknown")
                assert bus.actors() == ("known",)
        assert caught.value.name == "unknown"
        assert isinstance(caught.value, LookupError)

    async def test_killing_an_unknown_name_raises_unknown_actor(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Plain, name="known")
                with pytest.raises(ab.UnknownActor) as caught:
                    bus.kill("unknown")
                assert bus.actors() == ("known",)
        assert caught.value.name == "unknown"


class TestKill:
    async def test_kill_cancels_the_handler_discards_the_queue_and_skips_on_stop(self) -> None:
        log: list[str] = []
        started = anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Gated, log, anyio.Event(), started, name="g")
                for n in (1, 2, 3, 4):
                    await bus.publish("jobs", Job(n=n))
                await started.wait()
                discarded = bus.kill("g")
                await bus.drain()
                assert bus.actors() == ()
                assert bus.log.last_seq == 4  # discarded messages stay in the log
                await bus.publish("jobs", Job(n=5))
                await bus.drain()
        assert discarded == 3
        assert log == ["start 1", "cancelled 1"]

    async def test_kill_releases_a_publisher_waiting_for_room(self) -> None:
        log: list[str] = []
        started = anyio.Event()
        returned = anyio.Event()

        async def publish_into_full_mailbox(bus: ab.Bus) -> None:
            await bus.publish("jobs", Job(n=3))
            returned.set()

        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(TinyGated, log, anyio.Event(), started, name="g")
                await bus.publish("jobs", Job(n=1))
                await started.wait()
                await bus.publish("jobs", Job(n=2))  # fills the mailbox of one
                async with anyio.create_task_group() as tg:
                    tg.start_soon(publish_into_full_mailbox, bus)
                    await anyio.wait_all_tasks_blocked()
                    assert not returned.is_set()
                    assert bus.kill("g") == 2
                assert returned.is_set()
        assert log == ["start 1", "cancelled 1"]


class TestDrain:
    async def test_drain_on_an_idle_bus_returns(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Plain)
                await bus.drain()

    async def test_drain_waits_for_messages_handlers_publish_along_a_chain(self) -> None:
        got: list[tuple[int, int]] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                refs = [await bus.spawn(Link, i, 4, got, name=f"link{i}") for i in range(5)]
                for n in range(3):
                    await bus.publish("link.0", Job(n=n))
                await bus.drain()
                assert sorted(got) == [(i, n) for i in range(5) for n in range(3)]
                stats = bus.statistics()
                assert all(s.mailbox_depth == 0 and not s.busy for s in stats.actors.values())
                assert all(ref.statistics().handled == 15 for ref in refs)

    async def test_drain_waits_for_a_running_handler(self) -> None:
        log: list[str] = []
        gate, started, drained = anyio.Event(), anyio.Event(), anyio.Event()

        async def drain(bus: ab.Bus) -> None:
            await bus.drain()
            drained.set()

        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Gated, log, gate, started)
                await bus.publish("jobs", Job(n=1))
                await bus.publish("jobs", Job(n=2))
                await started.wait()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(drain, bus)
                    await anyio.wait_all_tasks_blocked()
                    assert not drained.is_set()
                    gate.set()
                assert log == ["start 1", "end 1", "start 2", "end 2"]


class TestShutdown:
    async def test_running_and_queued_work_finishes_within_the_grace_period(self) -> None:
        log: list[str] = []
        gate, started = anyio.Event(), anyio.Event()
        refused: list[ab.BusClosed] = []

        async def release_once_closing(bus: ab.Bus) -> None:
            await started.wait()
            await anyio.wait_all_tasks_blocked()  # the bus's exit waits for the handler
            try:
                await bus.publish("jobs", Job(n=99))
            except ab.BusClosed as exc:
                refused.append(exc)
            gate.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg, ab.Bus(shutdown_grace=5) as bus:
                await bus.spawn(Gated, log, gate, started)
                await bus.publish("jobs", Job(n=1))
                await bus.publish("jobs", Job(n=2))
                tg.start_soon(release_once_closing, bus)
                await started.wait()
        assert [exc.state for exc in refused] == ["closing"]
        assert log == ["start 1", "end 1", "start 2", "end 2", "on_stop"]

    async def test_handlers_still_running_after_the_grace_period_are_cancelled(self) -> None:
        log: list[str] = []
        started = anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus(shutdown_grace=0.05) as bus:
                await bus.spawn(Gated, log, anyio.Event(), started)  # never set
                await bus.publish("jobs", Job(n=1))
                await started.wait()
        assert log == ["start 1", "cancelled 1", "on_stop"]

    async def test_an_exception_in_the_body_cancels_handlers_at_once(self) -> None:
        log: list[str] = []
        started = anyio.Event()
        caught: list[Exception] = []
        grace = 10.0
        with anyio.fail_after(grace - 2):
            entered_at = anyio.current_time()
            try:
                async with ab.Bus(shutdown_grace=grace) as bus:
                    await bus.spawn(Gated, log, anyio.Event(), started)
                    await bus.publish("jobs", Job(n=1))
                    await started.wait()
                    raise LookupError("body failed")
            except* LookupError as group:  # bare, or in a group from the task group
                caught.extend(group.exceptions)
            # Far less than the grace period: nobody waited for the handler.
            assert anyio.current_time() - entered_at < grace / 2
        assert [str(exc) for exc in caught] == ["body failed"]
        assert log == ["start 1", "cancelled 1", "on_stop"]

    async def test_on_stop_runs_for_every_actor_when_the_bus_closes(self) -> None:
        first: list[str] = []
        second: list[str] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Gated, first, anyio.Event())
                await bus.spawn(Gated, second, anyio.Event())
        assert first == ["on_stop"]
        assert second == ["on_stop"]


class TestStatistics:
    async def test_statistics_is_a_frozen_snapshot_of_the_counters(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Plain, name="p")
                await bus.publish("plain", Job(n=1), key="a")
                await bus.publish("plain", Job(n=1), key="a")
                await bus.publish("plain", Job(n=2))
                await bus.drain()
                snapshot = bus.statistics()
                await bus.publish("plain", Job(n=3))
                await bus.drain()
                later = bus.statistics()
        assert isinstance(snapshot, ab.BusStatistics)
        assert snapshot.last_seq == 2
        assert snapshot.published == 2
        assert snapshot.duplicates == 1
        assert snapshot.pending_asks == 0
        actor = snapshot.actors["p"]
        assert isinstance(actor, ab.ActorStatistics)
        assert (actor.name, actor.handled, actor.cursor) == ("p", 2, 2)
        assert (actor.mailbox_depth, actor.mailbox_size, actor.busy) == (0, 1024, False)
        assert (actor.failed, actor.retried, actor.dead_lettered, actor.dropped) == (0, 0, 0, 0)
        assert (later.last_seq, later.published, later.actors["p"].handled) == (3, 3, 3)
        assert ref.statistics().cursor == 3
        with pytest.raises(dataclasses.FrozenInstanceError):
            snapshot.published = 10  # type: ignore[misc]
