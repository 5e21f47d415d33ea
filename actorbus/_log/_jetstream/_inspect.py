"""`JetStreamReader`: a `LogReader` of a `JetStreamLog`'s stream, on a connection of its own.

It never creates anything: a missing stream is an error naming it (a mistyped
name must not leave a stream and buckets behind), a missing journal or cursors
bucket reads as empty. nats-py is asyncio-only, and so is the reader.

What the stream answers itself, it is asked: a page of records is a read
consumer from the page's first seq, filtered on the server by subject (a topic
pattern is a subject pattern: ``<prefix>.<pattern>``), and stopped once the page
is full; newest first, it reads windows of seqs backwards, each twice as wide as
the last. Type, sender and correlation filters are headers, matched here, so a
page reads at most `SCAN_BUDGET` records and may come back short (with where to
go on). A record by seq is one message get. Counts per topic come from the
server; ids, causes and counts per type and sender from a `HeaderIndex`, built
from the headers on first need (see ``_index``). Cursors are the protocol's own
(a KV bucket) and every actor name's consumer's ack floor, as `JetStreamLog`
reports them. Journal entries in the order written are the journal bucket's
stream read from a seq on (a KV bucket is a stream, ``KV_<bucket>``, and an
entry's position is its seq there).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, final

from ..._backend import current_library
from ..._errors import AsyncioRequired, LogUnavailable
from .._reading import CountColumn, JournalEntry, JournalPage, RecordFilter, RecordPage
from .._record import LogSummary, Record
from .._scan import checked_column, checked_limit, poll, sorted_counts
from ._connect import Credentials, connect
from ._consumer import ack_floors
from ._index import HeaderIndex
from ._pull import Batches, read_consumer
from ._setup import load_cursors, setup_problem
from ._wire import decode_record, key_name, name_key

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = ["SCAN_BUDGET", "JetStreamReader"]

SCAN_BUDGET = 10_000
"""The most records one filtered page reads before it comes back short."""
_CHUNK = 500  # messages asked for at a time
_WIDEST = 65_536  # seqs in the widest window read backwards
_FRACTION = re.compile(r"(\.\d{6})\d*")


@final
class JetStreamReader:
    """Reads a `JetStreamLog`'s stream without changing it (see `LogReader`).

    Made by `JetStreamLog.reader`, with the log's servers, credentials, stream and
    subject prefix.

    Version added: 0.1
    """

    __slots__ = (
        "_client",
        "_connect_timeout",
        "_credentials",
        "_index",
        "_journal",
        "_prefix",
        "_servers",
        "_shown_as",
        "_stream",
    )

    def __init__(
        self,
        servers: Sequence[str],
        credentials: Credentials,
        connect_timeout: float,
        stream: str,
        subject_prefix: str,
        shown_as: str,
    ) -> None:
        self._servers = list(servers)
        self._credentials = credentials
        self._connect_timeout = connect_timeout
        self._stream = stream
        self._prefix = subject_prefix
        self._shown_as = shown_as
        self._client: Client | None = None
        self._journal: KeyValue | None = None
        self._index = HeaderIndex()

    def __repr__(self) -> str:
        return f"JetStreamReader({self._shown_as})"

    # -- opening and closing ---------------------------------------------------------

    async def open(self) -> None:
        """See `LogReader.open`.

        Raises:
            AsyncioRequired: not running on asyncio (nats-py is asyncio-only).
            LogUnavailable: no server answered, it refused the credentials, it has
                no JetStream, or no such stream.
        """
        if current_library() != "asyncio":
            raise AsyncioRequired(
                "JetStreamReader",
                "nats-py, the NATS client, is asyncio-only",
                "read a SqliteLog or MemoryLog, which run on both",
            )
        if self._client is not None:
            raise RuntimeError("this JetStreamReader is already open")
        client = await connect(
            self._servers, self._credentials, self._connect_timeout, self._shown_as,
            _nothing, _nothing,
        )  # fmt: skip
        try:
            await self._find_stream(client.jetstream())
            self._journal = await _bucket(client.jetstream(), f"{self._stream}_journal")
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def _find_stream(self, js: JetStreamContext) -> None:
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(self._stream)
        except NotFoundError:
            raise LogUnavailable(
                self._shown_as,
                f"the server has no stream {self._stream!r}; check the stream's name "
                "(--stream on the command line): a log makes its stream when it first "
                "opens, a reader never makes one",
            ) from None
        except Exception as exc:
            raise LogUnavailable(self._shown_as, setup_problem(exc)) from exc

    async def aclose(self) -> None:
        """See `LogReader.aclose`."""
        client, self._client = self._client, None
        self._journal = None
        if client is not None:
            try:
                await client.close()
            except Exception:  # the connection is gone either way
                return

    async def __aenter__(self) -> JetStreamReader:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- reading the stream ----------------------------------------------------------

    def _open_client(self) -> Client:
        if self._client is None:
            raise LogUnavailable(self._shown_as, "the reader is not open")
        return self._client

    def _unavailable(self, doing: str, exc: Exception) -> LogUnavailable:
        return LogUnavailable(self._shown_as, f"{doing} failed ({type(exc).__name__}: {exc})")

    async def _info(self, subjects: bool = False) -> Any:
        js = self._open_client().jetstream()
        try:
            filter_ = f"{self._prefix}.>" if subjects else None
            return await js.stream_info(self._stream, subjects_filter=filter_)
        except Exception as exc:
            raise self._unavailable("reading the stream's state", exc) from exc

    def _batches(
        self, subject: str, start: int, headers_only: bool = False
    ) -> AbstractAsyncContextManager[Batches]:
        client = self._open_client()
        return read_consumer(
            client, client.jetstream(), self._stream, subject,
            start_seq=start, headers_only=headers_only,
        )  # fmt: skip

    def _record(self, msg: Msg) -> Record:
        meta = msg.metadata
        return decode_record(
            meta.sequence.stream,
            msg.subject[len(self._prefix) + 1 :],
            msg.headers,
            msg.data,
            meta.timestamp.timestamp(),
        )

    async def _each(
        self, subject: str, start: int, top: int, chunk: int
    ) -> AsyncGenerator[Record, None]:
        # The records matching `subject` from `start` to `top`, ascending.
        try:
            async with self._batches(subject, start) as batches:
                while not batches.done:
                    for msg in await batches.next(chunk):
                        record = self._record(msg)
                        if record.seq > top:
                            return
                        yield record
        except LogUnavailable:
            raise
        except Exception as exc:
            raise self._unavailable("reading records", exc) from exc

    async def _updated_index(self) -> HeaderIndex:
        info = await self._info()
        index = self._index
        try:
            await index.update(
                info.state.first_seq,
                info.state.last_seq,
                lambda start: self._batches(f"{self._prefix}.>", start, headers_only=True),
                self._prefix,
            )
        except Exception as exc:
            raise self._unavailable("reading the records' headers", exc) from exc
        return index

    # -- the LogReader protocol ------------------------------------------------------

    async def last_seq(self) -> int:
        """See `LogReader.last_seq`."""
        return int((await self._info()).state.last_seq)

    async def summary(self) -> LogSummary:
        """See `LogReader.summary`."""
        count = sum(((await self._info(subjects=True)).state.subjects or {}).values())
        first = (await self.records(limit=1)).records
        last = (await self.records(limit=1, newest_first=True)).records
        return LogSummary(
            count=count, first=first[0] if first else None, last=last[0] if last else None
        )

    async def records(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        *,
        where: RecordFilter | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> RecordPage:
        """See `LogReader.records` (and the module docs for how it reads)."""
        checked_limit(limit)
        state = (await self._info()).state
        low = max(from_seq, state.first_seq, 1)
        high = state.last_seq if to_seq is None else min(to_seq, state.last_seq)
        if low > high or not state.messages:
            return RecordPage([], None)
        if where is not None and where.causation is not None:
            return await self._effects(where, low, high, limit, newest_first)
        subject = f"{self._prefix}.{where.topic if where and where.topic else '>'}"
        headers = where is not None and (  # matched here, not by the server
            where.type is not None or where.sender is not None or where.correlation_id is not None
        )
        if newest_first:
            return await self._backwards(subject, low, high, where, limit, headers)
        return await self._forwards(subject, low, high, where, limit, headers)

    async def _forwards(
        self, subject: str, low: int, high: int, where: RecordFilter | None, limit: int,
        headers: bool,
    ) -> RecordPage:  # fmt: skip
        found: list[Record] = []
        chunk = _CHUNK if headers else min(limit + 1, _CHUNK)
        read = 0
        async with aclosing(self._each(subject, low, high, chunk)) as records:
            async for record in records:
                if where is None or where.matches(record):
                    if len(found) == limit:
                        return RecordPage(found, record.seq)
                    found.append(record)
                read += 1
                if read >= SCAN_BUDGET and record.seq < high:
                    return RecordPage(found, record.seq + 1)
        return RecordPage(found, None)

    async def _backwards(
        self, subject: str, low: int, high: int, where: RecordFilter | None, limit: int,
        headers: bool,
    ) -> RecordPage:  # fmt: skip
        found: list[Record] = []
        width = max(limit + 1, _CHUNK) if headers else limit + 1
        read, top = 0, high
        while top >= low:
            start = max(low, top - width + 1)
            async with aclosing(self._each(subject, start, top, min(width, _CHUNK))) as records:
                window = [record async for record in records]
            read += len(window)
            for record in reversed(window):
                if where is None or where.matches(record):
                    if len(found) == limit:
                        return RecordPage(found, record.seq)
                    found.append(record)
            top = start - 1
            if read >= SCAN_BUDGET and top >= low:
                return RecordPage(found, top)
            width = min(width * 2, _WIDEST)
        return RecordPage(found, None)

    async def _effects(
        self, where: RecordFilter, low: int, high: int, limit: int, newest_first: bool
    ) -> RecordPage:
        # A message's effects, found through the index: one get per record.
        assert where.causation is not None
        seqs = [
            s
            for s in (await self._updated_index()).by_cause.get(where.causation, ())
            if low <= s <= high
        ]
        found: list[Record] = []
        for seq in reversed(seqs) if newest_first else seqs:
            record = await self.at(seq)
            if record is not None and where.matches(record):
                if len(found) == limit:
                    return RecordPage(found, record.seq)
                found.append(record)
        return RecordPage(found, None)

    async def record(self, msg_id: str) -> Record | None:
        """See `LogReader.record`: found through the index (see the module docs)."""
        seq = (await self._updated_index()).by_id.get(msg_id)
        return None if seq is None else await self.at(seq)

    async def at(self, seq: int) -> Record | None:
        """See `LogReader.at`."""
        from nats.js.errors import NotFoundError

        if seq < 1:
            return None
        js = self._open_client().jetstream()
        try:
            msg = await js.get_msg(self._stream, seq)
        except NotFoundError:
            return None
        except Exception as exc:
            raise self._unavailable(f"reading the record at seq {seq}", exc) from exc
        subject = msg.subject or ""
        if not subject.startswith(self._prefix + "."):
            return None  # another subject of a shared stream: not this log's
        return decode_record(
            seq,
            subject[len(self._prefix) + 1 :],
            msg.headers,
            msg.data or b"",
            _stored_at(msg.time),
        )

    async def counts(self, column: CountColumn) -> dict[str, int]:
        """See `LogReader.counts`: topics from the server, types and senders from the index."""
        checked_column(column)
        if column == "topic":
            subjects = (await self._info(subjects=True)).state.subjects or {}
            cut = len(self._prefix) + 1
            return sorted_counts({subject[cut:]: n for subject, n in subjects.items()})
        index = await self._updated_index()
        return sorted_counts(dict(index.types if column == "type" else index.senders))

    async def cursors(self) -> dict[str, int]:
        """See `LogReader.cursors`: the protocol's own, and each actor name's ack floor."""
        from nats.js.errors import NotFoundError

        client = self._open_client()
        try:
            own = await load_cursors(client, client.jetstream(), f"{self._stream}_cursors")
        except NotFoundError:  # no cursors bucket: nothing was ever committed
            own = {}
        except Exception as exc:
            raise self._unavailable("reading the cursors", exc) from exc
        floors = await ack_floors(client, self._stream, self._shown_as)
        return dict(sorted({**own, **floors}.items()))

    async def journal(self, key: str) -> bytes | None:
        """See `LogReader.journal`."""
        from nats.js.errors import KeyNotFoundError

        self._open_client()
        kv = self._journal
        if kv is None:
            return None
        try:
            entry = await kv.get(name_key(key))
        except KeyNotFoundError:  # KeyDeletedError is one too
            return None
        except Exception as exc:
            raise self._unavailable("reading a journal entry", exc) from exc
        return entry.value or b""

    async def journal_entries(self, after: int = 0, *, limit: int = 100) -> JournalPage:
        """See `LogReader.journal_entries`: the position is the entry's seq in its bucket."""
        checked_limit(limit)
        client = self._open_client()
        if self._journal is None:
            return JournalPage([], None)
        bucket = f"{self._stream}_journal"
        prefix = f"$KV.{bucket}."
        try:
            async with read_consumer(
                client, client.jetstream(), f"KV_{bucket}", f"{prefix}>", start_seq=after + 1
            ) as batches:
                msgs = [] if batches.done else await batches.next(limit + 1)
        except Exception as exc:
            raise self._unavailable("reading the journal", exc) from exc
        entries = [
            JournalEntry(msg.metadata.sequence.stream, key_name(msg.subject[len(prefix) :]),
                         msg.data or b"")
            for msg in msgs[:limit]
            if not (msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"))
        ]  # fmt: skip
        more = len(msgs) > limit
        return JournalPage(entries, msgs[limit - 1].metadata.sequence.stream if more else None)

    def follow(
        self, after_seq: int, *, where: RecordFilter | None = None, interval: float = 0.2
    ) -> AsyncGenerator[Record, None]:
        """See `LogReader.follow`."""
        return poll(self, after_seq, where, interval)


async def _bucket(js: JetStreamContext, name: str) -> KeyValue | None:
    from nats.js.errors import BucketNotFoundError

    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        return None


def _stored_at(value: object) -> float:
    # The server's time of a message got by seq: RFC 3339 with nanoseconds.
    if isinstance(value, datetime):
        return value.timestamp()
    if not isinstance(value, str):
        return 0.0
    try:
        return datetime.fromisoformat(
            _FRACTION.sub(r"\1", value).replace("Z", "+00:00")
        ).timestamp()
    except ValueError:
        return 0.0


async def _nothing() -> None:
    return None
