"""Model calls through actors against raw httpx, both on one FakeOpenAI server.

The server is ``actorbus fake-openai --latency 0.02`` in its own process (so it
does not share this process's CPU or GIL): every answer takes 20 ms, like a fast
model, and the question is how much the framework adds around it.

actorbus: a ``Bus(models=...)`` with one provider at the server (no rate limits),
100 ``Caller`` actors each subscribed to its own topic; C completions are published
as C messages spread evenly over the actors, and each handler makes one
``await ctx.complete([system, user], max_tokens=64)`` (decoded and validated into a
`Completion`, priced, journaled in the bus's MemoryLog). Timed from the first
publish until ``await bus.drain()`` returns.

Baseline: raw ``httpx`` in the same process, on asyncio: one ``httpx.AsyncClient``
shared by 100 tasks, each making C/100 sequential ``client.post(...)`` calls with
the same JSON body and reading ``response.json()["choices"][0]["message"]["content"]``.
That is how httpx is normally used, and its pool is slow at this concurrency
(encode/httpcore#1035), which actorbus avoids by spreading a provider's requests over
several clients (``actorbus/_models/_lanes.py``). So a second, hand-tuned baseline
does the same: raw httpx with the tasks spread over 25 clients (4 tasks each, the
depth at which actorbus opens another client). No target on that one: it shows what
the framework itself costs.

Both sides first make 100 untimed calls (connections opened, code warmed). C = N/200
(1,000 at the default N), at least 100. Target: actorbus >= 0.9x the raw rate
(framework overhead under 10%). Models need asyncio: this scenario always runs
actorbus on asyncio.
"""

from __future__ import annotations

import subprocess
import sys
import time

import anyio
import httpx

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_baseline, run_child, run_pair
from ._results import Metric, ScenarioResult, Target

CONCURRENCY = 100
LATENCY = 0.02
MODEL = "bench-model"
RATIO_TARGET = 0.9
SHARDS = 25  # clients of the hand-tuned baseline: 4 concurrent tasks each
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Name one benefit of message ordering."},
]


class Call(actorbus.Message):
    """One completion to make."""

    n: int


class Caller(actorbus.Actor):
    """Makes one model call per message."""

    subscribe = ("calls.{name}",)
    model = MODEL

    async def on_call(self, msg: Call, ctx: actorbus.Context) -> None:
        chat = [actorbus.system(MESSAGES[0]["content"]), actorbus.user(MESSAGES[1]["content"])]
        await ctx.complete(chat, max_tokens=64)


def completions(messages: int) -> int:
    """Return the timed completions for workload scale ``messages`` (a multiple of 100)."""
    return max(CONCURRENCY, messages // 200 // CONCURRENCY * CONCURRENCY)


async def _publish_round(bus: actorbus.Bus, count: int) -> None:
    for n in range(count):
        await bus.publish(f"calls.caller-{n % CONCURRENCY}", Call(n=n))
    await bus.drain()


async def actorbus_seconds(base_url: str, count: int) -> float:
    """Time ``count`` completions made by 100 actors; return seconds."""
    provider = actorbus.Provider(name="fake", base_url=base_url, timeout=30.0)
    models = actorbus.Models(actorbus.ModelsConfig(providers=[provider]))
    async with actorbus.Bus(models=models) as bus:
        for i in range(CONCURRENCY):
            await bus.spawn(Caller, name=f"caller-{i}")
        await _publish_round(bus, CONCURRENCY)  # warm-up
        collect()
        start = time.perf_counter()
        await _publish_round(bus, count)
        seconds = time.perf_counter() - start
        calls = bus.costs().total.calls
    if calls != count + CONCURRENCY:
        raise RuntimeError(f"made {calls} calls, expected {count + CONCURRENCY}")
    return seconds


async def raw_seconds(base_url: str, count: int, clients: int = 1) -> float:
    """Time ``count`` raw httpx calls by 100 tasks over ``clients`` clients; return seconds."""
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 64}
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=CONCURRENCY)
    texts: list[str] = []

    async def worker(client: httpx.AsyncClient, calls: int) -> None:
        for _ in range(calls):
            response = await client.post("chat/completions", json=body)
            response.raise_for_status()
            texts.append(response.json()["choices"][0]["message"]["content"])

    pool = [
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) for _ in range(clients)
    ]

    async def round_(calls_each: int) -> None:
        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENCY):
                tg.start_soon(worker, pool[i % clients], calls_each)

    try:
        await round_(1)  # warm-up
        collect()
        start = time.perf_counter()
        await round_(count // CONCURRENCY)
        seconds = time.perf_counter() - start
    finally:
        for client in pool:
            await client.aclose()
    if len(texts) != count + CONCURRENCY:
        raise RuntimeError(f"got {len(texts)} answers, expected {count + CONCURRENCY}")
    return seconds


def _server() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "actorbus", "fake-openai", "--latency", str(LATENCY)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise RuntimeError(f"fake-openai did not print its URL (got {url!r})")
    return process, url


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides against one server; completions/s for each."""
    count = completions(args.messages)
    process, url = _server()
    try:
        ours, raw = run_pair(
            args.repeat_index,
            lambda: count / run_actorbus("asyncio", lambda: actorbus_seconds(url, count)),
            lambda: count / run_baseline(lambda: raw_seconds(url, count)),
        )
        sharded = count / run_baseline(lambda: raw_seconds(url, count, SHARDS))
    finally:
        process.terminate()
        process.wait(timeout=10)
    label = f"{CONCURRENCY} concurrent, {LATENCY * 1000:.0f} ms server latency"
    metrics = [
        Metric(
            name="rate",
            label=f"{label} (raw: one httpx client)",
            unit="completions/s",
            better="higher",
            actorbus=ours,
            baseline=raw,
            target=Target("ratio_min", RATIO_TARGET),
        ),
        Metric(
            name="rate_sharded",
            label=f"{label} (raw: {SHARDS} httpx clients, hand-tuned)",
            unit="completions/s",
            better="higher",
            actorbus=ours,
            baseline=sharded,
        ),
    ]
    title = "model calls (FakeOpenAI)"
    return ScenarioResult("models", title, "asyncio", {"completions": count}, metrics)


if __name__ == "__main__":
    run_child(measure)
