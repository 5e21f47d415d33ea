"""`LogReader`: reading a log at rest or live, whatever stores it, without changing it.

Every built-in log hands out a reader (``log.reader()``): `SqliteLog` a
`SqliteReader` (the file, opened read-only), `JetStreamLog` a `JetStreamReader`
(a connection of its own, that never creates a stream or bucket), `MemoryLog` a
`MemoryReader` (the records it retains). Inspection tools (``actorbus log``) use
nothing else, so each works on every log.

The protocol is what a source answers itself, so paging and filtering happen
where the records are (an SQL query, a server-side subject filter), never by
loading the log: pages of records by seq range and `RecordFilter`, a record by
id or seq, counts per topic, type or sender, the consumers' cursors, journal
entries (by key, or every one in the order written), and new records as they are
committed (`follow`). What is derived from
those (every page in turn, the causation tree, the model calls of a handling,
each consumer's lag) is written once, over any reader (``_scan``, ``_calls``,
``_lag``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Literal, Protocol, Self, final, runtime_checkable

import msgspec

from .._topic import topic_matches, validate_pattern
from ._record import LogSummary, Record

__all__ = ["CountColumn", "JournalEntry", "JournalPage", "LogReader", "RecordFilter", "RecordPage"]

CountColumn = Literal["topic", "type", "sender"]
"""What `LogReader.counts` counts records by."""


@final
class RecordFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which records a `LogReader` returns: every field given must match (None: any).

    Raises:
        InvalidTopic: ``topic`` is not a valid pattern.

    Version added: 0.1
    """

    topic: str | None = None
    """A topic pattern (``"tasks.*"``, ``"_dead.>"``), matched as subscriptions are."""
    type: str | None = None
    """The message's type tag."""
    sender: str | None = None
    """The actor that published it."""
    correlation_id: str | None = None
    """The conversation it belongs to."""
    causation: str | None = None
    """The id of the message whose handling published it (its parent in a trace)."""

    def __post_init__(self) -> None:
        if self.topic is not None:
            validate_pattern(self.topic)

    def matches(self, record: Record) -> bool:
        """Tell whether ``record`` passes every field of the filter."""
        return (
            (self.topic is None or topic_matches(self.topic, record.topic))
            and (self.type is None or record.type == self.type)
            and (self.sender is None or record.sender == self.sender)
            and (self.correlation_id is None or record.correlation_id == self.correlation_id)
            and (self.causation is None or record.causation == self.causation)
        )


@final
class RecordPage(msgspec.Struct, frozen=True):
    """One page of records from `LogReader.records`, and where the next one starts.

    Version added: 0.1
    """

    records: list[Record]
    """The records, in the order asked for."""
    next_seq: int | None
    """Where the next page starts: pass it as ``from_seq`` (as ``to_seq`` when reading
    newest first), with the other arguments unchanged. None: the range holds no more."""


@final
class JournalEntry(msgspec.Struct, frozen=True, gc=False):
    """One journal entry, as `LogReader.journal_entries` hands it out.

    Version added: 0.1
    """

    position: int
    """Its place in the order entries were written (increasing, not necessarily by 1)."""
    key: str
    """The key it was written under."""
    value: bytes
    """The value, as stored."""


@final
class JournalPage(msgspec.Struct, frozen=True):
    """One page of journal entries, and where the next one starts.

    Version added: 0.1
    """

    entries: list[JournalEntry]
    """The entries, in the order they were written."""
    next_position: int | None
    """Pass it as ``after`` for the next page; None: no more entries now (entries
    written later come after the last position seen)."""


@runtime_checkable
class LogReader(Protocol):
    """Reads one log, at rest or while it is written, and never changes it.

    Made by the log (``log.reader()``); use it with ``async with`` (or `open` and
    `aclose`). A reader sees records as they are committed; a reader of a log
    held by another process may lag behind it by the time a commit takes.

    Version added: 0.1
    """

    async def open(self) -> None:
        """Open the log for reading.

        Raises:
            LogFileError: a file is missing, not an actorbus log, or damaged.
            LogUnavailable: a server is unreachable, or has no such log.
        """
        ...

    async def aclose(self) -> None:
        """Release what the reader holds. Closing twice does nothing."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def last_seq(self) -> int:
        """Return the highest seq the log has given out (0 if none): what to follow after."""
        ...

    async def summary(self) -> LogSummary:
        """Return how many records the log holds, and the first and last of them."""
        ...

    async def records(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        *,
        where: RecordFilter | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> RecordPage:
        """Return a page of the records with ``from_seq <= seq <= to_seq`` that match ``where``.

        In seq order (descending with ``newest_first``), at most ``limit`` of them.
        A page may hold fewer, even none, while more follow (a source may bound
        the work one call does): go on while `RecordPage.next_seq` is not None.

        Args:
            from_seq: the lowest seq.
            to_seq: the highest seq; None for the newest.
            where: which records; None for every one.
            limit: the most records to return (at least 1).
            newest_first: the newest first.

        Raises:
            ValueError: ``limit`` is below 1.
        """
        ...

    async def record(self, msg_id: str) -> Record | None:
        """Return the newest record with id ``msg_id``, or None."""
        ...

    async def at(self, seq: int) -> Record | None:
        """Return the record at ``seq``, or None (never stored, or no longer held)."""
        ...

    async def counts(self, column: CountColumn) -> dict[str, int]:
        """Return how many records there are per topic, type or sender, most first.

        Ties are in name order; records with no sender count under ``"-"``.

        Raises:
            ValueError: ``column`` is not one of the three.
        """
        ...

    async def cursors(self) -> dict[str, int]:
        """Return every consumer's cursor (the last seq it handled), by name, in name order."""
        ...

    async def journal(self, key: str) -> bytes | None:
        """Return the journal entry under ``key`` as stored, or None."""
        ...

    async def journal_entries(self, after: int = 0, *, limit: int = 100) -> JournalPage:
        """Return journal entries written after position ``after``, oldest first.

        At most ``limit`` of them. Start with 0; go on from `JournalPage.next_position`,
        or, once it is None, from the last entry's position to see entries written since.

        Raises:
            ValueError: ``limit`` is below 1.
        """
        ...

    def follow(
        self, after_seq: int, *, where: RecordFilter | None = None, interval: float = 0.2
    ) -> AsyncGenerator[Record, None]:
        """Yield each record after ``after_seq`` that matches ``where``, as it is committed.

        Never ends by itself: stop iterating (or cancel) to stop. Looks for new
        records every ``interval`` seconds.
        """
        ...
