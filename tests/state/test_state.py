"""The shared state: revisions, compare-and-swap, updates under contention, the log."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_behaviour import BusFactory, DurableStateBehaviour, Incrementer, StateBehaviour

import actorbus as ab


class TestMemoryState(StateBehaviour):
    @pytest.fixture
    def open_bus(self) -> BusFactory:
        return ab.Bus


class TestSqliteState(DurableStateBehaviour):
    @pytest.fixture
    def open_bus(self, tmp_path: Path) -> BusFactory:
        path = tmp_path / "events.db"
        return lambda: ab.Bus(log=ab.SqliteLog(path))


class TestLocalRevisions:
    """The local store counts revisions 1, 2, 3... per key."""

    async def test_revisions_count_one_by_one_per_key(self) -> None:
        async with ab.Bus() as bus:
            first = await bus.state.put("plan", {"step": 1})
            other = await bus.state.put("other", 1)
            second = await bus.state.put("plan", {"step": 2})
            a1 = await bus.state.put("k", "A")
            await bus.state.put("k", "B")
            await bus.state.put("k", "A")
            with pytest.raises(ab.StateConflict) as caught:
                await bus.state.cas("k", "C", a1.revision)
            done = await bus.state.cas("k", "C", 3)
            await bus.state.delete("k")
            again = await bus.state.create("k", 5)
        assert (first.revision, other.revision, second.revision) == (1, 1, 2)
        assert (caught.value.expected, caught.value.actual) == (1, 3)
        assert done.revision == 4
        assert again.revision == 6  # revisions keep counting across delete and create

    async def test_the_state_of_a_closed_bus_is_refused(self) -> None:
        bus = ab.Bus()
        with pytest.raises(ab.BusClosed):
            _ = bus.state


class TestContention:
    async def test_50_actors_times_100_concurrent_increments_lose_no_update(self) -> None:
        async with ab.Bus() as bus:
            for i in range(50):
                await bus.spawn(Incrementer, name=f"inc-{i}", subscribe=[f"inc.{i}"])
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(_publish_many, bus, f"inc.{i}", 100)
            await bus.drain()
            entry = await bus.state.get("counter")
        assert entry is not None
        assert entry.value == 5000
        assert entry.revision == 5000


async def _publish_many(bus: ab.Bus, topic: str, count: int) -> None:
    for _ in range(count):
        await bus.publish(topic, ab.Request())


class TestLog:
    async def test_a_bus_reopened_on_a_sqlite_log_has_the_same_revisions(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "events.db"
        async with ab.Bus(log=ab.SqliteLog(path)) as bus:
            await bus.state.put("plan", {"step": 1}, by="planner")
            await bus.state.put("plan", {"step": 2}, by="planner")
            await bus.state.put("gone", 1)
            await bus.state.delete("gone")
        async with ab.Bus(log=ab.SqliteLog(path)) as bus:
            plan = await bus.state.get("plan")
            later = await bus.state.put("plan", {"step": 3})
            again = await bus.state.create("gone", 2)
        assert plan is not None
        assert (plan.revision, plan.updated_by) == (2, "planner")
        assert later.revision == 3
        assert again.revision == 3

    async def test_a_change_whose_publish_is_refused_is_rolled_back(self) -> None:
        async with ab.Bus() as bus:
            await bus.spawn(Full, name="full")
            await bus.state.put("k", 1)  # fills Full's one-message mailbox
            with pytest.raises(ab.MailboxFull):
                await bus.state.put("k", 2)
            entry = await bus.state.get("k")
            assert entry is not None
            assert (entry.value, entry.revision) == (1, 1)
            Full.release.set()
            await bus.drain()
            assert (await bus.state.put("k", 3)).revision == 2


class Full(ab.Actor):
    """Takes one state change and sits on it; its mailbox of one refuses the next."""

    subscribe = ("_state.>",)
    mailbox_size = 1
    overflow = "reject"
    release: anyio.Event

    async def on_start(self, ctx: ab.Context) -> None:
        type(self).release = anyio.Event()

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        await type(self).release.wait()


# --- against a reference model -----------------------------------------------------

_ops = st.lists(
    st.tuples(
        st.sampled_from(["put", "create", "cas", "delete", "delete_expect"]),
        st.sampled_from(["a", "b"]),
        st.integers(0, 5),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(_ops)
def test_the_store_matches_a_reference_model(ops: list[tuple[str, str, int]]) -> None:
    async def run() -> None:
        values: dict[str, int] = {}
        revisions: dict[str, int] = {}  # current revision, 0 when missing
        last: dict[str, int] = {}  # the highest revision ever
        async with ab.Bus() as bus:
            for op, key, n in ops:
                current = revisions.get(key, 0)
                ok = {
                    "put": True,
                    "create": current == 0,
                    "cas": n == current,
                    "delete": current != 0,
                    "delete_expect": n == current,
                }[op]
                try:
                    await _apply(bus.state, op, key, n)
                except ab.StateConflict:
                    assert not ok
                    continue
                if op.startswith("delete"):
                    if current != 0:
                        last[key] = last.get(key, 0) + 1
                    values.pop(key, None)
                    revisions[key] = 0
                else:
                    assert ok
                    last[key] = last.get(key, 0) + 1
                    values[key], revisions[key] = n, last[key]
            for key in ("a", "b"):
                entry = await bus.state.get(key)
                if key in values:
                    assert entry is not None
                    assert (entry.value, entry.revision) == (values[key], revisions[key])
                else:
                    assert entry is None

    anyio.run(run)


async def _apply(state: ab.State, op: str, key: str, n: int) -> None:
    if op == "put":
        await state.put(key, n)
    elif op == "create":
        await state.create(key, n)
    elif op == "cas":
        await state.cas(key, n, n)
    elif op == "delete":
        await state.delete(key)
    else:
        await state.delete(key, expected_revision=n)
