"""Mailboxes: bounded size and the overflow policies block, drop_oldest and reject."""

from __future__ import annotations

import weakref

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


class Tick(ab.Message, weakref=True):
    """A message the test can count while it is alive, through weak references."""

    n: int


class Slow(ab.Actor):
    """Yields once per message, so it is slower than a publishing loop.

    On every message it samples its own mailbox depth and how many of the test's
    ticks are still alive anywhere (queued, waiting for room, being handled).
    """

    subscribe = ("ticks",)
    mailbox_size = 16

    def __init__(self, alive: weakref.WeakSet[Tick]) -> None:
        self.alive = alive
        self.ref: ab.ActorRef[Slow] | None = None
        self.handled = 0
        self.max_depth = 0
        self.max_alive = 0

    async def on_tick(self, msg: Tick, ctx: ab.Context) -> None:
        self.handled += 1
        assert self.ref is not None
        self.max_depth = max(self.max_depth, self.ref.statistics().mailbox_depth)
        self.max_alive = max(self.max_alive, len(self.alive))
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

    async def test_a_slow_actor_keeps_memory_bounded_under_a_fast_publisher(self) -> None:
        """20,000 messages from two publishers to an actor that yields on each one.

        Backpressure must hold the mailbox to its size, plus one waiting message per
        publisher, so the messages alive at any time do not grow with the number
        published. The test counts them: every tick goes into a `weakref.WeakSet`,
        which forgets it once nothing holds it, and the handler samples its size on
        every message. The log retains no record, so a live tick is queued, waiting
        for room, or being handled: at most ``mailbox_size + publishers + 1``. Were
        backpressure broken (an unbounded queue, a publisher that does not wait),
        the publishers would run ahead of an actor that yields on every message and
        the count would climb towards the 20,000 published. Counting, not timing:
        the bound holds on a machine of any speed (this takes about a second).
        """
        total, publishers = 20_000, 2
        alive: weakref.WeakSet[Tick] = weakref.WeakSet()

        async def publish() -> None:
            for n in range(total // publishers):
                tick = Tick(n=n)
                alive.add(tick)
                await bus.publish("ticks", tick)
                del tick  # the publisher holds none while it waits for the next

        with anyio.fail_after(60):  # a safety net: far above the time this takes
            async with ab.Bus(log=ab.MemoryLog(retain=0)) as bus:
                ref = await bus.spawn(Slow, alive)
                ref.actor.ref = ref
                async with anyio.create_task_group() as tg:
                    for _ in range(publishers):
                        tg.start_soon(publish)
                await bus.drain()
                assert bus.log.last_seq == total
        actor = ref.actor
        assert actor.handled == total
        assert actor.max_depth <= Slow.mailbox_size + publishers
        assert actor.max_depth >= Slow.mailbox_size  # the mailbox did fill up
        assert Slow.mailbox_size <= actor.max_alive <= Slow.mailbox_size + publishers + 1
        assert len(alive) == 0  # nothing kept once handled


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
