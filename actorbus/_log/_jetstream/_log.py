"""`JetStreamLog`: the event log on a NATS JetStream stream.

A record is a message on the stream, on subject ``<subject_prefix>.<topic>``; the
stream's sequence is its seq. Its id rides in ``Nats-Msg-Id``, so the server drops
a repeat within the stream's ``duplicate_window`` and answers with the original
seq; the log also keeps a dedup window of its own (`DedupWindow`, as long), so a
repeat it has seen is answered without a round trip. An append returns once the
server has stored the record (its PubAck); records are sent again, never lost,
across reconnects (see `Publisher`).

The bus reads through consumers: each actor name is a durable consumer, shared by
every process that spawns the name (see `consume`, `ActorFeed`), and a bus's
replies come through a plain subscription (`listen`). A log used without a bus, or
with `attach`, hands its own appends over in seq order instead (see `Handover`).

Journal entries and the protocol's own cursors live in two KV buckets,
``<stream>_journal`` and ``<stream>_cursors`` (see `Cursors`, `Journal`), and the
shared state (``bus.state``) in a third, ``<stream>_state``, kept by the state
layer through a `Companion` (see `companion`). Reads use short-lived consumers
(see `Reader`); inspection tools read through a `JetStreamReader` (see `reader`).
The stream and buckets are made on open if missing (see ``_setup``). nats-py is
asyncio-only: under Trio, `open` raises `AsyncioRequired`.
"""

from __future__ import annotations

import enum
import logging
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, final

import anyio
from anyio.abc import TaskGroup

from ..._backend import current_library
from ..._codec import MessageCodec
from ..._errors import AsyncioRequired, LogUnavailable, MessageTooLarge
from ..._ids import new_id
from ..._message import Envelope, Receipt
from .._dedup import DedupWindow
from .._protocol import StartAt
from ._companion import Companion
from ._connect import Credentials, connect, import_nats, redact_url
from ._consumer import ActorFeed, ack_floor, ack_floors, open_feed
from ._handover import Deliver, Handover
from ._inspect import JetStreamReader
from ._listen import listen
from ._meta import Cursors, Journal
from ._publish import Pending, Publisher
from ._reader import Reader
from ._setup import (
    check_names,
    ensure_stream,
    load_cursors,
    open_bucket,
    setup_problem,
)
from ._wire import MAX_PAYLOAD_SETTING, encode_headers

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["JetStreamLog"]

logger = logging.getLogger("actorbus.jetstream")

_C = TypeVar("_C", bound=Companion)


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


@final
class _Conn:
    """What an open log holds: the connection and everything made on it."""

    __slots__ = ("client", "cursors", "handover", "journal", "publisher", "reader", "tg")

    def __init__(
        self,
        client: Client,
        publisher: Publisher,
        handover: Handover,
        reader: Reader,
        cursors: Cursors,
        journal: Journal,
    ) -> None:
        self.client = client
        self.publisher = publisher
        self.handover = handover
        self.reader = reader
        self.cursors = cursors
        self.journal = journal
        self.tg: TaskGroup | None = None


@final
class JetStreamLog:
    """An event log on NATS JetStream: durable, shared by every client of the server.

    Args:
        servers: the NATS URL, or several (a cluster); ``nats://user:pass@host`` and
            ``nats://token@host`` carry credentials, which are never shown.
        stream: the JetStream stream (created if missing, with file storage).
        subject_prefix: the stream's subjects are ``<subject_prefix>.<topic>``.
        duplicate_window: seconds an id is remembered for de-duplication (the
            stream's ``duplicate_window`` when this log creates it, and the log's own).
        dedup_entries: how many ids the log itself remembers at most.
        replicas: the stream's and buckets' replicas when this log creates them.
        credentials: a NATS ``.creds`` file (JWT and NKey seed).
        tls: a TLS context for ``tls://`` servers.
        nkeys_seed: an NKey seed file, or the seed itself (``SU...``).
        connect_timeout: seconds to wait for a first connection.
        ack_wait: seconds without an answer before a record is sent again.
        publish_timeout: seconds an append keeps trying (across reconnects) before
            it raises `LogUnavailable`.
        redeliver_after: seconds the server waits for an actor's acknowledgement
            before it sends the message to another instance of that actor name (the
            instance holding it went silent: it died mid-handler). A living instance
            keeps its messages however long its handlers take.

    Raises:
        ImportError: nats-py is not installed (``pip install 'actorbus[nats]'``), or
            ``credentials`` or ``nkeys_seed`` is given without the ``nkeys`` package.
        ValueError: a name or duration is not valid.

    Version added: 0.1
    """

    __slots__ = (
        "_ack_wait",
        "_codec",
        "_companions",
        "_conn",
        "_connect_timeout",
        "_credentials",
        "_dedup_entries",
        "_deliver",
        "_duplicate_window",
        "_feeds",
        "_last_seq",
        "_prefix",
        "_publish_timeout",
        "_redeliver_after",
        "_replicas",
        "_servers",
        "_shown",
        "_state",
        "_stream",
    )

    def __init__(
        self,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        stream: str = "ACTORBUS",
        subject_prefix: str = "actorbus",
        duplicate_window: float = 120.0,
        dedup_entries: int = 100_000,
        replicas: int = 1,
        credentials: str | Path | None = None,
        tls: ssl.SSLContext | None = None,
        nkeys_seed: str | Path | None = None,
        connect_timeout: float = 5.0,
        ack_wait: float = 2.0,
        publish_timeout: float = 30.0,
        redeliver_after: float = 30.0,
    ) -> None:
        check_names(stream, subject_prefix)
        for name, value in (
            ("duplicate_window", duplicate_window),
            ("connect_timeout", connect_timeout),
            ("ack_wait", ack_wait),
            ("publish_timeout", publish_timeout),
            ("redeliver_after", redeliver_after),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive seconds, got {value}")
        if dedup_entries < 1 or replicas < 1:
            raise ValueError("dedup_entries and replicas must be at least 1")
        import_nats()  # a missing extra fails here, with what to install
        self._servers = [servers] if isinstance(servers, str) else list(servers)
        self._shown = ", ".join(redact_url(url) for url in self._servers)
        self._stream = stream
        self._prefix = subject_prefix
        self._duplicate_window = duplicate_window
        self._dedup_entries = dedup_entries
        self._replicas = replicas
        self._credentials = Credentials(credentials, tls, nkeys_seed)
        self._credentials.check()
        self._connect_timeout = connect_timeout
        self._ack_wait = ack_wait
        self._publish_timeout = publish_timeout
        self._redeliver_after = redeliver_after
        self._codec = MessageCodec()
        self._state = _State.NEW
        self._conn: _Conn | None = None
        self._deliver: Deliver | None = None
        self._last_seq = 0
        self._feeds: weakref.WeakSet[ActorFeed] = weakref.WeakSet()
        self._companions: dict[str, Companion] = {}

    def __repr__(self) -> str:
        return f"JetStreamLog({self._shown!r}, stream={self._stream!r}, last_seq={self.last_seq})"

    @property
    def _shown_as(self) -> str:
        return f"{self._shown} (stream {self._stream!r})"

    @property
    def stream(self) -> str:
        """The JetStream stream."""
        return self._stream

    @property
    def subject_prefix(self) -> str:
        """The prefix of the stream's subjects."""
        return self._prefix

    @property
    def last_seq(self) -> int:
        """The seq of the newest record handed to the bus (0 for an empty log)."""
        return self._conn.handover.released if self._conn is not None else self._last_seq

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, create the stream and buckets if missing, load the cursors.

        Raises:
            AsyncioRequired: not running on asyncio (nats-py is asyncio-only).
            LogUnavailable: no server answered, it refused the credentials, it has
                no JetStream, or the stream exists with subjects that do not cover
                ``subject_prefix``.
        """
        if current_library() != "asyncio":
            raise AsyncioRequired(
                "JetStreamLog",
                "nats-py, the NATS client, is asyncio-only",
                "use SqliteLog or MemoryLog, which run on both",
            )
        if self._state is _State.OPEN or self._state is _State.CLOSING:
            raise RuntimeError("this JetStreamLog is already open")
        client = await connect(
            self._servers,
            self._credentials,
            self._connect_timeout,
            self._shown_as,
            self._on_disconnect,
            self._on_reconnect,
        )
        try:
            conn = self._conn = await self._setup(client)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._close_companions()
                await client.close()
            raise
        conn.handover.deliver = self._deliver
        self._state = _State.OPEN
        tg = conn.tg = anyio.create_task_group()
        await tg.__aenter__()
        tg.start_soon(conn.publisher.run, name="actorbus:jetstream-resend")
        tg.start_soon(conn.cursors.run, name="actorbus:jetstream-cursors")
        tg.start_soon(conn.handover.fill_gaps, name="actorbus:jetstream-gaps")
        for name, companion in self._companions.items():
            tg.start_soon(companion.follow, name=f"actorbus:jetstream-{name}")

    async def _setup(self, client: Client) -> _Conn:
        js, shown = client.jetstream(), self._shown_as
        try:
            last = await ensure_stream(
                js,
                self._stream,
                self._prefix,
                replicas=self._replicas,
                duplicate_window=self._duplicate_window,
                shown_as=shown,
            )
            cursors = await open_bucket(js, f"{self._stream}_cursors", self._replicas)
            journal = await open_bucket(js, f"{self._stream}_journal", self._replicas)
            values = await load_cursors(client, js, f"{self._stream}_cursors")
            reader = Reader(client, js, self._stream, self._prefix, shown)
            window = DedupWindow(self._dedup_entries, self._duplicate_window)
            handover = Handover(last, window, reader, shown)
            publisher = handover.publisher = Publisher(
                client, shown, self._ack_wait, self._publish_timeout,
                handover.answered, handover.failed,
            )  # fmt: skip
            await publisher.open(last)
            for name, companion in self._companions.items():
                bucket = f"{self._stream}_{name}"
                kv = await open_bucket(js, bucket, self._replicas)
                await companion.open(client, js, kv, bucket)
        except LogUnavailable:
            raise
        except Exception as exc:
            raise LogUnavailable(shown, setup_problem(exc)) from exc
        return _Conn(
            client,
            publisher,
            handover,
            reader,
            Cursors(cursors, values, shown),
            Journal(journal, shown),
        )

    async def aclose(self) -> None:
        """Wait (up to ``publish_timeout``) for records in flight, write cursors, disconnect.

        Closing twice does nothing.
        """
        conn = self._conn
        if conn is None or self._state is not _State.OPEN:
            return
        self._state = _State.CLOSING
        try:
            with anyio.CancelScope(shield=True):
                await conn.handover.settle(self._publish_timeout)
                await conn.cursors.close(self._publish_timeout)
            tg = conn.tg
            if tg is not None:  # exited in the scope it was entered in, not a nested one
                tg.cancel_scope.cancel()
                await tg.__aexit__(None, None, None)
        finally:
            self._last_seq = conn.handover.released
            self._state = _State.CLOSED
            self._conn = None
            with anyio.CancelScope(shield=True):
                await self._close_companions()
                await self._disconnect(conn)

    async def _close_companions(self) -> None:
        for companion in self._companions.values():
            await companion.close()

    async def _disconnect(self, conn: _Conn) -> None:
        conn.publisher.close("the log closed before the server confirmed the record")
        conn.handover.abandon()
        try:
            await conn.client.close()
        except Exception:  # the connection is gone either way
            logger.debug("%s: closing the connection failed", self._shown_as, exc_info=True)

    async def __aenter__(self) -> JetStreamLog:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _on_disconnect(self) -> None:
        if self._state is _State.OPEN:  # not the log's own close
            logger.warning("%s: disconnected from NATS; reconnecting", self._shown_as)

    async def _on_reconnect(self) -> None:
        logger.warning("%s: reconnected to NATS", self._shown_as)
        conn = self._conn
        if conn is not None:
            await conn.publisher.resend_all()  # answers in flight were lost
        for feed in list(self._feeds):
            feed.renew()  # so were the consumers' pull requests

    def _open(self) -> _Conn:
        conn = self._conn
        if conn is None or self._state is not _State.OPEN:
            state = "closing" if self._state is _State.CLOSING else "not open"
            raise LogUnavailable(self._shown_as, f"the log is {state}")
        return conn

    # -- appending --------------------------------------------------------------------

    def attach(self, deliver: Deliver) -> None:
        """Have ``deliver`` called for each stored envelope, in seq order, before append returns."""
        self._deliver = deliver
        if self._conn is not None:
            self._conn.handover.deliver = deliver

    async def append(self, env: Envelope) -> Receipt:
        """See `EventLog.append`: returns once the server stored the record.

        Raises:
            MessageTooLarge: the encoded message is over the server's max_payload.
            LogUnavailable: the log is closed, or the server did not confirm the
                record within ``publish_timeout`` (it may be stored: publishing
                again with the same key is safe).
        """
        conn = self._open()
        handover = conn.handover
        msg_id = env.id
        if msg_id:
            original = handover.window.seen(msg_id, time.time())
            if original is not None:
                return Receipt(original, msg_id, True)
            other = handover.inflight.get(msg_id)
            if other is not None:
                return await _repeat_of(other, msg_id)
        else:
            env.id = msg_id = new_id()
        pending = self._pending(conn, env)
        handover.inflight[msg_id] = pending
        try:
            await conn.publisher.publish(pending)
        except Exception:
            handover.inflight.pop(msg_id, None)  # refused by the client: never sent
            raise
        await pending.wait()
        if pending.error is not None:
            raise pending.error
        return Receipt(pending.seq, msg_id, pending.duplicate)

    def _pending(self, conn: _Conn, env: Envelope) -> Pending:
        payload = self._codec.encode(env.message)
        pending = Pending(
            env, f"{self._prefix}.{env.topic}", encode_headers(env, env.type), payload
        )
        size = conn.publisher.size(pending)
        if size > conn.publisher.max_payload:
            raise MessageTooLarge(
                env.topic, size, conn.publisher.max_payload, setting=MAX_PAYLOAD_SETTING
            )
        return pending

    # -- reading ----------------------------------------------------------------------

    async def read(self, from_seq: int, limit: int = 1000) -> list[Envelope]:
        """See `EventLog.read`.

        Records that cannot be decoded in this process come back as `Undecodable`
        messages (the record itself stays as it is).

        Raises:
            LogTruncated: the stream no longer holds ``from_seq`` (its limits removed it).
            LogUnavailable: the server did not answer.
        """
        return await self._open().reader.read(from_seq, limit)

    async def read_topic_prefix(self, prefix: str) -> list[Envelope]:
        """Return every record whose topic starts with ``prefix``, in seq order.

        For rebuilding derived data on open (the shared state).

        Raises:
            LogUnavailable: the server did not answer.
        """
        return await self._open().reader.read_topic_prefix(prefix)

    # -- consuming --------------------------------------------------------------------

    async def consume(
        self,
        actor: str,
        patterns: Sequence[str],
        max_in_flight: int,
        start_at: StartAt | None = None,
    ) -> ActorFeed:
        """Return the feed of actor name ``actor``: its durable consumer, shared by name.

        The bus calls it when an actor is spawned. ``max_in_flight`` (the mailbox
        size) bounds the messages the server lets out unacknowledged, across every
        process sharing the name. See `ActorFeed` and ``docs/jetstream.md``.

        Raises:
            LogUnavailable: the server refused the consumer or did not answer.
        """
        conn = self._open()
        feed = await open_feed(
            conn.client,
            self._stream,
            self._prefix,
            actor,
            patterns,
            max_in_flight=max_in_flight,
            redeliver_after=self._redeliver_after,
            start_at=start_at,
            replicas=self._replicas,
            shown_as=self._shown_as,
        )
        self._feeds.add(feed)
        return feed

    async def listen(
        self, topic: str, deliver: Callable[[Envelope], object]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``deliver`` with each envelope published on ``topic`` from now on.

        For replies to asks: no consumer, no acknowledgement; the envelopes have seq
        0. Returns the coroutine function that stops listening.

        Raises:
            LogUnavailable: the subscription could not be made.
        """
        conn = self._open()
        return await listen(conn.client, self._prefix, topic, deliver, self._shown_as)

    # -- cursors and journal ----------------------------------------------------------

    async def cursor(self, consumer: str) -> int:
        """See `EventLog.cursor`.

        For an actor name with a consumer (see `consume`), the consumer's ack floor:
        the last seq up to which every message of the name was handled.

        Raises:
            LogUnavailable: the server did not answer.
        """
        conn = self._open()
        floor = await ack_floor(conn.client, self._stream, consumer, self._shown_as)
        return conn.cursors.get(consumer) if floor is None else floor

    def has_cursor(self, consumer: str) -> bool:
        """Tell whether ``consumer`` has ever committed a cursor."""
        return self._open().cursors.has(consumer)

    def cursors(self) -> dict[str, int]:
        """Return every cursor `commit_cursor` wrote (the protocol's own, in a KV bucket).

        The bus does not write these on JetStream: an actor's cursor is its
        consumer's ack floor (see `actor_cursors`).
        """
        return self._open().cursors.snapshot()

    async def actor_cursors(self) -> dict[str, int]:
        """Return every actor name's cursor: its consumer's ack floor, from any process.

        Raises:
            LogUnavailable: the server did not answer.
        """
        return await ack_floors(self._open().client, self._stream, self._shown_as)

    def commit_cursor_nowait(self, consumer: str, seq: int) -> None:
        """Record ``consumer``'s cursor; it is written to the KV bucket shortly after."""
        self._open().cursors.set_nowait(consumer, seq)

    async def commit_cursor(self, consumer: str, seq: int) -> None:
        """See `EventLog.commit_cursor`: returns once the KV bucket holds it."""
        await self._open().cursors.set(consumer, seq)

    async def journal_get(self, key: str) -> bytes | None:
        """See `EventLog.journal_get`."""
        return await self._open().journal.get(key)

    async def journal_put(self, key: str, value: bytes) -> None:
        """See `EventLog.journal_put`: returns once the KV bucket holds it."""
        await self._open().journal.put(key, value)

    # -- reading --------------------------------------------------------------------

    def reader(self) -> JetStreamReader:
        """Return a `LogReader` of this log's stream, on a connection of its own.

        It needs no open log, and never creates the stream or a bucket (see
        `JetStreamReader`): for tools that look into a log another process writes.
        """
        return JetStreamReader(
            self._servers, self._credentials, self._connect_timeout, self._stream,
            self._prefix, self._shown_as,
        )  # fmt: skip

    # -- companions -----------------------------------------------------------------

    def companion(self, name: str, make: Callable[[str], _C]) -> _C:
        """Return the companion kept in the KV bucket ``<stream>_<name>``, made on first use.

        For a layer above the log (the shared state): ``make(shown_as)`` builds it the
        first time a name is asked for, and every later call returns that one. The
        log opens the bucket (creating it if missing) and the companion with itself,
        runs its ``follow`` while open, and closes it on exit (see `Companion`).

        Raises:
            RuntimeError: the log is open already (a companion joins at open).
        """
        found = self._companions.get(name)
        if found is None:
            if self._state is _State.OPEN or self._state is _State.CLOSING:
                raise RuntimeError(
                    f"JetStreamLog: {name!r} must be set up before the log opens (make the "
                    "Bus first: it opens its log)"
                )
            found = self._companions[name] = make(self._shown_as)
        return found  # type: ignore[return-value]  # made by `make` under this name


async def _repeat_of(other: Pending, msg_id: str) -> Receipt:
    # The same id is on its way already: this append is its duplicate.
    await other.wait()
    if other.error is not None:
        raise other.error
    return Receipt(other.seq, msg_id, True)
