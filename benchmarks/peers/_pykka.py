"""pykka: ``ThreadingActor`` (pykka's default runtime: one OS thread per actor).

Driven through ``ActorRef.tell`` and ``ActorRef.ask`` (``ask`` blocks for the
reply), pykka's plain message API; the typed ``proxy()`` layer adds a future and a
method lookup per call, so it is slower and is not used. ``on_receive`` is the
handler. A final ``ask`` to each actor waits until its inbox has drained, since
an inbox is first in, first out.
"""

from __future__ import annotations

import time
from typing import Any

import pykka

from ._work import FANOUT, PONG, Ping, Tick, TracedGrowth, collect

__all__ = ["DIST", "HOW", "NAME", "ask", "fan_out", "idle_actors", "one_to_one"]

NAME = "pykka"
DIST = "pykka"
HOW = {
    "throughput": "`ThreadingActor`; `ref.tell(msg)` N times, then one `ref.ask` waits "
    "for the inbox to drain",
    "fanout": "10 `ThreadingActor`s; each message `tell`-ed to each ref in turn (pykka has "
    "no pub/sub), then one `ask` per actor",
    "ask": "`ref.ask(msg)` (blocking) to a `ThreadingActor` whose `on_receive` returns the "
    "reply; `tell`/`ask` rather than the slower `proxy()`",
    "actors": "N `ThreadingActor.start()`, one `tell` each, one `ask` each to wait; each "
    "actor is an OS thread whose stack tracemalloc does not see",
}

_DONE = "done"


class Sink(pykka.ThreadingActor):
    """Handles every message by doing nothing; answers the final ask."""

    def on_receive(self, message: Any) -> Any:
        return None


class Echo(pykka.ThreadingActor):
    """Answers every Ping with the same Pong."""

    def on_receive(self, message: Any) -> Any:
        return PONG


def _send(refs: list[pykka.ActorRef[Any]], msg: Tick, count: int) -> None:
    for _ in range(count):
        for ref in refs:
            ref.tell(msg)
    for ref in refs:
        ref.ask(_DONE)


def _timed_sends(actors: int, count: int, warmup: int) -> float:
    refs = [Sink.start() for _ in range(actors)]
    try:
        msg = Tick(n=0)
        _send(refs, msg, warmup)
        collect()
        start = time.perf_counter()
        _send(refs, msg, count)
        return time.perf_counter() - start
    finally:
        pykka.ActorRegistry.stop_all()


def one_to_one(count: int, warmup: int) -> float:
    """Seconds for ``count`` tells to one actor, until handled."""
    return _timed_sends(1, count, warmup)


def fan_out(publishes: int, warmup: int) -> float:
    """Seconds for ``publishes`` messages told to each of 10 actors, until handled."""
    return _timed_sends(FANOUT, publishes, warmup)


def _round_trips(ref: pykka.ActorRef[Any], msg: Ping, count: int) -> list[float]:
    clock = time.perf_counter
    samples = [0.0] * count
    for i in range(count):
        start = clock()
        ref.ask(msg)
        samples[i] = clock() - start
    return samples


def ask(count: int, warmup: int) -> list[float]:
    """Seconds of each of ``count`` sequential asks, after ``warmup`` untimed ones."""
    ref = Echo.start()
    try:
        msg = Ping(n=0)
        _round_trips(ref, msg, warmup)
        collect()
        return _round_trips(ref, msg, count)
    finally:
        pykka.ActorRegistry.stop_all()


def _idle(count: int) -> list[pykka.ActorRef[Any]]:
    refs = [Sink.start() for _ in range(count)]
    for i, ref in enumerate(refs):
        ref.tell(Ping(n=i))
    for ref in refs:
        ref.ask(_DONE)
    return refs


def idle_actors(count: int) -> float:
    """Traced bytes per idle actor, ``count`` actors each sent one message."""
    _idle(10)
    pykka.ActorRegistry.stop_all()
    try:
        with TracedGrowth() as growth:
            refs = _idle(count)
            per_actor = growth.per_actor(count)
        del refs
        return per_actor
    finally:
        pykka.ActorRegistry.stop_all()
