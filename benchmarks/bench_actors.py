"""Memory per idle actor: 10,000 actors, each sent one message, then left idle.

actorbus: spawn N/20 actors (10,000 by default) of one class whose ``subscribe``
is ``("idle.{name}",)``, so each has a topic of its own; publish one message to
each; ``await bus.drain()``. Memory is read with tracemalloc (``gc.collect()``
first) once the bus is open and again after the drain; the growth over the actor
count is the cost of one idle actor (its cell, mailbox, route, name, and the last
envelope and message it handled).

Baseline: the naive actor: one asyncio task per actor, each with its own
``asyncio.Queue``, sent one message and then blocked on ``await queue.get()``.

Each side runs in a fresh interpreter of its own, since the tables one side grows
(asyncio's set of all tasks, for one) would otherwise lower the other's figure.

The figure judged is measured with ``MemoryLog(retain=0)``: the default log keeps
its newest 10,000 records for ``read()``, a cost per message (bounded by
``retain``, about 250 B a record) that this workload of one message per actor
would otherwise charge to the actors. The default ``Bus()`` figure is reported
beside it, each from its own fresh interpreter, and so is what stays allocated per
actor once the bus has closed and been dropped (ideally nothing).
Target: <= 1 KB per idle actor.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tracemalloc
from typing import Any

import actorbus

from ._child import (
    ChildArgs,
    collect,
    run_actorbus,
    run_baseline,
    run_child,
    run_isolated,
    run_pair,
)
from ._results import Metric, ScenarioResult, Target

KB = 1024
TOP_SITES = 8


class Ping(actorbus.Message):
    """The one message each actor gets."""

    n: int


class Idle(actorbus.Actor):
    """An actor that handles one message and then sits idle; one topic per actor."""

    subscribe = ("idle.{name}",)

    async def on_ping(self, msg: Ping, ctx: actorbus.Context) -> None:
        return None


async def handler(msg: Ping) -> None:
    """The naive actor's handler: as empty as the actor's."""
    return None


def _snapshot() -> tracemalloc.Snapshot:
    collect()
    return tracemalloc.take_snapshot()


def _traced() -> int:
    # Only valid while no snapshot is alive: a snapshot's own traces are traced too.
    collect()
    return tracemalloc.get_traced_memory()[0]


def _short(path: str) -> str:
    # Relative to the sys.path entry it was imported from: actorbus/_bus/_bus.py.
    for root in sorted((p for p in sys.path if p), key=len, reverse=True):
        if path.startswith(root + os.sep):
            return path[len(root) + 1 :].replace(os.sep, "/")
    return path


def _origin(path: str) -> str:
    short = _short(path)
    if short.startswith("actorbus/"):
        return "actorbus"
    if short.split("/")[0] in ("benchmarks", "actorbus_benchmarks"):
        return "harness"  # names, topics and messages the workload itself makes
    return "runtime"  # asyncio, anyio and the stdlib: tasks, queues, their tables


def _growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int
) -> dict[str, Any]:
    """Bytes per actor grown from ``before`` to ``after``: in all, by origin, by site.

    Blocks allocated by tracemalloc itself (the earlier snapshot) are left out.
    """
    own = tracemalloc.__file__
    stats = [s for s in after.compare_to(before, "lineno") if s.traceback[0].filename != own]
    origins = dict.fromkeys(("actorbus", "runtime", "harness"), 0.0)
    for stat in stats:
        origins[_origin(stat.traceback[0].filename)] += stat.size_diff / count
    sites = [
        {
            "site": f"{_short(s.traceback[0].filename)}:{s.traceback[0].lineno}",
            "bytes_per_actor": s.size_diff / count,
            "blocks_per_actor": s.count_diff / count,
        }
        for s in stats[:TOP_SITES]
    ]
    total = sum(s.size_diff for s in stats) / count
    return {"per_actor": total, "origins": origins, "top_sites": sites}


async def _spawn_and_feed(bus: actorbus.Bus, count: int) -> None:
    for i in range(count):
        await bus.spawn(Idle, name=f"a{i}")
    for i in range(count):
        await bus.publish(f"idle.a{i}", Ping(n=i))
    await bus.drain()


async def _warm_up() -> None:
    # First use of each code path (lazy imports, caches) stays out of the figures.
    async with actorbus.Bus() as bus:
        await _spawn_and_feed(bus, 10)


async def _idle_actors(count: int, log: actorbus.EventLog | None) -> dict[str, Any]:
    async with actorbus.Bus(log=log) as bus:
        opened = _snapshot()
        await _spawn_and_feed(bus, count)
        growth = _growth(opened, _snapshot(), count)
    return growth


async def actorbus_memory(count: int, retain: int | None) -> dict[str, Any]:
    """Measure the bytes an idle actor holds, and what outlives the bus.

    ``retain`` is the MemoryLog's ``retain``; None for the default ``Bus()``.
    """
    await _warm_up()
    log = None if retain is None else actorbus.MemoryLog(retain=retain)
    start = _traced()
    growth = await _idle_actors(count, log)
    del log
    closed = _traced()
    return {**growth, "after_close": (closed - start) / count}


class _Countdown:
    def __init__(self, count: int) -> None:
        self.left = count
        self.done = asyncio.Event()

    def tick(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def _naive_actor(queue: asyncio.Queue[Ping], countdown: _Countdown) -> None:
    while True:
        m = await queue.get()
        await handler(m)
        countdown.tick()


async def _naive_actors(count: int) -> tuple[list[asyncio.Task[None]], list[Any]]:
    countdown = _Countdown(count)
    queues: list[asyncio.Queue[Ping]] = [asyncio.Queue() for _ in range(count)]
    tasks = [asyncio.create_task(_naive_actor(q, countdown)) for q in queues]
    for i, queue in enumerate(queues):
        queue.put_nowait(Ping(n=i))
    await countdown.done.wait()  # every task is back in queue.get() by now
    return tasks, [queues, countdown]


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def baseline_memory(count: int) -> dict[str, Any]:
    """Measure the bytes one blocked task with its own queue holds."""
    warm, _ = await _naive_actors(10)
    await _stop(warm)
    before = _snapshot()
    tasks, keep = await _naive_actors(count)
    growth = _growth(before, _snapshot(), count)
    await _stop(tasks)
    del keep
    return growth


def actorbus_side(count: int, backend: str, retain: int | None) -> dict[str, Any]:
    """Measure the actorbus side under tracemalloc (called in a fresh interpreter)."""
    tracemalloc.start(1)
    try:
        return run_actorbus(backend, lambda: actorbus_memory(count, retain))
    finally:
        tracemalloc.stop()


def baseline_side(count: int) -> dict[str, Any]:
    """Measure the naive-actor side under tracemalloc (called in a fresh interpreter)."""
    tracemalloc.start(1)
    try:
        return run_baseline(lambda: baseline_memory(count))
    finally:
        tracemalloc.stop()


def _extra(ours: dict[str, Any], raw: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    return {
        **{f"actorbus_bytes_from_{k}": v for k, v in ours["origins"].items()},
        **{f"baseline_bytes_from_{k}": v for k, v in raw["origins"].items() if k != "actorbus"},
        "actorbus_bytes_with_default_log": full["per_actor"],
        **{f"actorbus_default_log_bytes_from_{k}": v for k, v in full["origins"].items()},
        "after_close_bytes_per_actor": ours["after_close"],
        "actorbus_top_sites": ours["top_sites"],
        "baseline_top_sites": raw["top_sites"],
    }


def measure(args: ChildArgs) -> ScenarioResult:
    """Measure each side in its own fresh interpreter; return bytes per idle actor."""
    count = max(100, args.messages // 20)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_isolated(actorbus_side, count, args.backend, 0),
        lambda: run_isolated(baseline_side, count),
    )
    full = run_isolated(actorbus_side, count, args.backend, None)
    metric = Metric(
        name="bytes",
        label="bytes per idle actor (log records excluded)",
        unit="B",
        better="lower",
        actorbus=ours["per_actor"],
        baseline=raw["per_actor"],
        target=Target("actorbus_max", KB),
    )
    extra = _extra(ours, raw, full)
    workload = {"actors": count}
    return ScenarioResult("actors", "10k idle actors", args.backend, workload, [metric], extra)


if __name__ == "__main__":
    run_child(measure)
