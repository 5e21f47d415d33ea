"""`StreamRecords`: the records of a JetStream stream, loaded once, asked as `LogReader` is.

The ``actorbus log`` commands query a log by seq, type, id and cause. A SQLite file
answers those with SQL; a stream can only be read in seq order, so for a
``nats://`` log the commands load the records they need (`load_stream`, through
`JetStreamLog.read_records`, payloads left as msgpack) and answer the same
questions in memory, with the same method names and results as `LogReader`.
``trace`` also loads the journal (`JetStreamLog.read_journal`), to show the
model calls of each handling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from types import TracebackType
from typing import Literal, final

import anyio

from .._errors import LogUnavailable
from .._log import JetStreamLog
from .._log._jetstream._connect import Credentials, connect
from .._log._jetstream._setup import setup_problem
from .._log._reader import LogSummary, Record
from ._log_target import BadLogTarget, LogTarget

__all__ = ["StreamRecords", "load_stream"]

_PAGE = 1000


@final
class StreamRecords:
    """Records and cursors read from a stream: `LogReader`'s queries, answered in memory."""

    __slots__ = ("_by_cause", "_by_id", "_by_seq", "_cursors", "_journal", "_records")

    def __init__(
        self,
        records: list[Record],
        cursors: dict[str, int],
        journal: dict[str, bytes] | None = None,
    ) -> None:
        self._records = sorted(records, key=lambda r: r.seq)
        self._cursors = dict(sorted(cursors.items()))
        self._journal = {} if journal is None else journal
        self._by_seq = {r.seq: r for r in self._records}
        self._by_id: dict[str, Record] = {}
        self._by_cause: dict[str, list[Record]] = {}
        for record in self._records:
            self._by_id[record.id] = record  # the newest with an id, as LogReader.find
            if record.causation is not None:
                self._by_cause.setdefault(record.causation, []).append(record)

    def __enter__(self) -> StreamRecords:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def last_seq(self) -> int:
        """See `LogReader.last_seq`."""
        return self._records[-1].seq if self._records else 0

    def records(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        *,
        type: str | None = None,
        newest_first: bool = False,
    ) -> Iterator[Record]:
        """See `LogReader.records`."""
        high = to_seq if to_seq is not None else self.last_seq()
        found = (
            r
            for r in (reversed(self._records) if newest_first else self._records)
            if from_seq <= r.seq <= high and (type is None or r.type == type)
        )
        yield from found

    def find(self, msg_id: str) -> Record | None:
        """See `LogReader.find`."""
        return self._by_id.get(msg_id)

    def at(self, seq: int) -> Record | None:
        """See `LogReader.at`."""
        return self._by_seq.get(seq)

    def caused_by(self, msg_id: str) -> list[Record]:
        """See `LogReader.caused_by`."""
        return list(self._by_cause.get(msg_id, ()))

    def summary(self) -> LogSummary:
        """See `LogReader.summary`."""
        records = self._records
        return LogSummary(
            count=len(records),
            first=records[0] if records else None,
            last=records[-1] if records else None,
        )

    def counts(self, column: Literal["topic", "type", "sender"]) -> dict[str, int]:
        """See `LogReader.counts`: most first, then by name."""
        if column not in ("topic", "type", "sender"):
            raise ValueError(f"cannot count by {column!r}")
        found = Counter(getattr(r, column) or "-" for r in self._records)
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))

    def cursors(self) -> dict[str, int]:
        """See `LogReader.cursors`."""
        return dict(self._cursors)

    def journal(self, key: str) -> bytes | None:
        """See `LogReader.journal` (empty unless loaded with ``journal=True``)."""
        return self._journal.get(key)


def load_stream(target: LogTarget, from_seq: int = 1, *, journal: bool = False) -> StreamRecords:
    """Read the records of ``target``'s stream from ``from_seq`` on, and its cursors.

    With ``journal``, read its whole journal bucket too.

    Runs its own asyncio event loop (nats-py is asyncio-only).

    Raises:
        BadLogTarget: nats-py is missing, a stream option is not valid, or the
            server has no such stream.
        LogUnavailable: no server answered within the connect timeout, or it has
            no JetStream.
    """
    log = target.open_log()
    if not isinstance(log, JetStreamLog):  # pragma: no cover - a file is read by LogReader
        raise TypeError("load_stream reads a JetStream log")
    return anyio.run(_load, target, log, from_seq, journal, backend="asyncio")


async def _load(
    target: LogTarget, log: JetStreamLog, from_seq: int, journal: bool
) -> StreamRecords:
    records: list[Record] = []
    await _require_stream(target)
    async with log:
        while True:
            page = await log.read_records(from_seq, _PAGE)
            records += page
            if len(page) < _PAGE:
                break
            from_seq = page[-1].seq + 1
        cursors = {**log.cursors(), **await log.actor_cursors()}
        entries = await log.read_journal() if journal else None
    return StreamRecords(records, cursors, entries)


async def _require_stream(target: LogTarget) -> None:
    # Opening a JetStreamLog creates a missing stream and its KV buckets: right for
    # `run`, wrong for a command that only reads (a mistyped --stream would leave
    # them behind). So ask first, on a connection of its own.
    from nats.js.errors import NotFoundError

    shown = target.shown
    client = await connect(
        target.servers, Credentials(target.creds, None, None), target.connect_timeout,
        shown, _nothing, _nothing,
    )  # fmt: skip
    try:
        await client.jetstream().stream_info(target.stream)
    except NotFoundError:
        raise BadLogTarget(
            f"{shown}: the server has no stream {target.stream!r}; check --stream "
            "(a run creates its stream: actorbus run --log URL --stream NAME)"
        ) from None
    except Exception as exc:
        raise LogUnavailable(shown, setup_problem(exc)) from exc
    finally:
        await client.close()


async def _nothing() -> None:
    return None
