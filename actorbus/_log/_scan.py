"""What every `LogReader` offers on top of its pages: a scan, a message's effects, a poll.

Written once over the protocol, so each backend implements only the pages. `scan`
walks every page of a range in turn; `caused_by` lists what a message's handling
published; `poll` is how a reader follows new records; `checked_limit` and
`checked_column` are the argument checks every reader makes the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

import anyio

from ._reading import CountColumn, LogReader, RecordFilter
from ._record import Record

__all__ = ["caused_by", "checked_column", "checked_limit", "poll", "scan", "sorted_counts"]

_PAGE = 500
_COLUMNS = ("topic", "type", "sender")


async def scan(
    reader: LogReader,
    from_seq: int = 1,
    to_seq: int | None = None,
    *,
    where: RecordFilter | None = None,
    newest_first: bool = False,
    page: int = _PAGE,
) -> AsyncGenerator[Record, None]:
    """Yield every record of the range that matches ``where``, a page at a time.

    A caller that stops early has read little more than it used.
    """
    low, high = from_seq, to_seq
    while True:
        found = await reader.records(low, high, where=where, limit=page, newest_first=newest_first)
        for record in found.records:
            yield record
        if found.next_seq is None:
            return
        if newest_first:
            high = found.next_seq
        else:
            low = found.next_seq


async def caused_by(reader: LogReader, msg_id: str) -> list[Record]:
    """Return the records published while handling message ``msg_id``, in seq order."""
    return [record async for record in scan(reader, where=RecordFilter(causation=msg_id))]


async def poll(
    reader: LogReader,
    after_seq: int,
    where: RecordFilter | None,
    interval: float,
    between: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[Record, None]:
    """Yield the records after ``after_seq`` that match ``where``, looking every ``interval`` s.

    Each round reads up to the log's `last_seq` (records up to it are committed),
    then calls ``between`` (a SQLite reader lets the file go there) and sleeps.
    """
    while True:
        last = await reader.last_seq()
        if last > after_seq:
            async with aclosing(scan(reader, after_seq + 1, last, where=where)) as new:
                async for record in new:
                    yield record
            after_seq = last
        if between is not None:
            await between()
        await anyio.sleep(interval)


def checked_limit(limit: int) -> int:
    """Return ``limit``, or raise the `LogReader.records` error for one below 1."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return limit


def checked_column(column: CountColumn) -> CountColumn:
    """Return ``column``, or raise the `LogReader.counts` error for another name."""
    if column not in _COLUMNS:
        raise ValueError(f"cannot count by {column!r}: give one of {', '.join(_COLUMNS)}")
    return column


def sorted_counts(counts: dict[str, int]) -> dict[str, int]:
    """Return ``counts`` most first, ties in name order (as `LogReader.counts` answers)."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
