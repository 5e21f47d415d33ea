"""`LogReader`: one protocol for reading every log, at rest or live (issue 15).

The conformance suite runs against each log's reader (memory, SQLite, JetStream on
a real nats-server); then what is particular to each: a SQLite file is never
written to and a reader joins a writer that starts after it; a JetStream reader
never creates a stream; a filter is checked when it is made.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import nats
import pytest

import actorbus as ab
from actorbus._log import JetStreamReader, MemoryReader, SqliteReader, scan
from actorbus.testing import LogReaderConformance, NatsServer

LogFactory = Callable[[], AbstractAsyncContextManager[ab.MemoryLog]]


class TestMemoryReaderConformance(LogReaderConformance):
    @pytest.fixture
    def open_log(self) -> LogFactory:
        @asynccontextmanager
        async def open_memory_log() -> AsyncIterator[ab.MemoryLog]:
            log = ab.MemoryLog()
            await log.open()
            try:
                yield log
            finally:
                await log.aclose()

        return open_memory_log


class TestSqliteReaderConformance(LogReaderConformance):
    @pytest.fixture
    def open_log(self, tmp_path: Path) -> Callable[[], ab.SqliteLog]:
        return lambda: ab.SqliteLog(tmp_path / f"{uuid.uuid4().hex}.db")


class TestJetStreamReaderConformance(LogReaderConformance):
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"  # nats-py

    @pytest.fixture
    def open_log(self, nats_server: NatsServer) -> Callable[[], ab.JetStreamLog]:
        def fresh() -> ab.JetStreamLog:
            name = f"R{uuid.uuid4().hex[:12]}"
            return ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())

        return fresh


def test_each_log_hands_out_its_reader(tmp_path: Path) -> None:
    assert isinstance(ab.MemoryLog().reader(), MemoryReader)
    assert isinstance(ab.SqliteLog(tmp_path / "a.db").reader(), SqliteReader)
    assert isinstance(ab.JetStreamLog("nats://127.0.0.1:1").reader(), JetStreamReader)
    assert not (tmp_path / "a.db").exists()  # making a reader touches nothing


class TestRecordFilter:
    def test_a_bad_topic_pattern_is_refused_when_the_filter_is_made(self) -> None:
        with pytest.raises(ab.InvalidTopic):
            ab.RecordFilter(topic="a.>.b")

    def test_every_field_given_must_match(self) -> None:
        record = ab.Record(3, "m3", "tasks.a", "Request", "x", 0.0, "c", None, "m1", b"\x80")
        assert ab.RecordFilter().matches(record)
        assert ab.RecordFilter(topic="tasks.*", sender="x", causation="m1").matches(record)
        assert not ab.RecordFilter(topic="tasks.*", sender="y").matches(record)
        assert not ab.RecordFilter(correlation_id="d").matches(record)


async def _publish(path: Path, topics: list[str]) -> None:
    async with ab.Bus(log=ab.SqliteLog(path)) as bus:
        for topic in topics:
            await bus.publish(topic, ab.Request())


class TestSqliteReader:
    def test_reading_leaves_the_file_as_it_was(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        anyio.run(_publish, path, ["a", "b"])
        before = hashlib.sha256(path.read_bytes()).hexdigest()

        async def read() -> tuple[list[str], dict[str, int]]:
            async with ab.SqliteLog(path).reader() as reader:
                return [r.topic async for r in scan(reader)], await reader.counts("topic")

        assert anyio.run(read) == (["a", "b"], {"a": 1, "b": 1})
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["log.db"]

    async def test_a_reader_opened_at_rest_sees_a_writer_that_starts_later(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        await _publish(path, ["a"])
        async with ab.SqliteLog(path).reader() as reader:
            assert await reader.last_seq() == 1
            async with ab.Bus(log=ab.SqliteLog(path)) as bus:
                await bus.publish("b", ab.Request())
                assert await reader.last_seq() == 2
                assert (await reader.records(2)).records[0].topic == "b"

    async def test_a_reader_at_rest_sees_a_writer_that_came_and_went_between_two_reads(
        self, tmp_path: Path
    ) -> None:
        # Issue 16: a viewer reading a log that another process appends to now and then.
        path = tmp_path / "log.db"
        await _publish(path, ["a"])
        async with ab.SqliteLog(path).reader() as reader:
            assert await reader.last_seq() == 1
            for n, topic in enumerate(["b", "c"], start=2):
                await _publish(path, [topic])  # opens, appends and closes in between
                assert await reader.last_seq() == n
                assert (await reader.records(n)).records[0].topic == topic

    async def test_a_file_that_is_not_a_log_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_text("hello")
        with pytest.raises(ab.LogFileError, match="not an SQLite database"):
            async with ab.SqliteLog(path).reader():
                pass
        assert path.read_text() == "hello"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_jetstream_reader_of_a_missing_stream_says_so_and_creates_nothing(
    nats_server: NatsServer,
) -> None:
    name = f"R{uuid.uuid4().hex[:12]}"
    log = ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())
    with pytest.raises(ab.LogUnavailable, match=f"no stream '{name}'"):
        async with log.reader():
            pass
    client = await nats.connect(nats_server.url)
    try:
        streams = {info.config.name for info in await client.jetstream().streams_info()}
    finally:
        await client.close()
    assert not any(name in (stream or "") for stream in streams)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_jetstream_index_forgets_records_the_stream_let_go(
    nats_server: NatsServer,
) -> None:
    # Counts by type come from the headers the reader indexed; once the stream's
    # limits remove records, counting again must not include them.
    name = f"R{uuid.uuid4().hex[:12]}"
    log = ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())
    async with ab.Bus(log=log) as bus, log.reader() as reader:
        for _ in range(3):
            await bus.publish("a", ab.Request())
        assert await reader.counts("type") == {"Request": 3}
        client = await nats.connect(nats_server.url)
        try:
            await client.jetstream().purge_stream(name, keep=1)
        finally:
            await client.close()
        await bus.publish("b", ab.Response())
        assert await reader.counts("type") == {"Request": 1, "Response": 1}
        assert (await reader.summary()).count == 2
