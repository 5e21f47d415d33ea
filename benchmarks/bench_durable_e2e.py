"""Durable 1->1: ``Bus(log=SqliteLog(path))`` against ``Bus()`` (its `MemoryLog`).

The workload of the 1->1 scenario (``benchmarks/_pubsub.py``: one ``Sink`` actor
with an empty handler on one topic, one pre-built ``Tick`` sent over and over),
timed from the first publish until ``await bus.drain()`` returns, after an untimed
warm-up of a tenth as many publishes. Two variants:

* 1 publisher: ``await bus.publish(topic, msg)`` in a loop. With the SqliteLog
  (``durability="commit"``, a fresh file in a temporary directory) each publish
  returns only once its record is fsynced and delivered, so every message costs a
  transaction of its own.
* 100 publishers: 100 tasks each publishing a hundredth of the messages in a loop,
  then one drain: the realistic durable case, where concurrent publishes share a
  transaction (group commit).

Baseline: the same workload on ``Bus()`` with its default MemoryLog, in the same
process; the ratio is SqliteLog / MemoryLog. Counts: N/100 (1 publisher) and N/2
(100 publishers) on the SqliteLog, N on the MemoryLog (rates are per message; N/100
publishes on the MemoryLog would take a few milliseconds, too short to time well).
No target: it shows what durability costs end to end.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path

import anyio

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_child, run_pair
from ._pubsub import TOPIC, Sink, Tick
from ._results import Metric, ScenarioResult

CONCURRENT = 100
DURABLE_DIVISORS = {1: 100, CONCURRENT: 2}  # SqliteLog publishes = N / divisor


async def _publish(bus: actorbus.Bus, msg: Tick, count: int) -> None:
    for _ in range(count):
        await bus.publish(TOPIC, msg)


async def _round(bus: actorbus.Bus, msg: Tick, count: int, publishers: int) -> None:
    if publishers == 1:
        await _publish(bus, msg, count)
    else:
        async with anyio.create_task_group() as tg:
            for _ in range(publishers):
                tg.start_soon(_publish, bus, msg, count // publishers)
    await bus.drain()


async def bus_seconds(
    log: actorbus.EventLog | None, count: int, warmup: int, publishers: int
) -> float:
    """Time ``count`` publishes by ``publishers`` tasks to one actor, until drained."""
    msg = Tick(n=0)
    async with actorbus.Bus(log=log) as bus:
        await bus.spawn(Sink, name="sink")
        await _round(bus, msg, warmup, publishers)
        collect()
        start = time.perf_counter()
        await _round(bus, msg, count, publishers)
        return time.perf_counter() - start


def counts(messages: int, publishers: int, durable: bool) -> tuple[int, int]:
    """Return (timed publishes, warm-up publishes), multiples of ``publishers``."""
    total = messages // DURABLE_DIVISORS[publishers] if durable else messages
    count = max(publishers, total // publishers * publishers)
    return count, max(publishers, count // 10 // publishers * publishers)


def _rate(args: ChildArgs, tmp: Path, publishers: int, durable: bool) -> float:
    count, warmup = counts(args.messages, publishers, durable)
    path = tmp / f"log-{publishers}.db"

    async def run() -> float:
        log = actorbus.SqliteLog(path, durability="commit") if durable else None
        return count / await bus_seconds(log, count, warmup, publishers)

    return run_actorbus(args.backend, run)


def _metric(publishers: int, pair: tuple[float, float]) -> Metric:
    plural = "publisher" if publishers == 1 else "publishers"
    return Metric(
        name=f"rate_p{publishers}",
        label=f"{publishers} {plural} (baseline: MemoryLog bus)",
        unit="msgs/s",
        better="higher",
        actorbus=pair[0],
        baseline=pair[1],
    )


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both buses for each variant; msgs/s for each."""
    metrics: list[Metric] = []
    workload: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="actorbus-bench-e2e-") as tmp:
        for publishers in (1, CONCURRENT):
            durable = partial(_rate, args, Path(tmp), publishers, True)
            memory = partial(_rate, args, Path(tmp), publishers, False)
            metrics.append(_metric(publishers, run_pair(args.repeat_index, durable, memory)))
            workload[f"sqlite_p{publishers}"] = counts(args.messages, publishers, True)[0]
            workload[f"memory_p{publishers}"] = counts(args.messages, publishers, False)[0]
    title = "durable 1->1 (SqliteLog)"
    return ScenarioResult("durable-e2e", title, args.backend, workload, metrics)


if __name__ == "__main__":
    run_child(measure)
