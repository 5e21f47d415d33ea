"""The behaviour of `bus.state` that holds on every store: local, SQLite-backed, JetStream KV.

A test class subclasses `StateBehaviour` and provides ``open_bus``: a function
that makes a new bus on the same store each time it is called (a reopened bus
sees what the previous one left when the class subclasses `DurableStateBehaviour`).
Revisions are compared by order only: the local store counts 1, 2, 3... per key,
the KV bucket's revisions grow but skip (every key shares one counter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

import actorbus as ab

BusFactory = Callable[[], ab.Bus]


class Incrementer(ab.Actor):
    subscribe = ("inc",)
    concurrency = 4

    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        await ctx.state.update("counter", lambda v: (v or 0) + 1, retries=1000)


class Watcher(ab.Actor):
    subscribe = ("_state.>",)

    def __init__(self, seen: list[ab.StateUpdate]) -> None:
        self.seen = seen

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        self.seen.append(msg)


class Mutator(ab.Actor):
    subscribe = ("_state.>",)

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        msg.value["touched"] = True


class StateBehaviour:
    """Subclass it with an ``open_bus`` fixture (see the module)."""

    @pytest.fixture
    def open_bus(self) -> BusFactory:
        raise NotImplementedError

    # -- revisions ------------------------------------------------------------------

    async def test_put_get_and_revisions(self, open_bus: BusFactory) -> None:
        async with open_bus() as bus:
            first = await bus.state.put("plan", {"step": 1}, by="me")
            second = await bus.state.put("plan", {"step": 2})
            got = await bus.state.get("plan")
        assert 0 < first.revision < second.revision
        assert got == second
        assert got.value == {"step": 2}
        assert got.updated_by is None
        assert first.updated_by == "me"
        assert first.updated_at <= second.updated_at

    async def test_create_refuses_an_existing_key(self, open_bus: BusFactory) -> None:
        async with open_bus() as bus:
            made = await bus.state.create("k", 1)
            with pytest.raises(ab.StateConflict) as caught:
                await bus.state.create("k", 2)
            assert (await bus.state.get("k")).value == 1  # type: ignore[union-attr]
        assert (caught.value.expected, caught.value.actual) == (0, made.revision)
        assert "use update()" in str(caught.value)

    async def test_cas_compares_revisions_not_values(self, open_bus: BusFactory) -> None:
        # ABA: A -> B -> A is a change; a cas expecting the first revision loses.
        async with open_bus() as bus:
            a1 = await bus.state.put("k", "A")
            await bus.state.put("k", "B")
            a2 = await bus.state.put("k", "A")
            with pytest.raises(ab.StateConflict) as caught:
                await bus.state.cas("k", "C", a1.revision)
            done = await bus.state.cas("k", "C", a2.revision)
        assert (caught.value.expected, caught.value.actual) == (a1.revision, a2.revision)
        assert done.revision > a2.revision
        assert done.value == "C"

    async def test_cas_with_revision_0_creates_a_missing_key(self, open_bus: BusFactory) -> None:
        async with open_bus() as bus:
            made = await bus.state.cas("new", [1], 0)
            with pytest.raises(ab.StateConflict):
                await bus.state.cas("new", [2], 0)
            entry = await bus.state.get("new")
        assert entry == made

    async def test_delete_with_an_expected_revision(self, open_bus: BusFactory) -> None:
        async with open_bus() as bus:
            entry = await bus.state.put("k", 1)
            with pytest.raises(ab.StateConflict) as caught:
                await bus.state.delete("k", expected_revision=entry.revision + 1)
            assert caught.value.actual == entry.revision
            await bus.state.delete("k", expected_revision=entry.revision)
            assert await bus.state.get("k") is None
            assert bus.state.keys() == []
            await bus.state.delete("k")  # missing, no revision expected: nothing to do
            await bus.state.delete("k", expected_revision=0)  # nothing either
            with pytest.raises(ab.StateConflict) as missing:
                await bus.state.delete("k", expected_revision=entry.revision)
            again = await bus.state.create("k", 5)
        assert (missing.value.expected, missing.value.actual) == (entry.revision, 0)
        assert again.revision > entry.revision + 1  # the delete had a revision of its own

    async def test_keys_and_items_by_prefix(self, open_bus: BusFactory) -> None:
        async with open_bus() as bus:
            for key in ("task.b", "task.a", "plan"):
                await bus.state.put(key, key)
            assert bus.state.keys("task.") == ["task.a", "task.b"]
            assert bus.state.keys() == ["plan", "task.a", "task.b"]
            assert [e.value for e in await bus.state.items("task.")] == ["task.a", "task.b"]

    async def test_keys_with_any_characters_come_back_as_they_were(
        self, open_bus: BusFactory
    ) -> None:
        keys = ["naïve.ключ", "a=b.c-d_e", "x/y.%41", "emoji.🙂"]
        async with open_bus() as bus:
            for key in keys:
                await bus.state.put(key, key)
            assert bus.state.keys() == sorted(keys)
            assert [e.key for e in await bus.state.items()] == sorted(keys)
            assert [e.value for e in await bus.state.items()] == sorted(keys)

    async def test_values_are_detached_copies(self, open_bus: BusFactory) -> None:
        value = {"items": [1]}
        async with open_bus() as bus:
            returned = await bus.state.put("k", value)
            value["items"].append(2)
            returned.value["items"].append(3)
            got = await bus.state.get("k")
            assert got is not None
            got.value["items"].append(4)
            (item,) = await bus.state.items()
            item.value["items"].append(5)
            assert (await bus.state.get("k")).value == {"items": [1]}  # type: ignore[union-attr]

    # -- bad input ------------------------------------------------------------------

    @pytest.mark.parametrize("key", ["", "a..b", "a.*", "a.>", "a b"])
    async def test_a_key_that_is_not_topic_tokens_is_refused(
        self, open_bus: BusFactory, key: str
    ) -> None:
        async with open_bus() as bus:
            with pytest.raises(ab.InvalidTopic):
                await bus.state.put(key, 1)
            with pytest.raises(ab.InvalidTopic):
                await bus.state.update(key, lambda v: 1)
            with pytest.raises(ab.InvalidTopic):
                await bus.state.delete(key)

    async def test_a_value_that_cannot_be_stored_is_refused_and_nothing_changes(
        self, open_bus: BusFactory
    ) -> None:
        async with open_bus() as bus:
            first = await bus.state.put("k", 1)
            with pytest.raises(TypeError, match="cannot be stored"):
                await bus.state.put("k", object())
            with pytest.raises(TypeError, match="cannot be stored"):
                await bus.state.put("n", 2**70)
            entry = await bus.state.get("k")
            assert await bus.state.get("n") is None
        assert entry == first

    # -- contention -----------------------------------------------------------------

    async def test_concurrent_increments_by_actors_lose_no_update(
        self, open_bus: BusFactory
    ) -> None:
        with anyio.fail_after(30):
            async with open_bus() as bus:
                for i in range(10):
                    await bus.spawn(Incrementer, name=f"inc-{i}", subscribe=[f"inc.{i}"])
                async with anyio.create_task_group() as tg:
                    for i in range(10):
                        tg.start_soon(_publish_many, bus, f"inc.{i}", 20)
                await bus.drain()
                entry = await bus.state.get("counter")
        assert entry is not None
        assert entry.value == 200

    async def test_update_gives_up_with_state_conflict_after_its_retries(
        self, open_bus: BusFactory
    ) -> None:
        async with open_bus() as bus:
            await bus.state.put("k", 0)
            calls = 0

            async def meddle(value: Any) -> Any:
                nonlocal calls
                calls += 1
                await bus.state.put("k", -1)  # someone always gets there first
                return (value or 0) + 1

            with pytest.raises(ab.StateConflict):
                await bus.state.update("k", meddle, retries=3)
        assert calls == 4

    # -- published changes ----------------------------------------------------------

    async def test_changes_are_published_in_revision_order_naming_the_actor(
        self, open_bus: BusFactory
    ) -> None:
        seen: list[ab.StateUpdate] = []
        with anyio.fail_after(30):
            async with open_bus() as bus:
                await bus.spawn(Watcher, seen, name="watcher")
                await bus.spawn(Incrementer, name="inc")
                for _ in range(10):
                    await bus.publish("inc", ab.Request())
                await bus.drain()
                last = await bus.state.get("counter")
                await bus.state.delete("counter")
                await bus.drain()
        revisions = [u.revision for u in seen]
        assert revisions == sorted(set(revisions))
        assert last is not None
        assert seen[9].revision == last.revision
        assert [u.value for u in seen[:10]] == list(range(1, 11))
        assert {u.updated_by for u in seen[:10]} == {"inc"}
        assert seen[-1].deleted
        assert seen[-1].key == "counter"
        assert len(seen) == 11

    async def test_a_subscriber_mutating_its_message_changes_nothing(
        self, open_bus: BusFactory
    ) -> None:
        async with open_bus() as bus:
            await bus.spawn(Mutator, name="mutator")
            await bus.state.put("k", {"a": 1})
            await bus.drain()
            entry = await bus.state.get("k")
        assert entry is not None
        assert entry.value == {"a": 1}


class DurableStateBehaviour(StateBehaviour):
    """The same, for a store that outlives its bus."""

    async def test_a_reopened_bus_has_the_same_state(self, open_bus: BusFactory) -> None:
        async with open_bus() as bus:
            await bus.state.put("plan", {"step": 1}, by="planner")
            planned = await bus.state.put("plan", {"step": 2}, by="planner")
            gone = await bus.state.put("gone", 1)
            await bus.state.delete("gone")
            await bus.publish("elsewhere", ab.Request())  # not state
        async with open_bus() as bus:
            plan = await bus.state.get("plan")
            assert bus.state.keys() == ["plan"]
            later = await bus.state.put("plan", {"step": 3})
            again = await bus.state.create("gone", 2)
        assert plan is not None
        assert (plan.value, plan.revision, plan.updated_by) == (
            {"step": 2},
            planned.revision,
            "planner",
        )
        assert later.revision > plan.revision
        assert again.revision > gone.revision + 1


async def _publish_many(bus: ab.Bus, topic: str, count: int) -> None:
    for _ in range(count):
        await bus.publish(topic, ab.Request())
