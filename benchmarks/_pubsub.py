"""The publish-and-handle workload shared by the 1->1 and 1->10 scenarios.

actorbus: ``subscribers`` actors with empty handlers share one topic; N ``await
bus.publish(topic, msg)`` calls, timed from the first publish until ``await
bus.drain()`` returns.

Baseline: ``subscribers`` raw ``asyncio.Queue(maxsize=1024)`` (the default mailbox
bound), one consumer task each looping ``m = await q.get(); await handler(m)`` with
an empty ``async def`` handler (the work an actor does); the producer awaits
``put`` on every queue in turn for each message, then a sentinel on each, and the
clock stops when every consumer has finished.

Both sides send one pre-built message object, after a warm-up.
"""

from __future__ import annotations

import asyncio
import time

import actorbus

from ._child import collect

TOPIC = "bench.pubsub"


class Tick(actorbus.Message):
    """The message sent; one instance is reused."""

    n: int


class Sink(actorbus.Actor):
    """An actor whose handler does nothing."""

    subscribe = (TOPIC,)

    async def on_tick(self, msg: Tick, ctx: actorbus.Context) -> None:
        return None


async def handler(msg: Tick | None) -> None:
    """The baseline's handler: as empty as the actors'."""
    return None


async def _publish(bus: actorbus.Bus, msg: Tick, count: int) -> None:
    for _ in range(count):
        await bus.publish(TOPIC, msg)
    await bus.drain()


async def actorbus_seconds(count: int, warmup: int, subscribers: int) -> float:
    """Time ``count`` publishes to ``subscribers`` actors, until drained."""
    msg = Tick(n=0)
    async with actorbus.Bus() as bus:
        for i in range(subscribers):
            await bus.spawn(Sink, name=f"sink-{i}")
        await _publish(bus, msg, warmup)
        collect()
        start = time.perf_counter()
        await _publish(bus, msg, count)
        return time.perf_counter() - start


async def _consume(queue: asyncio.Queue[Tick | None]) -> None:
    while True:
        m = await queue.get()
        if m is None:
            return
        await handler(m)


async def _hand_off(msg: Tick, count: int, subscribers: int) -> float:
    size = actorbus.DEFAULT_MAILBOX_SIZE
    queues: list[asyncio.Queue[Tick | None]] = [
        asyncio.Queue(maxsize=size) for _ in range(subscribers)
    ]
    consumers = [asyncio.create_task(_consume(q)) for q in queues]
    collect()
    start = time.perf_counter()
    for _ in range(count):
        for queue in queues:
            await queue.put(msg)
    for queue in queues:
        await queue.put(None)
    await asyncio.gather(*consumers)
    return time.perf_counter() - start


async def baseline_seconds(count: int, warmup: int, subscribers: int) -> float:
    """Time ``count`` messages put into each of ``subscribers`` bounded queues, until consumed."""
    msg = Tick(n=0)
    await _hand_off(msg, warmup, subscribers)
    return await _hand_off(msg, count, subscribers)
