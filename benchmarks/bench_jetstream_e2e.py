"""JetStream end to end: a bus on a ``JetStreamLog`` and one actor, against raw nats-py.

One ``NatsServer`` (``actorbus.testing``; file storage, ``sync_interval: always``)
serves both sides, each on a stream of its own with the same configuration. The
bus is used through its public API only (``Bus(log=JetStreamLog(...))``,
``spawn``, ``publish``, a handler), so this measures however the bus delivers.

actorbus: one actor (``Handler``) subscribed to the topic; its handler notes the
message as handled. raw nats-py: ``js.publish`` (same msgpack bytes, a fresh
``Nats-Msg-Id``), and one task reading a durable pull consumer on the stream:
``msgs = await sub.fetch(batch)``, then for each message the same handler work
and ``await msg.ack()``. It asks for at most 100 messages and at most as many as
it still expects, so the last fetch of a run does not wait out its timeout for a
full batch.

Two measurements per side, one after the other on the same bus (or consumer):

* 1->1 handled msgs/s: 100 tasks each publishing M/100 messages (each publish
  awaits its PubAck); the clock stops when the handler handles the M-th message
  (it sets an event), never after a sleep. The same run notes each message's
  publish-to-handle latency under that load (actorbus: ``time.time() -
  ctx.envelope.timestamp``; raw: the same against a ``Sent`` header), reported
  as p50/p99.
* publish-to-handle latency, one message at a time: publish, wait until the
  handler has it, then the next; ``time.perf_counter`` around both, p50/p99 of L
  round trips.

Sizes: M = N/40 (5,000 at the default N) after an untimed warm-up of M/10, and L
= max(50, N/400) round trips (500) after 10 untimed ones. Which side goes first
alternates with the repeat. JetStreamLog needs asyncio: this scenario always
runs on asyncio. No target.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext

import actorbus
from actorbus.testing import NatsServer

from ._child import ChildArgs, collect, percentile, run_baseline, run_child, run_pair
from ._jetstream import Handled, Tick, add_stream, concurrently, raw_headers, raw_payload
from ._results import Metric, ScenarioResult

TOPIC = "bench.jetstream.e2e"
PUBLISHERS = 100
DIVISOR = 40  # M = N / DIVISOR messages per side
LATENCY_DIVISOR = 400  # L = N / LATENCY_DIVISOR round trips, at least MIN_ROUND_TRIPS
MIN_ROUND_TRIPS = 50
LATENCY_WARMUP = 10
FETCH_BATCH = 100
FETCH_TIMEOUT = 5.0
DEADLINE = 120.0  # seconds a run may wait for its handler before it fails

Figures = tuple[float, list[float], list[float]]
"""(handled msgs/s, latencies under load, latencies one at a time), in seconds."""


def sizes(messages: int) -> tuple[int, int, int]:
    """Return (timed messages, warm-up messages, round trips)."""
    count = max(PUBLISHERS, messages // DIVISOR // PUBLISHERS * PUBLISHERS)
    warmup = max(PUBLISHERS, count // 10 // PUBLISHERS * PUBLISHERS)
    return count, warmup, max(MIN_ROUND_TRIPS, messages // LATENCY_DIVISOR)


async def _measure(
    publish: Callable[[], Awaitable[object]], handled: Handled, count: int, warmup: int, trips: int
) -> Figures:
    """Time the 1->1 run, then the one-at-a-time round trips, on a ready handler."""
    handled.expect(warmup)
    await concurrently(publish, warmup, PUBLISHERS)
    await handled.wait(DEADLINE)
    handled.expect(count)
    collect()
    start = time.perf_counter()
    await concurrently(publish, count, PUBLISHERS)
    await handled.wait(DEADLINE)
    rate = count / (time.perf_counter() - start)
    loaded = handled.latencies
    single: list[float] = []
    for _ in range(LATENCY_WARMUP + trips):
        handled.expect(1)
        began = time.perf_counter()
        await publish()
        await handled.wait(DEADLINE)
        single.append(time.perf_counter() - began)
    return rate, loaded, single[LATENCY_WARMUP:]


class Handler(actorbus.Actor):
    """Notes each message as handled, with how long after its publish that was."""

    subscribe = (TOPIC,)

    def __init__(self, handled: Handled) -> None:
        self.handled = handled

    async def on_tick(self, msg: Tick, ctx: actorbus.Context) -> None:
        self.handled.handled(time.time() - ctx.envelope.timestamp)


async def actorbus_side(url: str, stream: str, count: int, warmup: int, trips: int) -> Figures:
    """The bus with one actor: 1->1 handled msgs/s and latencies."""
    msg, handled = Tick(n=0), Handled()
    log = actorbus.JetStreamLog(url, stream=stream, subject_prefix=stream.lower())
    async with actorbus.Bus(log=log) as bus:
        await bus.spawn(Handler, handled, name="handler")

        def publish() -> Awaitable[actorbus.Receipt]:
            return bus.publish(TOPIC, msg)

        return await _measure(publish, handled, count, warmup, trips)


async def _consume(sub: JetStreamContext.PullSubscription, handled: Handled) -> None:
    """Fetch, handle and ack each message, until cancelled."""
    while True:
        want = max(1, min(FETCH_BATCH, handled.remaining()))
        try:
            msgs: list[Msg] = await sub.fetch(want, timeout=FETCH_TIMEOUT)
        except TimeoutError:  # nothing to fetch yet (nats-py's errors subclass it)
            continue
        for m in msgs:
            handled.handled(time.time() - float((m.headers or {})["Sent"]))
            await m.ack()


async def raw_side(url: str, stream: str, count: int, warmup: int, trips: int) -> Figures:
    """nats-py: js.publish, and a durable pull consumer that fetches, handles and acks."""
    client = await nats.connect(url)
    handled = Handled()
    try:
        js = client.jetstream()
        subject = f"{await add_stream(js, stream)}.{TOPIC}"
        sub = await js.pull_subscribe(subject, durable="handler", stream=stream)
        payload, headers = raw_payload(), raw_headers(sent=True)

        def publish() -> Awaitable[object]:
            return js.publish(subject, payload, headers=headers())

        async with anyio.create_task_group() as tg:
            tg.start_soon(_consume, sub, handled)
            figures = await _measure(publish, handled, count, warmup, trips)
            tg.cancel_scope.cancel()
        return figures
    finally:
        await client.close()


def _metrics(pair: tuple[Figures, Figures]) -> list[Metric]:
    (ours, ours_loaded, ours_single), (raw, raw_loaded, raw_single) = pair
    metrics = [
        Metric(
            name="e2e_rate_p100",
            label="1->1 handled, 100 publishers (raw: js.publish + durable pull consumer)",
            unit="msgs/s",
            better="higher",
            actorbus=ours,
            baseline=raw,
        )
    ]
    for key, what, mine, theirs in (
        ("loaded", "under load, 100 publishers", ours_loaded, raw_loaded),
        ("single", "one message at a time", ours_single, raw_single),
    ):
        metrics.extend(
            Metric(
                name=f"e2e_{key}_p{pct}",
                label=f"publish-to-handle latency p{pct}, {what}",
                unit="ms",
                better="lower",
                actorbus=percentile(mine, pct) * 1000,
                baseline=percentile(theirs, pct) * 1000,
            )
            for pct in (50, 99)
        )
    return metrics


def measure(args: ChildArgs) -> ScenarioResult:
    """Run the bus and raw nats-py end to end against one server."""
    count, warmup, trips = sizes(args.messages)
    with NatsServer() as server:
        url = server.url
        pair = run_pair(
            args.repeat_index,
            lambda: run_baseline(lambda: actorbus_side(url, "AB", count, warmup, trips)),
            lambda: run_baseline(lambda: raw_side(url, "RAW", count, warmup, trips)),
        )
    workload = {"messages": count, "warmup": warmup, "publishers": PUBLISHERS, "round_trips": trips}
    title = "JetStreamLog end to end"
    return ScenarioResult("jetstream-e2e", title, "asyncio", workload, metrics=_metrics(pair))


if __name__ == "__main__":
    run_child(measure)
