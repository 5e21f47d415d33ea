"""SqliteLog: the conformance suite in each durability mode, then what only the file does.

The file is checked from outside, with a separate `sqlite3` connection: its mode, WAL,
its schema stamp, and when acknowledged records become visible there. Files that are
not a usable log are refused with `LogFileError` and left byte for byte as they were.
Group commit is shown by the WAL, which grows by at least one frame per transaction;
no test measures time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, closing, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import anyio
import msgspec
import pytest

import actorbus as ab
from actorbus.testing import EventLogConformance

LogFactory = Callable[[], AbstractAsyncContextManager[ab.EventLog]]

ABUS_APPLICATION_ID = int.from_bytes(b"ABUS", "big")  # the file format's stamp
TOPIC = "sq.notes"


class SqNote(ab.Message):
    n: int


class SqTwinA(ab.Message, tag="SqTwin"):
    """Shares its tag with `SqTwinB`: it can be written, but not decoded back."""

    n: int


class SqTwinB(ab.Message, tag="SqTwin"):
    n: int


def note(n: int, id: str = "", timestamp: float | None = None, topic: str = TOPIC) -> ab.Envelope:
    return ab.Envelope(id, topic, SqNote(n=n), time.time() if timestamp is None else timestamp)


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection of our own to the log file, closed on exit."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def query(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def seqs_in_file(path: Path) -> list[int]:
    return [seq for (seq,) in query(path, "SELECT seq FROM records ORDER BY seq")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wal_frames(path: Path) -> int:
    """How many frames the log's write-ahead log holds (each commit adds at least one)."""
    wal = path.with_name(path.name + "-wal").read_bytes()
    page_size = int.from_bytes(wal[8:12], "big")
    return (len(wal) - 32) // (24 + page_size)


async def make_log(path: Path, notes: int = 3) -> None:
    async with ab.SqliteLog(path) as log:
        for n in range(notes):
            await log.append(note(n))


def insert_record(path: Path, seq: int, type_tag: str, payload: object) -> None:
    with connect(path) as conn:
        conn.execute(
            "INSERT INTO records (seq, id, topic, type, timestamp, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (seq, f"inserted-{seq}", TOPIC, type_tag, time.time(), payload),
        )


# --- conformance -----------------------------------------------------------------------


class TestSqliteLogConformance(EventLogConformance):
    """Each open is a new SqliteLog on the same file, so the persistence checks run."""

    durable = True
    durability: ClassVar[ab.Durability] = "commit"

    @pytest.fixture
    def open_log(self, tmp_path: Path) -> LogFactory:
        path = tmp_path / "log.db"
        return lambda: ab.SqliteLog(path, durability=self.durability)


class TestSqliteLogBatchConformance(TestSqliteLogConformance):
    """``"batch"``: acknowledged early, and still everything on reopening (aclose flushes)."""

    durability = "batch"


class TestSqliteLogNoSyncConformance(TestSqliteLogConformance):
    """``"none"``: no fsync, and still everything on reopening (aclose flushes)."""

    durability = "none"


# --- the file --------------------------------------------------------------------------


class TestTheFile:
    async def test_a_new_log_file_is_readable_by_its_owner_only(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path) as log:
            await log.append(note(1))
            assert os.stat(path).st_mode & 0o777 == 0o600
            wal = path.with_name("log.db-wal")
            assert os.stat(wal).st_mode & 0o777 == 0o600  # the records sit here first
        assert os.stat(path).st_mode & 0o777 == 0o600

    async def test_the_log_runs_in_wal_mode(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        await make_log(path)
        assert query(path, "PRAGMA journal_mode") == [("wal",)]

    async def test_the_file_is_stamped_as_an_actorbus_log_with_a_schema_version(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        await make_log(path)
        assert query(path, "PRAGMA application_id") == [(ABUS_APPLICATION_ID,)]
        [(version,)] = query(path, "PRAGMA user_version")
        assert version >= 1

    async def test_an_empty_existing_file_becomes_a_new_log(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        path.touch()
        async with ab.SqliteLog(path) as log:
            assert (await log.append(note(1))).seq == 1
        assert seqs_in_file(path) == [1]

    async def test_path_and_durability_are_reported(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        log = ab.SqliteLog(str(path), durability="batch")
        assert (log.path, log.durability) == (path, "batch")
        assert repr(log) == f"SqliteLog({str(path)!r}, durability='batch', last_seq=0)"


# Each maker writes a file at ``path``; ``log`` is a real actorbus log to start from.


def _text_file(path: Path, log: Path) -> None:
    path.write_text("these are my notes, not an event log\n" * 50)


def write_invoices_db(path: Path) -> None:
    """An SQLite database of another application."""
    with connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")


def _other_application(path: Path, log: Path) -> None:
    write_invoices_db(path)


def _other_application_without_tables(path: Path, log: Path) -> None:
    with connect(path) as conn:
        conn.execute("PRAGMA application_id = 1234")


def _log_with_schema(version: int) -> Callable[[Path, Path], None]:
    def make(path: Path, log: Path) -> None:
        shutil.copyfile(log, path)
        with connect(path) as conn:
            conn.execute(f"PRAGMA user_version = {version}")

    return make


def _garbage_after_the_header(path: Path, log: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)


def _cut_inside_the_header(path: Path, log: Path) -> None:
    path.write_bytes(log.read_bytes()[:10])


def cut_in_half(source: Path, target: Path) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])


class TestFilesThatAreNotAUsableLog:
    @pytest.mark.parametrize(
        ("make", "problem"),
        [
            pytest.param(_text_file, "not an SQLite database", id="text-file"),
            pytest.param(_other_application, "another application", id="other-app-db"),
            pytest.param(
                _other_application_without_tables, "another application", id="other-app-stamp"
            ),
            pytest.param(_log_with_schema(99), "version 99.*upgrade actorbus", id="newer-schema"),
            pytest.param(_log_with_schema(0), "version 0", id="unversioned-schema"),
            pytest.param(_garbage_after_the_header, "damaged", id="corrupt-db"),
            pytest.param(_cut_inside_the_header, "not an SQLite database", id="cut-inside-header"),
        ],
    )
    async def test_is_refused_with_log_file_error_and_left_untouched(
        self, tmp_path: Path, make: Callable[[Path, Path], None], problem: str
    ) -> None:
        real = tmp_path / "real" / "log.db"
        real.parent.mkdir()
        await make_log(real)
        path = tmp_path / "found.db"
        make(path, real)
        os.remove(real)  # the directory then holds only the file under test
        before, files = digest(path), sorted(os.listdir(tmp_path))
        with pytest.raises(ab.LogFileError, match=problem) as info:
            async with ab.SqliteLog(path):
                pytest.fail("the log opened")
        assert info.value.path == str(path)
        assert digest(path) == before
        assert sorted(os.listdir(tmp_path)) == files  # no side files left behind

    async def test_a_bus_on_a_foreign_file_fails_to_open_and_touches_nothing(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "found.db"
        write_invoices_db(path)
        before = digest(path)
        with pytest.raises(ab.LogFileError, match="another application"):
            async with ab.Bus(log=ab.SqliteLog(path)):
                pytest.fail("the bus opened")
        assert digest(path) == before

    async def test_a_truncated_log_raises_log_file_error_on_open_or_read(
        self, tmp_path: Path
    ) -> None:
        whole = tmp_path / "whole.db"
        async with ab.SqliteLog(whole) as log, anyio.create_task_group() as tg:
            for n in range(2_000):
                tg.start_soon(log.append, note(n))
        cut = tmp_path / "cut.db"
        cut_in_half(whole, cut)
        before = digest(cut)
        with pytest.raises(ab.LogFileError, match="damaged or truncated"):
            async with ab.SqliteLog(cut) as damaged:
                await damaged.read(1, limit=10_000)
        assert digest(cut) == before

    async def test_a_directory_is_refused_with_log_file_error(self, tmp_path: Path) -> None:
        with pytest.raises(ab.LogFileError):
            async with ab.SqliteLog(tmp_path):
                pytest.fail("the log opened")


# --- durability and group commit -------------------------------------------------------


class TestSettings:
    @pytest.mark.parametrize(
        ("kwargs", "problem"),
        [
            pytest.param({"durability": "always"}, "durability must be", id="durability"),
            pytest.param({"max_batch": 0}, "max_batch", id="max-batch"),
            pytest.param({"dedup_entries": 0}, "dedup_entries", id="dedup-entries"),
            pytest.param({"dedup_window": 0.0}, "dedup_window", id="dedup-window"),
        ],
    )
    def test_refuses_a_meaningless_setting(
        self, tmp_path: Path, kwargs: dict[str, Any], problem: str
    ) -> None:
        with pytest.raises(ValueError, match=problem):
            ab.SqliteLog(tmp_path / "log.db", **kwargs)
        assert not (tmp_path / "log.db").exists()


class TestCommitDurability:
    async def test_an_acknowledged_append_is_already_in_the_file(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path) as log:
            receipt = await log.append(note(1, id="order-1"))
            assert query(path, "SELECT seq, id FROM records") == [(1, "order-1")]
            assert receipt == ab.Receipt(1, "order-1", False)

    async def test_append_waits_for_the_commit_without_blocking_the_event_loop(
        self, tmp_path: Path
    ) -> None:
        # Another connection holds the write lock, so the log's writer waits in its
        # thread; meanwhile this task runs, and the append has not returned.
        path = tmp_path / "log.db"
        acked = anyio.Event()

        async def append() -> None:
            await log.append(note(1))
            acked.set()

        async with ab.SqliteLog(path) as log:
            with anyio.fail_after(5), connect(path) as blocker:
                blocker.execute("BEGIN IMMEDIATE")
                async with anyio.create_task_group() as tg:
                    tg.start_soon(append)
                    await anyio.wait_all_tasks_blocked()
                    assert not acked.is_set()
                    blocker.execute("COMMIT")
                    await acked.wait()
            assert seqs_in_file(path) == [1]

    async def test_cursors_and_journal_entries_are_in_the_file_when_they_return(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path) as log:
            await log.append(note(1))
            await log.commit_cursor("writer", 1)
            assert query(path, "SELECT consumer, seq FROM cursors") == [("writer", 1)]
            await log.journal_put("charge", b"\x01")
            assert query(path, "SELECT key, value FROM journal") == [("charge", b"\x01")]


class TestEarlyAcknowledgement:
    """``"batch"`` and ``"none"`` acknowledge before writing; closing writes everything."""

    @pytest.fixture(params=["batch", "none"])
    def durability(self, request: pytest.FixtureRequest) -> ab.Durability:
        mode: ab.Durability = request.param
        return mode

    async def test_acknowledged_records_are_readable_at_once(
        self, tmp_path: Path, durability: ab.Durability
    ) -> None:
        async with ab.SqliteLog(tmp_path / "log.db", durability=durability) as log:
            receipts = [await log.append(note(n)) for n in range(5)]
            records = await log.read(1)
            assert [r.seq for r in records] == [r.seq for r in receipts] == [1, 2, 3, 4, 5]
            assert [r.message for r in records] == [SqNote(n=n) for n in range(5)]
            assert [r.seq for r in await log.read(3, limit=2)] == [3, 4]

    async def test_a_read_while_a_batch_commits_still_returns_every_acknowledged_record(
        self, tmp_path: Path, durability: ab.Durability
    ) -> None:
        # A read joins what the file holds with what is not written yet; a batch whose
        # commit lands while the read runs must be found in one or the other. The race
        # window is narrow, so it is tried many times.
        misses: list[tuple[int, list[int]]] = []
        async with ab.SqliteLog(tmp_path / "log.db", durability=durability) as log:
            for _ in range(1_000):
                first = log.last_seq + 1
                for n in range(5):
                    await log.append(note(n))
                found = [record.seq for record in await log.read(first)]
                if found != list(range(first, first + 5)):
                    misses.append((first, found))
        assert not misses, f"{len(misses)} of 1000 reads missed records, e.g. {misses[:3]}"

    async def test_closing_writes_every_acknowledged_record_cursor_and_journal_entry(
        self, tmp_path: Path, durability: ab.Durability
    ) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path, durability=durability) as log:
            for n in range(50):
                await log.append(note(n))
            await log.commit_cursor("writer", 50)
            await log.journal_put("charge", b"paid")
        assert seqs_in_file(path) == list(range(1, 51))
        assert query(path, "SELECT consumer, seq FROM cursors") == [("writer", 50)]
        assert query(path, "SELECT key, value FROM journal") == [("charge", b"paid")]


class TestGroupCommit:
    async def test_concurrent_appends_all_return_and_land_gap_free(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        receipts: list[ab.Receipt] = []

        async def append(n: int) -> None:
            receipts.append(await log.append(note(n)))

        async with ab.SqliteLog(path) as log:
            async with anyio.create_task_group() as tg:
                for n in range(100):
                    tg.start_soon(append, n)
            assert sorted(r.seq for r in receipts) == list(range(1, 101))
            assert seqs_in_file(path) == list(range(1, 101))  # all committed on return

    async def test_concurrent_appends_share_transactions(self, tmp_path: Path) -> None:
        # One append at a time is one transaction each; 100 at once must share a few.
        one_by_one, together = tmp_path / "one-by-one.db", tmp_path / "together.db"
        async with ab.SqliteLog(one_by_one) as log:
            for n in range(100):
                await log.append(note(n))
            sequential_frames = wal_frames(one_by_one)
        async with ab.SqliteLog(together) as log:
            async with anyio.create_task_group() as tg:
                for n in range(100):
                    tg.start_soon(log.append, note(n))
            grouped_frames = wal_frames(together)
        assert sequential_frames >= 100
        assert grouped_frames * 10 < sequential_frames
        assert seqs_in_file(together) == list(range(1, 101))

    async def test_a_cancelled_owner_still_writes_every_acknowledged_record(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        with anyio.CancelScope() as scope:
            async with ab.SqliteLog(path, durability="batch") as log:
                for n in range(100):  # acknowledged at once, written later
                    await log.append(note(n))
                scope.cancel()
                await anyio.sleep_forever()
        assert seqs_in_file(path) == list(range(1, 101))

    async def test_a_cancelled_bus_on_a_sqlite_log_closes_instead_of_hanging(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        started = anyio.Event()

        class Stuck(ab.Actor):
            subscribe = ("work",)

            async def on_note(self, msg: SqNote, ctx: ab.Context) -> None:
                started.set()
                await anyio.sleep_forever()

        with anyio.fail_after(10), anyio.CancelScope() as crash:
            async with ab.Bus(log=ab.SqliteLog(path)) as bus:
                await bus.spawn(Stuck, name="stuck")
                await bus.publish("work", SqNote(n=1))
                await started.wait()
                crash.cancel()
        assert seqs_in_file(path) == [1]
        async with ab.SqliteLog(path) as log:  # closed properly: it opens again
            assert log.cursors().get("stuck", 0) == 0  # the handler never finished

    async def test_publishers_that_take_turns_lose_and_reorder_nothing(
        self, tmp_path: Path
    ) -> None:
        # 150 publishers, 20 rounds each: they split into cohorts that alternate.
        path = tmp_path / "log.db"
        returned: list[int] = []

        async def publish(p: int) -> None:
            for k in range(20):
                receipt = await log.append(note(p * 100 + k, id=f"p{p}-{k}"))
                returned.append(receipt.seq)

        async with ab.SqliteLog(path) as log:
            async with anyio.create_task_group() as tg:
                for p in range(150):
                    tg.start_soon(publish, p)
            assert seqs_in_file(path) == list(range(1, 3001))  # each committed on return
        assert sorted(returned) == list(range(1, 3001))
        by_publisher: dict[str, list[int]] = {}
        for seq, msg_id in query(path, "SELECT seq, id FROM records ORDER BY seq"):
            by_publisher.setdefault(msg_id.split("-")[0], []).append(seq)
        assert len(by_publisher) == 150  # and each publisher's records are in its order:
        assert all(seqs == sorted(seqs) and len(seqs) == 20 for seqs in by_publisher.values())

    async def test_a_batch_larger_than_one_insert_statement_is_written_whole(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path, durability="batch") as log:
            for n in range(300):  # no await between them: one batch, several INSERTs
                await log.append(note(n))
            await log.commit_cursor("reader", 300)
            records = await log.read(1, limit=1000)
        assert [r.seq for r in records] == list(range(1, 301))
        assert seqs_in_file(path) == list(range(1, 301))
        assert query(path, "SELECT consumer, seq FROM cursors") == [("reader", 300)]

    async def test_a_batch_limit_of_one_still_writes_every_record_in_order(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path, max_batch=1) as log:
            async with anyio.create_task_group() as tg:
                for n in range(30):
                    tg.start_soon(log.append, note(n, id=f"note-{n}"))
            records = await log.read(1)
        assert [r.seq for r in records] == list(range(1, 31))
        assert query(path, "SELECT seq, id FROM records ORDER BY seq") == [
            (r.seq, r.id) for r in records
        ]


# --- dedup across restarts -------------------------------------------------------------


class TestDedupAcrossRestarts:
    async def test_an_id_is_still_a_duplicate_after_a_restart(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path) as log:
            await log.append(note(1, id="order-1"))
            await log.append(note(2))
        async with ab.SqliteLog(path) as log:
            assert await log.append(note(3, id="order-1")) == ab.Receipt(1, "order-1", True)
            assert log.last_seq == 2
        assert seqs_in_file(path) == [1, 2]

    async def test_the_window_keeps_only_the_newest_dedup_entries_ids(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path, dedup_entries=3) as log:
            for n in range(1, 5):
                await log.append(note(n, id=f"key-{n}"))
        async with ab.SqliteLog(path, dedup_entries=3) as log:
            again = [await log.append(note(0, id=f"key-{n}")) for n in (2, 3, 4)]
            assert again == [ab.Receipt(n, f"key-{n}", True) for n in (2, 3, 4)]
            assert await log.append(note(0, id="key-1")) == ab.Receipt(5, "key-1", False)

    async def test_the_window_forgets_ids_older_than_dedup_window(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        now = time.time()
        async with ab.SqliteLog(path, dedup_window=60.0) as log:
            await log.append(note(1, id="old", timestamp=now - 600))
            await log.append(note(2, id="recent", timestamp=now - 5))
        async with ab.SqliteLog(path, dedup_window=60.0) as log:
            assert await log.append(note(3, id="recent")) == ab.Receipt(2, "recent", True)
            assert await log.append(note(4, id="old")) == ab.Receipt(3, "old", False)

    async def test_a_longer_window_on_reopening_remembers_older_ids(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        now = time.time()
        async with ab.SqliteLog(path, dedup_window=60.0) as log:
            await log.append(note(1, id="old", timestamp=now - 600))
        async with ab.SqliteLog(path, dedup_window=3600.0) as log:
            assert await log.append(note(2, id="old")) == ab.Receipt(1, "old", True)


# --- lifecycle -------------------------------------------------------------------------


class TestLifecycle:
    async def test_append_before_open_raises_log_file_error(self, tmp_path: Path) -> None:
        log = ab.SqliteLog(tmp_path / "log.db")
        with pytest.raises(ab.LogFileError, match="closed"):
            await log.append(note(1))

    async def test_append_after_close_raises_log_file_error(self, tmp_path: Path) -> None:
        async with ab.SqliteLog(tmp_path / "log.db") as log:
            await log.append(note(1))
        with pytest.raises(ab.LogFileError, match="closed"):
            await log.append(note(2))

    async def test_opening_an_open_log_raises(self, tmp_path: Path) -> None:
        async with ab.SqliteLog(tmp_path / "log.db") as log:
            with pytest.raises(RuntimeError, match="already open"):
                await log.open()

    async def test_closing_twice_does_nothing(self, tmp_path: Path) -> None:
        log = ab.SqliteLog(tmp_path / "log.db")
        await log.open()
        await log.aclose()
        await log.aclose()

    async def test_a_closed_log_object_can_be_opened_again(self, tmp_path: Path) -> None:
        # A Bus opens its log on entry and closes it on exit: a program that runs two
        # buses one after the other on one SqliteLog object reopens it.
        path = tmp_path / "log.db"
        log = ab.SqliteLog(path)
        async with log:
            await log.append(note(1))
        async with log:
            assert (await log.append(note(2))).seq == 2
        assert seqs_in_file(path) == [1, 2]


# --- reading back ----------------------------------------------------------------------


class TestFindAndCausedBy:
    async def test_find_returns_the_record_with_an_id(self, tmp_path: Path) -> None:
        async with ab.SqliteLog(tmp_path / "log.db") as log:
            await log.append(note(1, id="a"))
            await log.append(note(2, id="b"))
            found = await log.find("b")
            assert found is not None
            assert (found.seq, found.message) == (2, SqNote(n=2))
            assert await log.find("missing") is None

    async def test_caused_by_returns_what_handling_a_message_published(
        self, tmp_path: Path
    ) -> None:
        async with ab.SqliteLog(tmp_path / "log.db") as log:
            cause = await log.append(note(1))
            for n in (2, 3):
                env = note(n)
                env.causation = cause.id
                await log.append(env)
            await log.append(note(4))
            assert [r.seq for r in await log.caused_by(cause.id)] == [2, 3]


_INFO = ab.EnvelopeInfo(
    seq=1,
    id="a",
    topic="t",
    type="Request",
    sender=None,
    timestamp=1.0,
    correlation_id=None,
    reply_to=None,
    causation=None,
)


class TestBuiltInMessages:
    @pytest.mark.parametrize(
        "message",
        [
            pytest.param(ab.Request(action="sum", content="2+2", data={"x": [1]}), id="Request"),
            pytest.param(ab.Response(content="4", data={"x": 1.5}), id="Response"),
            pytest.param(
                ab.StateUpdate(key="plan", value={"steps": 2}, revision=3), id="StateUpdate"
            ),
            pytest.param(
                ab.TaskDelegation(task_id="t1", capability="search", inputs={"q": "x"}),
                id="TaskDelegation",
            ),
            pytest.param(ab.Register(actor="a", capabilities=("search",)), id="Register"),
            pytest.param(
                ab.DeadLetter(
                    actor="a",
                    message=ab.Request(content="x"),
                    envelope=_INFO,
                    error_type="ValueError",
                    error="bad",
                ),
                id="DeadLetter",
            ),
        ],
    )
    async def test_is_read_back_from_the_file_as_it_was_written(
        self, tmp_path: Path, message: ab.Message
    ) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path) as log:
            await log.append(ab.Envelope("", TOPIC, message, time.time()))
        async with ab.SqliteLog(path) as log:
            [record] = await log.read(1)
        assert record.message == message


class TestUndecodableRecords:
    """A record this process cannot decode is read as `Undecodable`, and kept as it is."""

    @pytest.mark.parametrize(
        ("type_tag", "payload", "error"),
        [
            pytest.param(
                "SqNeverDefined",
                msgspec.msgpack.encode({"type": "SqNeverDefined", "n": 1}),
                "no Message subclass with this tag",
                id="unknown-type",
            ),
            pytest.param(
                "SqNote",
                msgspec.msgpack.encode({"type": "SqNote", "n": "one"}),
                r"Expected `int`, got `str` - at `\$.n`",
                id="invalid-payload",
            ),
            pytest.param("SqNote", b"\xc1\xc1\xc1", "malformed", id="malformed-payload"),
            pytest.param("SqNote", "a payload stored as text", ".+", id="text-payload"),
        ],
    )
    async def test_a_bad_record_is_read_as_undecodable_between_good_ones(
        self, tmp_path: Path, type_tag: str, payload: object, error: str
    ) -> None:
        path = tmp_path / "log.db"
        await make_log(path, notes=1)
        insert_record(path, 2, type_tag, payload)
        async with ab.SqliteLog(path) as log:
            assert log.last_seq == 2
            await log.append(note(3))
            first, bad, last = await log.read(1)
        assert (first.message, last.message) == (SqNote(n=0), SqNote(n=3))
        assert bad.seq == 2
        assert isinstance(bad.message, ab.Undecodable)
        assert bad.message.type_tag == type_tag
        assert re.search(error, bad.message.error)
        assert query(path, "SELECT type, payload FROM records WHERE seq = 2") == [
            (type_tag, payload)
        ]

    async def test_a_message_whose_tag_two_classes_share_is_read_as_undecodable(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        async with ab.SqliteLog(path) as log:
            await log.append(ab.Envelope("", TOPIC, SqTwinA(n=1), time.time()))
        async with ab.SqliteLog(path) as log:
            [record] = await log.read(1)
        assert isinstance(record.message, ab.Undecodable)
        assert record.message.type_tag == "SqTwin"
        assert "several classes share this tag" in record.message.error

    async def test_a_copy_of_a_log_reads_the_same(self, tmp_path: Path) -> None:
        # Closing checkpoints the WAL into the main file: a copy of it is the whole log.
        path = tmp_path / "log.db"
        await make_log(path, notes=5)
        copy = tmp_path / "copy.db"
        shutil.copyfile(path, copy)
        async with ab.SqliteLog(copy) as log:
            assert [r.message for r in await log.read(1)] == [SqNote(n=n) for n in range(5)]


# --- schema version 2: the filter indexes (issue 16, point 5) ---------------------------------

FILTER_INDEXES = {"records_topic", "records_type", "records_sender", "records_correlation"}


def indexes(path: Path) -> set[str]:
    return {name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type='index'")}


async def make_version_1_log(path: Path) -> None:
    """A log as schema version 1 left it: the records indexed by id and cause only."""
    async with ab.SqliteLog(path) as log:
        for n in range(20):
            topic = f"v1.{'even' if n % 2 == 0 else 'odd'}"
            await log.append(ab.Envelope(f"v1-{n}", topic, SqNote(n=n), time.time(), f"s{n % 3}"))
    with connect(path) as conn:
        for name in FILTER_INDEXES:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("VACUUM")


class TestSchemaMigration:
    async def test_a_new_log_has_every_filter_index(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        await make_log(path)
        assert query(path, "PRAGMA user_version") == [(2,)]
        assert indexes(path) >= FILTER_INDEXES

    async def test_an_old_file_gets_the_indexes_when_opened_for_writing(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        await make_version_1_log(path)
        assert not FILTER_INDEXES & indexes(path)
        async with ab.SqliteLog(path) as log:
            assert (await log.append(note(99))).seq == 21  # and it goes on
        assert query(path, "PRAGMA user_version") == [(2,)]
        assert indexes(path) >= FILTER_INDEXES
        assert seqs_in_file(path) == list(range(1, 22))
        plan = query(path, "EXPLAIN QUERY PLAN SELECT seq FROM records WHERE type = ?", "SqNote")
        assert "records_type" in str(plan)

    async def test_an_old_file_is_read_as_it_is_and_left_untouched(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        await make_version_1_log(path)
        before = digest(path)
        async with ab.SqliteLog(path).reader() as reader:
            every = [r.seq for r in (await reader.records(limit=1000)).records]
            odd = await reader.records(where=ab.RecordFilter(topic="v1.*", sender="s1"))
            tail = await reader.records(where=ab.RecordFilter(topic="*.odd"), newest_first=True)
        assert every == list(range(1, 21))
        assert [r.seq for r in odd.records] == [n + 1 for n in range(20) if n % 3 == 1]
        assert [r.seq for r in tail.records] == [n + 1 for n in range(19, -1, -2)]
        assert digest(path) == before
        assert sorted(os.listdir(tmp_path)) == ["log.db"]
        assert query(path, "PRAGMA user_version") == [(1,)]
