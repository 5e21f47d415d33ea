"""`ActorRef`: the handle `Bus.spawn` returns."""

from __future__ import annotations

from typing import Generic, TypeVar, final

from .._actor import Actor, Cell, time_summary
from .._log import EventLog
from ._stats import ActorStatistics

__all__ = ["ActorRef", "actor_statistics"]

A = TypeVar("A", bound=Actor)


@final
class ActorRef(Generic[A]):
    """A handle on a spawned actor.

    Attributes:
        name: the actor's name on its bus.
        actor: the actor object itself.
    """

    __slots__ = ("_cell", "_log", "actor", "name")

    def __init__(self, cell: Cell, actor: A, log: EventLog) -> None:
        self._cell = cell
        self._log = log
        self.actor = actor
        self.name = cell.name

    def __repr__(self) -> str:
        return f"ActorRef(name={self.name!r}, actor={type(self.actor).__qualname__})"

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of this actor's counters."""
        return actor_statistics(self._cell, self._log.last_seq)


def actor_statistics(cell: Cell, last_seq: int) -> ActorStatistics:
    """Return ``cell``'s counters; ``last_seq`` is the log's newest seq (for the lag)."""
    depth = len(cell)
    working = cell.busy or depth > 0
    timed, p50, p90, p99, longest = time_summary(cell.times)
    return ActorStatistics(
        name=cell.name,
        mailbox_depth=depth,
        mailbox_size=cell.size,
        handled=cell.handled,
        failed=cell.failed,
        retried=cell.retried,
        dead_lettered=cell.dead_lettered,
        dropped=cell.dropped,
        cursor=cell.cursor,
        busy=cell.busy,
        cursor_lag=max(0, last_seq - cell.cursor) if working else 0,
        timed=timed,
        handler_p50=p50,
        handler_p90=p90,
        handler_p99=p99,
        handler_max=longest,
    )
