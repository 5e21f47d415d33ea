"""Ask latency: sequential request/reply round trips to one actor.

actorbus: ``await bus.ask(topic, Ping)`` in a loop to an actor whose handler returns
a reply message (a pre-built ``Pong``), each round trip timed with
``time.perf_counter``.

Baseline: a raw future round trip on asyncio. A server task loops ``fut, m = await
q.get(); fut.set_result(m)``; the client does ``fut = loop.create_future();
q.put_nowait((fut, m)); await fut``.

N/10 round trips are timed on each side after a warm-up of a tenth as many. The
p50 and p99 of each repeat are reported; the parent takes the median over
repeats, since one repeat's p99 is noisy. Target: actorbus p99 <= 2x the raw p99.
"""

from __future__ import annotations

import asyncio
import time

import actorbus

from ._child import (
    ChildArgs,
    collect,
    percentile,
    run_actorbus,
    run_baseline,
    run_child,
    run_pair,
)
from ._results import Metric, ScenarioResult, Target

TOPIC = "bench.ask"
MICROS = 1e6


class Ping(actorbus.Message):
    """The request."""

    n: int


class Pong(actorbus.Message):
    """The reply."""

    n: int


PONG = Pong(n=0)


class Echo(actorbus.Actor):
    """Answers every Ping with the same Pong (no work beyond the reply)."""

    subscribe = (TOPIC,)

    async def on_ping(self, msg: Ping, ctx: actorbus.Context) -> Pong:
        return PONG


async def _ask_loop(bus: actorbus.Bus, msg: Ping, count: int) -> list[float]:
    clock = time.perf_counter
    samples = [0.0] * count
    for i in range(count):
        start = clock()
        await bus.ask(TOPIC, msg)
        samples[i] = clock() - start
    return samples


async def actorbus_samples(count: int, warmup: int) -> list[float]:
    """Time ``count`` sequential asks, after ``warmup`` untimed ones; seconds each."""
    msg = Ping(n=0)
    async with actorbus.Bus() as bus:
        await bus.spawn(Echo, name="echo")
        await _ask_loop(bus, msg, warmup)
        collect()
        return await _ask_loop(bus, msg, count)


Request = tuple["asyncio.Future[Ping]", Ping]


async def _serve(queue: asyncio.Queue[Request]) -> None:
    while True:
        fut, m = await queue.get()
        fut.set_result(m)


async def _round_trips(queue: asyncio.Queue[Request], msg: Ping, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    samples = [0.0] * count
    for i in range(count):
        start = clock()
        fut: asyncio.Future[Ping] = loop.create_future()
        queue.put_nowait((fut, msg))
        await fut
        samples[i] = clock() - start
    return samples


async def baseline_samples(count: int, warmup: int) -> list[float]:
    """Time ``count`` raw future round trips through a server task; seconds each."""
    msg = Ping(n=0)
    queue: asyncio.Queue[Request] = asyncio.Queue()
    server = asyncio.create_task(_serve(queue))
    try:
        await _round_trips(queue, msg, warmup)
        collect()
        return await _round_trips(queue, msg, count)
    finally:
        server.cancel()


def _latency(name: str, pct: float, ours: list[float], raw: list[float]) -> Metric:
    return Metric(
        name=name,
        label=f"latency {name}",
        unit="us",
        better="lower",
        actorbus=percentile(ours, pct) * MICROS,
        baseline=percentile(raw, pct) * MICROS,
        target=Target("ratio_max", 2.0) if name == "p99" else None,
    )


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides once and return p50 and p99 round-trip latency for each."""
    count = max(100, args.messages // 10)
    warmup = max(10, count // 10)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: actorbus_samples(count, warmup)),
        lambda: run_baseline(lambda: baseline_samples(count, warmup)),
    )
    metrics = [_latency("p50", 50, ours, raw), _latency("p99", 99, ours, raw)]
    extra = {
        "actorbus_asks_per_s": count / sum(ours),
        "baseline_round_trips_per_s": count / sum(raw),
        "actorbus_max_us": max(ours) * MICROS,
        "baseline_max_us": max(raw) * MICROS,
    }
    workload = {"asks": count, "warmup": warmup}
    return ScenarioResult("ask", "ask round trip", args.backend, workload, metrics, extra)


if __name__ == "__main__":
    run_child(measure)
