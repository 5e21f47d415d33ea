"""Tool loops through actors against the same loops in raw httpx, on one FakeOpenAI server.

The server (``benchmarks/_tool_server.py``) is a `FakeOpenAI` with 20 ms latency
in its own process, playing a model that uses two tools: asked with no tool
result yet it calls ``add``; with one, ``lookup``; with two, it answers. So every
task is three model turns and two tool calls, the second depending on the first.

actorbus: a ``Bus(models=...)`` (MemoryLog: the journal is in memory) with one
provider at the server (no rate limits), 20 ``Agent`` actors each subscribed to
its own topic, and one ``Keeper`` actor. T tasks are published as T messages
spread evenly over the agents; each handler makes one ``await
ctx.complete([system, user], tools=[add, lookup], max_tokens=64)``, where ``add``
is a function tool (``ab.tool``: arguments validated into a Struct) and
``lookup`` an actor tool (``ab.actor_tool``: an ``ask`` to the keeper). Every
turn is a request with both tools' definitions, decoded, priced and journaled,
and every tool result is journaled. Timed from the first publish until ``await
bus.drain()`` returns.

Baseline: raw ``httpx`` in the same process, on asyncio: 20 tasks sharing one
``httpx.AsyncClient``, each running T/20 loops one after another. A loop posts
``{"model", "messages", "tools", "max_tokens"}`` (the tool definitions actorbus
sends, taken once as plain dicts before timing), reads ``response.json()``, appends the
assistant message and, for each tool call, ``json.loads`` its arguments, runs the
tool inline (two plain ``async def``) and appends a ``tool`` message, until the
model answers. The same requests, the same concurrency, nothing journaled or
priced. A second, hand-tuned baseline spreads the 20 tasks over 5 clients (4
tasks each, as actorbus spreads a provider's requests, ``_models/_lanes.py``,
because one httpx pool is slow under concurrency: encode/httpcore#1035). No
target on that one.

Both sides first run 20 untimed tasks. T = 100 at the default scale (N/2,000, at
least 100). Target: actorbus >= 0.9x the raw rate. Models need asyncio: this
scenario always runs actorbus on asyncio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import anyio
import httpx

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_baseline, run_child
from ._results import Metric, ScenarioResult, Target
from ._tool_server import ANSWER

CONCURRENCY = 20
LATENCY = 0.02
MODEL = "bench-model"
RATIO_TARGET = 0.9
SHARDS = 5  # clients of the hand-tuned baseline: 4 concurrent tasks each
TURNS, TOOL_CALLS = 3, 2  # per task, as the server plays it
SYSTEM = "You are a concise assistant. Use the tools."


class Task(actorbus.Message):
    """One task: a question that takes two tools to answer."""

    n: int


class Lookup(actorbus.Message):
    """Look a key up in the keeper's table.

    Attributes:
        key: the key to look up.
    """

    key: str


class Found(actorbus.Message):
    """The value a key holds."""

    value: int


TABLE = {"answer": 42}


async def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


TOOLS = [actorbus.tool(add), actorbus.actor_tool("tools.lookup", Lookup, name="lookup")]


class Keeper(actorbus.Actor):
    """Answers lookups: the actor behind the ``lookup`` tool."""

    subscribe = ("tools.lookup",)

    async def on_lookup(self, msg: Lookup, ctx: actorbus.Context) -> Found:
        return Found(value=TABLE[msg.key])


class Agent(actorbus.Actor):
    """Runs one tool loop per task."""

    subscribe = ("tasks.{name}",)
    model = MODEL

    async def on_task(self, msg: Task, ctx: actorbus.Context) -> None:
        chat = [actorbus.system(SYSTEM), actorbus.user(f"Task {msg.n}: add 2 and 3, look up.")]
        done = await ctx.complete(chat, tools=TOOLS, max_tokens=64)
        if done.text != ANSWER or len(done.tools) != TOOL_CALLS:
            raise RuntimeError(f"unexpected loop: {done.text!r}, {len(done.tools)} tools")


def tasks(messages: int) -> int:
    """Return the timed tasks for workload scale ``messages`` (a multiple of 20)."""
    return max(100, messages // 2000 // CONCURRENCY * CONCURRENCY)


async def _publish_round(bus: actorbus.Bus, count: int) -> None:
    for n in range(count):
        await bus.publish(f"tasks.agent-{n % CONCURRENCY}", Task(n=n))
    await bus.drain()


class Timing(NamedTuple):
    """One side's timed section: wall-clock and this process's CPU seconds."""

    wall: float
    cpu: float


async def actorbus_seconds(base_url: str, count: int) -> Timing:
    """Time ``count`` tool loops run by 20 actors."""
    provider = actorbus.Provider(name="fake", base_url=base_url, timeout=30.0)
    models = actorbus.Models(actorbus.ModelsConfig(providers=[provider]))
    async with actorbus.Bus(models=models) as bus:
        await bus.spawn(Keeper, name="keeper")
        for i in range(CONCURRENCY):
            await bus.spawn(Agent, name=f"agent-{i}")
        await _publish_round(bus, CONCURRENCY)  # warm-up
        collect()
        start, cpu = time.perf_counter(), time.process_time()
        await _publish_round(bus, count)
        timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
        total = bus.costs().total
        dead = sum(a.failed for a in bus.statistics().actors.values())
    expected = count + CONCURRENCY
    if (total.calls, total.tool_calls, dead) != (TURNS * expected, TOOL_CALLS * expected, 0):
        raise RuntimeError(
            f"made {total.calls} turns and {total.tool_calls} tool calls with {dead} failed "
            f"handlings; expected {TURNS * expected}, {TOOL_CALLS * expected} and 0"
        )
    return timing


RAW_TOOLS: list[dict[str, Any]] = [t.definition() for t in TOOLS]
"""The raw side's ``tools``: actorbus's definitions, made once as plain dicts."""


async def raw_add(a: float, b: float) -> float:
    """The ``add`` tool, run inline."""
    return a + b


async def raw_lookup(key: str) -> dict[str, Any]:
    """The ``lookup`` tool, run inline."""
    return {"value": TABLE[key]}


RAW_FUNCTIONS: dict[str, Callable[..., Awaitable[object]]] = {"add": raw_add, "lookup": raw_lookup}


async def raw_loop(client: httpx.AsyncClient, n: int) -> tuple[str, int]:
    """Run one task's tool loop; return the answer and the tool calls run."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Task {n}: add 2 and 3, look up."},
    ]
    ran = 0
    while True:
        body = {"model": MODEL, "messages": messages, "tools": RAW_TOOLS, "max_tokens": 64}
        response = await client.post("chat/completions", json=body)
        response.raise_for_status()
        message = response.json()["choices"][0]["message"]
        calls = message.get("tool_calls")
        if not calls:
            return message["content"], ran
        messages.append(message)
        for call in calls:
            function = call["function"]
            result = await RAW_FUNCTIONS[function["name"]](**json.loads(function["arguments"]))
            text = result if isinstance(result, str) else json.dumps(result)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": text})
            ran += 1


async def raw_seconds(base_url: str, count: int, clients: int = 1) -> Timing:
    """Time ``count`` raw tool loops by 20 tasks over ``clients`` clients."""
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=CONCURRENCY)
    done: list[tuple[str, int]] = []

    async def worker(client: httpx.AsyncClient, first: int, loops: int) -> None:
        for n in range(first, first + loops * CONCURRENCY, CONCURRENCY):
            answer = await raw_loop(client, n)
            done.append(answer)

    pool = [
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) for _ in range(clients)
    ]

    async def round_(loops_each: int) -> None:
        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENCY):
                tg.start_soon(worker, pool[i % clients], i, loops_each)

    try:
        await round_(1)  # warm-up
        collect()
        start, cpu = time.perf_counter(), time.process_time()
        await round_(count // CONCURRENCY)
        timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
    finally:
        for client in pool:
            await client.aclose()
    if done != [(ANSWER, TOOL_CALLS)] * (count + CONCURRENCY):
        raise RuntimeError(f"unexpected raw loops: {set(done)} ({len(done)} of them)")
    return timing


def _server() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "benchmarks._tool_server", "--latency", str(LATENCY)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise RuntimeError(f"the tool server did not print its URL (got {url!r})")
    return process, url


def _sides(url: str, count: int, repeat_index: int) -> dict[str, Timing]:
    """Run the three sides, their order rotating with the repeat (no side always first)."""
    sides: list[tuple[str, Callable[[], Timing]]] = [
        ("actorbus", lambda: run_actorbus("asyncio", lambda: actorbus_seconds(url, count))),
        ("raw", lambda: run_baseline(lambda: raw_seconds(url, count))),
        ("sharded", lambda: run_baseline(lambda: raw_seconds(url, count, SHARDS))),
    ]
    k = repeat_index % len(sides)
    return {name: run() for name, run in sides[k:] + sides[:k]}


def measure(args: ChildArgs) -> ScenarioResult:
    """Run the three sides against one server; tasks/s and CPU per task for each."""
    count = tasks(args.messages)
    process, url = _server()
    try:
        timings = _sides(url, count, args.repeat_index)
    finally:
        process.terminate()
        process.wait(timeout=10)
    ours, raw, sharded = timings["actorbus"], timings["raw"], timings["sharded"]
    label = (
        f"{CONCURRENCY} concurrent, {TURNS} turns + {TOOL_CALLS} tool calls a task, "
        f"{LATENCY * 1000:.0f} ms server latency"
    )
    metrics = [
        Metric(
            name="rate",
            label=f"{label} (raw: one httpx client)",
            unit="tasks/s",
            better="higher",
            actorbus=count / ours.wall,
            baseline=count / raw.wall,
            target=Target("ratio_min", RATIO_TARGET),
        ),
        Metric(
            name="rate_sharded",
            label=f"{label} (raw: {SHARDS} httpx clients, hand-tuned)",
            unit="tasks/s",
            better="higher",
            actorbus=count / ours.wall,
            baseline=count / sharded.wall,
        ),
        Metric(
            name="cpu_sharded",
            label=f"client CPU per task (raw: {SHARDS} httpx clients, hand-tuned)",
            unit="ms",
            better="lower",
            actorbus=ours.cpu / count * 1000,
            baseline=sharded.cpu / count * 1000,
        ),
    ]
    workload = {"tasks": count, "model_turns": TURNS * count, "tool_calls": TOOL_CALLS * count}
    return ScenarioResult("tools", "tool loops (FakeOpenAI)", "asyncio", workload, metrics)


if __name__ == "__main__":
    run_child(measure)
