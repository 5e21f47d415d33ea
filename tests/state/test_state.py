"""The shared state: revisions, compare-and-swap, updates under contention, the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actorbus as ab


class TestRevisions:
    async def test_put_get_and_revisions(self) -> None:
        async with ab.Bus() as bus:
            first = await bus.state.put("plan", {"step": 1}, by="me")
            second = await bus.state.put("plan", {"step": 2})
            got = await bus.state.get("plan")
        assert (first.revision, second.revision) == (1, 2)
        assert got == second
        assert got.value == {"step": 2}
        assert got.updated_by is None
        assert first.updated_by == "me"
        assert first.updated_at <= second.updated_at

    async def test_create_refuses_an_existing_key(self) -> None:
        async with ab.Bus() as bus:
            await bus.state.create("k", 1)
            with pytest.raises(ab.StateConflict) as caught:
                await bus.state.create("k", 2)
            assert (await bus.state.get("k")).value == 1  # type: ignore[union-attr]
        assert (caught.value.expected, caught.value.actual) == (0, 1)
        assert "use update()" in str(caught.value)

    async def test_cas_compares_revisions_not_values(self) -> None:
        # ABA: A -> B -> A is a change; a cas expecting the first revision loses.
        async with ab.Bus() as bus:
            a1 = await bus.state.put("k", "A")
            await bus.state.put("k", "B")
            a2 = await bus.state.put("k", "A")
            with pytest.raises(ab.StateConflict) as caught:
                await bus.state.cas("k", "C", a1.revision)
            done = await bus.state.cas("k", "C", a2.revision)
        assert (caught.value.expected, caught.value.actual) == (1, 3)
        assert done.revision == 4
        assert done.value == "C"

    async def test_cas_with_revision_0_creates_a_missing_key(self) -> None:
        async with ab.Bus() as bus:
            made = await bus.state.cas("new", [1], 0)
            with pytest.raises(ab.StateConflict):
                await bus.state.cas("new", [2], 0)
        assert made.revision == 1

    async def test_delete_with_an_expected_revision(self) -> None:
        async with ab.Bus() as bus:
            entry = await bus.state.put("k", 1)
            with pytest.raises(ab.StateConflict):
                await bus.state.delete("k", expected_revision=entry.revision + 1)
            await bus.state.delete("k", expected_revision=entry.revision)
            assert await bus.state.get("k") is None
            await bus.state.delete("k")  # missing, no revision expected: nothing to do
            with pytest.raises(ab.StateConflict):
                await bus.state.delete("k", expected_revision=2)
            again = await bus.state.create("k", 5)
        assert again.revision == 3  # revisions keep counting across delete and create

    async def test_keys_and_items_by_prefix(self) -> None:
        async with ab.Bus() as bus:
            for key in ("task.b", "task.a", "plan"):
                await bus.state.put(key, key)
            assert bus.state.keys("task.") == ["task.a", "task.b"]
            assert [e.value for e in await bus.state.items("task.")] == ["task.a", "task.b"]

    async def test_values_are_detached_copies(self) -> None:
        value = {"items": [1]}
        async with ab.Bus() as bus:
            await bus.state.put("k", value)
            value["items"].append(2)
            assert (await bus.state.get("k")).value == {"items": [1]}  # type: ignore[union-attr]


class TestBadInput:
    @pytest.mark.parametrize("key", ["", "a..b", "a.*", "a.>", "a b"])
    async def test_a_key_that_is_not_topic_tokens_is_refused(self, key: str) -> None:
        async with ab.Bus() as bus:
            with pytest.raises(ab.InvalidTopic):
                await bus.state.put(key, 1)

    async def test_a_value_that_cannot_be_stored_is_refused_and_nothing_changes(self) -> None:
        async with ab.Bus() as bus:
            await bus.state.put("k", 1)
            with pytest.raises(TypeError, match="cannot be stored"):
                await bus.state.put("k", object())
            entry = await bus.state.get("k")
        assert entry is not None
        assert (entry.value, entry.revision) == (1, 1)

    async def test_the_state_of_a_closed_bus_is_refused(self) -> None:
        bus = ab.Bus()
        with pytest.raises(ab.BusClosed):
            _ = bus.state


class Incrementer(ab.Actor):
    subscribe = ("inc",)
    concurrency = 4

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        await ctx.state.update("counter", lambda v: (v or 0) + 1, retries=1000)


class Watcher(ab.Actor):
    subscribe = ("_state.>",)
    seen: list[ab.StateUpdate]

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        type(self).seen.append(msg)


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

    async def test_update_gives_up_with_state_conflict_after_its_retries(self) -> None:
        async with ab.Bus() as bus:
            await bus.state.put("k", 0)

            async def meddle(value: Any) -> Any:
                await bus.state.put("k", -1)  # someone always gets there first
                return (value or 0) + 1

            with pytest.raises(ab.StateConflict):
                await bus.state.update("k", meddle, retries=3)


async def _publish_many(bus: ab.Bus, topic: str, count: int) -> None:
    for _ in range(count):
        await bus.publish(topic, ab.Request())


class TestLog:
    async def test_changes_are_published_in_revision_order_naming_the_actor(self) -> None:
        Watcher.seen = []
        async with ab.Bus() as bus:
            await bus.spawn(Watcher, name="watcher")
            await bus.spawn(Incrementer, name="inc")
            for _ in range(10):
                await bus.publish("inc", ab.Request())
            await bus.drain()
            await bus.state.delete("counter")
            await bus.drain()
        assert [u.revision for u in Watcher.seen] == list(range(1, 12))
        assert [u.value for u in Watcher.seen[:10]] == list(range(1, 11))
        assert {u.updated_by for u in Watcher.seen[:10]} == {"inc"}
        assert Watcher.seen[-1].deleted
        assert Watcher.seen[-1].key == "counter"

    async def test_a_bus_reopened_on_a_sqlite_log_has_the_same_state(self, tmp_path: Path) -> None:
        path = tmp_path / "events.db"
        async with ab.Bus(log=ab.SqliteLog(path)) as bus:
            await bus.state.put("plan", {"step": 1}, by="planner")
            await bus.state.put("plan", {"step": 2}, by="planner")
            await bus.state.put("gone", 1)
            await bus.state.delete("gone")
            await bus.publish("elsewhere", ab.Request())  # not state
        async with ab.Bus(log=ab.SqliteLog(path)) as bus:
            plan = await bus.state.get("plan")
            assert bus.state.keys() == ["plan"]
            later = await bus.state.put("plan", {"step": 3})
            again = await bus.state.create("gone", 2)
        assert plan is not None
        assert plan.value == {"step": 2}
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
