"""Resuming actors on a durable log: cursors, restarts, crashes and ``start_at``.

Each test runs two or three buses, one after the other, on one `SqliteLog` file. A
"crash" is a bus closed while a handler hangs: with a short ``shutdown_grace`` the
hanging handler is cancelled, so its message, and any queued behind it, was published
but never handled. The next bus on the file must handle exactly those. The file is
also read and edited from outside with `sqlite3`: cursors, and records this process
cannot decode.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest

import actorbus as ab

CRASH_GRACE = 0.05  # seconds a crashing bus gives its hanging handler before cancelling it
JOBS = "sq.jobs"
CHORES = "sq.chores"


class SqJob(ab.Message):
    n: int


class SqChore(ab.Message):
    n: int


class Stall:
    """Makes a handler hang on chosen jobs, as a process that dies mid-handler would."""

    def __init__(self, *jobs: int) -> None:
        self.jobs = set(jobs)
        self.entered = anyio.Event()
        self._never = anyio.Event()

    async def maybe_hang(self, n: int) -> None:
        if n in self.jobs:
            self.entered.set()
            await self._never.wait()

    async def wait_hung(self) -> None:
        with anyio.fail_after(5):
            await self.entered.wait()


class Recorder(ab.Actor):
    """Records the jobs it finished handling; hangs on the jobs its stall names."""

    subscribe = (JOBS,)

    def __init__(self, seen: list[int], stall: Stall | None = None) -> None:
        self.seen = seen
        self.stall = stall

    async def on_job(self, msg: SqJob, ctx: ab.Context) -> None:
        if self.stall is not None:
            await self.stall.maybe_hang(msg.n)
        self.seen.append(msg.n)


class ConcurrentRecorder(Recorder):
    """A `Recorder` handling two jobs at once."""

    concurrency = 2


class DeadLetters(ab.Actor):
    subscribe = ("_dead.>",)

    def __init__(self, letters: list[ab.DeadLetter]) -> None:
        self.letters = letters

    async def on_dead_letter(self, msg: ab.DeadLetter, ctx: ab.Context) -> None:
        self.letters.append(msg)


def sqlite_bus(path: Path, **kwargs: Any) -> ab.Bus:
    return ab.Bus(log=ab.SqliteLog(path), **kwargs)


async def publish_jobs(bus: ab.Bus, *jobs: int) -> None:
    for n in jobs:
        await bus.publish(JOBS, SqJob(n=n))


async def drained(bus: ab.Bus) -> None:
    with anyio.fail_after(5):
        await bus.drain()


async def history(path: Path, *jobs: int) -> None:
    """Publish ``jobs`` on a bus with no actors (seqs 1, 2, ... on a new file)."""
    async with sqlite_bus(path) as bus:
        await publish_jobs(bus, *jobs)


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def cursors_in_file(path: Path) -> dict[str, int]:
    with connect(path) as conn:
        return dict(conn.execute("SELECT consumer, seq FROM cursors").fetchall())


class TestRestartAfterAStop:
    async def test_handled_messages_are_not_handled_again(self, tmp_path: Path) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await publish_jobs(bus, 1, 2, 3)
            await drained(bus)
        assert cursors_in_file(path) == {"r": 3}
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
            await publish_jobs(bus, 4)
            await drained(bus)
        assert seen == [1, 2, 3, 4]
        assert cursors_in_file(path) == {"r": 4}

    async def test_messages_published_while_an_actor_was_away_are_handled_on_its_return(
        self, tmp_path: Path
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await publish_jobs(bus, 1)
            await drained(bus)
        await history(path, 2, 3)  # a bus without "r"
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
        assert seen == [1, 2, 3]

    async def test_a_key_published_again_after_a_restart_is_a_duplicate_and_not_delivered(
        self, tmp_path: Path
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            first = await bus.publish(JOBS, SqJob(n=1), key="job-1")
            await drained(bus)
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            again = await bus.publish(JOBS, SqJob(n=1), key="job-1")
            await drained(bus)
            assert bus.statistics().duplicates == 1
        assert again == ab.Receipt(first.seq, "job-1", True)
        assert seen == [1]


class TestRestartAfterACrash:
    @pytest.mark.parametrize("durability", ["commit", "batch", "none"])
    async def test_the_message_cut_off_mid_handler_and_those_queued_are_handled_next_time(
        self, tmp_path: Path, durability: ab.Durability
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        stall = Stall(2)
        crashing = ab.Bus(log=ab.SqliteLog(path, durability=durability), shutdown_grace=CRASH_GRACE)
        async with crashing as bus:
            await bus.spawn(Recorder, seen, stall, name="r")
            await publish_jobs(bus, 1, 2, 3)
            await stall.wait_hung()
        assert seen == [1]
        assert cursors_in_file(path) == {"r": 1}
        async with ab.Bus(log=ab.SqliteLog(path, durability=durability)) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await publish_jobs(bus, 4)  # comes after the backlog, in seq order
            await drained(bus)
        assert seen == [1, 2, 3, 4]

    async def test_a_concurrent_actors_cut_off_message_is_handled_next_time(
        self, tmp_path: Path
    ) -> None:
        # With concurrency > 1 the cursor is the last of a run of handled messages:
        # a handler cancelled by the shutdown must not count as handled.
        path, seen = tmp_path / "log.db", list[int]()
        stall = Stall(2)
        async with sqlite_bus(path, shutdown_grace=CRASH_GRACE) as bus:
            await bus.spawn(ConcurrentRecorder, seen, stall, name="r")
            await publish_jobs(bus, 1, 2)
            await stall.wait_hung()
            with anyio.fail_after(5):
                while seen != [1]:  # job 1 finished beside the hung job 2
                    await anyio.lowlevel.checkpoint()
        assert cursors_in_file(path) == {"r": 1}
        async with sqlite_bus(path) as bus:
            await bus.spawn(ConcurrentRecorder, seen, name="r")
            await drained(bus)
        assert seen == [1, 2]

    async def test_each_actor_resumes_from_its_own_cursor(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        early, late = list[int](), list[int]()
        stuck_at_2, stuck_at_4 = Stall(2), Stall(4)
        async with sqlite_bus(path, shutdown_grace=CRASH_GRACE) as bus:
            await bus.spawn(Recorder, early, stuck_at_2, name="early")
            await bus.spawn(Recorder, late, stuck_at_4, name="late")
            await publish_jobs(bus, 1, 2, 3, 4)
            await stuck_at_2.wait_hung()
            await stuck_at_4.wait_hung()
        assert (early, late) == ([1], [1, 2, 3])
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, early, name="early")
            await bus.spawn(Recorder, late, name="late")
            await drained(bus)
        assert (early, late) == ([1, 2, 3, 4], [1, 2, 3, 4])

    async def test_a_crash_before_the_first_message_is_handled_loses_nothing(
        self, tmp_path: Path
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        await history(path, 1)
        stall = Stall(2)
        async with sqlite_bus(path, shutdown_grace=CRASH_GRACE) as bus:
            await bus.spawn(Recorder, seen, stall, name="r")  # new: starts after seq 1
            await publish_jobs(bus, 2)
            await stall.wait_hung()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
        assert seen == [2]


class TestFirstSpawn:
    async def test_a_new_actor_starts_at_the_latest_record(self, tmp_path: Path) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        await history(path, 1, 2)
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
            assert seen == []
            await publish_jobs(bus, 3)
            await drained(bus)
        assert seen == [3]

    async def test_a_new_actor_gets_a_cursor_at_once(self, tmp_path: Path) -> None:
        # "r" handles nothing in its first run; its cursor still marks where it
        # started, so what is published while it is away is handled on its return.
        path, seen = tmp_path / "log.db", list[int]()
        await history(path, 1, 2)
        log = ab.SqliteLog(path)
        async with ab.Bus(log=log) as bus:
            await bus.spawn(Recorder, seen, name="r")
            assert log.has_cursor("r")
            assert await log.cursor("r") == 2
        assert cursors_in_file(path) == {"r": 2}
        await history(path, 3)
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
        assert seen == [3]


class TestStartAt:
    @pytest.mark.parametrize(
        ("start_at", "expected"),
        [
            pytest.param("earliest", [1, 2, 3, 4, 5], id="earliest"),
            pytest.param("latest", [], id="latest"),
            pytest.param(1, [1, 2, 3, 4, 5], id="seq-1"),
            pytest.param(3, [3, 4, 5], id="seq-3"),
            pytest.param(5, [5], id="seq-last"),
            pytest.param(6, [], id="seq-next"),
        ],
    )
    async def test_a_new_actor_reads_from_where_start_at_says(
        self, tmp_path: Path, start_at: Any, expected: list[int]
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        await history(path, 1, 2, 3, 4, 5)
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r", start_at=start_at)
            await drained(bus)
            await publish_jobs(bus, 6)
            await drained(bus)
        assert seen == [*expected, 6]

    @pytest.mark.parametrize(
        ("start_at", "expected"),
        [
            pytest.param("earliest", [1, 2, 3], id="earliest"),
            pytest.param(2, [2, 3], id="seq"),
        ],
    )
    async def test_start_at_overrides_the_cursor_of_a_known_actor(
        self, tmp_path: Path, start_at: Any, expected: list[int]
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await publish_jobs(bus, 1, 2, 3)
            await drained(bus)
        seen.clear()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r", start_at=start_at)
            await drained(bus)
        assert seen == expected
        assert cursors_in_file(path) == {"r": 3}

    async def test_latest_skips_a_known_actors_backlog(self, tmp_path: Path) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        stall = Stall(2)
        async with sqlite_bus(path, shutdown_grace=CRASH_GRACE) as bus:
            await bus.spawn(Recorder, seen, stall, name="r")
            await publish_jobs(bus, 1, 2, 3)
            await stall.wait_hung()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r", start_at="latest")
            await publish_jobs(bus, 4)
            await drained(bus)
        assert seen == [1, 4]

    async def test_earliest_reads_only_the_actors_own_topics(self, tmp_path: Path) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        async with sqlite_bus(path) as bus:
            await publish_jobs(bus, 1)
            await bus.publish(CHORES, SqChore(n=2))
            await publish_jobs(bus, 3)
        async with sqlite_bus(path) as bus:
            ref = await bus.spawn(Recorder, seen, name="r", start_at="earliest")
            await drained(bus)
            stats = ref.statistics()
        assert seen == [1, 3]
        assert (stats.handled, stats.dead_lettered, stats.cursor) == (2, 0, 3)

    @pytest.mark.parametrize(
        "start_at",
        [
            pytest.param(0, id="zero"),
            pytest.param(-3, id="negative"),
            pytest.param(True, id="bool"),
            pytest.param("oldest", id="unknown-word"),
            pytest.param(2.0, id="float"),
        ],
    )
    async def test_a_meaningless_start_at_is_refused_and_the_name_stays_free(
        self, tmp_path: Path, start_at: Any
    ) -> None:
        path, seen = tmp_path / "log.db", list[int]()
        await history(path, 1, 2)
        async with sqlite_bus(path) as bus:
            with pytest.raises(ValueError, match="start_at"):
                await bus.spawn(Recorder, seen, name="r", start_at=start_at)
            assert bus.actors() == ()
            await bus.spawn(Recorder, seen, name="r")
            await publish_jobs(bus, 3)
            await drained(bus)
        assert seen == [3]


def _encoded(value: object) -> bytes:
    return msgspec.msgpack.encode(value)


class TestUndecodableRecordsOnResume:
    """A record the actor cannot decode becomes a dead letter; the actor goes on."""

    @pytest.mark.parametrize(
        ("type_tag", "payload"),
        [
            pytest.param("SqNeverDefined", _encoded({"type": "SqNeverDefined"}), id="unknown-type"),
            pytest.param("SqJob", _encoded({"type": "SqJob", "n": "two"}), id="invalid-payload"),
            pytest.param("SqJob", b"\xc1\xc1", id="malformed-payload"),
            pytest.param("SqJob", "text, not bytes", id="text-payload"),
        ],
    )
    async def test_is_dead_lettered_naming_its_seq_and_kept_in_the_file(
        self, tmp_path: Path, type_tag: str, payload: object
    ) -> None:
        path, seen, letters = tmp_path / "log.db", list[int](), list[ab.DeadLetter]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Recorder, seen, name="r")
            await publish_jobs(bus, 1)
            await drained(bus)
        rows = [
            (2, "bad-record", JOBS, type_tag, time.time(), payload),
            (3, "good-record", JOBS, "SqJob", time.time(), _encoded(SqJob(n=3))),
        ]
        with connect(path) as conn:
            conn.executemany(
                "INSERT INTO records (seq, id, topic, type, timestamp, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        async with sqlite_bus(path) as bus:
            await bus.spawn(DeadLetters, letters, name="dead")
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
            await publish_jobs(bus, 4)
            await drained(bus)
        assert seen == [1, 3, 4]
        [letter] = letters
        assert (letter.actor, letter.error_type) == ("r", "UndecodableRecord")
        assert (letter.envelope.seq, letter.envelope.id) == (2, "bad-record")
        assert isinstance(letter.message, ab.Undecodable)
        assert letter.message.type_tag == type_tag
        with connect(path) as conn:
            kept = conn.execute("SELECT type, payload FROM records WHERE seq = 2").fetchall()
        assert kept == [(type_tag, payload)]
        async with sqlite_bus(path) as bus:  # handled (as a dead letter): not again
            await bus.spawn(DeadLetters, letters, name="dead")
            await bus.spawn(Recorder, seen, name="r")
            await drained(bus)
        assert (seen, len(letters)) == ([1, 3, 4], 1)
