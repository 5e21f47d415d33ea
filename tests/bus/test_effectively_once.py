"""Effectively once on a durable log: derived ids and ``ctx.once`` across re-runs.

A handler that runs again for the same message (a retry after it raised, or the
resume after a crash) publishes again under the same derived ids, which the log drops,
and gets the journaled result of each ``ctx.once`` instead of calling its function
again. A crash is a bus closed while the handler hangs after doing its work (see
``test_resume.py``); the next bus on the same `SqliteLog` file re-runs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import msgspec

import actorbus as ab

CRASH_GRACE = 0.05  # seconds a crashing bus gives its hanging handler before cancelling it
ORDERS, PARCELS, BILLS = "sq.orders", "sq.parcels", "sq.bills"


class SqOrder(ab.Message):
    n: int


class SqParcel(ab.Message):
    order: int
    part: int


class SqCharge(msgspec.Struct, frozen=True):
    """What a side effect returns: recorded in the journal, not a message."""

    order: int
    amount: int


class Stall:
    """Makes a handler hang on chosen orders, as a process that dies mid-handler would."""

    def __init__(self, *orders: int) -> None:
        self.orders = set(orders)
        self.entered = anyio.Event()
        self._never = anyio.Event()

    async def maybe_hang(self, n: int) -> None:
        if n in self.orders:
            self.entered.set()
            await self._never.wait()

    async def wait_hung(self) -> None:
        with anyio.fail_after(5):
            await self.entered.wait()


class Rerun:
    """What makes a handler run again: one failure per order, or a hang (a crash)."""

    def __init__(self, *, fail_once: bool = False, stall: Stall | None = None) -> None:
        self.fail_once = fail_once
        self.stall = stall
        self._failed: set[int] = set()

    async def after_the_work(self, n: int) -> None:
        if self.fail_once and n not in self._failed:
            self._failed.add(n)
            raise RuntimeError(f"order {n} failed after its side effects")
        if self.stall is not None:
            await self.stall.maybe_hang(n)


class Packer(ab.Actor):
    """Publishes two parcels per order, without keys; then may fail or hang."""

    subscribe = (ORDERS,)
    max_retries = 1
    retry_delay = 0

    def __init__(self, receipts: list[ab.Receipt], rerun: Rerun | None = None) -> None:
        self.receipts = receipts
        self.rerun = rerun or Rerun()

    async def on_order(self, msg: SqOrder, ctx: ab.Context) -> None:
        for part in (1, 2):
            self.receipts.append(await ctx.publish(PARCELS, SqParcel(order=msg.n, part=part)))
        await self.rerun.after_the_work(msg.n)


class Dock(ab.Actor):
    subscribe = (PARCELS,)

    def __init__(self, parcels: list[tuple[int, int]]) -> None:
        self.parcels = parcels

    async def on_parcel(self, msg: SqParcel, ctx: ab.Context) -> None:
        self.parcels.append((msg.order, msg.part))


class Biller(ab.Actor):
    """Charges each order through ``ctx.once`` (``uses`` times); then may fail or hang."""

    subscribe = (BILLS,)
    max_retries = 1
    retry_delay = 0

    def __init__(
        self, calls: list[int], charges: list[SqCharge], rerun: Rerun | None = None, uses: int = 1
    ) -> None:
        self.calls = calls
        self.charges = charges
        self.rerun = rerun or Rerun()
        self.uses = uses

    async def _charge(self, order: int) -> SqCharge:
        self.calls.append(order)
        return SqCharge(order=order, amount=100 * len(self.calls))  # differs on each call

    async def on_order(self, msg: SqOrder, ctx: ab.Context) -> None:
        for _ in range(self.uses):
            charge = await ctx.once("charge", partial(self._charge, msg.n), decode_as=SqCharge)
            self.charges.append(charge)
        await self.rerun.after_the_work(msg.n)


def sqlite_bus(path: Path, **kwargs: Any) -> ab.Bus:
    return ab.Bus(log=ab.SqliteLog(path), **kwargs)


async def drained(bus: ab.Bus) -> None:
    with anyio.fail_after(5):
        await bus.drain()


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def count_in_file(path: Path, sql: str) -> int:
    with connect(path) as conn:
        count: int = conn.execute(sql).fetchone()[0]
        return count


def sqlite_log(bus: ab.Bus) -> ab.SqliteLog:
    log = bus.log
    assert isinstance(log, ab.SqliteLog)
    return log


def parcels_in_file(path: Path) -> int:
    return count_in_file(path, f"SELECT count(*) FROM records WHERE topic = '{PARCELS}'")


class TestDerivedIds:
    async def test_a_retry_republishes_under_the_same_ids_and_the_log_drops_the_copies(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        receipts, parcels = list[ab.Receipt](), list[tuple[int, int]]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Dock, parcels, name="dock")
            packer = await bus.spawn(Packer, receipts, Rerun(fail_once=True), name="packer")
            order = await bus.publish(ORDERS, SqOrder(n=1))
            await drained(bus)
            assert packer.statistics().retried == 1
            caused = await sqlite_log(bus).caused_by(order.id)
        first, again = receipts[:2], receipts[2:]
        assert [r.duplicate for r in first] == [False, False]
        assert again == [ab.Receipt(r.seq, r.id, True) for r in first]
        assert parcels == [(1, 1), (1, 2)]
        assert [r.seq for r in caused] == [r.seq for r in first]
        assert parcels_in_file(path) == 2

    async def test_a_rerun_after_a_crash_publishes_nothing_new(self, tmp_path: Path) -> None:
        path = tmp_path / "log.db"
        receipts, parcels = list[ab.Receipt](), list[tuple[int, int]]()
        stall = Stall(1)
        async with sqlite_bus(path, shutdown_grace=CRASH_GRACE) as bus:
            await bus.spawn(Dock, parcels, name="dock")
            await bus.spawn(Packer, receipts, Rerun(stall=stall), name="packer")
            await bus.publish(ORDERS, SqOrder(n=1))
            await stall.wait_hung()
        first = list(receipts)
        async with sqlite_bus(path) as bus:
            await bus.spawn(Dock, parcels, name="dock")
            await bus.spawn(Packer, receipts, name="packer")
            await drained(bus)
        assert receipts[2:] == [ab.Receipt(r.seq, r.id, True) for r in first]
        assert parcels == [(1, 1), (1, 2)]
        assert parcels_in_file(path) == 2

    async def test_each_publish_of_each_handled_message_gets_its_own_id(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        receipts, parcels = list[ab.Receipt](), list[tuple[int, int]]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Dock, parcels, name="dock")
            await bus.spawn(Packer, receipts, name="packer")
            for n in (1, 2):
                await bus.publish(ORDERS, SqOrder(n=n))
            await drained(bus)
        assert not any(r.duplicate for r in receipts)
        assert len({r.id for r in receipts}) == 4
        assert parcels == [(1, 1), (1, 2), (2, 1), (2, 2)]

    async def test_two_actors_handling_one_message_publish_under_different_ids(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        receipts, parcels = list[ab.Receipt](), list[tuple[int, int]]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Dock, parcels, name="dock")
            await bus.spawn(Packer, receipts, name="packer-a")
            await bus.spawn(Packer, receipts, name="packer-b")
            await bus.publish(ORDERS, SqOrder(n=1))
            await drained(bus)
        assert not any(r.duplicate for r in receipts)
        assert sorted(parcels) == [(1, 1), (1, 1), (1, 2), (1, 2)]
        assert parcels_in_file(path) == 4


class TestOnce:
    async def test_a_retry_gets_the_recorded_result_without_calling_fn_again(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        calls, charges = list[int](), list[SqCharge]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Biller, calls, charges, Rerun(fail_once=True), name="biller")
            await bus.publish(BILLS, SqOrder(n=7))
            await drained(bus)
        assert calls == [7]
        assert charges == [SqCharge(order=7, amount=100)] * 2
        assert count_in_file(path, "SELECT count(*) FROM journal") == 1

    async def test_a_rerun_after_a_crash_gets_the_recorded_result_without_calling_fn(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        calls, charges = list[int](), list[SqCharge]()
        stall = Stall(7)
        async with sqlite_bus(path, shutdown_grace=CRASH_GRACE) as bus:
            await bus.spawn(Biller, calls, charges, Rerun(stall=stall), name="biller")
            await bus.publish(BILLS, SqOrder(n=7))
            await stall.wait_hung()
        assert (calls, charges) == ([7], [SqCharge(order=7, amount=100)])
        async with sqlite_bus(path) as bus:
            await bus.spawn(Biller, calls, charges, name="biller")
            await drained(bus)
        assert calls == [7]
        assert charges == [SqCharge(order=7, amount=100)] * 2
        assert all(type(charge) is SqCharge for charge in charges)  # decoded as asked

    async def test_fn_runs_once_for_each_handled_message(self, tmp_path: Path) -> None:
        calls, charges = list[int](), list[SqCharge]()
        async with sqlite_bus(tmp_path / "log.db") as bus:
            await bus.spawn(Biller, calls, charges, name="biller")
            for n in (1, 2):
                await bus.publish(BILLS, SqOrder(n=n))
            await drained(bus)
        assert calls == [1, 2]
        assert charges == [SqCharge(order=1, amount=100), SqCharge(order=2, amount=200)]

    async def test_a_key_used_twice_in_one_handling_is_two_recorded_calls(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "log.db"
        calls, charges = list[int](), list[SqCharge]()
        async with sqlite_bus(path) as bus:
            await bus.spawn(Biller, calls, charges, Rerun(fail_once=True), 2, name="biller")
            await bus.publish(BILLS, SqOrder(n=3))
            await drained(bus)
        assert calls == [3, 3]
        recorded = [SqCharge(order=3, amount=100), SqCharge(order=3, amount=200)]
        assert charges == recorded * 2  # the retry got both recorded results, in order
        assert count_in_file(path, "SELECT count(*) FROM journal") == 2
