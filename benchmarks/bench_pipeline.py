"""A 3-stage LLM pipeline: research -> write -> validate, each stage one model call.

actorbus: a ``Bus(models=Models())`` (the offline echo provider: the model call goes
through the whole models layer, limits, retries, pricing, the journal in the bus's
MemoryLog, and an ``httpx`` request answered by `actorbus.EchoTransport` with no
network). Three actors, ``Researcher``, ``Writer`` and ``Validator``, each with
``concurrency = 100``, subscribe to ``pipeline.research``, ``pipeline.write`` and
``pipeline.validate``; each handler makes one ``await ctx.complete([system, user],
max_tokens=64)`` and publishes the text on to the next stage with
``ctx.publish``; the validator reports the task done. 100 client tasks each run
T/100 tasks one after another: publish a ``Task`` to the first stage, wait until
the validator has finished it. A task's latency runs from its publish to its
validation; the rate is tasks over the wall time of the whole run.

Baseline, in the same process on asyncio: the same three stages as plain asyncio
code, one ``asyncio.Queue`` per stage read by 100 worker tasks, each making the
same request (``client.post("chat/completions", json=...)`` on one
``httpx.AsyncClient`` over its own `EchoTransport`, then
``response.json()["choices"][0]["message"]["content"]``) and putting the text in
the next queue; the same 100 clients, timed the same way. The ratio shows what the
framework adds around three model calls: routing, mailboxes, supervision, typed
messages, the models layer and its journal.

T = N/100 (2,000 at the default N), at least 100, after 100 untimed tasks on each
side. Models need asyncio: this scenario always runs on asyncio. No target.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

import actorbus

from ._child import ChildArgs, collect, percentile, run_actorbus, run_baseline, run_child, run_pair
from ._results import Metric, ScenarioResult

IN_FLIGHT = 100
STAGES = (
    ("research", "You are a researcher: list the key facts."),
    ("write", "You are a writer: turn the notes into a paragraph."),
    ("validate", "You are a validator: check the paragraph."),
)
MODEL = actorbus.ECHO_MODEL
DEADLINE = 300.0  # seconds one round of tasks may take


class Task(actorbus.Message):
    """One task, carried from stage to stage with the text so far."""

    n: int
    text: str


class Tracker:
    """Start times of tasks in flight, and their latencies once validated."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.waiting: dict[int, anyio.Event] = {}
        self.latencies: list[float] = []

    def begin(self, n: int) -> anyio.Event:
        """Record that task ``n`` starts now; return the event its end sets."""
        done = self.waiting[n] = anyio.Event()
        self.started[n] = time.perf_counter()
        return done

    def finish(self, n: int) -> None:
        """Record that task ``n`` has been validated."""
        self.latencies.append(time.perf_counter() - self.started.pop(n))
        self.waiting.pop(n).set()


class Stage(actorbus.Actor):
    """One model call per task, then the task goes to the next stage (if any)."""

    concurrency = IN_FLIGHT
    model = MODEL
    prompt = ""
    next_topic: str | None = None

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def on_task(self, msg: Task, ctx: actorbus.Context) -> None:
        chat = [actorbus.system(self.prompt), actorbus.user(msg.text)]
        done = await ctx.complete(chat, max_tokens=64)
        if self.next_topic is None:
            self.tracker.finish(msg.n)
        else:
            await ctx.publish(self.next_topic, Task(n=msg.n, text=done.text))


class Researcher(Stage):
    """Stage 1."""

    subscribe = ("pipeline.research",)
    prompt = STAGES[0][1]
    next_topic = "pipeline.write"


class Writer(Stage):
    """Stage 2."""

    subscribe = ("pipeline.write",)
    prompt = STAGES[1][1]
    next_topic = "pipeline.validate"


class Validator(Stage):
    """Stage 3: the task is done."""

    subscribe = ("pipeline.validate",)
    prompt = STAGES[2][1]


def tasks_for(messages: int) -> int:
    """Return the timed tasks for workload scale ``messages`` (a multiple of 100)."""
    return max(IN_FLIGHT, messages // 100 // IN_FLIGHT * IN_FLIGHT)


async def _clients(
    submit: Callable[[int], Awaitable[None]], tracker: Tracker, count: int, first: int
) -> float:
    """Run ``count`` tasks from 100 client tasks, one at a time each; return seconds."""

    async def client(c: int) -> None:
        for n in range(first + c, first + count, IN_FLIGHT):
            done = tracker.begin(n)
            await submit(n)
            await done.wait()

    start = time.perf_counter()
    # A stage that failed would leave its clients waiting: fail instead of hanging.
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            for c in range(IN_FLIGHT):
                tg.start_soon(client, c)
    return time.perf_counter() - start


async def actorbus_run(count: int) -> tuple[float, list[float]]:
    """Run ``count`` tasks through the three actors; return (seconds, latencies)."""
    tracker = Tracker()
    async with actorbus.Bus(models=actorbus.Models()) as bus:
        for stage in (Researcher, Writer, Validator):
            await bus.spawn(stage, tracker)

        async def submit(n: int) -> None:
            await bus.publish("pipeline.research", Task(n=n, text=f"topic {n}"))

        await _clients(submit, tracker, IN_FLIGHT, -IN_FLIGHT)  # warm-up
        tracker.latencies.clear()
        collect()
        seconds = await _clients(submit, tracker, count, 0)
        calls = bus.costs().total.calls
    if calls != 3 * (count + IN_FLIGHT):
        raise RuntimeError(f"made {calls} model calls, expected {3 * (count + IN_FLIGHT)}")
    return seconds, tracker.latencies


async def _raw_worker(
    client: httpx.AsyncClient,
    prompt: str,
    inbox: asyncio.Queue[tuple[int, str]],
    forward: Callable[[int, str], Awaitable[None]],
) -> None:
    while True:
        n, text = await inbox.get()
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "system", "content": prompt}, {"role": "user", "content": text}],
            "max_tokens": 64,
        }
        response = await client.post("chat/completions", json=body)
        response.raise_for_status()
        await forward(n, response.json()["choices"][0]["message"]["content"])


async def raw_run(count: int) -> tuple[float, list[float]]:
    """Run ``count`` tasks through three queue-and-worker stages; return (seconds, latencies)."""
    tracker = Tracker()
    queues: list[asyncio.Queue[tuple[int, str]]] = [
        asyncio.Queue(actorbus.DEFAULT_MAILBOX_SIZE) for _ in STAGES
    ]

    def to(queue: asyncio.Queue[tuple[int, str]]) -> Callable[[int, str], Awaitable[None]]:
        async def forward(n: int, text: str) -> None:
            await queue.put((n, text))

        return forward

    async def finish(n: int, text: str) -> None:
        tracker.finish(n)

    forwards = [to(queues[1]), to(queues[2]), finish]
    transport = actorbus.EchoTransport()
    async with httpx.AsyncClient(transport=transport, base_url="http://echo.invalid/v1/") as client:
        workers = [
            asyncio.create_task(_raw_worker(client, prompt, queue, forward))
            for (_, prompt), queue, forward in zip(STAGES, queues, forwards, strict=True)
            for _ in range(IN_FLIGHT)
        ]

        async def submit(n: int) -> None:
            await queues[0].put((n, f"topic {n}"))

        try:
            await _clients(submit, tracker, IN_FLIGHT, -IN_FLIGHT)  # warm-up
            tracker.latencies.clear()
            collect()
            seconds = await _clients(submit, tracker, count, 0)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    if transport.requests != 3 * (count + IN_FLIGHT):
        raise RuntimeError(
            f"made {transport.requests} requests, expected {3 * (count + IN_FLIGHT)}"
        )
    return seconds, tracker.latencies


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides; return tasks/s and the p50/p99 task latency of each."""
    count = tasks_for(args.messages)
    (ours_s, ours_lat), (raw_s, raw_lat) = run_pair(
        args.repeat_index,
        lambda: run_actorbus("asyncio", lambda: actorbus_run(count)),
        lambda: run_baseline(lambda: raw_run(count)),
    )
    label = f"{IN_FLIGHT} tasks in flight, 3 model calls each"
    metrics = [
        Metric(
            name="rate",
            label=f"{label} (raw: asyncio.Queue stages + httpx)",
            unit="tasks/s",
            better="higher",
            actorbus=count / ours_s,
            baseline=count / raw_s,
        ),
        *(
            Metric(
                name=f"p{pct}",
                label=f"task latency p{pct}",
                unit="ms",
                better="lower",
                actorbus=percentile(ours_lat, pct) * 1000,
                baseline=percentile(raw_lat, pct) * 1000,
            )
            for pct in (50, 99)
        ),
    ]
    workload = {"tasks": count, "in_flight": IN_FLIGHT, "model_calls": 3 * count}
    return ScenarioResult(
        "pipeline", "3-stage LLM pipeline (offline)", "asyncio", workload, metrics
    )


if __name__ == "__main__":
    run_child(measure)
