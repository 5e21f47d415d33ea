"""One message cannot stop a SqliteLog (issue 12, point 5).

A record over ``max_message_bytes`` (its encoded message plus the envelope's text) is
refused with `MessageTooLarge` before it gets a seq; so are journal entries and state
values, and messages SQLite could not store at all (unencodable, or text that is not
valid Unicode). When SQLite refuses a batch anyway (here: a cursor whose consumer name
SQLite cannot store, passed through the log's public `commit_cursor`), only that
batch fails, with `LogUnavailable`; the log goes on, its readers, a reopened file and
the dedup window skip the gap. A file that fails (another writer taking a seq) still
stops the log with `LogFileError` until it is reopened. Limits are a few hundred
bytes, so nothing large is ever built.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import actorbus as ab

TOPIC = "lim.notes"
LIMIT = 400
BAD_NAME = "reader-\udcff"  # what os.fsdecode makes of a non-UTF-8 byte: SQLite cannot store it


class LimNote(ab.Message):
    n: int
    text: str = ""


class LimOpaque(ab.Message):
    thing: Any


def note(n: int, id: str = "", text: str = "", topic: str = TOPIC) -> ab.Envelope:
    return ab.Envelope(id, topic, LimNote(n=n, text=text), time.time())


def big(n: int = 0, id: str = "") -> ab.Envelope:
    return note(n, id=id, text="x" * (LIMIT + 1))


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def seqs_in_file(path: Path) -> list[int]:
    return [seq for (seq,) in query(path, "SELECT seq FROM records ORDER BY seq")]


def record_size(env: ab.Envelope) -> int:
    """The documented measure: the encoded message plus the envelope's text fields."""
    texts = (
        env.id,
        env.topic,
        env.type,
        env.sender,
        env.correlation_id,
        env.reply_to,
        env.causation,
    )
    return len(msgspec.msgpack.encode(env.message)) + sum(len(t.encode()) for t in texts if t)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


class TestMaxMessageBytes:
    @pytest.mark.parametrize("durability", ["commit", "batch", "none"])
    async def test_a_message_over_the_limit_raises_and_the_next_one_is_stored(
        self, path: Path, durability: ab.Durability
    ) -> None:
        with anyio.fail_after(10):
            async with ab.SqliteLog(path, durability=durability, max_message_bytes=LIMIT) as log:
                with pytest.raises(ab.MessageTooLarge) as info:
                    await log.append(big(id="too-big"))
                assert log.last_seq == 0  # no seq consumed
                receipt = await log.append(note(1, id="small"))
                assert receipt == ab.Receipt(1, "small", False)
            async with ab.SqliteLog(path, max_message_bytes=LIMIT) as log:
                assert [(e.seq, e.id, e.message) for e in await log.read(1)] == [
                    (1, "small", LimNote(n=1))
                ]
                assert (await log.append(note(1, id="too-big"))).seq == 2  # the key is free
        error = info.value
        assert isinstance(error, ValueError)
        assert (error.topic, error.limit, error.setting) == (
            TOPIC,
            LIMIT,
            "SqliteLog(max_message_bytes=...)",
        )
        assert error.size > LIMIT
        assert "raise SqliteLog(max_message_bytes=...)" in str(error)
        assert "max_payload" not in str(error)

    async def test_a_record_of_exactly_the_limit_is_stored_and_one_byte_more_is_not(
        self, path: Path
    ) -> None:
        env = note(1, id="exact", text="y" * 100)
        size = record_size(env)
        async with ab.SqliteLog(path, max_message_bytes=size - 1) as log:
            with pytest.raises(ab.MessageTooLarge) as info:
                await log.append(env)
            assert info.value.size == size
        async with ab.SqliteLog(path, max_message_bytes=size) as log:
            assert (await log.append(note(1, id="exact", text="y" * 100))).seq == 1

    async def test_the_envelope_text_counts_toward_the_limit(self, path: Path) -> None:
        async with ab.SqliteLog(path, max_message_bytes=LIMIT) as log:
            with pytest.raises(ab.MessageTooLarge):
                await log.append(note(1, id="k" * LIMIT))  # a small message, a long key
            assert (await log.append(note(2))).seq == 1

    def test_the_default_is_16_mib_and_a_limit_sqlite_cannot_store_is_refused(
        self, path: Path
    ) -> None:
        assert ab.SqliteLog(path).max_message_bytes == 16 * 1024 * 1024
        with pytest.raises(ValueError, match="over what SQLite stores in one row"):
            ab.SqliteLog(path, max_message_bytes=2_000_000_000)
        with pytest.raises(ValueError, match="at least 1"):
            ab.SqliteLog(path, max_message_bytes=0)
        assert not path.exists()


class Shouter(ab.Actor):
    """Publishes a message too large for the log, then a small one."""

    subscribe = ("lim.in",)

    def __init__(self, caught: list[ab.MessageTooLarge]) -> None:
        self.caught = caught

    async def on_note(self, msg: LimNote, ctx: ab.Context) -> None:
        try:
            await ctx.publish("lim.out", LimNote(n=msg.n, text="x" * (LIMIT + 1)))
        except ab.MessageTooLarge as exc:
            self.caught.append(exc)
        await ctx.publish("lim.out", LimNote(n=msg.n))


class Remembers(ab.Actor):
    """Journals a result too large for the log through ``ctx.once``."""

    subscribe = ("lim.once",)

    def __init__(self, caught: list[ab.MessageTooLarge]) -> None:
        self.caught = caught

    async def _fetch(self) -> str:
        return "x" * (LIMIT + 1)

    async def on_note(self, msg: LimNote, ctx: ab.Context) -> None:
        try:
            await ctx.once("fetch", self._fetch)
        except ab.MessageTooLarge as exc:
            self.caught.append(exc)


class Collect(ab.Actor):
    subscribe = ("lim.out",)

    def __init__(self, seen: list[LimNote]) -> None:
        self.seen = seen

    async def on_note(self, msg: LimNote, ctx: ab.Context) -> None:
        self.seen.append(msg)


class TestThroughTheBus:
    async def test_a_handler_publishing_too_large_a_message_gets_message_too_large(
        self, path: Path
    ) -> None:
        caught: list[ab.MessageTooLarge] = []
        seen: list[LimNote] = []
        with anyio.fail_after(10):
            async with ab.Bus(log=ab.SqliteLog(path, max_message_bytes=LIMIT)) as bus:
                await bus.spawn(Shouter, caught)
                await bus.spawn(Collect, seen)
                await bus.publish("lim.in", LimNote(n=1))
                await bus.drain()
                await bus.publish("lim.in", LimNote(n=2))
                await bus.drain()
        assert [exc.topic for exc in caught] == ["lim.out", "lim.out"]
        assert seen == [LimNote(n=1), LimNote(n=2)]
        assert len(seqs_in_file(path)) == 4  # two inputs, two small outputs

    async def test_a_state_value_over_the_limit_raises_and_the_state_is_unchanged(
        self, path: Path
    ) -> None:
        with anyio.fail_after(10):
            async with ab.Bus(log=ab.SqliteLog(path, max_message_bytes=LIMIT)) as bus:
                await bus.state.put("plan", "short")
                with pytest.raises(ab.MessageTooLarge) as info:
                    await bus.state.put("plan", "x" * (LIMIT + 1))
                entry = await bus.state.get("plan")
                assert entry is not None
                assert (entry.value, entry.revision) == ("short", 1)
                await bus.state.put("plan", "still short")
            async with ab.Bus(log=ab.SqliteLog(path, max_message_bytes=LIMIT)) as bus:
                entry = await bus.state.get("plan")
                assert entry is not None
                assert (entry.value, entry.revision) == ("still short", 2)
        assert info.value.topic == "_state.plan"

    async def test_a_journal_entry_over_the_limit_raises_and_records_nothing(
        self, path: Path
    ) -> None:
        caught: list[ab.MessageTooLarge] = []
        with anyio.fail_after(10):
            async with ab.Bus(log=ab.SqliteLog(path, max_message_bytes=LIMIT)) as bus:
                await bus.spawn(Remembers, caught)
                await bus.publish("lim.once", LimNote(n=1))
                await bus.drain()
                assert (await bus.publish("lim.once", LimNote(n=2))).seq == 2
                await bus.drain()
        assert len(caught) == 2
        assert all(exc.topic.startswith("_journal.") and exc.size > LIMIT for exc in caught)
        assert query(path, "SELECT count(*) FROM journal") == [(0,)]

    async def test_a_journal_entry_over_the_limit_is_refused_by_the_log_itself(
        self, path: Path
    ) -> None:
        async with ab.SqliteLog(path, max_message_bytes=LIMIT) as log:
            with pytest.raises(ab.MessageTooLarge, match=re.escape("_journal.step-1")):
                await log.journal_put("step-1", b"x" * LIMIT)
            assert await log.journal_get("step-1") is None
            await log.journal_put("step-1", b"small")
            assert await log.journal_get("step-1") == b"small"


class TestWhatSqliteCannotStore:
    """Refused in the event loop with a specific error; before, each of these hung the log."""

    async def test_a_message_msgpack_cannot_encode_raises_type_error(self, path: Path) -> None:
        with anyio.fail_after(10):
            async with ab.SqliteLog(path) as log:
                opaque = ab.Envelope("", TOPIC, LimOpaque(thing=object()), time.time())
                with pytest.raises(TypeError, match=re.escape("LimOpaque message on 'lim.notes'")):
                    await log.append(opaque)
                assert (await log.append(note(1))).seq == 1
        assert seqs_in_file(path) == [1]

    async def test_a_key_that_is_not_valid_unicode_raises_value_error(self, path: Path) -> None:
        with anyio.fail_after(10):
            async with ab.Bus(log=ab.SqliteLog(path)) as bus:
                with pytest.raises(
                    ValueError, match=re.escape("the key of a message on 'lim.notes'")
                ):
                    await bus.publish(TOPIC, LimNote(n=1), key="order-\udcff")
                assert (await bus.publish(TOPIC, LimNote(n=2), key="order-2")).seq == 1
        assert seqs_in_file(path) == [1]


class TestARefusedBatch:
    """SQLite refuses one batch: only its publishes fail, and the log goes on."""

    async def test_only_the_batch_fails_and_later_publishes_are_stored(self, path: Path) -> None:
        with anyio.fail_after(10):
            async with ab.SqliteLog(path) as log:
                log.commit_cursor_nowait(BAD_NAME, 0)  # rides in the next batch
                with pytest.raises(ab.LogUnavailable, match="SQLite refused a batch") as info:
                    await log.append(note(1, id="order-1"))
                assert isinstance(info.value.__cause__, UnicodeEncodeError)
                assert (await log.append(note(2, id="order-2"))).seq == 2
                assert [e.id for e in await log.read(1)] == ["order-2"]
                # The refused record's key is free again; a stored one's is not.
                assert await log.append(note(1, id="order-1")) == ab.Receipt(3, "order-1", False)
                assert (await log.append(note(2, id="order-2"))).duplicate
        assert seqs_in_file(path) == [2, 3]
        assert query(path, "SELECT consumer FROM cursors") == []

    async def test_publishes_sharing_the_refused_batch_fail_and_the_rest_are_stored(
        self, path: Path
    ) -> None:
        stored: dict[int, int] = {}
        refused: list[int] = []

        async def publish(log: ab.SqliteLog, n: int) -> None:
            if n == 0:  # its record and the cursor join the same batch
                log.commit_cursor_nowait(BAD_NAME, 0)
            try:
                stored[n] = (await log.append(note(n, id=f"n-{n}"))).seq
            except ab.LogUnavailable:
                refused.append(n)

        with anyio.fail_after(10):
            async with ab.SqliteLog(path) as log:
                async with anyio.create_task_group() as tg:
                    for n in range(20):
                        tg.start_soon(publish, log, n)
                records = await log.read(1)
        assert 0 in refused
        assert sorted([*refused, *stored]) == list(range(20))
        assert [e.seq for e in records] == sorted(stored.values()) == seqs_in_file(path)
        assert {e.id: e.seq for e in records} == {f"n-{n}": seq for n, seq in stored.items()}

    async def test_a_reopened_log_reads_dedups_and_goes_on_after_the_gap(self, path: Path) -> None:
        with anyio.fail_after(10):
            async with ab.SqliteLog(path) as log:
                await log.append(note(1, id="order-1"))
                log.commit_cursor_nowait(BAD_NAME, 0)
                with pytest.raises(ab.LogUnavailable):
                    await log.append(note(2, id="order-2"))
                await log.append(note(3, id="order-3"))
                with pytest.raises(ab.LogUnavailable):
                    await log.commit_cursor(BAD_NAME, 3)  # a cursor commit is refused too
                await log.commit_cursor("reader", 3)
            async with ab.SqliteLog(path) as log:
                assert log.last_seq == 3
                assert [(e.seq, e.id) for e in await log.read(1)] == [
                    (1, "order-1"),
                    (3, "order-3"),
                ]
                assert [(e.seq, e.id) for e in await log.read(2)] == [(3, "order-3")]
                assert await log.cursor("reader") == 3
                assert (await log.append(note(3, id="order-3"))).duplicate
                assert await log.append(note(2, id="order-2")) == ab.Receipt(4, "order-2", False)

    async def test_a_bus_reading_across_the_gap_hands_every_stored_record_on(
        self, path: Path
    ) -> None:
        seen: list[LimNote] = []
        with anyio.fail_after(10):
            async with ab.SqliteLog(path) as log:
                await log.append(note(1, topic="lim.out"))
                log.commit_cursor_nowait(BAD_NAME, 0)
                with pytest.raises(ab.LogUnavailable):
                    await log.append(note(2, topic="lim.out"))
                await log.append(note(3, topic="lim.out"))
            async with ab.Bus(log=ab.SqliteLog(path)) as bus:
                await bus.spawn(Collect, seen, name="collect", start_at="earliest")
                await bus.drain()
                await bus.publish("lim.out", LimNote(n=4))
                await bus.drain()
        assert seen == [LimNote(n=1), LimNote(n=3), LimNote(n=4)]
        assert seqs_in_file(path) == [1, 3, 4]

    async def test_with_early_acknowledgement_the_loss_is_logged_and_no_seq_is_reused(
        self, path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.ERROR, logger="actorbus.sqlite")
        with anyio.fail_after(10):
            async with ab.SqliteLog(path, durability="batch") as log:
                log.commit_cursor_nowait(BAD_NAME, 0)
                assert (await log.append(note(1, id="order-1"))).seq == 1  # acknowledged
                await log.append(note(2, id="order-2"))
                log.commit_cursor_nowait("reader", 2)  # an actor handled both
            async with ab.SqliteLog(path, durability="batch") as log:
                assert log.last_seq == 2
                assert (await log.append(note(3))).seq == 3  # after the reader's cursor
        [logged] = caplog.records
        assert logged.levelno == logging.ERROR
        assert "SQLite refused a batch (records 1 to" in logged.getMessage()
        assert "acknowledged already" in logged.getMessage()
        assert seqs_in_file(path)[-1] == 3
        assert 1 not in seqs_in_file(path)


class TestAFailingFile:
    async def test_a_seq_taken_by_another_writer_stops_the_log_until_reopened(
        self, path: Path
    ) -> None:
        with anyio.fail_after(10):
            async with ab.SqliteLog(path) as log:
                await log.append(note(1))
                with closing(sqlite3.connect(path, isolation_level=None)) as other:
                    other.execute(
                        "INSERT INTO records (seq, id, topic, type, timestamp, payload) "
                        "VALUES (2, 'intruder', ?, 'LimNote', ?, ?)",
                        (TOPIC, time.time(), msgspec.msgpack.encode(LimNote(n=99))),
                    )
                with pytest.raises(ab.LogFileError, match="no other process writes this file"):
                    await log.append(note(2))
                with pytest.raises(ab.LogFileError):
                    await log.append(note(3))
            async with ab.SqliteLog(path) as log:
                assert (await log.append(note(3))).seq == 3
        assert seqs_in_file(path) == [1, 2, 3]
