"""The `LogReader` conformance suite: what every log's reader must answer, the same way.

A backend's test module subclasses `LogReaderConformance` and overrides one
fixture, ``open_log`` (as for `EventLogConformance`): a factory of async context
managers, each opening a fresh, empty log that has a ``reader()``. Each check
writes a known set of records, cursors and journal entries through the log
(`EventLog.append`, `commit_cursor`, `journal_put`), then reads them back through
``log.reader()``, while the log is open and after it closed, and compares the
answers with what was written: pages and where they go on, every filter (checked
against `RecordFilter.matches`), records by id and seq, counts, cursors, the
journal, and `follow`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, aclosing
from functools import wraps
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeAlias, TypeVar

import anyio
import pytest

from .._codec import MessageCodec
from .._log import (
    ActorActivity,
    EventLog,
    LogReader,
    Record,
    RecordFilter,
    activity,
    caused_by,
    scan,
)
from .._message import Envelope, Message, Request, Response

__all__ = ["LogReaderConformance"]


class ReadableLog(EventLog, Protocol):
    """An `EventLog` that hands out a `LogReader` of itself."""

    def reader(self) -> LogReader:
        """Return a reader of this log (not yet open)."""
        ...


ReadableLogFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[ReadableLog]]
"""What the ``open_log`` fixture returns: each call opens a fresh log for one ``async with``."""

_Suite = TypeVar("_Suite", bound="LogReaderConformance")
_P = ParamSpec("_P")

SECRET = "sk-conformance-0123456789"
# (topic, message, sender, id, correlation, causation): a small conversation, a
# dead letter, a secret in a payload, then a run of records to page through.
_STORY: list[tuple[str, Message, str | None, str, str | None, str | None]] = [
    ("tasks.plan", Request(action="plan", content="a trip"), None, "m1", None, None),
    ("tasks.book", Request(action="book"), "planner", "m2", "m1", "m1"),
    ("notes.plan", Response(content="planned"), "planner", "m3", "m1", "m1"),
    ("tasks.book.hotel", Request(action="hotel"), "booker", "m4", "m1", "m2"),
    ("_dead.booker", Response(content="gave up"), "booker", "m5", "m1", "m4"),
    ("notes.keys", Request(action="key", data={"api_key": SECRET}), None, "m6", None, None),
]
_BULK = 30  # records on bulk.<n % 3> after the story
_ALL = len(_STORY) + _BULK
_CURSORS = {"booker": 4, "planner": 3}
_JOURNAL = {"handling/1": b"\x01first", "handling/2": b"second"}


def _bounded(
    test: Callable[Concatenate[_Suite, _P], Awaitable[None]],
) -> Callable[Concatenate[_Suite, _P], Coroutine[Any, Any, None]]:
    @wraps(test)
    async def bounded(self: _Suite, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        with anyio.fail_after(self.timeout):
            await test(self, *args, **kwargs)

    return bounded


def _envelopes(start: float) -> list[Envelope]:
    story = [
        Envelope(msg_id, topic, msg, start + n / 1000, sender, correlation, None, cause)
        for n, (topic, msg, sender, msg_id, correlation, cause) in enumerate(_STORY)
    ]
    bulk = [
        Envelope(f"b{n}", f"bulk.{n % 3}", Request(action="bulk", data={"n": n}), start + 1 + n)
        for n in range(_BULK)
    ]
    return story + bulk


async def _write(log: ReadableLog) -> list[Envelope]:
    envelopes = _envelopes(time.time())
    for env in envelopes:
        await log.append(env)
    for name, seq in _CURSORS.items():
        await log.commit_cursor(name, seq)
    for key, value in _JOURNAL.items():
        await log.journal_put(key, value)
    return envelopes


async def _every(reader: LogReader, **options: Any) -> list[Record]:
    return [record async for record in scan(reader, **options)]


def _same(record: Record, env: Envelope) -> bool:
    fields = (env.seq, env.id, env.topic, env.type, env.sender, env.correlation_id, env.causation)
    seen = (record.seq, record.id, record.topic, record.type, record.sender)
    return (*seen, record.correlation_id, record.causation) == fields and abs(
        record.timestamp - env.timestamp
    ) < 1e-3


_FILTERS = [
    pytest.param(RecordFilter(topic="tasks.*"), id="topic-one-token"),
    pytest.param(RecordFilter(topic="tasks.>"), id="topic-rest"),
    pytest.param(RecordFilter(topic="notes.plan"), id="topic-exact"),
    pytest.param(RecordFilter(topic="*.plan"), id="topic-leading-wildcard"),
    pytest.param(RecordFilter(topic="_dead.>"), id="dead-letters"),
    pytest.param(RecordFilter(type="Response"), id="type"),
    pytest.param(RecordFilter(sender="booker"), id="sender"),
    pytest.param(RecordFilter(correlation_id="m1"), id="correlation"),
    pytest.param(RecordFilter(causation="m1"), id="causation"),
    pytest.param(RecordFilter(topic="bulk.*", type="Request"), id="topic-and-type"),
    pytest.param(RecordFilter(topic="tasks.>", sender="planner"), id="topic-and-sender"),
    pytest.param(RecordFilter(type="Nothing"), id="matches-nothing"),
]


class LogReaderConformance:
    """The checks every log's `LogReader` must pass, as a pytest test class.

    Subclass it under a name pytest collects (``Test...``) and override the
    ``open_log`` fixture: a factory whose every call returns an async context
    manager opening a fresh, empty log with a ``reader()`` method (for a durable
    log, a new path or stream per test). The tests are async and marked
    ``anyio``; they run on the test module's ``anyio_backend``.

    Example::

        class TestMyLogReader(LogReaderConformance):
            @pytest.fixture
            def open_log(self, tmp_path):
                return lambda: MyLog(tmp_path / "log.db")

    Attributes:
        timeout: seconds each test may take before it fails.

    Version added: 0.1
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]
    timeout: ClassVar[float] = 30.0

    @pytest.fixture
    def open_log(self) -> ReadableLogFactory:
        """Return a factory of async context managers, each opening a fresh log.

        Override this fixture; the default raises.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override the `open_log` fixture to return a "
            "callable whose result opens a log (with a reader()) with `async with`"
        )

    # --- records ----------------------------------------------------------------

    @_bounded
    async def test_an_empty_log_reads_as_empty(self, open_log: ReadableLogFactory) -> None:
        async with open_log() as log, log.reader() as reader:
            assert isinstance(reader, LogReader)
            assert await reader.last_seq() == 0
            summary = await reader.summary()
            assert (summary.count, summary.first, summary.last) == (0, None, None)
            page = await reader.records()
            assert (page.records, page.next_seq) == ([], None)
            assert await reader.counts("topic") == {}
            assert await reader.record("m1") is None
            assert await reader.at(1) is None

    @_bounded
    async def test_records_are_read_as_they_were_appended(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            envelopes = await _write(log)
            async with log.reader() as reader:
                records = await _every(reader)
                assert await reader.last_seq() == _ALL
        assert len(records) == len(envelopes)
        assert all(_same(r, e) for r, e in zip(records, envelopes, strict=True))
        codec = MessageCodec()
        for record, env in zip(records, envelopes, strict=True):
            assert codec.decode(record.type, record.payload, record.seq) == env.message
            assert isinstance(record.plain(), dict)  # decoded with no message class
        [keys] = [record for record in records if record.id == "m6"]
        assert keys.plain()["data"] == {"api_key": "***"}
        assert SECRET not in repr(keys.plain())

    @_bounded
    async def test_a_closed_log_reads_the_same(self, open_log: ReadableLogFactory) -> None:
        async with open_log() as log:
            envelopes = await _write(log)
        async with log.reader() as reader:
            records = await _every(reader)
            assert await reader.cursors() == _CURSORS
            assert await reader.journal("handling/1") == _JOURNAL["handling/1"]
        assert [r.id for r in records] == [e.id for e in envelopes]

    @_bounded
    async def test_summary_counts_the_records_and_gives_the_first_and_last(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            envelopes = await _write(log)
            async with log.reader() as reader:
                summary = await reader.summary()
        assert summary.count == _ALL
        assert summary.first is not None
        assert _same(summary.first, envelopes[0])
        assert summary.last is not None
        assert _same(summary.last, envelopes[-1])

    # --- pages ------------------------------------------------------------------

    @pytest.mark.parametrize("limit", [1, 7, _ALL, 1000])
    @_bounded
    async def test_pages_go_on_until_the_range_ends(
        self, open_log: ReadableLogFactory, limit: int
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                for newest_first in (False, True):
                    seqs: list[int] = []
                    low, high = 3, _ALL - 2
                    while True:
                        page = await reader.records(
                            low, high, limit=limit, newest_first=newest_first
                        )
                        assert len(page.records) <= limit
                        seqs += [record.seq for record in page.records]
                        if page.next_seq is None:
                            break
                        low, high = (low, page.next_seq) if newest_first else (page.next_seq, high)
                    expected = list(range(3, _ALL - 1))
                    assert seqs == (expected[::-1] if newest_first else expected)

    @pytest.mark.parametrize("where", _FILTERS)
    @_bounded
    async def test_filters_keep_exactly_the_matching_records(
        self, open_log: ReadableLogFactory, where: RecordFilter
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                every = await _every(reader)
                ahead = await _every(reader, where=where, page=4)
                back = await _every(reader, where=where, page=3, newest_first=True)
                ranged = await _every(reader, from_seq=3, to_seq=20, where=where, page=2)
        expected = [r.seq for r in every if where.matches(r)]
        assert [r.seq for r in ahead] == expected
        assert [r.seq for r in back] == expected[::-1]
        assert [r.seq for r in ranged] == [seq for seq in expected if 3 <= seq <= 20]

    @_bounded
    async def test_a_limit_below_one_is_refused(self, open_log: ReadableLogFactory) -> None:
        async with open_log() as log, log.reader() as reader:
            with pytest.raises(ValueError, match="limit"):
                await reader.records(limit=0)

    # --- lookups ----------------------------------------------------------------

    @_bounded
    async def test_a_record_is_found_by_id_and_by_seq(self, open_log: ReadableLogFactory) -> None:
        async with open_log() as log:
            envelopes = await _write(log)
            async with log.reader() as reader:
                by_id = await reader.record("m4")
                at = await reader.at(4)
                missing = [await reader.record("nope"), await reader.at(_ALL + 1)]
                missing.append(await reader.at(0))
        assert by_id is not None
        assert _same(by_id, envelopes[3])
        assert at == by_id
        assert missing == [None, None, None]

    @_bounded
    async def test_what_a_handling_published_is_found_by_its_cause(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                effects = {
                    m: [r.id for r in await caused_by(reader, m)] for m in ("m1", "m2", "b0")
                }
        assert effects == {"m1": ["m2", "m3"], "m2": ["m4"], "b0": []}

    @_bounded
    async def test_what_each_actor_did_is_judged_in_one_pass(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                found = await activity(reader)
        assert found == [
            ActorActivity(
                name="booker", published=2, handled=1, failed=0, dead_lettered=1, cursor=4,
                lag=0, topics=["tasks.book", "tasks.book.hotel"],
            ),
            ActorActivity(
                name="planner", published=2, handled=2, failed=0, dead_lettered=0, cursor=3,
                lag=0, topics=["notes.plan", "tasks.plan"],
            ),
        ]  # fmt: skip

    @_bounded
    async def test_counts_per_topic_type_and_sender_most_first(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                counts = {c: await reader.counts(c) for c in ("topic", "type", "sender")}
                with pytest.raises(ValueError, match="count"):
                    await reader.counts("id")  # type: ignore[arg-type]
        assert list(counts["type"].items()) == [("Request", _BULK + 4), ("Response", 2)]
        assert list(counts["sender"].items()) == [("-", _BULK + 2), ("booker", 2), ("planner", 2)]
        assert list(counts["topic"].items())[:3] == [("bulk.0", 10), ("bulk.1", 10), ("bulk.2", 10)]
        assert counts["topic"]["_dead.booker"] == 1
        assert sum(counts["topic"].values()) == _ALL

    @_bounded
    async def test_cursors_and_journal_entries_are_read_back(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                cursors = await reader.cursors()
                entries = {key: await reader.journal(key) for key in [*_JOURNAL, "none"]}
        assert cursors == _CURSORS
        assert list(cursors) == sorted(cursors)
        assert entries == {**_JOURNAL, "none": None}

    @_bounded
    async def test_journal_entries_come_in_the_order_written_page_by_page(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            await _write(log)
            more = {f"more/{n}": bytes([n]) * 3 for n in range(5)}
            for key, value in more.items():
                await log.journal_put(key, value)
            async with log.reader() as reader:
                written = {**_JOURNAL, **more}
                seen: list[tuple[str, bytes]] = []
                positions: list[int] = []
                after = 0
                while True:
                    page = await reader.journal_entries(after, limit=2)
                    assert len(page.entries) <= 2
                    seen += [(e.key, e.value) for e in page.entries]
                    positions += [e.position for e in page.entries]
                    if page.next_position is None:
                        break
                    after = page.next_position
                assert seen == list(written.items())
                assert positions == sorted(set(positions))
                assert (await reader.journal_entries(positions[-1])).entries == []
                await log.journal_put("later", b"new")
                after_last = await reader.journal_entries(positions[-1])
                assert [(e.key, e.value) for e in after_last.entries] == [("later", b"new")]
                assert after_last.next_position is None
                with pytest.raises(ValueError, match="limit"):
                    await reader.journal_entries(limit=0)

    # --- following --------------------------------------------------------------

    @_bounded
    async def test_follow_yields_new_matching_records_as_they_are_committed(
        self, open_log: ReadableLogFactory
    ) -> None:
        async with open_log() as log:
            await _write(log)
            async with log.reader() as reader:
                after = await reader.last_seq()
                new = reader.follow(after, where=RecordFilter(topic="live.*"), interval=0.01)
                got: list[Record] = []
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_collect, new, got, 2)
                    for n, topic in enumerate(["live.a", "other", "live.b", "live.c"]):
                        await log.append(Envelope(f"live{n}", topic, Request(), time.time()))
        assert [(r.seq, r.topic) for r in got] == [(after + 1, "live.a"), (after + 3, "live.b")]


async def _collect(records: AsyncGenerator[Record, None], into: list[Record], count: int) -> None:
    async with aclosing(records):
        async for record in records:
            into.append(record)
            if len(into) == count:
                return
