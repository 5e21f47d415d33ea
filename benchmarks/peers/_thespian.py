"""thespian: an ``ActorSystem`` on ``simpleSystemBase``, thespian's fastest base.

``simpleSystemBase`` runs every actor in the caller's thread: ``tell`` and ``ask``
deliver the message and run the handlers before they return, with no thread or
process hand-off. The concurrent bases (``multiprocQueueBase``,
``multiprocTCPBase``) put each actor in its own OS process and every message
through a pipe or socket, which is far slower for this in-process work. Actors
subclass ``Actor`` and handle messages in ``receiveMessage``; there is no pub/sub,
so the fan-out sends to each actor in turn.
"""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import Actor, ActorAddress, ActorSystem

from ._work import FANOUT, PONG, Ping, Tick, TracedGrowth, collect

__all__ = ["DIST", "HOW", "NAME", "ask", "fan_out", "idle_actors", "one_to_one"]

NAME = "thespian"
DIST = "thespian"
BASE = "simpleSystemBase"
_TIMEOUT = 60.0
HOW = {
    "throughput": f"`ActorSystem('{BASE}')` (runs actors in the caller's thread, its fastest "
    "base); `asys.tell(addr, msg)` N times, then one `asys.ask`",
    "fanout": f"`ActorSystem('{BASE}')`, 10 actors; each message `tell`-ed to each address "
    "in turn (no pub/sub), then one `ask` per actor",
    "ask": f"`asys.ask(addr, msg, timeout)` on `{BASE}`; the actor's `receiveMessage` "
    "does `self.send(sender, reply)`",
    "actors": f"N `asys.createActor(cls)` on `{BASE}`, one `tell` each, one `ask` each",
}

_DONE = "done"


class Sink(Actor):  # type: ignore[misc]
    """Does nothing with a message; answers the final ask."""

    def receiveMessage(self, message: Any, sender: ActorAddress) -> None:
        if message == _DONE:
            self.send(sender, _DONE)


class Echo(Actor):  # type: ignore[misc]
    """Answers every Ping with the same Pong."""

    def receiveMessage(self, message: Any, sender: ActorAddress) -> None:
        if isinstance(message, Ping):
            self.send(sender, PONG)


def _system() -> Any:
    return ActorSystem(BASE, logDefs=False)


def _send(asys: Any, addrs: list[Any], msg: Tick, count: int) -> None:
    for _ in range(count):
        for addr in addrs:
            asys.tell(addr, msg)
    for addr in addrs:
        if asys.ask(addr, _DONE, _TIMEOUT) != _DONE:
            raise RuntimeError("thespian actor did not answer")


def _timed_sends(actors: int, count: int, warmup: int) -> float:
    asys = _system()
    try:
        addrs = [asys.createActor(Sink) for _ in range(actors)]
        msg = Tick(n=0)
        _send(asys, addrs, msg, warmup)
        collect()
        start = time.perf_counter()
        _send(asys, addrs, msg, count)
        return time.perf_counter() - start
    finally:
        asys.shutdown()


def one_to_one(count: int, warmup: int) -> float:
    """Seconds for ``count`` tells to one actor, until handled."""
    return _timed_sends(1, count, warmup)


def fan_out(publishes: int, warmup: int) -> float:
    """Seconds for ``publishes`` messages told to each of 10 actors, until handled."""
    return _timed_sends(FANOUT, publishes, warmup)


def _round_trips(asys: Any, addr: Any, msg: Ping, count: int) -> list[float]:
    clock = time.perf_counter
    samples = [0.0] * count
    for i in range(count):
        start = clock()
        asys.ask(addr, msg, _TIMEOUT)
        samples[i] = clock() - start
    return samples


def ask(count: int, warmup: int) -> list[float]:
    """Seconds of each of ``count`` sequential asks, after ``warmup`` untimed ones."""
    asys = _system()
    try:
        addr = asys.createActor(Echo)
        msg = Ping(n=0)
        _round_trips(asys, addr, msg, warmup)
        collect()
        return _round_trips(asys, addr, msg, count)
    finally:
        asys.shutdown()


def _idle(asys: Any, count: int) -> list[Any]:
    addrs = [asys.createActor(Sink) for _ in range(count)]
    for i, addr in enumerate(addrs):
        asys.tell(addr, Ping(n=i))
    for addr in addrs:
        asys.ask(addr, _DONE, _TIMEOUT)
    return addrs


def idle_actors(count: int) -> float:
    """Traced bytes per idle actor, ``count`` actors each sent one message."""
    warm = _system()
    _idle(warm, 10)
    warm.shutdown()
    asys = _system()
    try:
        with TracedGrowth() as growth:
            addrs = _idle(asys, count)
            per_actor = growth.per_actor(count)
        del addrs
        return per_actor
    finally:
        asys.shutdown()
