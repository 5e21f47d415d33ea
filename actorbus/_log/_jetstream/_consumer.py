"""`ActorFeed`: one actor name's durable pull consumer, feeding a mailbox in this process.

Each actor name is a durable consumer of the stream, filtered by the actor's
patterns, with explicit acks and ``max_ack_pending`` = its mailbox size. Every
process that spawns the name pulls from the same consumer, so they share its work:
the server hands each message to one of them, and to another after ``ack_wait``
if the one it chose does not acknowledge it (it died mid-handler). The ack is the
cursor: a message is acknowledged once its handler has finished (succeeded, or
dead-lettered), never before.

While a message waits in the mailbox or its handler runs, the feed tells the
server it is still being worked on (``+WPI``), so a slow handler is not mistaken
for a dead one. A feed that stops (the actor is killed, the bus closes) hands its
unhandled messages back at once (``-NAK``) instead of letting them wait out
``ack_wait``.

Pulling is one request at a time for up to the mailbox size, long-polled with a
heartbeat; silence for a few heartbeats (the server restarted, the connection
was replaced) means the request is gone, and a new one is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, final

import anyio

from ..._codec import MessageCodec
from ..._errors import LogUnavailable
from ..._message import Envelope
from ..._topic import TopicIndex
from .._protocol import StartAt
from ._wire import decode_envelope, name_key

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

__all__ = [
    "ActorFeed",
    "Offer",
    "consumer_name",
    "ack_floor",
    "ack_floors",
    "filter_subjects",
    "open_feed",
]

logger = logging.getLogger("actorbus.jetstream")

Offer = Callable[[Envelope], Awaitable[None]]
"""How a feed hands an envelope to its mailbox (waits while the mailbox is full)."""

API = "$JS.API"
_EXPIRES = 5.0  # seconds a pull request lingers on the server
_HEARTBEAT = 1.0  # seconds between the server's idle heartbeats on a pull
_SILENCE = 3.5  # seconds without a word from the server before the pull is sent again
_RETRY = 0.5  # seconds before trying again after the server did not answer
_NAME_MAX = 255  # the server's longest consumer name
_DESCRIPTION = "actorbus actor "  # + the actor name: names survive the escaping


def consumer_name(actor: str) -> str:
    """Return the durable consumer name standing for actor name ``actor``.

    The server takes names up to 255 characters: a longer one keeps its start and
    ends with ``=Z`` and a hash of the whole actor name (``name_key`` never writes
    ``=`` before anything but two hex digits, so no short name looks like that).
    """
    name = "ab_" + name_key(actor).replace(".", "=2E")
    if len(name) <= _NAME_MAX:
        return name
    digest = hashlib.sha256(actor.encode()).hexdigest()[:40]
    return f"{name[: _NAME_MAX - 42]}=Z{digest}"


def filter_subjects(prefix: str, patterns: Sequence[str]) -> list[str] | None:
    """Return the consumer's subject filters for ``patterns``, or None for "all, filtered here".

    A pattern covered by another of the same actor is left out (the server refuses
    overlapping filters); if two still overlap, the feed takes the whole prefix and
    matches the patterns itself.
    """
    kept = [
        pattern
        for pattern in dict.fromkeys(patterns)
        if not any(q != pattern and _covers(q, pattern) for q in patterns)
    ]
    for i, p in enumerate(kept):
        for q in kept[i + 1 :]:
            if _overlap(p.split("."), q.split(".")):
                return None
    return [f"{prefix}.{pattern}" for pattern in kept]


def _covers(wide: str, narrow: str) -> bool:
    # Does every topic matching ``narrow`` match ``wide``?
    w, n = wide.split("."), narrow.split(".")
    for i, token in enumerate(w):
        if token == ">":
            return len(n) > i
        if i >= len(n) or n[i] == ">" or (token != "*" and token != n[i]):
            return False
    return len(n) == len(w)


def _overlap(a: list[str], b: list[str]) -> bool:
    # Can one topic match both patterns?
    for x, y in zip(a, b, strict=False):
        if x == ">" or y == ">":
            return True
        if x != "*" and y != "*" and x != y:
            return False
    return len(a) == len(b)


@final
class _Request:
    """The pull request in progress: how many messages it may still bring, and when we heard."""

    __slots__ = ("heard", "left", "over")

    def __init__(self) -> None:
        self.left = 0
        self.over = anyio.Event()
        self.heard = 0.0

    def start(self, batch: int) -> None:
        self.left = batch
        self.over = anyio.Event()
        self.heard = anyio.current_time()


@final
class ActorFeed:
    """Pulls one actor name's messages from its durable consumer and acknowledges them.

    Made by `JetStreamLog.consume`; the bus runs `run` in a task of its own, calls
    `handled` after each message (the actor's cursor moved), `stop_pulling` when the
    actor stops taking messages, and `aclose` once it is done with them.
    """

    __slots__ = (
        "__weakref__",
        "_acks",
        "_client",
        "_codec",
        "_js",
        "_match",
        "_max",
        "_next_subject",
        "_outstanding",
        "_prefix",
        "_pulling",
        "_request",
        "_room",
        "_shown_as",
        "_stopped",
        "_wake",
        "ack_wait",
        "actor",
        "name",
        "stream",
    )

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        stream: str,
        name: str,
        actor: str,
        prefix: str,
        max_in_flight: int,
        ack_wait: float,
        match: Callable[[str], bool] | None,
        shown_as: str,
    ) -> None:
        self._client = client
        self._js = js
        self.stream = stream
        self.name = name
        self.actor = actor
        self._prefix = prefix
        self._max = max_in_flight
        self.ack_wait = ack_wait
        self._match = match  # None: the server's filters match exactly
        self._shown_as = shown_as
        self._next_subject = f"{API}.CONSUMER.MSG.NEXT.{stream}.{name}"
        self._codec = MessageCodec()
        # seq -> ack subject of each message offered and not yet acknowledged, in
        # the order offered (the mailbox's order, so the order handlers finish in
        # for an actor with concurrency 1).
        self._outstanding: OrderedDict[int, str] = OrderedDict()
        self._acks: list[tuple[str, bytes]] = []
        self._wake: anyio.Event | None = None
        self._room: anyio.Event | None = None  # set when a message is acknowledged
        self._stopped: anyio.Event | None = None  # set when `run` has ended
        self._request = _Request()
        # Around the pull loop only: an actor stopping gracefully stops pulling, while
        # its acks and work-in-progress notes go on until `aclose`.
        self._pulling = anyio.CancelScope()

    def __repr__(self) -> str:
        return f"ActorFeed({self.actor!r}, consumer={self.name!r}, in_flight={self.in_flight})"

    @property
    def in_flight(self) -> int:
        """Messages taken from the server and not yet acknowledged."""
        return len(self._outstanding)

    # -- pulling ----------------------------------------------------------------------

    async def run(self, offer: Offer) -> None:
        """Pull messages and offer each to the mailbox, and acknowledge them, until cancelled."""
        self._stopped = anyio.Event()
        try:
            await self._run(offer)
        finally:
            self._stopped.set()

    async def _run(self, offer: Offer) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._send_acks)
            with self._pulling:
                await self._pull_loop(offer)
            await anyio.sleep_forever()  # acks go on until cancelled

    async def _pull_loop(self, offer: Offer) -> None:
        while True:
            try:
                await self._pull(offer)
            except Exception as exc:
                retried = (LogUnavailable, OSError, TimeoutError)
                if not isinstance(exc, retried) and not type(exc).__module__.startswith("nats"):
                    raise  # a bug of ours, not the server or the connection
                logger.warning(
                    "%s: pulling for %r failed: %s: %s",
                    self._shown_as, self.actor, type(exc).__name__, exc,
                )  # fmt: skip
                await anyio.sleep(_RETRY)

    async def _pull(self, offer: Offer) -> None:
        # Messages arrive through a subscription callback (nats-py runs it in a task
        # of the subscription's, one message at a time), which hands them to the
        # mailbox; this task only sends requests and notices when one is over.
        client, request = self._client, self._request

        async def on_message(msg: Msg) -> None:
            request.heard = anyio.current_time()
            headers = msg.headers
            if headers and not msg.data and "Status" in headers:
                if headers["Status"] != "100":  # not a heartbeat: 408 expired, 409 ...
                    request.over.set()
                return
            request.left -= 1
            if request.left <= 0:
                request.over.set()
            await self._take(msg, offer)

        inbox = client.new_inbox()
        sub = await client.subscribe(inbox, cb=on_message, pending_msgs_limit=4 * self._max + 64)
        try:
            while True:
                # Ask only for what the mailbox has room for: a request left on the
                # server when this feed stops would take messages nobody reads.
                left = self._max - len(self._outstanding)
                if left <= 0:
                    self._room = anyio.Event()
                    await self._room.wait()
                    continue
                request.start(left)
                await self._send_request(inbox, left)
                while not request.over.is_set():
                    with anyio.move_on_after(_SILENCE):
                        await request.over.wait()
                    if anyio.current_time() - request.heard >= _SILENCE:
                        break  # the request is lost (a restart, a new connection)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await sub.unsubscribe()
                except Exception:  # the connection is gone: so is the subscription
                    logger.debug("unsubscribing the pull inbox failed", exc_info=True)

    def stop_pulling(self) -> None:
        """Take no more messages (the actor is stopping); keep acknowledging until `aclose`."""
        self._pulling.cancel()

    def renew(self) -> None:
        """The connection was replaced: the pull request in progress is gone; send another."""
        self._request.heard = -math.inf
        self._request.over.set()

    async def _send_request(self, inbox: str, batch: int) -> None:
        request = {
            "batch": batch,
            "expires": int(_EXPIRES * 1e9),
            "idle_heartbeat": int(_HEARTBEAT * 1e9),
        }
        await self._client.publish(self._next_subject, json.dumps(request).encode(), reply=inbox)

    async def _take(self, msg: Msg, offer: Offer) -> None:
        meta = msg.metadata
        seq = meta.sequence.stream
        reply = msg.reply
        if seq in self._outstanding:
            self._outstanding[seq] = reply  # sent again while we hold it: ack the newer
            return
        subject = msg.subject
        topic = subject[len(self._prefix) + 1 :]
        if self._match is not None and not self._match(topic):
            self._queue(reply, b"+ACK")  # taken by the wide filter, not ours
            return
        env = decode_envelope(
            seq, topic, msg.headers, msg.data, self._codec, meta.timestamp.timestamp()
        )
        self._outstanding[seq] = reply
        await offer(env)

    # -- acknowledging ----------------------------------------------------------------

    def handled(self, actor: str, seq: int) -> None:
        """The actor finished every message offered up to the one at ``seq``: ack them."""
        out = self._outstanding
        if seq not in out:
            return
        while out:
            done, reply = out.popitem(last=False)
            self._queue(reply, b"+ACK")
            if done == seq:
                break
        if self._room is not None:
            self._room.set()

    def release(self) -> None:
        """Hand every message not yet handled back to the server, for another instance."""
        for reply in self._outstanding.values():
            self._queue(reply, b"-NAK")
        self._outstanding.clear()

    def _queue(self, reply: str, body: bytes) -> None:
        self._acks.append((reply, body))
        if self._wake is not None:
            self._wake.set()

    async def _send_acks(self) -> None:
        # Acks go out as they come; while messages are held, a "still working" note
        # every third of ack_wait keeps the server from sending them elsewhere. The
        # note keeps its own clock: acks flowing for the messages ahead must not put
        # it off while the ones behind them wait in the mailbox.
        interval = self.ack_wait / 3
        due = anyio.current_time() + interval
        while True:
            self._wake = anyio.Event()
            with anyio.move_on_after(due - anyio.current_time()):
                await self._wake.wait()
            await self._flush()
            if anyio.current_time() >= due:
                due = anyio.current_time() + interval
                await self._send([(reply, b"+WPI") for reply in self._outstanding.values()])

    async def _flush(self) -> None:
        acks, self._acks = self._acks, []
        await self._send(acks)

    async def _send(self, notes: list[tuple[str, bytes]]) -> None:
        publish = self._client.publish
        try:
            for reply, body in notes:
                await publish(reply, body)
        except Exception as exc:  # the server sends these again: handled twice, not lost
            logger.warning(
                "%s: %d acknowledgement(s) for %r not sent: %s",
                self._shown_as, len(notes), self.actor, exc,
            )  # fmt: skip

    async def aclose(self) -> None:
        """Hand back what was not handled, send the acks, and flush them to the server.

        Call it once `run` is cancelled: it waits for `run` to end, so its pull
        request is withdrawn before the messages go back (or they would go to it).
        """
        if self._stopped is not None:
            await self._stopped.wait()
        self.release()
        await self._flush()
        try:
            with anyio.fail_after(2.0):
                await self._client.flush()
        except Exception:  # unacknowledged messages come back after ack_wait
            logger.debug("flushing the acks of %r failed", self.actor, exc_info=True)

    # -- observing --------------------------------------------------------------------

    async def backlog(self) -> int:
        """Return the messages not yet delivered or not yet acknowledged, across instances.

        Raises:
            LogUnavailable: the server did not answer.
        """
        try:
            info = await self._js.consumer_info(self.stream, self.name)
        except Exception as exc:
            raise LogUnavailable(self._shown_as, f"asking for consumer {self.name}: {exc}") from exc
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def open_feed(
    client: Client,
    stream: str,
    prefix: str,
    actor: str,
    patterns: Sequence[str],
    *,
    max_in_flight: int,
    redeliver_after: float,
    start_at: StartAt | None,
    replicas: int,
    shown_as: str,
) -> ActorFeed:
    """Create (or update, or, with an explicit ``start_at``, reset) ``actor``'s consumer.

    An existing consumer keeps its position (where the actor name left off, in any
    process); ``start_at`` None creates a missing one at "latest". An explicit
    ``start_at`` deletes an existing consumer and starts a new one there: every
    process sharing the name then starts from there.

    Raises:
        LogUnavailable: the server refused or did not answer.
    """
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    js = client.jetstream()
    name = consumer_name(actor)
    subjects = filter_subjects(prefix, patterns)
    match: Callable[[str], bool] | None = None
    if subjects is None:
        index: TopicIndex[bool] = TopicIndex()
        for pattern in patterns:
            index.add(pattern, True)
        match, subjects = lambda topic: bool(index.match(topic)), [f"{prefix}.>"]
    try:
        try:
            existing = await js.consumer_info(stream, name)
        except NotFoundError:
            existing = None
        if existing is not None and start_at is not None:
            await js.delete_consumer(stream, name)
            existing = None
        if existing is not None:
            policy = existing.config.deliver_policy
            start_seq = existing.config.opt_start_seq
        elif start_at is None or start_at == "latest":
            policy, start_seq = DeliverPolicy.NEW, None
        elif start_at == "earliest":
            policy, start_seq = DeliverPolicy.ALL, None
        else:
            policy, start_seq = DeliverPolicy.BY_START_SEQUENCE, start_at
        config = ConsumerConfig(
            name=name,
            durable_name=name,
            description=_DESCRIPTION + actor,
            deliver_policy=policy,
            opt_start_seq=start_seq,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=redeliver_after,
            max_deliver=-1,
            filter_subjects=subjects,
            max_ack_pending=max_in_flight,
            max_waiting=512,
            num_replicas=replicas,
        )
        await js.add_consumer(stream, config)
    except Exception as exc:
        raise LogUnavailable(
            shown_as, f"making consumer {name} for actor {actor!r} failed ({exc})"
        ) from exc
    return ActorFeed(
        client, js, stream, name, actor, prefix, max_in_flight, redeliver_after, match, shown_as
    )


async def ack_floor(client: Client, stream: str, actor: str, shown_as: str) -> int | None:
    """Return the seq up to which actor name ``actor`` handled everything; None: no consumer.

    Raises:
        LogUnavailable: the server did not answer.
    """
    from nats.js.errors import NotFoundError

    try:
        info = await client.jetstream().consumer_info(stream, consumer_name(actor))
    except NotFoundError:
        return None
    except Exception as exc:
        raise LogUnavailable(
            shown_as, f"asking for the consumer of {actor!r} failed ({exc})"
        ) from exc
    return int(info.ack_floor.stream_seq) if info.ack_floor is not None else 0


async def ack_floors(client: Client, stream: str, shown_as: str) -> dict[str, int]:
    """Return, by actor name, the seq up to which each name on ``stream`` handled everything.

    Raises:
        LogUnavailable: the server did not answer.
    """
    js, offset = client.jetstream(), 0
    floors: dict[str, int] = {}
    try:
        while page := await js.consumers_info(stream, offset):
            for info in page:
                described = info.config.description or ""
                if described.startswith(_DESCRIPTION):
                    floor = info.ack_floor
                    floors[described[len(_DESCRIPTION) :]] = (
                        0 if floor is None else floor.stream_seq
                    )
            offset += len(page)
    except Exception as exc:
        raise LogUnavailable(shown_as, f"listing the actors' consumers failed ({exc})") from exc
    return dict(sorted(floors.items()))
