"""Regressions: a cancelled change stands (it is logged), and values are never shared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import actorbus as ab


class Slow(ab.Actor):
    """Sits on the first state change until released; its mailbox holds one more."""

    subscribe = ("_state.>",)
    mailbox_size = 1

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.seen: list[tuple[Any, int]] = []

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        await self.release.wait()
        self.seen.append((msg.value, msg.revision))


class Mutator(ab.Actor):
    subscribe = ("_state.>",)

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        msg.value["touched"] = True


class TestCancelledChanges:
    async def test_a_change_cancelled_while_waiting_for_a_mailbox_stands(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                slow = await bus.spawn(Slow, name="slow")
                await bus.state.put("k", 1)  # handled: the handler waits
                await bus.state.put("k", 2)  # queued: the mailbox is full
                with anyio.CancelScope() as scope:
                    scope.cancel()
                    await bus.state.put("k", 3)  # logged and offered, then waits: cancelled
                entry = await bus.state.get("k")
                assert entry is not None
                assert (entry.value, entry.revision) == (3, 3)
                slow.actor.release.set()
                assert (await bus.state.put("k", 4)).revision == 4
                await bus.drain()
        assert slow.actor.seen == [(1, 1), (2, 2), (3, 3), (4, 4)]

    async def test_a_change_cancelled_while_the_log_writes_stands_and_survives(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "events.db"
        with anyio.fail_after(5):
            async with ab.Bus(log=ab.SqliteLog(path)) as bus:
                with anyio.CancelScope() as scope:
                    scope.cancel()  # delivered while the append waits for its commit
                    await bus.state.put("k", "first")
                live = await bus.state.get("k")
                second = await bus.state.put("k", "second")
            async with ab.Bus(log=ab.SqliteLog(path)) as bus:
                updates = [
                    env.message
                    for env in await bus.log.read(1)
                    if isinstance(env.message, ab.StateUpdate)
                ]
                reopened = await bus.state.get("k")
        assert live is not None
        assert (live.value, live.revision) == ("first", 1)
        assert second.revision == 2
        assert [(u.value, u.revision) for u in updates] == [("first", 1), ("second", 2)]
        assert reopened is not None
        assert (reopened.value, reopened.revision) == ("second", 2)


class TestValuesAreNotShared:
    async def test_mutating_what_the_store_hands_out_changes_nothing(self) -> None:
        async with ab.Bus() as bus:
            returned = await bus.state.put("k", {"a": [1]})
            returned.value["a"].append("returned")
            got = await bus.state.get("k")
            assert got is not None
            got.value["a"].append("got")
            (item,) = await bus.state.items()
            item.value["a"].append("item")

            async def fail_after_mutating(value: Any) -> Any:
                value["a"].append("fn")
                raise RuntimeError("gave up")

            with pytest.raises(RuntimeError):
                await bus.state.update("k", fail_after_mutating)
            entry = await bus.state.get("k")
        assert entry is not None
        assert (entry.value, entry.revision) == ({"a": [1]}, 1)

    async def test_a_subscriber_mutating_its_message_changes_nothing(self) -> None:
        async with ab.Bus() as bus:
            await bus.spawn(Mutator, name="mutator")
            await bus.state.put("k", {"a": 1})
            await bus.drain()
            entry = await bus.state.get("k")
        assert entry is not None
        assert entry.value == {"a": 1}


async def test_an_int_too_large_for_msgpack_is_refused_and_nothing_changes() -> None:
    async with ab.Bus() as bus:
        with pytest.raises(TypeError, match="cannot be stored"):
            await bus.state.put("n", 2**70)
        assert await bus.state.get("n") is None
