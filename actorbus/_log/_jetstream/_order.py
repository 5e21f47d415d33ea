"""`InOrder`: hands out stored records in seq order, whatever order their acks arrive in.

Pure, no I/O. JetStream answers each publish with the seq it stored the record
at; answers to concurrent publishes may come back out of order (a publish resent
after a reconnect gets its answer late), and a seq may belong to no publish of
this process (another publisher, or a publish whose answer never came). The bus
must see records in seq order, so each stored record waits here until every
lower seq has been released or skipped.

`can_be_ours` tells which seqs a publish still waiting for its answer might own:
a publish sent when the highest seq known stored was ``floor`` can only be
stored above it. When the lowest missing seq is at or below every waiting
publish's floor, no publish of this process will ever fill it, and the log reads
it from the stream instead (or skips it if it was deleted).
"""

from __future__ import annotations

from typing import Generic, TypeVar, final

__all__ = ["InOrder"]

T = TypeVar("T")


@final
class InOrder(Generic[T]):
    """Releases items by consecutive seq, from ``next_seq`` on.

    Args:
        released: the highest seq already released (the stream's last seq on open).
    """

    __slots__ = ("_held", "next_seq")

    def __init__(self, released: int = 0) -> None:
        self.next_seq = released + 1
        """The lowest seq not released yet."""
        self._held: dict[int, T | None] = {}

    @property
    def released(self) -> int:
        """The highest seq released (or skipped)."""
        return self.next_seq - 1

    @property
    def blocked(self) -> bool:
        """Whether items wait for a lower seq that has not arrived."""
        return bool(self._held)

    def add(self, seq: int, item: T | None) -> list[T]:
        """Hold ``item`` at ``seq`` (None: skip the seq); return what can now be released.

        A seq already released, or already held, is ignored.
        """
        if seq != self.next_seq:
            if seq > self.next_seq:
                self._held.setdefault(seq, item)
            return []
        self.next_seq = seq + 1
        out = [] if item is None else [item]
        held = self._held
        while held and self.next_seq in held:
            follower = held.pop(self.next_seq)
            self.next_seq += 1
            if follower is not None:
                out.append(follower)
        return out
