"""Coordinator delegation: tasks through coordinator -> worker -> result, vs direct asks.

actorbus: an ``actors.Coordinator`` and W workers (W = 1, 10, 100), each an
``actors.Worker`` whose ``perform`` makes one model call on the offline echo
provider (``ctx.complete``: priced, journaled) and returns its text. 100 client
tasks each run T/100 tasks one after another with ``actors.run_task`` (an ask to
the coordinator, which records the task's status in ``bus.state`` three times,
picks the least busy capable worker and asks it). Timed from the first task to the
last result.

Baseline, in the same run: the same W workers without a coordinator; the 100
client tasks ask the workers directly (``bus.ask`` on ``agents.<worker>``, a
``TaskDelegation``, round-robin). The ratio shows what delegation costs: the extra
ask, the state records and the load balancing. T = N/200 (1,000 at the default N),
at least 100. Models need asyncio: this scenario runs on asyncio. No target.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

import actorbus
import actors

from ._child import ChildArgs, collect, run_actorbus, run_child, run_pair
from ._results import Metric, ScenarioResult

CLIENTS = 100
WORKERS = (1, 10, 100)


class Echoer(actors.Worker):
    """Makes one offline model call per task."""

    capabilities = ("echo",)
    model = "echo"
    concurrency = 100

    async def perform(self, task: actorbus.TaskDelegation, ctx: actorbus.Context) -> Any:
        done = await ctx.complete([actorbus.user(task.description)], max_tokens=16)
        return done.text


def tasks_for(messages: int) -> int:
    """Return the timed tasks for workload scale ``messages`` (a multiple of 100)."""
    return max(CLIENTS, messages // 200 // CLIENTS * CLIENTS)


async def _clients(count: int, one: Any) -> float:
    async def client(c: int) -> None:
        for k in range(count // CLIENTS):
            await one(c, k)

    collect()
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for c in range(CLIENTS):
            tg.start_soon(client, c)
    return time.perf_counter() - start


async def coordinated_seconds(workers: int, count: int) -> float:
    """Time ``count`` tasks through a coordinator to ``workers`` workers."""
    async with actorbus.Bus(models=actorbus.Models()) as bus:
        await bus.spawn(actors.Coordinator, name="coordinator")
        for i in range(workers):
            await bus.spawn(Echoer, name=f"worker-{i}")
        await bus.drain()

        async def one(c: int, k: int) -> None:
            task = actors.Task(id=f"c{c}-{k}", capability="echo", description="hi", timeout=30)
            outcome = await actors.run_task(bus, task)
            if outcome.status != "COMPLETED":
                raise RuntimeError(f"task failed: {outcome.error}")

        return await _clients(count, one)


async def direct_seconds(workers: int, count: int) -> float:
    """Time ``count`` direct asks to ``workers`` workers (no coordinator)."""
    async with actorbus.Bus(models=actorbus.Models()) as bus:
        for i in range(workers):
            await bus.spawn(Echoer, None, name=f"worker-{i}")

        async def one(c: int, k: int) -> None:
            worker = (c * (count // CLIENTS) + k) % workers
            task = actorbus.TaskDelegation(task_id=f"c{c}-{k}", capability="echo", description="hi")
            reply = await bus.ask(actors.task_topic(f"worker-{worker}"), task, timeout=30)
            if not isinstance(reply, actors.TaskResult) or not reply.ok:
                raise RuntimeError(f"task failed: {reply!r}")

        return await _clients(count, one)


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides for each worker count; tasks/s for each."""
    count = tasks_for(args.messages)
    metrics: list[Metric] = []
    for workers in WORKERS:
        ours, direct = run_pair(
            args.repeat_index,
            lambda w=workers: (
                count / run_actorbus("asyncio", lambda: coordinated_seconds(w, count))
            ),
            lambda w=workers: count / run_actorbus("asyncio", lambda: direct_seconds(w, count)),
        )
        plural = "worker" if workers == 1 else "workers"
        metrics.append(
            Metric(
                name=f"rate_w{workers}",
                label=f"{workers} {plural} (baseline: direct asks)",
                unit="tasks/s",
                better="higher",
                actorbus=ours,
                baseline=direct,
            )
        )
    title = "coordinator delegation"
    return ScenarioResult("coordinator", title, "asyncio", {"tasks": count}, metrics)


if __name__ == "__main__":
    run_child(measure)
