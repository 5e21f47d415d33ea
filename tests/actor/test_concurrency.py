"""Per-actor concurrency: one message at a time in seq order, or up to N started in order."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Task(ab.Message):
    n: int


class Probe(ab.Actor):
    """Counts handlers in flight; each yields several times while it is in flight."""

    subscribe = ("tasks",)

    def __init__(self, gate: anyio.Event | None = None) -> None:
        self.gate = gate
        self.in_flight = 0
        self.max_in_flight = 0
        self.started: list[int] = []
        self.finished: list[int] = []

    async def on_task(self, msg: Task, ctx: ab.Context) -> None:
        self.started.append(ctx.seq)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            for _ in range(msg.n % 4 + 1):
                await anyio.lowlevel.checkpoint()
        finally:
            self.in_flight -= 1
        self.finished.append(ctx.seq)


class Serial(Probe):
    pass


class Three(Probe):
    concurrency = 3


class Eight(Probe):
    concurrency = 8


async def publish_many(bus: ab.Bus, count: int) -> list[int]:
    return [(await bus.publish("tasks", Task(n=n))).seq for n in range(count)]


class TestOneAtATime:
    async def test_handlers_never_overlap_and_see_increasing_seqs(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Serial)
                seqs = await publish_many(bus, 100)
                await bus.drain()
        assert ref.actor.max_in_flight == 1
        assert ref.actor.started == seqs
        assert ref.actor.finished == seqs

    async def test_handlers_never_overlap_with_concurrent_publishers(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Serial)
                async with anyio.create_task_group() as tg:
                    for _ in range(4):
                        tg.start_soon(publish_many, bus, 50)
                await bus.drain()
        assert ref.actor.max_in_flight == 1
        assert ref.actor.started == list(range(1, 201))

    async def test_the_cursor_follows_the_last_handled_seq(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Serial)
                seqs = await publish_many(bus, 10)
                await bus.drain()
                assert ref.statistics().cursor == seqs[-1]
                assert ref.statistics().handled == 10


class TestConcurrency:
    @pytest.mark.parametrize(
        ("actor", "limit"),
        [pytest.param(Three, 3, id="concurrency-3"), pytest.param(Eight, 8, id="concurrency-8")],
    )
    async def test_at_most_n_run_at_once_and_they_start_in_seq_order(
        self, actor: type[Probe], limit: int
    ) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(actor)
                seqs = await publish_many(bus, 100)
                await bus.drain()
        # How many overlap depends on the scheduler; that N do run at once is
        # shown deterministically, with a gate, by the test below.
        assert 1 <= ref.actor.max_in_flight <= limit
        assert ref.actor.started == seqs
        assert sorted(ref.actor.finished) == seqs

    async def test_the_oldest_n_start_and_no_more_while_they_are_held(self) -> None:
        # Which ones and how many; their order is the test above's concern.
        gate = anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Three, gate)
                seqs = await publish_many(bus, 10)
                await anyio.wait_all_tasks_blocked()
                assert sorted(ref.actor.started) == seqs[:3]
                assert ref.actor.in_flight == 3
                gate.set()
                await bus.drain()
        assert sorted(ref.actor.started) == seqs
        assert ref.actor.max_in_flight == 3

    async def test_the_cursor_waits_for_the_oldest_unfinished_message(self) -> None:
        gate = anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(HoldsFirst, gate)
                seqs = await publish_many(bus, 3)
                await anyio.wait_all_tasks_blocked()
                # seqs 2 and 3 are done, 1 is held: the cursor stays before 1.
                assert sorted(ref.actor.finished) == seqs[1:]
                assert ref.statistics().cursor == 0
                gate.set()
                await bus.drain()
                assert ref.statistics().cursor == seqs[-1]


class HoldsFirst(Three):
    """Holds only the first message until ``gate`` is set."""

    async def on_task(self, msg: Task, ctx: ab.Context) -> None:
        if msg.n == 0:
            assert self.gate is not None
            await self.gate.wait()
        self.finished.append(ctx.seq)
