"""Shared-state updates under contention: ``bus.state.update`` vs a locked dict.

actorbus: 100 tasks each make K increments of one key with ``await
bus.state.update("counter", lambda v: (v or 0) + 1)`` on a ``Bus()`` (MemoryLog):
each is a revision check and a `StateUpdate` published through the log. Timed until
all are done; the final value is checked.

Baseline, in the same run: the same 100 tasks incrementing a plain dict entry
inside ``async with lock`` (one ``anyio.Lock``), each with an ``anyio`` checkpoint,
as the source article's state manager meant to do (it made a new lock per call).
The baseline records nothing anywhere; the ratio is what a logged, versioned change
costs. Increments: N/20 (10,000 at the default N). No target.
"""

from __future__ import annotations

import time

import anyio

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_child, run_pair
from ._results import Metric, ScenarioResult

TASKS = 100


def increments(messages: int) -> int:
    """Return the timed increments for workload scale ``messages`` (a multiple of 100)."""
    return max(TASKS, messages // 20 // TASKS * TASKS)


async def state_seconds(count: int) -> float:
    """Time ``count`` increments through ``bus.state.update`` by 100 tasks."""
    async with actorbus.Bus() as bus:
        state = bus.state

        async def worker() -> None:
            for _ in range(count // TASKS):
                await state.update("counter", lambda v: (v or 0) + 1, retries=1000)

        collect()
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(TASKS):
                tg.start_soon(worker)
        seconds = time.perf_counter() - start
        entry = await state.get("counter")
    if entry is None or entry.value != count:
        raise RuntimeError(f"counted {entry and entry.value}, expected {count}")
    return seconds


async def locked_dict_seconds(count: int) -> float:
    """Time ``count`` increments of a dict entry under one ``anyio.Lock`` by 100 tasks."""
    lock = anyio.Lock()
    data: dict[str, int] = {}

    async def worker() -> None:
        for _ in range(count // TASKS):
            async with lock:
                data["counter"] = data.get("counter", 0) + 1
                await anyio.lowlevel.checkpoint()

    collect()
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(TASKS):
            tg.start_soon(worker)
    seconds = time.perf_counter() - start
    if data["counter"] != count:
        raise RuntimeError(f"counted {data['counter']}, expected {count}")
    return seconds


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides; increments/s for each."""
    count = increments(args.messages)
    ours, raw = run_pair(
        args.repeat_index,
        lambda: count / run_actorbus(args.backend, lambda: state_seconds(count)),
        lambda: count / run_actorbus(args.backend, lambda: locked_dict_seconds(count)),
    )
    metric = Metric(
        name="rate",
        label=f"{TASKS} tasks, one key (baseline: anyio.Lock + dict)",
        unit="updates/s",
        better="higher",
        actorbus=ours,
        baseline=raw,
    )
    return ScenarioResult("state", "state update", args.backend, {"increments": count}, [metric])


if __name__ == "__main__":
    run_child(measure)
