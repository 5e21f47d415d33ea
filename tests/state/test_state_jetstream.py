"""`bus.state` on a JetStreamLog: the KV bucket ``<stream>_state``, shared by every bus on it.

The shared behaviour suite runs against the KV store, then what only sharing
does: two buses (two connections to one server and stream, in this process)
see each other's changes and lose compare-and-swaps to each other. asyncio only
(nats-py), with a real nats-server.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import anyio
import nats
import pytest
from state_behaviour import BusFactory, DurableStateBehaviour

import actorbus as ab
from actorbus._state import StateStorage, shared_storage
from actorbus.testing import NatsServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fresh_name() -> str:
    return f"T{uuid.uuid4().hex[:12]}"


def jetstream_bus(server: NatsServer, name: str) -> ab.Bus:
    return ab.Bus(log=ab.JetStreamLog(server.url, stream=name, subject_prefix=name.lower()))


class TestJetStreamState(DurableStateBehaviour):
    @pytest.fixture
    def open_bus(self, nats_server: NatsServer) -> BusFactory:
        name = fresh_name()
        return lambda: jetstream_bus(nats_server, name)


class TestSharedByTwoBuses:
    async def test_each_sees_the_others_changes_and_who_made_them(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        with anyio.fail_after(20):
            async with jetstream_bus(nats_server, name) as a, jetstream_bus(nats_server, name) as b:
                made = await a.state.put("plan", {"step": 1}, by="planner")
                seen = await b.state.get("plan")
                assert seen == made
                await b.state.delete("plan")
                assert await a.state.get("plan") is None
                await b.state.put("task.one", 1)
                await _until(lambda: a.state.keys("task.") == ["task.one"])
                (item,) = await a.state.items("task.")
                assert (item.key, item.value) == ("task.one", 1)

    async def test_a_cas_loses_to_the_other_bus(self, nats_server: NatsServer) -> None:
        name = fresh_name()
        with anyio.fail_after(20):
            async with jetstream_bus(nats_server, name) as a, jetstream_bus(nats_server, name) as b:
                first = await a.state.create("lock", "a")
                with pytest.raises(ab.StateConflict) as lost_create:
                    await b.state.create("lock", "b")
                moved = await b.state.cas("lock", "b", first.revision)
                with pytest.raises(ab.StateConflict) as lost_cas:
                    await a.state.cas("lock", "a again", first.revision)
                with pytest.raises(ab.StateConflict) as lost_delete:
                    await a.state.delete("lock", expected_revision=first.revision)
                entry = await a.state.get("lock")
        assert (lost_create.value.expected, lost_create.value.actual) == (0, first.revision)
        assert (lost_cas.value.expected, lost_cas.value.actual) == (first.revision, moved.revision)
        assert lost_delete.value.actual == moved.revision
        assert entry == moved

    async def test_2_buses_times_25_tasks_times_40_increments_lose_none(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()

        async def increment(bus: ab.Bus) -> None:
            for _ in range(40):
                await bus.state.update("counter", lambda v: (v or 0) + 1, retries=10_000)

        with anyio.fail_after(120):
            async with jetstream_bus(nats_server, name) as a, jetstream_bus(nats_server, name) as b:
                async with anyio.create_task_group() as tg:
                    for _ in range(25):
                        tg.start_soon(increment, a)
                        tg.start_soon(increment, b)
                from_a, from_b = await a.state.get("counter"), await b.state.get("counter")
        assert from_a is not None
        assert from_a.value == 2000
        assert from_b == from_a

    async def test_a_bus_opened_later_sees_the_state_and_its_keys(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        with anyio.fail_after(20):
            async with jetstream_bus(nats_server, name) as a:
                await a.state.put("x.one", 1, by="first")
                await a.state.put("x.two", 2)
                await a.state.delete("x.two")
                async with jetstream_bus(nats_server, name) as b:
                    assert b.state.keys() == ["x.one"]  # loaded when the log opened
                    entry = await b.state.get("x.one")
        assert entry is not None
        assert (entry.value, entry.updated_by) == (1, "first")


class TestAChangeWhoseUpdateIsRefused:
    async def test_stands_in_the_bucket_and_the_error_propagates(self) -> None:
        # Unlike the local store, which rolls back: others may have read it already.
        # The value fits the server's max_payload in the bucket, but its StateUpdate
        # (the value plus the envelope's headers) does not fit on the stream.
        async with (
            NatsServer(extra_config="max_payload: 8192") as server,
            jetstream_bus(server, fresh_name()) as bus,
        ):
            with pytest.raises(ab.MessageTooLarge):
                await bus.state.put("k", "x" * 8100)
            entry = await bus.state.get("k")
        assert entry is not None
        assert entry.value == "x" * 8100


class TestServerRestart:
    @pytest.mark.slow
    @pytest.mark.timeout(180)
    async def test_the_keys_catch_up_after_the_server_comes_back(self) -> None:
        name = fresh_name()
        with anyio.fail_after(150):  # safety nets: the wait below is 10-20 s on any machine
            async with (
                NatsServer() as server,
                jetstream_bus(server, name) as a,
                jetstream_bus(server, name) as b,
            ):
                await a.state.put("before", 1)
                await anyio.to_thread.run_sync(lambda: server.restart(kill=True))
                await _retry(lambda: b.state.put("after", 2))
                # nats-py restarts the watch after two missed heartbeats: its check
                # runs every 10 s (2 x the watch's 5 s heartbeat), so 10-20 s pass.
                await _until(lambda: a.state.keys() == ["after", "before"], timeout=120)
                entry = await a.state.get("after")
        assert entry is not None
        assert entry.value == 2


class TestTheBucket:
    async def test_the_state_is_in_the_kv_bucket_named_after_the_stream(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with jetstream_bus(nats_server, name) as bus:
            entry = await bus.state.put("plan", "go")
        client = await nats.connect(nats_server.url)
        try:
            kv = await client.jetstream().key_value(f"{name}_state")
            stored = await kv.get("plan")
        finally:
            await client.close()
        assert stored.revision == entry.revision

    async def test_a_value_written_by_something_else_is_a_clear_error(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with jetstream_bus(nats_server, name) as bus:
            client = await nats.connect(nats_server.url)
            try:
                kv = await client.jetstream().key_value(f"{name}_state")
                await kv.put("foreign", b"\xc1 not ours")
            finally:
                await client.close()
            with pytest.raises(ab.LogUnavailable, match="did not write"):
                await bus.state.get("foreign")

    def test_a_jetstream_log_shares_one_bucket_storage(self, nats_server: NatsServer) -> None:
        log = ab.JetStreamLog(nats_server.url)
        store: StateStorage | None = shared_storage(log)  # mypy checks the protocol
        assert store is not None
        assert store.keys("") == []
        assert shared_storage(log) is store  # every bus on the log shares it
        assert shared_storage(ab.MemoryLog()) is None  # a local state instead

    async def test_the_store_of_a_closed_log_says_so(self, nats_server: NatsServer) -> None:
        name = fresh_name()
        log = ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())
        store = shared_storage(log)
        assert store is not None
        async with log:
            pass
        with pytest.raises(ab.LogUnavailable, match="not open"):
            await store.get("k")

    async def test_the_storage_joins_before_the_log_opens(self, nats_server: NatsServer) -> None:
        name = fresh_name()
        log = ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())
        async with log:
            with pytest.raises(RuntimeError, match="before the log opens"):
                shared_storage(log)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """A bounded poll: another bus learns of a new key through its watch of the bucket."""
    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110  # the watch has no event to wait on
            await anyio.sleep(0.01)


async def _retry(change: Callable[[], Awaitable[object]], timeout: float = 20.0) -> None:
    """Try ``change`` until the server is back (it raises `LogUnavailable` until then)."""
    with anyio.fail_after(timeout):
        while True:
            try:
                await change()
            except ab.LogUnavailable:
                await anyio.sleep(0.1)
            else:
                return
