"""`ActorRef`: the handle `Bus.spawn` returns."""

from __future__ import annotations

from typing import Generic, TypeVar, final

from .._actor import Actor, Cell
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

    __slots__ = ("_cell", "actor", "name")

    def __init__(self, cell: Cell, actor: A) -> None:
        self._cell = cell
        self.actor = actor
        self.name = cell.name

    def __repr__(self) -> str:
        return f"ActorRef(name={self.name!r}, actor={type(self.actor).__qualname__})"

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of this actor's counters."""
        return actor_statistics(self._cell)


def actor_statistics(cell: Cell) -> ActorStatistics:
    return ActorStatistics(
        name=cell.name,
        mailbox_depth=len(cell),
        mailbox_size=cell.size,
        handled=cell.handled,
        failed=cell.failed,
        retried=cell.retried,
        dead_lettered=cell.dead_lettered,
        dropped=cell.dropped,
        cursor=cell.cursor,
        busy=cell.busy,
    )
