"""Actors on JetStream: one durable consumer per actor name, shared by every bus that spawns it.

Several buses in this test process stand for several processes (each has its own
connection); tests/log/test_jetstream_processes.py does it with real processes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import nats
import pytest

import actorbus as ab
from actorbus._log._jetstream._consumer import consumer_name
from actorbus.testing import NatsServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ConsumerJob(ab.Message):
    n: int


class ConsumerEcho(ab.Message):
    text: str


class Seen:
    """What the instances of an actor handled: (instance label, n), in handling order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int]] = []
        self.changed = anyio.Event()

    def add(self, label: str, n: int) -> None:
        self.items.append((label, n))
        self.changed.set()
        self.changed = anyio.Event()

    def count(self, label: str) -> int:
        return sum(1 for who, _ in self.items if who == label)

    async def until(self, done: int, timeout: float = 20.0) -> None:
        with anyio.fail_after(timeout):
            while len(self.items) < done:
                await self.changed.wait()


class Worker(ab.Actor):
    subscribe = ("jobs.*",)
    mailbox_size = 4

    def __init__(self, seen: Seen, label: str, hold: anyio.Event | None = None) -> None:
        self.seen, self.label, self.hold = seen, label, hold

    async def on_job(self, msg: ConsumerJob, ctx: ab.Context) -> None:
        if self.hold is not None:
            await self.hold.wait()
        self.seen.add(self.label, msg.n)


class Answerer(ab.Actor):
    subscribe = ("echo",)

    async def on_echo(self, msg: ConsumerEcho, ctx: ab.Context) -> ConsumerEcho:
        return ConsumerEcho(text=msg.text.upper())


class Patterns(ab.Actor):
    subscribe = ("a.*", "a.b", "*.b")

    def __init__(self, seen: list[str]) -> None:
        self.topics = seen

    async def on_job(self, msg: ConsumerJob, ctx: ab.Context) -> None:
        self.topics.append(ctx.envelope.topic)


class Slow(ab.Actor):
    """Each message takes a quarter of a second: a full mailbox is seconds of work."""

    subscribe = ("slow.*",)
    mailbox_size = 16

    def __init__(self, seen: Seen, label: str) -> None:
        self.seen, self.label = seen, label

    async def on_job(self, msg: ConsumerJob, ctx: ab.Context) -> None:
        await anyio.sleep(0.25)  # the work itself
        self.seen.add(self.label, msg.n)


class Parallel(ab.Actor):
    subscribe = ("parallel.*",)
    mailbox_size = 8
    concurrency = 4

    def __init__(self, seen: Seen, label: str) -> None:
        self.seen, self.label = seen, label

    async def on_job(self, msg: ConsumerJob, ctx: ab.Context) -> None:
        await anyio.sleep(0.001 * (msg.n % 5))  # finish out of order
        self.seen.add(self.label, msg.n)


@asynccontextmanager
async def buses(server: NatsServer, count: int, **options: object) -> AsyncIterator[list[ab.Bus]]:
    """``count`` buses on one stream, each with a connection of its own (as processes have)."""
    name = f"C{uuid.uuid4().hex[:12]}"
    async with AsyncExitStack() as stack:
        found = []
        for _ in range(count):
            log = ab.JetStreamLog(server.url, stream=name, subject_prefix=name.lower(), **options)  # type: ignore[arg-type]
            found.append(await stack.enter_async_context(ab.Bus(log=log)))
        yield found


async def test_instances_of_one_actor_name_share_its_messages_each_handled_once(
    nats_server: NatsServer,
) -> None:
    seen = Seen()
    async with buses(nats_server, 3) as (a, b, publisher):
        # A's handler holds its first messages until B has handled one: with at most
        # 4 unacknowledged (the mailbox size), the server must give B the rest.
        b_handled = anyio.Event()
        await a.spawn(Worker, seen, "a", b_handled, name="worker")
        await b.spawn(Worker, seen, "b", name="worker")
        for n in range(100):
            await publisher.publish(f"jobs.{n % 3}", ConsumerJob(n=n))
        with anyio.fail_after(20):
            while not seen.count("b"):
                await seen.changed.wait()
        b_handled.set()
        await seen.until(100)
        await a.drain()  # waits for the name's consumer: both instances' work
        assert sorted(n for _, n in seen.items) == list(range(100))
        assert seen.count("a")
        assert seen.count("b")
        assert await a.log.cursor("worker") == publisher.log.last_seq


async def test_one_instance_handles_the_names_messages_in_seq_order(
    nats_server: NatsServer,
) -> None:
    seen = Seen()
    async with buses(nats_server, 1) as (bus,):
        await bus.spawn(Worker, seen, "only", name="worker")
        async with anyio.create_task_group() as tg:  # concurrent publishers
            for start in range(4):
                tg.start_soon(_publish_range, bus, start, 200)
        await bus.drain()
    assert sorted(n for _, n in seen.items) == list(range(200))
    # seq order: each publisher's own messages stay in its order
    for start in range(4):
        mine = [n for _, n in seen.items if n % 4 == start]
        assert mine == sorted(mine)


async def _publish_range(bus: ab.Bus, start: int, end: int) -> None:
    for n in range(start, end, 4):
        await bus.publish("jobs.x", ConsumerJob(n=n))


async def test_a_killed_instance_gives_its_messages_back_to_the_other_at_once(
    nats_server: NatsServer,
) -> None:
    seen = Seen()
    never = anyio.Event()
    async with buses(nats_server, 3, redeliver_after=60.0) as (a, b, publisher):
        await a.spawn(Worker, seen, "a", never, name="worker")  # takes messages, never finishes
        for n in range(4):
            await publisher.publish("jobs.x", ConsumerJob(n=n))
        await _until(lambda: a.statistics().actors["worker"].mailbox_depth >= 3)
        await b.spawn(Worker, seen, "b", name="worker")
        a.kill("worker")  # A's messages go back to the server at once, not after 60 s
        await seen.until(4, timeout=10)
        assert sorted(seen.items) == [("b", 0), ("b", 1), ("b", 2), ("b", 3)]


async def _until(check: object, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not check():  # type: ignore[operator]
            await anyio.lowlevel.checkpoint()


async def test_an_ask_is_answered_by_an_actor_in_another_bus(nats_server: NatsServer) -> None:
    async with buses(nats_server, 2) as (a, b):
        await a.spawn(Answerer, name="answerer")
        assert await b.ask("echo", ConsumerEcho(text="hi"), timeout=10) == ConsumerEcho(text="HI")


async def test_overlapping_patterns_of_one_actor_match_each_topic_once(
    nats_server: NatsServer,
) -> None:
    topics: list[str] = []
    async with buses(nats_server, 1) as (bus,):
        await bus.spawn(Patterns, topics, name="patterns")
        for topic in ("a.b", "a.c", "x.b", "x.c", "a.b.c"):
            await bus.publish(topic, ConsumerJob(n=0))
        await bus.drain()
    assert topics == ["a.b", "a.c", "x.b"]


async def test_a_name_resumes_where_it_left_off_and_start_at_resets_it(
    nats_server: NatsServer,
) -> None:
    name = f"C{uuid.uuid4().hex[:12]}"

    def log() -> ab.JetStreamLog:
        return ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())

    seen = Seen()
    async with ab.Bus(log=log()) as bus:
        await bus.spawn(Worker, seen, "first", name="worker")
        await bus.publish("jobs.x", ConsumerJob(n=1))
        await bus.drain()
    async with ab.Bus(log=log()) as bus:  # the actor is down: its consumer keeps counting
        await bus.publish("jobs.x", ConsumerJob(n=2))
    async with ab.Bus(log=log()) as bus:
        await bus.spawn(Worker, seen, "again", name="worker")
        await bus.drain()
        await bus.spawn(Worker, seen, "earliest", name="reader", start_at="earliest")
        await bus.drain()
    assert seen.items == [("first", 1), ("again", 2), ("earliest", 1), ("earliest", 2)]


async def test_handled_messages_are_acknowledged_on_the_server(nats_server: NatsServer) -> None:
    seen = Seen()
    async with buses(nats_server, 1) as (bus,):
        log = bus.log
        assert isinstance(log, ab.JetStreamLog)
        await bus.spawn(Worker, seen, "w", name="worker")
        for n in range(10):
            await bus.publish("jobs.x", ConsumerJob(n=n))
        await bus.drain()
        client = await nats.connect(nats_server.url)
        try:
            info = await client.jetstream().consumer_info(log.stream, "ab_worker")
        finally:
            await client.close()
    assert info.num_ack_pending == 0
    assert info.num_pending == 0
    assert info.config.max_ack_pending == Worker.mailbox_size
    assert info.ack_floor.stream_seq == 10


async def test_every_actor_names_cursor_is_its_consumers_ack_floor(
    nats_server: NatsServer,
) -> None:
    seen = Seen()
    async with buses(nats_server, 2) as (a, b):
        await a.spawn(Worker, seen, "a", name="worker.one")  # a name that is escaped
        await b.spawn(Answerer, name="answerer")  # nothing for it yet
        for n in range(3):
            await a.publish("jobs.x", ConsumerJob(n=n))
        await a.drain()
        log = b.log
        assert isinstance(log, ab.JetStreamLog)
        assert await log.actor_cursors() == {"answerer": 0, "worker.one": 3}


async def _fill_slow_mailbox(a: ab.Bus, publisher: ab.Bus) -> None:
    for n in range(16):
        await publisher.publish("slow.x", ConsumerJob(n=n))
    await _until(lambda: a.statistics().actors["slow"].mailbox_depth >= 10)


async def test_a_long_mailbox_stays_with_its_instance_while_acks_flow(
    nats_server: NatsServer,
) -> None:
    # 16 messages of 0.25 s each are 4 s of work, against a redeliver_after of 1.5 s:
    # the work-in-progress notes must go out on their own clock, not be put off by
    # each ack of the messages ahead, or the server sends the rest to B as well.
    seen = Seen()
    async with buses(nats_server, 3, redeliver_after=1.5) as (a, b, publisher):
        await a.spawn(Slow, seen, "a", name="slow")
        await _fill_slow_mailbox(a, publisher)
        await b.spawn(Slow, seen, "b", name="slow")
        await seen.until(16)
        await a.drain()
    assert sorted(n for _, n in seen.items) == list(range(16))


async def test_a_gracefully_stopped_instance_keeps_acknowledging_while_it_finishes(
    nats_server: NatsServer,
) -> None:
    # `stop` handles what the mailbox holds: for the 4 s that takes, acks and
    # work-in-progress notes must still go out, or B handles every message again.
    seen = Seen()
    async with buses(nats_server, 3, redeliver_after=1.5) as (a, b, publisher):
        await a.spawn(Slow, seen, "a", name="slow")
        await _fill_slow_mailbox(a, publisher)
        await b.spawn(Slow, seen, "b", name="slow")
        await a.stop("slow")
        await b.drain()
    assert sorted(n for _, n in seen.items) == list(range(16))


async def test_a_record_with_a_broken_time_header_is_handled_and_acknowledged(
    nats_server: NatsServer,
) -> None:
    # Decoding it used to raise inside the subscription callback: never acknowledged,
    # sent again every redeliver_after for ever, and drain never returned.
    seen = Seen()
    async with buses(nats_server, 1, redeliver_after=2.0) as (bus,):
        log = bus.log
        assert isinstance(log, ab.JetStreamLog)
        await bus.spawn(Worker, seen, "w", name="worker")
        await bus.publish("jobs.x", ConsumerJob(n=1))
        await seen.until(1)
        client = await nats.connect(nats_server.url)
        try:
            js = client.jetstream()
            stored = await js.get_msg(log.stream, 1)
            assert stored.subject is not None
            assert stored.data is not None
            headers = {k: v for k, v in (stored.headers or {}).items() if k != "Nats-Msg-Id"}
            headers["Ab-Time"] = "soon"  # another writer's idea of a time
            await js.publish(stored.subject, stored.data, headers=headers)
        finally:
            await client.close()
        with anyio.fail_after(10):
            await bus.drain()
    assert [n for _, n in seen.items] == [1, 1]


async def test_an_actor_name_longer_than_the_servers_limit_has_a_consumer(
    nats_server: NatsServer,
) -> None:
    long_a, long_b = "w" * 300, "w" * 299 + "x"
    assert len(consumer_name(long_a)) == 255
    assert consumer_name(long_a) != consumer_name(long_b)
    assert consumer_name("w" * 252) == "ab_" + "w" * 252  # short enough: as before
    seen = Seen()
    async with buses(nats_server, 1) as (bus,):
        await bus.spawn(Worker, seen, "w", name=long_a)
        await bus.publish("jobs.x", ConsumerJob(n=1))
        await bus.drain()
        assert await bus.log.cursor(long_a) == bus.log.last_seq
    assert seen.items == [("w", 1)]


async def test_an_actor_with_concurrency_shares_its_name_and_acknowledges_everything(
    nats_server: NatsServer,
) -> None:
    seen = Seen()
    async with buses(nats_server, 2) as (a, b):
        await a.spawn(Parallel, seen, "a", name="parallel")
        await b.spawn(Parallel, seen, "b", name="parallel")
        for n in range(60):
            await a.publish("parallel.x", ConsumerJob(n=n))
        with anyio.fail_after(15):
            await a.drain()
        assert await a.log.cursor("parallel") == a.log.last_seq
    assert sorted(n for _, n in seen.items) == list(range(60))


async def test_a_bus_closes_without_raising_while_its_server_is_down() -> None:
    # Closing drains, and on JetStream drain asks the server: a server that does not
    # answer must end that wait as the shutdown grace does, not fail the close.
    seen = Seen()
    name = f"C{uuid.uuid4().hex[:12]}"
    with NatsServer() as server:
        log = ab.JetStreamLog(server.url, stream=name, subject_prefix=name.lower())
        with anyio.fail_after(30):
            async with ab.Bus(log=log, shutdown_grace=15.0) as bus:
                await bus.spawn(Worker, seen, "w", name="worker")
                await bus.publish("jobs.x", ConsumerJob(n=1))
                await seen.until(1)
                server.stop()
    assert seen.items == [("w", 1)]
