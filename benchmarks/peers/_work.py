"""What every peer does: the workload sizes, the messages, and the memory probe.

The sizes are derived from ``--messages`` exactly as the actorbus scenarios derive
theirs (``bench_throughput``, ``bench_fanout``, ``bench_ask``, ``bench_actors``), so
a peer's figure and actorbus's figure measure the same amount of work.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import dataclass

__all__ = [
    "FANOUT",
    "PONG",
    "Ping",
    "Pong",
    "Tick",
    "TracedGrowth",
    "Workload",
    "collect",
    "workload",
]

FANOUT = 10
"""Subscribers in the fan-out scenario."""


@dataclass(frozen=True, slots=True)
class Tick:
    """The message of the 1->1 and fan-out scenarios; one instance is reused."""

    n: int


@dataclass(frozen=True, slots=True)
class Ping:
    """The request of the ask scenario, and the one message each idle actor gets."""

    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    """The reply of the ask scenario; one instance is reused."""

    n: int


PONG = Pong(n=0)
"""The one reply every peer's echo actor returns."""


@dataclass(frozen=True)
class Workload:
    """Sizes for one run, the same as the actorbus scenarios use at this scale."""

    messages: int
    warmup: int
    publishes: int
    publish_warmup: int
    asks: int
    ask_warmup: int
    actors: int


def workload(messages: int) -> Workload:
    """Return the sizes the actorbus scenarios use for ``--messages``."""
    publishes = max(1, messages // FANOUT)
    asks = max(100, messages // 10)
    return Workload(
        messages=messages,
        warmup=max(1, messages // 10),
        publishes=publishes,
        publish_warmup=max(1, publishes // 10),
        asks=asks,
        ask_warmup=max(10, asks // 10),
        actors=max(100, messages // 20),
    )


def collect() -> None:
    """Collect garbage before a timed section (gc stays enabled while timing)."""
    gc.collect()


def _traced() -> int:
    collect()
    return tracemalloc.get_traced_memory()[0]


class TracedGrowth:
    """Traced memory grown inside a ``with`` block, per actor.

    Enter it after a small warm-up run (so lazy imports and caches stay out of the
    figure), start the actors, send each one message, wait until all are handled,
    and call `per_actor` while they are still alive.
    """

    def __enter__(self) -> TracedGrowth:
        tracemalloc.start(1)
        self._before = _traced()
        return self

    def per_actor(self, count: int) -> float:
        """Return the bytes grown since entry, divided by ``count``."""
        return (_traced() - self._before) / count

    def __exit__(self, *exc: object) -> None:
        tracemalloc.stop()
