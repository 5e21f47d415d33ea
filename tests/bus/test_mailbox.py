"""Mailboxes: bounded size and the overflow policies block, drop_oldest and reject."""

from __future__ import annotations

import gc
import sys
import time

import anyio
import pytest

import actorbus as ab


class Job(ab.Message):
    n: int


class Held(ab.Actor):
    """Records each job; the first job waits for ``gate``, so the rest pile up behind it."""

    subscribe = ("jobs",)
    mailbox_size = 2

    def __init__(self, gate: anyio.Event, started: anyio.Event) -> None:
        self.gate = gate
        self.started = started
        self.got: list[int] = []

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.got.append(msg.n)
        self.started.set()
        await self.gate.wait()


class HeldDropOldest(Held):
    overflow = "drop_oldest"


class HeldReject(Held):
    overflow = "reject"


class Roomy(ab.Actor):
    subscribe = ("jobs",)

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        pass


class Counter(ab.Actor):
    subscribe = ("jobs",)

    def __init__(self, got: list[int]) -> None:
        self.got = got

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.got.append(msg.n)


class Slow(ab.Actor):
    """Yields once per message, so it is slower than a publishing loop.

    Samples its own mailbox depth on every message and the number of allocated
    memory blocks every 1024 messages.
    """

    subscribe = ("ticks",)
    mailbox_size = 16

    def __init__(self) -> None:
        self.ref: ab.ActorRef[Slow] | None = None
        self.handled = 0
        self.max_depth = 0
        self.max_blocks = 0

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.handled += 1
        assert self.ref is not None
        depth = self.ref.statistics().mailbox_depth
        if depth > self.max_depth:
            self.max_depth = depth
        if self.handled % 1024 == 0:
            self.max_blocks = max(self.max_blocks, sys.getallocatedblocks())
        await anyio.lowlevel.checkpoint()


async def hold_first_job(bus: ab.Bus, started: anyio.Event) -> None:
    """Publish job 0 and wait until the actor is busy with it (its mailbox now empty)."""
    await bus.publish("jobs", Job(n=0))
    await started.wait()


class TestSize:
    async def test_default_size_is_1024(self) -> None:
        assert ab.DEFAULT_MAILBOX_SIZE == 1024
        assert ab.Actor.mailbox_size == 1024
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Roomy)
                assert ref.statistics().mailbox_size == 1024

    async def test_a_class_may_choose_its_size(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Held, anyio.Event(), anyio.Event())
                assert ref.statistics().mailbox_size == 2


class TestBlock:
    async def test_publish_waits_while_the_mailbox_is_full(self) -> None:
        gate, started, returned = anyio.Event(), anyio.Event(), anyio.Event()

        async def publish_third() -> None:
            await bus.publish("jobs", Job(n=3))
            returned.set()

        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Held, gate, started)
                await hold_first_job(bus, started)
                await bus.publish("jobs", Job(n=1))
                await bus.publish("jobs", Job(n=2))  # the mailbox is full now
                async with anyio.create_task_group() as tg:
                    tg.start_soon(publish_third)
                    await anyio.wait_all_tasks_blocked()
                    assert not returned.is_set()
                    # The waiting message is counted, and already has its seq.
                    assert ref.statistics().mailbox_depth == 3
                    assert bus.log.last_seq == 4
                    gate.set()
                assert returned.is_set()
                await bus.drain()
        assert ref.actor.got == [0, 1, 2, 3]
        assert ref.statistics().dropped == 0

    async def test_publishers_waiting_for_room_keep_their_order(self) -> None:
        gate, started = anyio.Event(), anyio.Event()

        async def publish(n: int) -> None:
            await bus.publish("jobs", Job(n=n))

        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Held, gate, started)
                await hold_first_job(bus, started)
                async with anyio.create_task_group() as tg:
                    for n in range(1, 8):
                        tg.start_soon(publish, n)
                        await anyio.wait_all_tasks_blocked()
                    assert ref.statistics().mailbox_depth == 7
                    gate.set()
                await bus.drain()
        assert ref.actor.got == list(range(8))

    @pytest.mark.slow
    async def test_a_slow_actor_keeps_memory_bounded_under_a_fast_publisher(
        self, anyio_backend: str
    ) -> None:
        """1,000,000 messages from two publishers to an actor that yields on each one.

        Backpressure must hold the mailbox to its size plus one waiting message per
        publisher, so memory does not grow with the number of messages. Memory is
        measured as the growth of ``sys.getallocatedblocks()``, sampled by the
        handler every 1024 messages: a message that stayed alive would hold about six
        blocks (envelope, message, int, ...), so an unbounded queue would grow by
        millions. (tracemalloc would also see transient peaks, but it makes this run
        about four times slower, some 45 s per backend; a queue growing without
        bound is not transient, and the samples see it.)

        Timing: about 12 s on asyncio for 1,000,000 messages. Trio under anyio's
        pytest runner takes about 21 s for the same count, so on Trio the test runs
        500,000 messages (about 10 s); the bounds checked are the same.
        """
        total = 1_000_000 if anyio_backend == "asyncio" else 500_000
        publishers = 2
        per_publisher = total // publishers
        started_at = time.perf_counter()

        async def publish() -> None:
            for n in range(per_publisher):
                await bus.publish("ticks", Job(n=n))

        with anyio.fail_after(50):
            async with ab.Bus(log=ab.MemoryLog(retain=100)) as bus:
                ref = await bus.spawn(Slow)
                ref.actor.ref = ref
                gc.collect()
                baseline = sys.getallocatedblocks()
                async with anyio.create_task_group() as tg:
                    for _ in range(publishers):
                        tg.start_soon(publish)
                await bus.drain()
                assert bus.log.last_seq == total
        elapsed = time.perf_counter() - started_at
        actor = ref.actor
        assert actor.handled == total
        assert actor.max_depth <= Slow.mailbox_size + publishers
        assert actor.max_depth >= Slow.mailbox_size  # the mailbox did fill up
        assert actor.max_blocks - baseline < 50_000, (actor.max_blocks, baseline)
        print(f"{anyio_backend}: {total:,} messages in {elapsed:.1f} s")


class TestDropOldest:
    async def test_a_full_mailbox_drops_its_oldest_message_and_counts_it(self) -> None:
        gate, started = anyio.Event(), anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(HeldDropOldest, gate, started)
                await hold_first_job(bus, started)
                for n in range(1, 6):
                    await bus.publish("jobs", Job(n=n))  # never waits
                stats = ref.statistics()
                assert (stats.dropped, stats.mailbox_depth) == (3, 2)
                assert bus.log.last_seq == 6  # dropped messages stay in the log
                gate.set()
                await bus.drain()
        assert ref.actor.got == [0, 4, 5]
        assert ref.statistics().dropped == 3


class TestReject:
    async def test_a_full_mailbox_raises_mailbox_full_and_nothing_is_logged(self) -> None:
        gate, started = anyio.Event(), anyio.Event()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(HeldReject, gate, started, name="r")
                await hold_first_job(bus, started)
                await bus.publish("jobs", Job(n=1))
                await bus.publish("jobs", Job(n=2))
                last_seq = bus.log.last_seq
                published = bus.statistics().published
                with pytest.raises(ab.MailboxFull) as caught:
                    await bus.publish("jobs", Job(n=3))
                assert bus.log.last_seq == last_seq
                assert bus.statistics().published == published
                gate.set()
                await bus.drain()
                await bus.publish("jobs", Job(n=4))  # room again
                await bus.drain()
        assert (caught.value.actor, caught.value.size, caught.value.topic) == ("r", 2, "jobs")
        assert ref.actor.got == [0, 1, 2, 4]

    async def test_a_rejecting_subscriber_stops_delivery_to_every_subscriber(self) -> None:
        gate, started = anyio.Event(), anyio.Event()
        got: list[int] = []
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(HeldReject, gate, started)
                await bus.spawn(Counter, got)
                await hold_first_job(bus, started)
                await bus.publish("jobs", Job(n=1))
                await bus.publish("jobs", Job(n=2))
                with pytest.raises(ab.MailboxFull):
                    await bus.publish("jobs", Job(n=3))
                gate.set()
                await bus.drain()
        assert got == [0, 1, 2]
