"""MemoryLog: the conformance suite, then what only the in-memory log does.

Retention and `first_seq`, the dedup window's bounds (by count and by age), and the
synchronous `_nowait` methods. Ages are moved forward with the envelopes'
timestamps, which are the log's clock: no test sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from actorbus import Envelope, EventLog, LogTruncated, MemoryLog, Receipt, Request, new_id
from actorbus._log import SyncAppend
from actorbus.testing import EventLogConformance

LogFactory = Callable[[], AbstractAsyncContextManager[EventLog]]

T0 = 1_000_000.0  # an arbitrary start time; only differences matter to the log


def env(id: str = "", timestamp: float = T0, topic: str = "events") -> Envelope:
    return Envelope(id, topic, Request(content=id or "generated"), timestamp)


def fill(log: MemoryLog, count: int, timestamp: float = T0) -> list[Receipt]:
    return [log.append_nowait(env(timestamp=timestamp)) for _ in range(count)]


class TestMemoryLogConformance(EventLogConformance):
    """A fresh MemoryLog per open: nothing persists, so persistence checks skip."""

    @pytest.fixture
    def open_log(self) -> LogFactory:
        @asynccontextmanager
        async def open_memory_log() -> AsyncIterator[EventLog]:
            log = MemoryLog()
            await log.open()
            try:
                yield log
            finally:
                await log.aclose()

        return open_memory_log


class TestSharedMemoryLogConformance(EventLogConformance):
    """One MemoryLog object reopened in a test acts as a store that persists.

    This runs the suite's persistence checks against a backend that keeps them, so
    they are exercised before any durable backend exists.
    """

    durable = True

    @pytest.fixture
    def open_log(self) -> LogFactory:
        store = MemoryLog()

        @asynccontextmanager
        async def reopen_memory_log() -> AsyncIterator[EventLog]:
            await store.open()
            try:
                yield store
            finally:
                await store.aclose()

        return reopen_memory_log


class TestConstruction:
    def test_a_new_log_is_empty(self) -> None:
        log = MemoryLog()
        assert log.last_seq == 0
        assert log.first_seq == 1

    def test_it_appends_without_waiting(self) -> None:
        assert isinstance(MemoryLog(), SyncAppend)

    @pytest.mark.parametrize(
        "kwargs",
        [
            pytest.param({"retain": -1}, id="negative-retain"),
            pytest.param({"dedup_entries": 0}, id="no-dedup-entries"),
            pytest.param({"dedup_window": 0.0}, id="zero-dedup-window"),
            pytest.param({"dedup_window": -1.0}, id="negative-dedup-window"),
        ],
    )
    def test_refuses_a_meaningless_setting(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError, match="must be"):
            MemoryLog(**kwargs)  # type: ignore[arg-type]

    def test_repr_shows_the_seq_and_the_retained_count(self) -> None:
        log = MemoryLog(retain=2)
        fill(log, 3)
        assert repr(log) == "MemoryLog(last_seq=3, retained=2)"


class TestNowait:
    async def test_append_nowait_appends_like_append(self) -> None:
        log = MemoryLog()
        assert log.append_nowait(env("a")) == Receipt(1, "a", False)
        assert await log.append(env("b")) == Receipt(2, "b", False)
        assert log.append_nowait(env("a")) == Receipt(1, "a", True)
        assert [record.id for record in await log.read(1)] == ["a", "b"]

    async def test_commit_cursor_nowait_is_seen_by_cursor(self) -> None:
        log = MemoryLog()
        log.commit_cursor_nowait("writer", 7)
        assert await log.cursor("writer") == 7


class TestRetention:
    async def test_keeps_only_the_newest_records(self) -> None:
        log = MemoryLog(retain=3)
        fill(log, 5)
        assert log.last_seq == 5
        assert log.first_seq == 3
        assert [record.seq for record in await log.read(3)] == [3, 4, 5]

    @pytest.mark.parametrize("from_seq", [pytest.param(n, id=f"from-{n}") for n in (0, 1, 2)])
    async def test_reading_evicted_records_raises_log_truncated(self, from_seq: int) -> None:
        log = MemoryLog(retain=3)
        fill(log, 5)
        with pytest.raises(LogTruncated) as info:
            await log.read(from_seq)
        assert (info.value.from_seq, info.value.first_seq) == (from_seq, 3)
        assert isinstance(info.value, LookupError)

    async def test_reading_past_the_end_of_a_truncated_log_returns_nothing(self) -> None:
        log = MemoryLog(retain=3)
        fill(log, 5)
        assert await log.read(6) == []
        assert await log.read(60) == []

    async def test_retain_zero_keeps_no_records(self) -> None:
        log = MemoryLog(retain=0)
        receipts = fill(log, 4)
        assert [receipt.seq for receipt in receipts] == [1, 2, 3, 4]
        assert log.first_seq == 5
        assert await log.read(5) == []
        with pytest.raises(LogTruncated):
            await log.read(4)

    async def test_read_from_zero_before_any_eviction_starts_at_one(self) -> None:
        log = MemoryLog(retain=3)
        fill(log, 2)
        assert [record.seq for record in await log.read(0)] == [1, 2]

    async def test_reading_across_the_eviction_point_pages_from_first_seq(self) -> None:
        log = MemoryLog(retain=4)
        fill(log, 10)
        assert [record.seq for record in await log.read(log.first_seq, limit=2)] == [7, 8]

    async def test_evicted_records_are_still_deduplicated(self) -> None:
        log = MemoryLog(retain=1)
        log.append_nowait(env("key-1"))
        fill(log, 2)
        assert log.append_nowait(env("key-1")) == Receipt(1, "key-1", True)


class TestDedupByCount:
    def test_an_id_is_forgotten_after_dedup_entries_newer_messages(self) -> None:
        log = MemoryLog(dedup_entries=3)
        for n in range(1, 5):
            log.append_nowait(env(f"key-{n}"))
        # The newest three (seqs 2, 3, 4) are remembered; seq 1 is not.
        assert [log.append_nowait(env(f"key-{n}")).duplicate for n in (2, 3, 4)] == [True] * 3
        assert log.append_nowait(env("key-1")) == Receipt(5, "key-1", False)

    def test_messages_with_generated_ids_count_towards_the_bound(self) -> None:
        log = MemoryLog(dedup_entries=3)
        log.append_nowait(env("key-1"))
        fill(log, 2)
        assert log.append_nowait(env("key-1")).duplicate
        fill(log, 1)
        assert log.append_nowait(env("key-1")) == Receipt(5, "key-1", False)

    def test_a_generated_id_is_forgotten_after_dedup_entries_newer_messages(self) -> None:
        log = MemoryLog(dedup_entries=2)
        first = log.append_nowait(env())
        fill(log, 1)
        assert log.append_nowait(env(first.id)).duplicate
        fill(log, 1)
        assert log.append_nowait(env(first.id)) == Receipt(4, first.id, False)

    def test_an_id_reused_after_being_forgotten_keeps_the_log_working(self) -> None:
        # key-1 falls out of the window by count (through generated-id appends),
        # is appended again, and later appends must still go through.
        log = MemoryLog(dedup_entries=2)
        log.append_nowait(env("key-1"))
        fill(log, 2)
        assert log.append_nowait(env("key-1")) == Receipt(4, "key-1", False)
        receipts = [log.append_nowait(env(f"key-{n}")) for n in range(2, 6)]
        assert [receipt.seq for receipt in receipts] == [5, 6, 7, 8]
        assert log.append_nowait(env("key-5")) == Receipt(8, "key-5", True)


class TestDedupByAge:
    # dedup_window=8 s: ids are remembered for at least 8 s and forgotten by 8.5 s
    # (marks are taken every 8/16 s).

    @pytest.mark.parametrize(
        ("age", "duplicate"),
        [
            pytest.param(0.0, True, id="same-time"),
            pytest.param(4.0, True, id="half-window"),
            pytest.param(7.9, True, id="just-inside"),
            pytest.param(8.6, False, id="past-window-and-mark-interval"),
            pytest.param(1000.0, False, id="long-after"),
        ],
    )
    def test_a_caller_id_is_remembered_for_the_window(self, age: float, duplicate: bool) -> None:
        log = MemoryLog(dedup_window=8.0)
        log.append_nowait(env("key-1", T0))
        receipt = log.append_nowait(env("key-1", T0 + age))
        assert receipt == (Receipt(1, "key-1", True) if duplicate else Receipt(2, "key-1", False))

    @pytest.mark.parametrize(
        ("age", "duplicate"),
        [
            pytest.param(0.0, True, id="same-time"),
            pytest.param(7.9, True, id="just-inside"),
            pytest.param(8.6, False, id="past-window-and-mark-interval"),
        ],
    )
    def test_a_generated_id_is_remembered_for_the_window(self, age: float, duplicate: bool) -> None:
        log = MemoryLog(dedup_window=8.0)
        first = log.append_nowait(env(timestamp=T0))
        receipt = log.append_nowait(env(first.id, T0 + age))
        assert receipt == (Receipt(1, first.id, True) if duplicate else Receipt(2, first.id, False))

    def test_each_id_ages_from_its_own_append(self) -> None:
        log = MemoryLog(dedup_window=8.0)
        log.append_nowait(env("early", T0))
        log.append_nowait(env("late", T0 + 6.0))
        assert not log.append_nowait(env("early", T0 + 10.0)).duplicate
        assert log.append_nowait(env("late", T0 + 10.0)) == Receipt(2, "late", True)

    def test_a_steady_stream_forgets_only_old_ids(self) -> None:
        log = MemoryLog(dedup_window=8.0)
        receipts = [log.append_nowait(env(f"key-{n}", T0 + n)) for n in range(20)]
        now = T0 + 20.0
        again = {n: log.append_nowait(env(f"key-{n}", now)) for n in range(20)}
        # Ages 1..8 s (n = 12..19) are inside the window; 9 s and more are out.
        assert all(again[n] == Receipt(receipts[n].seq, f"key-{n}", True) for n in range(12, 20))
        assert not any(again[n].duplicate for n in range(12))


class TestGeneratedIds:
    def test_generated_ids_sort_in_seq_order(self) -> None:
        log = MemoryLog()
        ids = [receipt.id for receipt in fill(log, 50)]
        assert ids == sorted(ids)

    def test_two_logs_never_generate_the_same_id(self) -> None:
        # Logs made in the same millisecond must still make distinct ids, or a
        # message carried from one bus to another would be taken for a duplicate.
        logs = [MemoryLog() for _ in range(50)]
        ids = [log.append_nowait(env()).id for log in logs]
        assert len(set(ids)) == len(ids)

    def test_an_id_forwarded_from_another_log_is_not_a_duplicate(self) -> None:
        source = MemoryLog()
        forwarded = [receipt.id for receipt in fill(source, 3)]
        sinks = [MemoryLog() for _ in range(20)]
        for sink in sinks:
            fill(sink, 3)
            receipts = [sink.append_nowait(env(msg_id)) for msg_id in forwarded]
            assert [receipt.duplicate for receipt in receipts] == [False] * 3

    def test_a_key_from_new_id_is_never_taken_for_a_generated_id(self) -> None:
        # new_id() keys (the bus uses one for an ask that may block) have the shape
        # of a log's generated ids, but a counter range of their own.
        log = MemoryLog(retain=0)
        fill(log, 5)
        receipts = [log.append_nowait(env(new_id())) for _ in range(1_000)]
        assert not any(receipt.duplicate for receipt in receipts)
        assert log.last_seq == 1_005

    def test_a_key_shaped_like_a_future_generated_id_is_refused(self) -> None:
        log = MemoryLog()
        [first] = fill(log, 1)
        lookalike = first.id[:-1] + "3"  # shaped like the id this log makes for seq 3
        with pytest.raises(ValueError, match="shape of an id this log generates"):
            log.append_nowait(env(lookalike))
        assert log.last_seq == 1
        [second] = fill(log, 1)
        assert second.id != lookalike
