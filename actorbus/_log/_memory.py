"""`MemoryLog`: the in-process event log, the default when durability is not needed.

It keeps the seq counter, the dedup window, the consumers' cursors and the most
recent records (``retain`` of them, for `read`). It does everything at once, so the
bus publishes through it without a suspension point. Nothing survives the process.
"""

from __future__ import annotations

from collections import deque
from typing import final

from .._errors import LogTruncated
from .._ids import SEQ_OFFSET, id_prefix, is_log_id
from .._message import Envelope, Receipt
from ._dedup import DedupWindow

__all__ = ["MemoryLog"]


@final
class MemoryLog:
    """An event log held in memory.

    Args:
        retain: how many of the newest records `read` can return; older ones are
            let go so a long run keeps its memory bounded.
        dedup_window: seconds an id is remembered for de-duplication.
        dedup_entries: how many ids are remembered at most.

    Version added: 0.1
    """

    __slots__ = ("_cursors", "_dedup", "_prefix", "_records", "_seq")

    def __init__(
        self,
        *,
        retain: int = 10_000,
        dedup_window: float = 120.0,
        dedup_entries: int = 100_000,
    ) -> None:
        if retain < 0:
            raise ValueError(f"retain must be 0 or more records, got {retain}")
        if not dedup_window > 0:
            raise ValueError(f"dedup_window must be positive seconds, got {dedup_window}")
        if dedup_entries < 1:
            raise ValueError(f"dedup_entries must be at least 1, got {dedup_entries}")
        self._seq = 0
        self._prefix = id_prefix()
        self._dedup = DedupWindow(dedup_entries, dedup_window)
        self._records: deque[Envelope] = deque(maxlen=retain)
        self._cursors: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"MemoryLog(last_seq={self._seq}, retained={len(self._records)})"

    async def open(self) -> None:
        """Nothing to open: a memory log is ready when made."""

    async def aclose(self) -> None:
        """Nothing to release."""

    @property
    def last_seq(self) -> int:
        """The seq of the newest record (0 for an empty log)."""
        return self._seq

    @property
    def first_seq(self) -> int:
        """The seq of the oldest record still retained (``last_seq + 1`` if none)."""
        return self._records[0].seq if self._records else self._seq + 1

    def append_nowait(self, env: Envelope) -> Receipt:
        """Append ``env`` at once; see `EventLog.append`."""
        seq = self._seq + 1
        msg_id = env.id
        window = self._dedup
        if msg_id:
            original = self._own_seq(msg_id, env.timestamp)
            if original is None:
                original = window.check(msg_id, seq, env.timestamp)
            if original is not None:
                return Receipt(original, msg_id, True)
        else:
            env.id = msg_id = self._prefix + str(seq + SEQ_OFFSET)
            if env.timestamp >= window.next_mark:
                window.note(seq, env.timestamp)
            else:
                window.last_seq = seq
        self._seq = env.seq = seq
        self._records.append(env)
        return Receipt(seq, msg_id, False)

    def _own_seq(self, msg_id: str, now: float) -> int | None:
        # A caller may pass back an id this log generated: it is a duplicate if
        # its seq is still inside the window. An id of this log's shape for a seq
        # not appended yet would later collide with a generated one: refused.
        seq = is_log_id(msg_id, self._prefix)
        if seq is None:
            return None
        if seq > self._seq:
            raise ValueError(
                f"key {msg_id!r} has the shape of an id this log generates, for a message "
                "it has not appended; pick a key of your own, or actorbus.new_id()"
            )
        return seq if self._dedup.covers(seq, now) else None

    async def append(self, env: Envelope) -> Receipt:
        """See `EventLog.append`."""
        return self.append_nowait(env)

    async def read(self, from_seq: int, limit: int = 1000) -> list[Envelope]:
        """See `EventLog.read`."""
        first = self.first_seq
        if from_seq < first and from_seq <= self._seq:
            if from_seq < 1 and first == 1:
                from_seq = 1
            else:
                raise LogTruncated(from_seq, first)
        start = from_seq - first
        records = self._records
        return [records[i] for i in range(start, min(start + limit, len(records)))]

    async def cursor(self, consumer: str) -> int:
        """See `EventLog.cursor`."""
        return self._cursors.get(consumer, 0)

    def commit_cursor_nowait(self, consumer: str, seq: int) -> None:
        """Commit a cursor at once; see `EventLog.commit_cursor`."""
        self._cursors[consumer] = seq

    async def commit_cursor(self, consumer: str, seq: int) -> None:
        """See `EventLog.commit_cursor`."""
        self._cursors[consumer] = seq
