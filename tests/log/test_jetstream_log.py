"""JetStreamLog: the conformance suite against a real nats-server, then what only NATS does.

Every test uses a stream (and subject prefix) of its own on the module's server;
the tests that take the server away start one of their own. The log is asyncio-only
(nats-py), so these tests run on asyncio, and one checks the error under Trio.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import nats
import pytest
from nats.aio.client import Client as NatsClient

import actorbus as ab
from actorbus.testing import EventLogConformance, NatsServer

LogFactory = Callable[[], AbstractAsyncContextManager[ab.EventLog]]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fresh_name() -> str:
    return f"T{uuid.uuid4().hex[:12]}"


def jetstream_log(server: NatsServer, name: str, **options: object) -> ab.JetStreamLog:
    return ab.JetStreamLog(server.url, stream=name, subject_prefix=name.lower(), **options)  # type: ignore[arg-type]


class TestJetStreamLogConformance(EventLogConformance):
    """Each open is a new JetStreamLog on the same stream, so the persistence checks run."""

    durable = True

    @pytest.fixture
    def open_log(self, nats_server: NatsServer) -> LogFactory:
        name = fresh_name()
        return lambda: jetstream_log(nats_server, name)


# --- helpers ---------------------------------------------------------------------------


class JsNote(ab.Message):
    n: int


class JsBlob(ab.Message):
    data: bytes


class _AnyId(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) == 31

    __hash__ = str.__hash__


ANY_ID = _AnyId("<a log-generated id>")


def note(n: int, id: str = "", topic: str = "notes") -> ab.Envelope:
    return ab.Envelope(id, topic, JsNote(n=n), time.time())


@asynccontextmanager
async def raw_client(server: NatsServer) -> AsyncIterator[NatsClient]:
    """A plain nats-py connection, to look at the stream from outside the log."""
    client = await nats.connect(server.url)
    try:
        yield client
    finally:
        await client.close()


async def stream_ids(server: NatsServer, stream: str) -> dict[int, str]:
    """Every record of ``stream`` (seq -> Nats-Msg-Id), read with nats-py's own API."""
    async with raw_client(server) as client:
        js = client.jetstream()
        info = await js.stream_info(stream)
        found = {}
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            found[seq] = (msg.headers or {})["Nats-Msg-Id"]
        return found


async def until_logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 30.0) -> None:
    """A bounded poll for ``text`` in the captured log (a reconnect has no event to wait on)."""
    with anyio.fail_after(timeout):
        while text not in caplog.text:  # noqa: ASYNC110
            await anyio.sleep(0.01)


# --- the stream ------------------------------------------------------------------------


class TestTheStream:
    async def test_the_seq_is_the_stream_sequence_and_the_id_is_the_msg_id(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log:
            receipts = [await log.append(note(n)) for n in range(3)]
            receipts.append(await log.append(note(3, id="key-3")))
        assert await stream_ids(nats_server, name) == {r.seq: r.id for r in receipts}
        assert [r.seq for r in receipts] == [1, 2, 3, 4]

    async def test_topics_are_subjects_under_the_prefix(self, nats_server: NatsServer) -> None:
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log:
            await log.append(note(1, topic="tasks.research"))
        async with raw_client(nats_server) as client:
            msg = await client.jetstream().get_msg(name, 1)
        assert msg.subject == f"{name.lower()}.tasks.research"
        assert msg.headers is not None
        assert msg.headers["Ab-Type"] == "JsNote"

    async def test_a_stream_with_other_subjects_is_refused(self, nats_server: NatsServer) -> None:
        name = fresh_name()
        async with raw_client(nats_server) as client:
            await client.jetstream().add_stream(name=name, subjects=[f"elsewhere-{name}.>"])
        with pytest.raises(ab.LogUnavailable, match="pick another stream or subject_prefix"):
            async with jetstream_log(nats_server, name):
                pass

    async def test_records_removed_by_the_stream_limits_are_reported_truncated(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with raw_client(nats_server) as client:
            await client.jetstream().add_stream(
                name=name, subjects=[f"{name.lower()}.>"], max_msgs=3
            )
        async with jetstream_log(nats_server, name) as log:
            for n in range(5):
                await log.append(note(n))
            with pytest.raises(ab.LogTruncated) as info:
                await log.read(1)
            assert info.value.first_seq == 3
            assert [record.seq for record in await log.read(3)] == [3, 4, 5]

    async def test_a_message_over_max_payload_is_refused_and_nothing_is_appended(
        self, nats_server: NatsServer
    ) -> None:
        async with jetstream_log(nats_server, fresh_name()) as log:
            big = ab.Envelope("", "blobs", JsBlob(data=b"x" * 1_100_000), time.time())
            with pytest.raises(ab.MessageTooLarge, match="over the log's limit") as info:
                await log.append(big)
            assert info.value.size > info.value.limit
            assert (await log.append(note(1))).seq == 1

    async def test_records_published_by_someone_else_are_handed_over_in_order(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        delivered: list[ab.Envelope] = []
        async with jetstream_log(nats_server, name) as log, raw_client(nats_server) as client:
            log.attach(delivered.append)
            await log.append(note(1))
            await client.jetstream().publish(f"{name.lower()}.foreign", b"not actorbus")
            receipt = await log.append(note(3))
            assert receipt.seq == 3
        assert [env.seq for env in delivered] == [1, 2, 3]
        foreign = delivered[1]
        assert isinstance(foreign.message, ab.Undecodable)
        assert "not published by actorbus" in foreign.message.error
        assert foreign.topic == "foreign"

    async def test_the_id_made_up_for_a_foreign_record_is_no_duplicate_key(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log, raw_client(nats_server) as client:
            await log.append(note(1))
            await client.jetstream().publish(f"{name.lower()}.foreign", b"no Nats-Msg-Id")
            await log.append(note(3))  # hands the foreign record over, as "seq-2"
            assert await log.append(note(4, id="seq-2")) == ab.Receipt(4, "seq-2", False)


# --- dedup -----------------------------------------------------------------------------


class TestDedup:
    async def test_a_key_is_a_duplicate_after_reopening_the_log(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log:
            await log.append(note(1))
            first = await log.append(note(2, id="order-7"))
        async with jetstream_log(nats_server, name) as log:
            again = await log.append(note(3, id="order-7"))
            assert again == ab.Receipt(first.seq, "order-7", True)
            assert log.last_seq == 2
        assert list((await stream_ids(nats_server, name)).values()).count("order-7") == 1

    async def test_a_key_is_a_duplicate_after_the_server_crashed_and_came_back(self) -> None:
        name = fresh_name()
        async with NatsServer() as server:
            async with jetstream_log(server, name) as log:
                first = await log.append(note(1, id="order-8"))
            await anyio.to_thread.run_sync(lambda: server.restart(kill=True))
            async with jetstream_log(server, name) as log:
                assert await log.append(note(2, id="order-8")) == ab.Receipt(
                    first.seq, "order-8", True
                )

    async def test_the_server_drops_a_repeat_within_its_duplicate_window(
        self, nats_server: NatsServer
    ) -> None:
        # A publisher that is not actorbus repeats the log's message id.
        name = fresh_name()
        async with jetstream_log(nats_server, name, duplicate_window=30.0) as log:
            receipt = await log.append(note(1, id="shared"))
        async with raw_client(nats_server) as client:
            js = client.jetstream()
            ack = await js.publish(f"{name.lower()}.notes", b"x", headers={"Nats-Msg-Id": "shared"})
            info = await js.stream_info(name)
        assert (ack.seq, ack.duplicate) == (receipt.seq, True)
        assert info.config.duplicate_window == 30.0
        assert info.state.messages == 1

    async def test_keys_with_any_characters_survive_the_trip(self, nats_server: NatsServer) -> None:
        keys = ["  spaced  ", "line\nbreak", "per%cent", "ünïcødé ✓", "a: b", "%"]
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log:
            receipts = [await log.append(note(n, id=key)) for n, key in enumerate(keys)]
            assert [r.id for r in receipts] == keys
            assert [r.id for r in await log.read(1)] == keys
        async with jetstream_log(nats_server, name) as log:
            assert all([(await log.append(note(0, id=key))).duplicate for key in keys])


# --- the bus on JetStream --------------------------------------------------------------


class Recorder(ab.Actor):
    subscribe = ("numbers",)

    def __init__(self, seen: list[tuple[int, int]]) -> None:
        self.seen = seen

    async def on_note(self, msg: JsNote, ctx: ab.Context) -> None:
        self.seen.append((ctx.envelope.seq, msg.n))


class TestBusOnJetStream:
    async def test_an_actor_handles_concurrent_publishes_once_each_in_seq_order(
        self, nats_server: NatsServer
    ) -> None:
        seen: list[tuple[int, int]] = []
        name = fresh_name()
        async with ab.Bus(log=jetstream_log(nats_server, name)) as bus:
            await bus.spawn(Recorder, seen, name="recorder")

            async def publish(task: int) -> None:
                for i in range(20):
                    await bus.publish("numbers", JsNote(n=task * 100 + i), key=f"k-{task}-{i}")

            async with anyio.create_task_group() as tg:
                for task in range(10):
                    tg.start_soon(publish, task)
            await bus.publish("numbers", JsNote(n=0), key="k-0-0")  # a duplicate: not handled
            await bus.drain()
        assert [seq for seq, _ in seen] == list(range(1, 201))
        expected = [task * 100 + i for task in range(10) for i in range(20)]
        assert sorted(n for _, n in seen) == expected

    async def test_an_actor_resumes_after_its_cursor_when_the_bus_comes_back(
        self, nats_server: NatsServer
    ) -> None:
        seen: list[tuple[int, int]] = []
        name = fresh_name()
        async with ab.Bus(log=jetstream_log(nats_server, name)) as bus:
            await bus.spawn(Recorder, seen, name="recorder")
            for n in range(3):
                await bus.publish("numbers", JsNote(n=n))
            await bus.drain()
        async with ab.Bus(log=jetstream_log(nats_server, name)) as bus:  # the actor is down
            for n in range(3, 5):
                await bus.publish("numbers", JsNote(n=n))
        async with ab.Bus(log=jetstream_log(nats_server, name)) as bus:
            assert await bus.log.cursor("recorder") == 3
            await bus.spawn(Recorder, seen, name="recorder")
            await bus.drain()
            assert await bus.log.cursor("recorder") == 5
        assert seen == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]

    async def test_the_shared_state_outlives_the_bus_in_its_kv_bucket(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with ab.Bus(log=jetstream_log(nats_server, name)) as bus:
            await bus.state.put("plan", ["a", "b"])
            last = await bus.state.put("plan", ["a", "b", "c"])
            await bus.publish("state-like", JsNote(n=1))
        async with ab.Bus(log=jetstream_log(nats_server, name)) as bus:
            entry = await bus.state.get("plan")
            updates = [
                env.message
                for env in await bus.log.read(1)
                if isinstance(env.message, ab.StateUpdate)
            ]
            assert entry is not None
            assert (entry.value, entry.revision) == (["a", "b", "c"], last.revision)
        # Each change is still published on the stream, for subscribers and history.
        assert [u.value for u in updates] == [["a", "b"], ["a", "b", "c"]]

    async def test_cursors_being_written_when_the_log_closes_are_not_lost(
        self, nats_server: NatsServer
    ) -> None:
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log:
            for n in range(50):
                log.commit_cursor_nowait(f"actor-{n}", 7)
            for _ in range(3):  # the flusher takes the cursors and starts writing them
                await anyio.lowlevel.checkpoint()
        async with jetstream_log(nats_server, name) as log:
            assert log.cursors() == {f"actor-{n}": 7 for n in range(50)}

    async def test_journal_entries_are_written_once(self, nats_server: NatsServer) -> None:
        name = fresh_name()
        async with jetstream_log(nats_server, name) as log:
            await log.journal_put("once:a.b/c", b"first")
            await log.journal_put("once:a.b/c", b"second")
        async with jetstream_log(nats_server, name) as log:
            assert await log.journal_get("once:a.b/c") == b"first"
            assert await log.journal_get("missing") is None


# --- faults ----------------------------------------------------------------------------


class TestFaults:
    @pytest.mark.parametrize("kill", [False, True], ids=["graceful", "sigkill"])
    async def test_appends_go_on_across_a_server_restart_and_none_is_lost(
        self, kill: bool, caplog: pytest.LogCaptureFixture
    ) -> None:
        publishers, each = 10, 100
        receipts: list[ab.Receipt] = []
        halfway = anyio.Event()
        name = fresh_name()
        async with NatsServer() as server:
            async with jetstream_log(server, name) as log:

                async def publish(task: int) -> None:
                    for i in range(each):
                        receipts.append(await log.append(note(i, id=f"p{task}-{i}")))
                        if len(receipts) == publishers * each // 2:
                            halfway.set()

                async with anyio.create_task_group() as tg:
                    for task in range(publishers):
                        tg.start_soon(publish, task)
                    await halfway.wait()
                    await anyio.to_thread.run_sync(lambda: server.restart(kill=kill))
                    done_by_restart = len(receipts)
                total = publishers * each
                assert done_by_restart < total  # appends were in flight across the restart
                assert "reconnected to NATS" in caplog.text
                assert sorted(r.seq for r in receipts) == list(range(1, total + 1))
                assert not any(r.duplicate for r in receipts)
                assert log.last_seq == total
            stored = await stream_ids(server, name)
        assert stored == {r.seq: r.id for r in receipts}  # every acknowledged record, once

    async def test_an_append_fails_clearly_when_the_server_stays_away(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        delivered: list[int] = []
        name = fresh_name()
        async with NatsServer() as server:
            async with jetstream_log(server, name, publish_timeout=0.5, ack_wait=0.2) as log:
                log.attach(lambda env: delivered.append(env.seq))
                await log.append(note(1))
                await anyio.to_thread.run_sync(server.stop)
                with pytest.raises(ab.LogUnavailable, match="may or may not be stored"):
                    await log.append(note(2, id="retry-me"))
                await anyio.to_thread.run_sync(server.start)
                # The client reconnects on its own clock (every 0.25 s): only then may an
                # append count on less than its publish_timeout of 0.5 s, on any machine.
                await until_logged(caplog, "reconnected to NATS")
                # The client may have sent the record once the server was back: stored
                # once either way, and handed over in seq order.
                again = await log.append(note(2, id="retry-me"))
                assert again.seq == 2
                assert (await log.append(note(3))).seq == 3
            assert delivered == [1, 2, 3]
            assert await stream_ids(server, name) == {1: ANY_ID, 2: "retry-me", 3: ANY_ID}

    async def test_no_server_answering_fails_the_open(self) -> None:
        async with NatsServer() as server:
            url = server.url
        log = ab.JetStreamLog(url, connect_timeout=0.5)
        with pytest.raises(ab.LogUnavailable, match=r"no NATS server answered within 0\.5s"):
            await log.open()


# --- secrets, Trio, the extra ----------------------------------------------------------

SENTINEL = "sentinel-pw-3f9a1c"
WRONG = "sentinel-wrong-77b2e0"


class TestSecrets:
    async def test_credentials_appear_in_no_repr_log_or_error(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)  # every logger: actorbus and nats
        seen: list[str] = []
        config = f'authorization {{ user: "abus", password: "{SENTINEL}" }}'
        with NatsServer(extra_config=config) as server:
            good = server.url.replace("nats://", f"nats://abus:{SENTINEL}@")
            bad = server.url.replace("nats://", f"nats://abus:{WRONG}@")
            log = ab.JetStreamLog(good, stream=fresh_name())
            async with ab.Bus(log=log) as bus:
                await bus.publish("notes", JsNote(n=1))
                seen += [repr(log), str(log), repr(bus), repr(log._credentials)]
            wrong = ab.JetStreamLog(bad, connect_timeout=1.0)
            with pytest.raises(ab.LogUnavailable) as info:
                await wrong.open()
            seen += [repr(wrong), *traceback.format_exception(info.value)]
            assert "Authorization" in str(info.value)
        seen += [record.getMessage() for record in caplog.records]
        seen += [str(record.args) for record in caplog.records]
        seen += [str(record.exc_info) for record in caplog.records]
        text = "\n".join(seen)
        assert "***@127.0.0.1" in text
        for secret in (SENTINEL, WRONG):
            assert secret not in text

    def test_every_url_of_a_comma_separated_list_is_redacted(self) -> None:
        log = ab.JetStreamLog(f"nats://a:{SENTINEL}@h1:4222,nats://b:{WRONG}@h2:4222")
        assert repr(log).startswith("JetStreamLog('nats://***@h1:4222,nats://***@h2:4222'")

    def test_a_seed_or_creds_file_is_not_shown_either(self) -> None:
        seed = "SUSENTINELSEED" + SENTINEL
        if importlib.util.find_spec("nkeys") is None:
            with pytest.raises(ImportError, match="pip install nkeys") as info:
                ab.JetStreamLog(nkeys_seed=seed)
            shown = "".join(traceback.format_exception(info.value))
        else:
            log = ab.JetStreamLog(nkeys_seed=seed, credentials=f"/secret/{SENTINEL}.creds")
            shown = repr(log) + repr(log._credentials)
        assert SENTINEL not in shown


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_open_says_asyncio_is_required(nats_server: NatsServer) -> None:
    log = ab.JetStreamLog(nats_server.url)
    with pytest.raises(ab.AsyncioRequired, match=r"JetStreamLog needs asyncio.*SqliteLog"):
        await log.open()
    with pytest.raises(ab.AsyncioRequired):
        async with ab.Bus(log=log):
            pass


def test_without_nats_py_actorbus_imports_and_the_log_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['nats'] = None\n"
        "import actorbus\n"
        "try:\n"
        "    actorbus.JetStreamLog()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'actorbus[nats]'" in result.stdout


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        pytest.param({"stream": "has.dot"}, "stream must be", id="stream"),
        pytest.param({"subject_prefix": "a.*"}, "subject_prefix must be", id="wildcard"),
        pytest.param({"subject_prefix": "a..b"}, "subject_prefix must be", id="empty-token"),
        pytest.param({"duplicate_window": 0}, "duplicate_window must be", id="window"),
        pytest.param({"replicas": 0}, "replicas must be", id="replicas"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ab.JetStreamLog(**options)


def test_the_documented_signature_is_the_real_one() -> None:
    guide = " ".join((ROOT / "docs" / "jetstream.md").read_text().split())
    params = inspect.signature(ab.JetStreamLog).parameters.values()

    def default(value: object) -> str:
        return f"{value:_}" if type(value) is int else repr(value).replace("'", '"')

    shown = ", ".join(
        ("*, " if p.kind is p.KEYWORD_ONLY and i == 1 else "") + f"{p.name}={default(p.default)}"
        for i, p in enumerate(params)
    )
    assert f"`JetStreamLog({shown})`" in guide
