"""1->1 throughput: one publisher, one actor with an empty handler.

actorbus: N ``await bus.publish(topic, msg)`` calls to one actor whose handler does
nothing, timed from the first publish until ``await bus.drain()`` returns.

Baseline: a raw ``asyncio.Queue(maxsize=1024)`` (the default mailbox bound). The
producer awaits ``put``; one consumer task loops ``m = await q.get(); await
handler(m)`` with an empty ``async def`` handler (the work the actor does), and
the clock stops when the consumer has taken a final sentinel.

Both sides send the same pre-built message object N times, after a warm-up of
N/10 messages. Target: actorbus >= 0.5x the raw rate.
"""

from __future__ import annotations

import asyncio
import time

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_baseline, run_child, run_pair
from ._results import Metric, ScenarioResult, Target

TOPIC = "bench.tick"


class Tick(actorbus.Message):
    """The message sent; one instance is reused."""

    n: int


class Sink(actorbus.Actor):
    """An actor whose handler does nothing."""

    subscribe = (TOPIC,)

    async def on_tick(self, msg: Tick, ctx: actorbus.Context) -> None:
        return None


async def handler(msg: Tick | None) -> None:
    """The baseline's handler: as empty as the actor's."""
    return None


async def _publish(bus: actorbus.Bus, msg: Tick, count: int) -> None:
    for _ in range(count):
        await bus.publish(TOPIC, msg)
    await bus.drain()


async def actorbus_seconds(count: int, warmup: int) -> float:
    """Time ``count`` publishes to one actor, until drained."""
    msg = Tick(n=0)
    async with actorbus.Bus() as bus:
        await bus.spawn(Sink, name="sink")
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


async def _hand_off(msg: Tick, count: int) -> float:
    queue: asyncio.Queue[Tick | None] = asyncio.Queue(maxsize=actorbus.DEFAULT_MAILBOX_SIZE)
    consumer = asyncio.create_task(_consume(queue))
    collect()
    start = time.perf_counter()
    for _ in range(count):
        await queue.put(msg)
    await queue.put(None)
    await consumer
    return time.perf_counter() - start


async def baseline_seconds(count: int, warmup: int) -> float:
    """Time ``count`` hand-offs through a bounded asyncio.Queue to one consumer task."""
    msg = Tick(n=0)
    await _hand_off(msg, warmup)
    return await _hand_off(msg, count)


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides once and return msgs/s for each."""
    count, warmup = args.messages, max(1, args.messages // 10)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: actorbus_seconds(count, warmup)),
        lambda: run_baseline(lambda: baseline_seconds(count, warmup)),
    )
    rate = Metric(
        name="rate",
        label="throughput",
        unit="msgs/s",
        better="higher",
        actorbus=count / ours,
        baseline=count / raw,
        target=Target("ratio_min", 0.5),
    )
    workload = {"messages": count, "warmup": warmup}
    return ScenarioResult("throughput", "1->1 publish", args.backend, workload, [rate])


if __name__ == "__main__":
    run_child(measure)
