"""`ActorRef`: the handle `Bus.spawn` returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, final

from .._actor import Actor, Cell, time_summary
from .._log import EventLog
from .._models import Spend
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

    __slots__ = ("_cell", "_log", "_spend", "actor", "name")

    def __init__(
        self, cell: Cell, actor: A, log: EventLog, spend: Callable[[str], Spend | None]
    ) -> None:
        self._cell = cell
        self._log = log
        self._spend = spend  # an actor name -> its model spend so far
        self.actor = actor
        self.name = cell.name

    def __repr__(self) -> str:
        return f"ActorRef(name={self.name!r}, actor={type(self.actor).__qualname__})"

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of this actor's counters."""
        return actor_statistics(self._cell, self._log.last_seq, self._spend(self.name))


def actor_statistics(cell: Cell, last_seq: int, spend: Spend | None) -> ActorStatistics:
    """Return ``cell``'s counters.

    ``last_seq`` is the log's newest seq (for the lag); ``spend`` the actor's model
    calls and tool calls so far (None: it made none).
    """
    depth = len(cell)
    working = cell.busy or depth > 0
    timed, p50, p90, p99, longest = time_summary(cell.times)
    spent = spend if spend is not None else Spend()
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
        model_calls=spent.calls,
        cost=spent.cost,
        unpriced_calls=spent.unpriced_calls,
        tool_calls=spent.tool_calls,
        tool_errors=spent.tool_errors,
    )
