"""`MemoryLog`: the in-process event log, the default when durability is not needed.

It keeps the seq counter, the dedup window, the consumers' cursors and the most
recent records (``retain`` of them, for `read`). It does everything at once, so the
bus publishes through it without a suspension point. Nothing survives the process.
"""

from __future__ import annotations

from collections import deque
from typing import final

from .._errors import LogTruncated
from .._message import Envelope, Receipt
from ._admit import Admission
from ._memory_reader import MemoryReader

__all__ = ["MemoryLog"]


@final
class MemoryLog(Admission):
    """An event log held in memory.

    Args:
        retain: how many of the newest records `read` can return; older ones are
            let go so a long run keeps its memory bounded.
        dedup_window: seconds an id is remembered for de-duplication.
        dedup_entries: how many ids are remembered at most.

    Version added: 0.1
    """

    __slots__ = ("_cursors", "_journal")

    def __init__(
        self,
        *,
        retain: int = 10_000,
        dedup_window: float = 120.0,
        dedup_entries: int = 100_000,
    ) -> None:
        if retain < 0:
            raise ValueError(f"retain must be 0 or more records, got {retain}")
        super().__init__(deque(maxlen=retain), dedup_entries, dedup_window)
        self._cursors: dict[str, int] = {}
        self._journal: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"MemoryLog(last_seq={self._seq}, retained={len(self._records)})"

    async def open(self) -> None:
        """Nothing to open: a memory log is ready when made."""

    async def aclose(self) -> None:
        """Nothing to release."""

    @property
    def first_seq(self) -> int:
        """The seq of the oldest record still retained (``last_seq + 1`` if none)."""
        return self._records[0].seq if self._records else self._seq + 1

    append_nowait = Admission.admit
    """Append ``env`` at once; see `EventLog.append`."""

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

    async def journal_get(self, key: str) -> bytes | None:
        """See `EventLog.journal_get`."""
        return self._journal.get(key)

    async def journal_put(self, key: str, value: bytes) -> None:
        """See `EventLog.journal_put`."""
        self._journal.setdefault(key, value)

    def reader(self) -> MemoryReader:
        """Return a `LogReader` of the records this log retains, its cursors and journal.

        It reads this log's own memory, so it sees each append at once.
        """
        return MemoryReader(self._records, self._cursors, self._journal, lambda: self._seq)
