"""`MemoryReader`: a `LogReader` of the records a `MemoryLog` still retains.

For looking into an in-process bus (and for tests of tools built on the reader
protocol). It reads the log's own containers, in the same process and event loop,
with no copy: a record it hands out has its message encoded then (as a durable log
stores it), so records are alike whichever log they come from. Only the newest
``retain`` records are held: older seqs read as missing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import final

from .._codec import MessageCodec
from .._message import Envelope
from ._reading import CountColumn, JournalEntry, JournalPage, RecordFilter, RecordPage
from ._record import LogSummary, Record
from ._scan import checked_column, checked_limit, poll, sorted_counts

__all__ = ["MemoryReader"]

_encode = MessageCodec.encode


def _record(env: Envelope) -> Record:
    return Record(
        env.seq, env.id, env.topic, env.type, env.sender, env.timestamp,
        env.correlation_id, env.reply_to, env.causation, _encode(env.message),
    )  # fmt: skip


@final
class MemoryReader:
    """Reads what a `MemoryLog` retains (see `LogReader`); made by `MemoryLog.reader`.

    Version added: 0.1
    """

    __slots__ = ("_cursors", "_journal", "_last_seq", "_records")

    def __init__(
        self,
        records: Sequence[Envelope],
        cursors: Mapping[str, int],
        journal: Mapping[str, bytes],
        last_seq: Callable[[], int],
    ) -> None:
        self._records = records
        self._cursors = cursors
        self._journal = journal
        self._last_seq = last_seq

    def __repr__(self) -> str:
        return f"MemoryReader(retained={len(self._records)})"

    async def open(self) -> None:
        """Nothing to open."""

    async def aclose(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> MemoryReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def _between(self, low: int, high: int, newest_first: bool) -> Iterator[Envelope]:
        # Retained seqs are consecutive: a seq's place is its distance from the first.
        records = self._records
        if not records:
            return
        first = records[0].seq
        start, stop = max(low - first, 0), min(high - first, len(records) - 1)
        places = range(stop, start - 1, -1) if newest_first else range(start, stop + 1)
        for place in places:
            yield records[place]

    async def last_seq(self) -> int:
        """See `LogReader.last_seq`."""
        return self._last_seq()

    async def summary(self) -> LogSummary:
        """See `LogReader.summary`."""
        records = self._records
        if not records:
            return LogSummary(count=0, first=None, last=None)
        return LogSummary(count=len(records), first=_record(records[0]), last=_record(records[-1]))

    async def records(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        *,
        where: RecordFilter | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> RecordPage:
        """See `LogReader.records`."""
        checked_limit(limit)
        high = self._last_seq() if to_seq is None else to_seq
        found: list[Record] = []
        for env in self._between(from_seq, high, newest_first):
            record = _record(env)
            if where is None or where.matches(record):
                if len(found) == limit:
                    return RecordPage(found, record.seq)
                found.append(record)
        return RecordPage(found, None)

    async def record(self, msg_id: str) -> Record | None:
        """See `LogReader.record`."""
        for env in reversed(self._records):
            if env.id == msg_id:
                return _record(env)
        return None

    async def at(self, seq: int) -> Record | None:
        """See `LogReader.at`."""
        found = next(self._between(seq, seq, False), None)
        return None if found is None else _record(found)

    async def counts(self, column: CountColumn) -> dict[str, int]:
        """See `LogReader.counts`."""
        checked_column(column)
        if column == "topic":
            found = Counter(env.topic for env in self._records)
        elif column == "type":
            found = Counter(env.type for env in self._records)
        else:
            found = Counter(env.sender or "-" for env in self._records)
        return sorted_counts(dict(found))

    async def cursors(self) -> dict[str, int]:
        """See `LogReader.cursors`."""
        return dict(sorted(self._cursors.items()))

    async def journal(self, key: str) -> bytes | None:
        """See `LogReader.journal`."""
        return self._journal.get(key)

    async def journal_entries(self, after: int = 0, *, limit: int = 100) -> JournalPage:
        """See `LogReader.journal_entries`: the position is the entry's place (from 1).

        Entries are never removed or moved, so a place stays the entry's.
        """
        checked_limit(limit)
        start = max(after, 0)
        found = itertools.islice(self._journal.items(), start, start + limit + 1)
        entries = [JournalEntry(start + n, k, v) for n, (k, v) in enumerate(found, 1)]
        if len(entries) > limit:
            return JournalPage(entries[:limit], entries[limit - 1].position)
        return JournalPage(entries, None)

    def follow(
        self, after_seq: int, *, where: RecordFilter | None = None, interval: float = 0.2
    ) -> AsyncGenerator[Record, None]:
        """See `LogReader.follow`."""
        return poll(self, after_seq, where, interval)
