"""1->10 fan-out: each publish is delivered to 10 actors subscribed to the same topic.

actorbus: N/10 ``await bus.publish(topic, msg)`` calls (N deliveries in all) to 10
actors with empty handlers, timed from the first publish until ``await
bus.drain()`` returns; reported as deliveries per second.

Baseline: 10 raw ``asyncio.Queue(maxsize=1024)`` (the default mailbox bound), one
consumer task each calling an empty ``async def`` handler; the producer awaits
``put`` on every queue in turn for each message, then a sentinel on each, and the
clock stops when all 10 consumers have finished.

Both sides send one pre-built message object, after a warm-up of a tenth of the
publishes. Target: actorbus >= 0.5x the raw delivery rate.
"""

from __future__ import annotations

import asyncio
import time

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_baseline, run_child, run_pair
from ._results import Metric, ScenarioResult, Target

TOPIC = "bench.fan"
FANOUT = 10


class Tick(actorbus.Message):
    """The message sent; one instance is reused."""

    n: int


class Sink(actorbus.Actor):
    """An actor whose handler does nothing; ten of them share the topic."""

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


async def actorbus_seconds(publishes: int, warmup: int) -> float:
    """Time ``publishes`` publishes to 10 subscribed actors, until drained."""
    msg = Tick(n=0)
    async with actorbus.Bus() as bus:
        for i in range(FANOUT):
            await bus.spawn(Sink, name=f"sink-{i}")
        await _publish(bus, msg, warmup)
        collect()
        start = time.perf_counter()
        await _publish(bus, msg, publishes)
        return time.perf_counter() - start


async def _consume(queue: asyncio.Queue[Tick | None]) -> None:
    while True:
        m = await queue.get()
        if m is None:
            return
        await handler(m)


async def _fan_out(msg: Tick, publishes: int) -> float:
    size = actorbus.DEFAULT_MAILBOX_SIZE
    queues: list[asyncio.Queue[Tick | None]] = [asyncio.Queue(maxsize=size) for _ in range(FANOUT)]
    consumers = [asyncio.create_task(_consume(q)) for q in queues]
    collect()
    start = time.perf_counter()
    for _ in range(publishes):
        for queue in queues:
            await queue.put(msg)
    for queue in queues:
        await queue.put(None)
    await asyncio.gather(*consumers)
    return time.perf_counter() - start


async def baseline_seconds(publishes: int, warmup: int) -> float:
    """Time ``publishes`` messages put into each of 10 bounded queues, until consumed."""
    msg = Tick(n=0)
    await _fan_out(msg, warmup)
    return await _fan_out(msg, publishes)


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides once and return deliveries/s for each."""
    publishes = max(1, args.messages // FANOUT)
    warmup = max(1, publishes // 10)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: actorbus_seconds(publishes, warmup)),
        lambda: run_baseline(lambda: baseline_seconds(publishes, warmup)),
    )
    deliveries = publishes * FANOUT
    rate = Metric(
        name="rate",
        label="deliveries",
        unit="deliveries/s",
        better="higher",
        actorbus=deliveries / ours,
        baseline=deliveries / raw,
        target=Target("ratio_min", 0.5),
    )
    workload = {"publishes": publishes, "subscribers": FANOUT, "deliveries": deliveries}
    return ScenarioResult("fanout", "1->10 fan-out", args.backend, workload, [rate])


if __name__ == "__main__":
    run_child(measure)
