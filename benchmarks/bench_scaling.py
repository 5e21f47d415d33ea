"""Scaling curves: publish-and-handle rate against the number of actors and of subscriptions.

One metric row per point and variant (``actors_one_n1000``, ``subs_cached_n100000``...),
so the report lists each curve point by point and a chart can draw it. Every point
is measured on both sides in the same process, a moment apart.

Actors (A = 1, 10, 100, 1,000, 10,000, 100,000): A actors are spawned, each with an
empty handler on a topic of its own (``scale.<name>``), then M messages are
published with ``await bus.publish`` and the clock stops when ``await bus.drain()``
returns. Two variants: *to one* (every message to the first actor's topic: the cost
should not depend on A) and *spread* (message i to actor i mod A: once A
approaches M, nearly every delivery wakes an idle actor, which starts a task for its
drain, and once A passes the route cache (4,096 topics) every publish resolves its
topic in the subscription trie). Baseline: A raw ``asyncio.Queue(maxsize=1024)``
each read by its own consumer task calling an empty handler, the same messages put
into queue 0 or queue i mod A; the consumers count down what they handle and the
clock stops when the last message has been handled. The consumers are started
before the warm-up and always run (a task each, waiting on its queue);
idle actors hold no task (the ``actors`` scenario shows the memory that saves).
The time spawning the A actors took is in the details (``spawn_seconds_n<A>``).

Subscriptions (P = 1 ... 100,000 unrelated patterns): decoy actors (1,000 patterns
each) subscribe to patterns near the published topics but never matching them:
``bench.scale.c<i>``, ``bench.*.c<i>``, ``*.scale.c<i>``, ``other<i>.>`` and
``bench.scale.c<i>.>`` in turn; one actor, ``sink``, subscribes to
``bench.scale.*``. Two variants: *cached* (every message on ``bench.scale.hot``: its
route is cached) and *uncached* (message i on ``bench.scale.t<i mod 8192>``, twice
the route cache, so each publish walks the trie). Both should stay flat as P grows.
Baseline: the 1->1 hand-off of ``_pubsub`` (one bounded queue, one consumer),
measured at each point.

M = N/4 messages per point (50,000 at the default N), at least A for *spread*,
after an untimed warm-up of M/10. Points up to 100,000 run when N >= 100,000 (the
default); with less (``--quick``) the curves stop at 10,000. No targets: the curves
are the result.
"""

from __future__ import annotations

import asyncio
import time

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_baseline, run_child, run_pair
from ._pubsub import Tick, baseline_seconds, handler
from ._results import Metric, ScenarioResult

POINTS = (1, 10, 100, 1_000, 10_000, 100_000)
QUICK_MAX_POINT = 10_000  # below FULL_SCALE messages, points stop here
FULL_SCALE = 100_000
PATTERNS_PER_DECOY = 1_000
ROTATING_TOPICS = 8_192  # twice the router's route cache


class Leaf(actorbus.Actor):
    """An actor with an empty handler on a topic of its own."""

    subscribe = ("scale.{name}",)

    async def on_tick(self, msg: Tick, ctx: actorbus.Context) -> None:
        return None


def points(messages: int) -> tuple[int, ...]:
    """Return the curve points for workload scale ``messages``."""
    top = POINTS[-1] if messages >= FULL_SCALE else QUICK_MAX_POINT
    return tuple(p for p in POINTS if p <= top)


# -- actors -------------------------------------------------------------------------


def _targets(actors: int, spread: bool, count: int) -> list[int]:
    return [i % actors for i in range(count)] if spread else [0] * count


async def _publish(bus: actorbus.Bus, topics: list[str], targets: list[int], msg: Tick) -> None:
    for t in targets:
        await bus.publish(topics[t], msg)
    await bus.drain()


async def actors_seconds(actors: int, count: int, spread: bool) -> tuple[float, float]:
    """Time ``count`` publishes over ``actors`` actors; return (seconds, spawn seconds)."""
    msg = Tick(n=0)
    topics = [f"scale.leaf-{i}" for i in range(actors)]
    async with actorbus.Bus() as bus:
        began = time.perf_counter()
        for i in range(actors):
            await bus.spawn(Leaf, name=f"leaf-{i}")
        spawn = time.perf_counter() - began
        await _publish(bus, topics, _targets(actors, spread, count // 10), msg)  # warm-up
        targets = _targets(actors, spread, count)
        collect()
        start = time.perf_counter()
        await _publish(bus, topics, targets, msg)
        seconds = time.perf_counter() - start
        handled = sum(a.handled for a in bus.statistics().actors.values())
    if handled != count + count // 10:
        raise RuntimeError(f"{handled} messages handled, expected {count + count // 10}")
    return seconds, spawn


class Consumers:
    """One always-running consumer task per queue, and a count of what they handled."""

    def __init__(self, queues: list[asyncio.Queue[Tick]]) -> None:
        self.queues = queues
        self.remaining = 0
        self.done = asyncio.Event()
        self.tasks = [asyncio.create_task(self._consume(q)) for q in queues]

    async def _consume(self, queue: asyncio.Queue[Tick]) -> None:
        while True:
            m = await queue.get()
            await handler(m)
            self.remaining -= 1
            if not self.remaining:
                self.done.set()

    async def hand_off(self, targets: list[int]) -> float:
        """Time putting a message in each target's queue until all are handled."""
        msg, queues = Tick(n=0), self.queues
        self.remaining = len(targets)
        self.done.clear()
        collect()
        start = time.perf_counter()
        for t in targets:
            await queues[t].put(msg)
        await self.done.wait()
        return time.perf_counter() - start

    async def aclose(self) -> None:
        """Stop the consumers."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def raw_actors_seconds(actors: int, count: int, spread: bool) -> float:
    """Time ``count`` messages over ``actors`` queues and consumer tasks; return seconds."""
    size = actorbus.DEFAULT_MAILBOX_SIZE
    consumers = Consumers([asyncio.Queue(size) for _ in range(actors)])
    try:
        await consumers.hand_off(_targets(actors, spread, count // 10))  # warm-up
        return await consumers.hand_off(_targets(actors, spread, count))
    finally:
        await consumers.aclose()


# -- subscriptions ------------------------------------------------------------------


def decoy_patterns(count: int) -> list[str]:
    """Return ``count`` patterns near ``bench.scale.*`` topics that match none of them."""
    forms = ("bench.scale.c{}", "bench.*.c{}", "*.scale.c{}", "other{}.>", "bench.scale.c{}.>")
    return [forms[i % len(forms)].format(i) for i in range(count)]


def _topics(cached: bool, count: int) -> list[str]:
    if cached:
        return ["bench.scale.hot"] * count
    return [f"bench.scale.t{i % ROTATING_TOPICS}" for i in range(count)]


async def _publish_topics(bus: actorbus.Bus, topics: list[str], msg: Tick) -> None:
    for topic in topics:
        await bus.publish(topic, msg)
    await bus.drain()


async def subscriptions_seconds(patterns: int, count: int, cached: bool) -> float:
    """Time ``count`` publishes to one Sink among ``patterns`` decoys; return seconds."""
    msg = Tick(n=0)
    decoys = decoy_patterns(patterns)
    async with actorbus.Bus() as bus:
        for i in range(0, patterns, PATTERNS_PER_DECOY):
            chunk = decoys[i : i + PATTERNS_PER_DECOY]
            await bus.spawn(Leaf, name=f"decoy-{i}", subscribe=chunk)
        await bus.spawn(Leaf, name="sink", subscribe=["bench.scale.*"])
        await _publish_topics(bus, _topics(cached, count // 10), msg)  # warm-up
        topics = _topics(cached, count)
        collect()
        start = time.perf_counter()
        await _publish_topics(bus, topics, msg)
        seconds = time.perf_counter() - start
        stats = bus.statistics().actors
    stray = sum(a.handled for name, a in stats.items() if name != "sink")
    if stats["sink"].handled != count + count // 10 or stray:
        raise RuntimeError(f"sink handled {stats['sink'].handled}, decoys {stray}")
    return seconds


# -- measuring ----------------------------------------------------------------------


def _many(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _actor_metric(
    args: ChildArgs, actors: int, count: int, spread: bool, extra: dict[str, float]
) -> Metric:
    n = max(count, actors) if spread else count
    (ours, spawn), (raw, _) = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: actors_seconds(actors, n, spread)),
        lambda: (run_baseline(lambda: raw_actors_seconds(actors, n, spread)), 0.0),
    )
    extra[f"spawn_seconds_n{actors}"] = spawn
    variant, how = ("spread", "message i to actor i mod A") if spread else ("one", "all to one")
    return Metric(
        name=f"actors_{variant}_n{actors}",
        label=f"{_many(actors, 'actor')}, {how} (raw: {_many(actors, 'queue')}, a task each)",
        unit="msgs/s",
        better="higher",
        actorbus=n / ours,
        baseline=n / raw,
    )


def _subscription_metric(args: ChildArgs, patterns: int, count: int, cached: bool) -> Metric:
    ours, raw = run_pair(
        args.repeat_index,
        lambda: run_actorbus(args.backend, lambda: subscriptions_seconds(patterns, count, cached)),
        lambda: run_baseline(lambda: baseline_seconds(count, count // 10, 1)),
    )
    variant = "cached" if cached else "uncached"
    how = "one topic" if cached else f"{ROTATING_TOPICS:,} rotating topics"
    return Metric(
        name=f"subs_{variant}_n{patterns}",
        label=f"{_many(patterns, 'unrelated pattern')}, {how} (raw: one queue)",
        unit="msgs/s",
        better="higher",
        actorbus=count / ours,
        baseline=count / raw,
    )


def measure(args: ChildArgs) -> ScenarioResult:
    """Measure every point of both curves on both sides."""
    count = max(100, args.messages // 4)
    curve = points(args.messages)
    metrics: list[Metric] = []
    extra: dict[str, float] = {}
    for actors in curve:
        metrics += [_actor_metric(args, actors, count, s, extra) for s in (False, True)]
    for patterns in curve:
        metrics += [_subscription_metric(args, patterns, count, c) for c in (True, False)]
    workload = {"messages_per_point": count, "largest_point": curve[-1]}
    title = "scaling: actors and subscriptions"
    return ScenarioResult("scaling", title, args.backend, workload, metrics, extra)


if __name__ == "__main__":
    run_child(measure)
