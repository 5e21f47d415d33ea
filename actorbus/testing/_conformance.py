"""The `EventLog` conformance suite: the contract every log backend must keep.

A backend's test module subclasses `EventLogConformance` and overrides one fixture,
``open_log``, which returns a factory of async context managers: each call opens a
log, and leaving the ``async with`` closes it. The suite then checks what the bus
relies on: seqs from 1 with no gaps, ids assigned to id-less envelopes, duplicates
answered with the original seq and never stored, concurrent appends, ``read`` and
per-consumer cursors. A backend that sets ``durable = True`` promises that every call
of the factory opens the *same* store, and gets the persistence checks too; the
others skip them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from functools import wraps
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeAlias, TypeVar

import anyio
import pytest

from .._log import EventLog
from .._message import Envelope, Message, Receipt, Request, StateUpdate

__all__ = ["EventLogConformance"]

LogFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[EventLog]]
"""What the ``open_log`` fixture returns: each call opens a log for one ``async with``."""

_Suite = TypeVar("_Suite", bound="EventLogConformance")
_P = ParamSpec("_P")

_TOPIC = "conformance.events"


def _bounded(
    test: Callable[Concatenate[_Suite, _P], Awaitable[None]],
) -> Callable[Concatenate[_Suite, _P], Coroutine[Any, Any, None]]:
    # Every check runs under the suite's deadline, so a backend that hangs fails
    # the test instead of the whole run.
    @wraps(test)
    async def bounded(self: _Suite, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        with anyio.fail_after(self.timeout):
            await test(self, *args, **kwargs)

    return bounded


def _note(n: int) -> Message:
    # Built-in message kinds only, so a durable backend needs no extra registration.
    return Request(action="note", content=f"note {n}", data={"n": n})


def _envelope(message: Message | None = None, *, topic: str = _TOPIC, id: str = "") -> Envelope:
    return Envelope(id, topic, message if message is not None else _note(0), time.time())


async def _append_notes(log: EventLog, count: int) -> list[Receipt]:
    return [await log.append(_envelope(_note(n))) for n in range(count)]


class EventLogConformance:
    """The checks every `EventLog` backend must pass, as a pytest test class.

    Subclass it in a test module under a name pytest collects (``Test...``) and
    override the ``open_log`` fixture. The factory it returns is called once or
    more per test; each call returns an async context manager that opens a log
    (calling its ``open``) and closes it (``aclose``) on exit. For a durable
    backend, set ``durable = True`` and make every call open the same store (a
    path or stream made fresh for each test); otherwise every call may open a new,
    empty log, and the persistence checks are skipped.

    Example::

        class TestMyLog(EventLogConformance):
            durable = True

            @pytest.fixture
            def open_log(self, tmp_path):
                return lambda: my_log_opened_at(tmp_path / "log.db")

    The tests are async and marked ``anyio``; they run on whatever
    ``anyio_backend`` the test module provides (override that fixture too for a
    backend that only runs on asyncio). Envelopes carry the built-in `Request`
    message, stamped with the current time, so the dedup window in force is the
    backend's own.

    Attributes:
        durable: True if every call of the factory opens the same store, whose
            records, dedup window and cursors must survive closing it.
        timeout: seconds each test may take before it fails.

    Version added: 0.1
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]
    durable: ClassVar[bool] = False
    timeout: ClassVar[float] = 10.0

    @pytest.fixture
    def open_log(self) -> LogFactory:
        """Return a factory of async context managers, each opening a log.

        Override this fixture; the default raises.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override the `open_log` fixture to return a "
            "callable whose result opens a log with `async with`"
        )

    @pytest.fixture
    def reopen_log(self, open_log: LogFactory) -> LogFactory:
        """``open_log`` for the persistence checks, which skip unless `durable`."""
        if not self.durable:
            pytest.skip(f"{type(self).__name__} is not durable (durable = False)")
        return open_log

    # --- seqs -------------------------------------------------------------------

    @_bounded
    async def test_a_new_log_is_an_empty_event_log(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            assert isinstance(log, EventLog)
            assert log.last_seq == 0
            assert await log.read(1) == []

    @_bounded
    async def test_seqs_start_at_one_and_increase_without_gaps(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            for expected in range(1, 8):
                env = _envelope(_note(expected))
                receipt = await log.append(env)
                assert receipt.seq == expected
                assert not receipt.duplicate
                assert env.seq == expected
                assert log.last_seq == expected

    @_bounded
    async def test_an_empty_id_gets_a_unique_id_from_the_log(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            envs = [_envelope(_note(n)) for n in range(20)]
            receipts = [await log.append(env) for env in envs]
            ids = [env.id for env in envs]
            assert all(ids)
            assert len(set(ids)) == len(ids)
            assert [receipt.id for receipt in receipts] == ids
            assert [record.id for record in await log.read(1)] == ids

    @_bounded
    async def test_a_caller_chosen_id_is_kept(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            env = _envelope(id="order-17")
            receipt = await log.append(env)
            assert receipt == Receipt(1, "order-17", False)
            assert env.id == "order-17"
            [record] = await log.read(1)
            assert record.id == "order-17"

    # --- dedup ------------------------------------------------------------------

    @_bounded
    async def test_a_repeated_caller_id_returns_the_original_seq(
        self, open_log: LogFactory
    ) -> None:
        async with open_log() as log:
            await log.append(_envelope(_note(1), id="key-1"))
            await log.append(_envelope(_note(2)))
            receipt = await log.append(_envelope(_note(3), id="key-1"))
            assert receipt == Receipt(1, "key-1", True)
            assert log.last_seq == 2
            records = await log.read(1)
            assert [record.seq for record in records] == [1, 2]
            assert records[0].message == _note(1)  # the original, not the retry

    @_bounded
    async def test_a_duplicate_takes_no_seq(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await log.append(_envelope(id="key-1"))
            for _ in range(3):
                assert (await log.append(_envelope(id="key-1"))).duplicate
            receipt = await log.append(_envelope(id="key-2"))
            assert receipt == Receipt(2, "key-2", False)
            assert [record.id for record in await log.read(1)] == ["key-1", "key-2"]

    @_bounded
    async def test_a_log_generated_id_passed_back_is_a_duplicate(
        self, open_log: LogFactory
    ) -> None:
        async with open_log() as log:
            first, second = await _append_notes(log, 2)
            again = await log.append(_envelope(_note(9), id=first.id))
            assert again == Receipt(first.seq, first.id, True)
            assert log.last_seq == second.seq

    @_bounded
    async def test_distinct_caller_ids_are_all_appended(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            receipts = [await log.append(_envelope(id=f"key-{n}")) for n in range(10)]
            assert [receipt.seq for receipt in receipts] == list(range(1, 11))
            assert not any(receipt.duplicate for receipt in receipts)

    # --- concurrency ------------------------------------------------------------

    @_bounded
    async def test_concurrent_appends_get_distinct_gap_free_seqs(
        self, open_log: LogFactory
    ) -> None:
        tasks, per_task = 10, 20
        receipts: list[Receipt] = []

        async def append_many(task: int) -> None:
            for n in range(task * per_task, (task + 1) * per_task):
                receipt = await log.append(_envelope(_note(n)))
                receipts.append(receipt)
                await anyio.lowlevel.checkpoint()  # interleave, even if append never yields

        async with open_log() as log:
            async with anyio.create_task_group() as tg:
                for task in range(tasks):
                    tg.start_soon(append_many, task)
            total = tasks * per_task
            assert sorted(receipt.seq for receipt in receipts) == list(range(1, total + 1))
            assert log.last_seq == total
            by_seq = {receipt.seq: receipt.id for receipt in receipts}
            records = await log.read(1, limit=total)
            assert [(record.seq, record.id) for record in records] == sorted(by_seq.items())

    @_bounded
    async def test_concurrent_appends_of_one_id_store_it_once(self, open_log: LogFactory) -> None:
        receipts: list[Receipt] = []

        async def append_key(n: int) -> None:
            receipts.append(await log.append(_envelope(_note(n), id="only-once")))

        async with open_log() as log:
            async with anyio.create_task_group() as tg:
                for n in range(10):
                    tg.start_soon(append_key, n)
            assert [receipt.duplicate for receipt in receipts].count(False) == 1
            assert {receipt.seq for receipt in receipts} == {1}
            assert log.last_seq == 1

    # --- read -------------------------------------------------------------------

    @_bounded
    async def test_read_returns_the_records_in_seq_order(self, open_log: LogFactory) -> None:
        sent: list[tuple[str, Message]] = [
            ("tasks.research", _note(1)),
            ("state.plan", StateUpdate(key="plan", value=["a", "b"], revision=3)),
            ("tasks.write", _note(2)),
        ]
        async with open_log() as log:
            for topic, message in sent:
                await log.append(_envelope(message, topic=topic))
            records = await log.read(1)
            assert [record.seq for record in records] == [1, 2, 3]
            assert [(record.topic, record.message) for record in records] == sent

    @_bounded
    async def test_read_keeps_every_envelope_field(self, open_log: LogFactory) -> None:
        env = Envelope(
            "caller-id",
            "tasks.research",
            _note(5),
            1_700_000_000.25,
            sender="planner",
            correlation_id="conversation-1",
            reply_to="_reply.planner.1",
            causation="cause-id",
        )
        async with open_log() as log:
            await log.append(env)
            [record] = await log.read(1)
            assert record.info() == env.info()
            assert record.message == env.message

    @_bounded
    async def test_read_starts_at_from_seq(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await _append_notes(log, 6)
            records = await log.read(4)
            assert [record.seq for record in records] == [4, 5, 6]
            assert [record.message for record in records] == [_note(3), _note(4), _note(5)]

    @_bounded
    async def test_read_from_zero_starts_at_the_first_record(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await _append_notes(log, 3)
            assert [record.seq for record in await log.read(0)] == [1, 2, 3]

    @_bounded
    async def test_read_returns_at_most_limit_records(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await _append_notes(log, 10)
            assert [record.seq for record in await log.read(1, limit=3)] == [1, 2, 3]
            assert [record.seq for record in await log.read(4, limit=3)] == [4, 5, 6]
            assert [record.seq for record in await log.read(9, limit=3)] == [9, 10]
            assert [record.seq for record in await log.read(5, limit=1)] == [5]

    @_bounded
    async def test_read_past_the_end_returns_nothing(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await _append_notes(log, 3)
            assert await log.read(4) == []
            assert await log.read(1_000) == []

    @_bounded
    async def test_reading_page_by_page_returns_every_record_once(
        self, open_log: LogFactory
    ) -> None:
        async with open_log() as log:
            receipts = await _append_notes(log, 11)
            seen: list[Envelope] = []
            while page := await log.read(len(seen) + 1, limit=4):
                assert len(page) <= 4
                seen.extend(page)
            assert [record.id for record in seen] == [receipt.id for receipt in receipts]

    # --- cursors ----------------------------------------------------------------

    @_bounded
    async def test_the_cursor_of_an_unknown_consumer_is_zero(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            assert await log.cursor("nobody") == 0

    @_bounded
    async def test_cursor_returns_what_was_committed(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await _append_notes(log, 5)
            await log.commit_cursor("writer", 3)
            assert await log.cursor("writer") == 3
            await log.commit_cursor("writer", 5)
            assert await log.cursor("writer") == 5

    @_bounded
    async def test_cursors_are_kept_per_consumer(self, open_log: LogFactory) -> None:
        async with open_log() as log:
            await _append_notes(log, 5)
            await log.commit_cursor("planner", 2)
            await log.commit_cursor("writer", 4)
            assert await log.cursor("planner") == 2
            assert await log.cursor("writer") == 4
            assert await log.cursor("reviewer") == 0

    # --- persistence (durable backends only) -------------------------------------

    @_bounded
    async def test_seqs_continue_after_reopening(self, reopen_log: LogFactory) -> None:
        async with reopen_log() as log:
            await _append_notes(log, 3)
        async with reopen_log() as log:
            assert log.last_seq == 3
            assert (await log.append(_envelope())).seq == 4

    @_bounded
    async def test_records_survive_reopening(self, reopen_log: LogFactory) -> None:
        async with reopen_log() as log:
            await log.append(_envelope(_note(1), id="key-1"))
            await log.append(_envelope(StateUpdate(key="k", value=1), topic="state.k"))
            before = await log.read(1)
        async with reopen_log() as log:
            after = await log.read(1)
            assert [record.info() for record in after] == [record.info() for record in before]
            assert [record.message for record in after] == [record.message for record in before]

    @_bounded
    async def test_duplicates_are_still_caught_after_reopening(
        self, reopen_log: LogFactory
    ) -> None:
        async with reopen_log() as log:
            await log.append(_envelope(id="key-1"))
            generated = await log.append(_envelope())
        async with reopen_log() as log:
            assert await log.append(_envelope(id="key-1")) == Receipt(1, "key-1", True)
            again = await log.append(_envelope(id=generated.id))
            assert again == Receipt(generated.seq, generated.id, True)
            assert log.last_seq == 2

    @_bounded
    async def test_generated_ids_stay_unique_after_reopening(self, reopen_log: LogFactory) -> None:
        async with reopen_log() as log:
            before = await _append_notes(log, 5)
        async with reopen_log() as log:
            after = await _append_notes(log, 5)
            assert not any(receipt.duplicate for receipt in after)
            ids = [receipt.id for receipt in before + after]
            assert len(set(ids)) == len(ids)

    @_bounded
    async def test_cursors_survive_reopening(self, reopen_log: LogFactory) -> None:
        async with reopen_log() as log:
            await _append_notes(log, 4)
            await log.commit_cursor("writer", 4)
            await log.commit_cursor("planner", 2)
        async with reopen_log() as log:
            assert await log.cursor("writer") == 4
            assert await log.cursor("planner") == 2
            assert await log.cursor("reviewer") == 0
