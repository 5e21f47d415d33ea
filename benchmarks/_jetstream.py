"""What the JetStream scenarios share: the message, concurrent publishing, raw streams.

Both sides of a JetStream scenario run against one ``NatsServer`` and each gets a
stream of its own with the same configuration (file storage, limits retention, a
120 s duplicate window), so neither sees the other's records. Raw publishes carry
the same msgpack bytes the bus would and a fresh ``Nats-Msg-Id`` each, so the
server does the same dedup work for both.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable

import anyio
import msgspec
from nats.js import JetStreamContext

import actorbus

__all__ = ["Handled", "Tick", "add_stream", "concurrently", "raw_headers", "raw_payload"]


class Tick(actorbus.Message):
    """The message published; one instance is reused."""

    n: int


async def concurrently(publish: Callable[[], Awaitable[object]], count: int, tasks: int) -> float:
    """Make ``count`` awaited ``publish()`` calls from ``tasks`` tasks; return the seconds taken."""
    tasks = max(1, min(tasks, count))
    share, extra = divmod(count, tasks)

    async def loop(n: int) -> None:
        for _ in range(n):
            await publish()

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(tasks):
            tg.start_soon(loop, share + (i < extra))
    return time.perf_counter() - start


async def add_stream(js: JetStreamContext, stream: str) -> str:
    """Create ``stream`` (subjects ``<stream lower>.>``) as the bus would; return its prefix."""
    prefix = stream.lower()
    await js.add_stream(name=stream, subjects=[f"{prefix}.>"], duplicate_window=120.0)
    return prefix


def raw_payload() -> bytes:
    """The bytes a raw publish carries: the bench message, msgpack-encoded like the log does."""
    return msgspec.msgpack.encode(Tick(n=0))


def raw_headers(*, sent: bool = False) -> Callable[[], dict[str, str]]:
    """Return a maker of raw publish headers: a fresh ``Nats-Msg-Id`` (and the send time)."""
    ids = itertools.count()

    def make() -> dict[str, str]:
        headers = {"Nats-Msg-Id": f"raw-{next(ids)}"}
        if sent:
            headers["Sent"] = repr(time.time())
        return headers

    return make


class Handled:
    """Counts the messages a handler has handled; an event fires at the expected count.

    The clock of an end-to-end run stops when the handler itself handles the last
    message it was told to expect, not after a sleep or a poll.
    """

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.reached = anyio.Event()
        self.latencies: list[float] = []

    def expect(self, count: int) -> None:
        """Start counting afresh: `reached` fires once ``count`` more messages are handled."""
        self.count, self.target, self.reached = 0, count, anyio.Event()
        self.latencies = []

    def remaining(self) -> int:
        """How many expected messages are still to be handled."""
        return self.target - self.count

    def handled(self, latency: float) -> None:
        """Note one handled message and how long after its publish it was handled."""
        self.latencies.append(latency)
        self.count += 1
        if self.count == self.target:
            self.reached.set()

    async def wait(self, timeout: float) -> None:
        """Wait until every expected message is handled, or fail after ``timeout`` seconds."""
        with anyio.fail_after(timeout):
            await self.reached.wait()
