"""`Publisher`: publishes records to JetStream and matches each answer (PubAck) to its record.

Each record is published with a reply subject of its own under one inbox
subscription, so many publishes can wait at once without a request (and a timer)
each; answers are decoded with msgspec. The record carries its id in
``Nats-Msg-Id``, so sending it again is always safe: the server stores it once
and answers a repeat with the original seq (``duplicate: true``).

So a record is sent again, not failed, when its answer may have been lost: when
the connection comes back after a disconnect (answers in flight are gone), when
no answer came within ``ack_wait`` seconds, and when the server said JetStream is
not ready yet (503, right after a restart). Only when ``give_up_after`` seconds
pass since the first send does the record fail, with `LogUnavailable`; whether it
was stored is then unknown.

A duplicate answer to a record sent more than once may be the server recognising
the first copy: the answer's seq above the record's ``floor`` (the highest seq
known stored when it was first sent) means this record stored it; at or below,
the id was stored before, by someone else.
"""

from __future__ import annotations

import enum
import itertools
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, final

import anyio
import msgspec

from ..._backend import Gate, gate
from ..._errors import LogUnavailable
from ..._message import Envelope

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["Pending", "Publisher", "State"]

logger = logging.getLogger("actorbus.jetstream")

_TICK = 0.1  # seconds between checks for answers overdue
_RETRY_SOON = 0.25  # seconds before sending again after "JetStream not ready"
_HEADER_OVERHEAD = 16  # "NATS/1.0\r\n" and the final "\r\n", rounded up


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _Ack(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: _ApiError | None = None


_decode_ack = msgspec.json.Decoder(_Ack).decode


class State(enum.Enum):
    """Where a record is: sent and unanswered, stored (waiting for its turn), or done."""

    WAITING = "waiting"
    STORED = "stored"
    DONE = "done"


@final
class Pending:
    """One record on its way: what to send, and what became of it."""

    __slots__ = (
        "_gate",
        "attempts",
        "duplicate",
        "env",
        "error",
        "first_sent",
        "floor",
        "headers",
        "payload",
        "reply",
        "resend_at",
        "seq",
        "state",
        "subject",
    )

    def __init__(
        self, env: Envelope, subject: str, headers: dict[str, str] | None, payload: bytes
    ) -> None:
        self.env = env
        self.subject = subject
        self.headers = headers
        self.payload = payload
        self.reply = ""
        self.floor = 0
        self.attempts = 0
        self.first_sent = 0.0
        self.resend_at = math.inf
        self.state = State.WAITING
        self.seq = 0
        self.duplicate = False
        self.error: BaseException | None = None
        self._gate: Gate | None = None

    async def wait(self) -> None:
        """Return once the record is done (released, a duplicate, or failed)."""
        if self.state is not State.DONE:
            if self._gate is None:
                self._gate = gate()
            await self._gate.waiter()

    def finish(self) -> None:
        """Mark the record done and wake whoever waits on it."""
        self.state = State.DONE
        if self._gate is not None:
            self._gate.open()


@final
class Publisher:
    """Sends records and routes their answers; resends until answered or given up.

    Args:
        client: the connection.
        shown_as: the log's repr, for error messages.
        ack_wait: seconds without an answer before a record is sent again.
        give_up_after: seconds after the first send before a record fails.
        on_answer: called with a record once its answer says where it is stored
            (or that it is a duplicate).
        on_failed: called with a record that failed.
    """

    __slots__ = (
        "_ack_wait",
        "_client",
        "_closed",
        "_cut",
        "_give_up_after",
        "_inbox",
        "_on_answer",
        "_on_failed",
        "_overflow",
        "_shown_as",
        "_sub",
        "_tokens",
        "_waiting",
        "acked_max",
    )

    def __init__(
        self,
        client: Client,
        shown_as: str,
        ack_wait: float,
        give_up_after: float,
        on_answer: Callable[[Pending], None],
        on_failed: Callable[[Pending], None],
    ) -> None:
        self._client = client
        self._ack_wait = ack_wait
        self._give_up_after = give_up_after
        self._on_answer = on_answer
        self._on_failed = on_failed
        self._inbox = client.new_inbox()
        self._cut = len(self._inbox) + 1
        self._tokens = itertools.count(1)
        # Records sent and not answered, by reply token, in the order first sent
        # (so in order of their floors).
        self._waiting: dict[str, Pending] = {}
        self._sub: Subscription | None = None
        self.acked_max = 0
        """The highest seq any answer named (or the stream's last seq on open)."""
        self._shown_as = shown_as
        from nats.errors import ConnectionClosedError, OutboundBufferLimitError

        self._overflow = OutboundBufferLimitError
        self._closed = ConnectionClosedError

    # -- lifecycle --------------------------------------------------------------------

    async def open(self, last_seq: int) -> None:
        """Subscribe to the answers; ``last_seq`` is the stream's newest seq."""
        self.acked_max = last_seq
        self._sub = await self._client.subscribe(f"{self._inbox}.*", cb=self._on_reply)

    def close(self, reason: str) -> None:
        """Fail every record still waiting for an answer."""
        waiting, self._waiting = self._waiting, {}
        for pending in waiting.values():
            self._fail(pending, reason)

    @property
    def waiting(self) -> int:
        """How many records wait for an answer."""
        return len(self._waiting)

    def oldest_floor(self) -> int | None:
        """The floor of the oldest record waiting for an answer (None if none)."""
        for pending in self._waiting.values():
            return pending.floor
        return None

    # -- sending ----------------------------------------------------------------------

    def size(self, pending: Pending) -> int:
        """Return the bytes the server counts against its max_payload for ``pending``."""
        headers = pending.headers or {}
        return (
            len(pending.payload)
            + _HEADER_OVERHEAD
            + sum(len(k) + len(v) + 4 for k, v in headers.items())
        )

    @property
    def max_payload(self) -> int:
        """The most bytes the server accepts in one message."""
        return self._client.max_payload

    async def publish(self, pending: Pending) -> None:
        """Send ``pending`` for the first time; its answer comes to `on_answer`."""
        token = str(next(self._tokens))
        pending.reply = f"{self._inbox}.{token}"
        pending.floor = self.acked_max
        pending.first_sent = time.monotonic()
        self._waiting[token] = pending
        try:
            await self._send(pending)
        except Exception:
            self._drop(pending)
            raise

    async def _send(self, pending: Pending) -> None:
        pending.attempts += 1
        pending.resend_at = time.monotonic() + self._ack_wait
        try:
            await self._client.publish(
                pending.subject, pending.payload, reply=pending.reply, headers=pending.headers
            )
        except self._overflow:
            pass  # disconnected with a full buffer: sent again later
        except self._closed:
            self._drop(pending)
            self._fail(pending, "the connection is closed")

    async def resend_all(self) -> None:
        """Send again every record still waiting (after a reconnect: answers were lost)."""
        for pending in list(self._waiting.values()):
            if pending.state is State.WAITING:
                await self._resend(pending)

    async def run(self) -> None:
        """Send again records whose answer is overdue; fail those past ``give_up_after``."""
        while True:
            await anyio.sleep(_TICK)
            now = time.monotonic()
            for pending in list(self._waiting.values()):
                if now - pending.first_sent > self._give_up_after:
                    self._drop(pending)
                    self._fail(
                        pending,
                        f"the server did not confirm a record within {self._give_up_after:g}s; "
                        "it may or may not be stored: publishing it again with the same key "
                        "is safe",
                    )
                elif now >= pending.resend_at:
                    await self._resend(pending)

    async def _resend(self, pending: Pending) -> None:
        # In a background task: a failure here is retried at the next tick, not raised.
        try:
            await self._send(pending)
        except Exception as exc:
            logger.warning("%s: sending a record again failed: %s", self._shown_as, exc)

    # -- answers ----------------------------------------------------------------------

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[self._cut :]
        pending = self._waiting.get(token)
        if pending is None:
            return  # the answer to a copy sent again, or to a record given up
        if not msg.data:  # a status: 503, no JetStream responder (yet)
            pending.resend_at = time.monotonic() + _RETRY_SOON
            return
        try:
            ack = _decode_ack(msg.data)
        except msgspec.DecodeError:
            logger.warning("%s: an unreadable answer to a publish: %r", self._shown_as, msg.data)
            pending.resend_at = time.monotonic() + _RETRY_SOON
            return
        if ack.error is not None:
            if ack.error.code == 503:  # JetStream not ready: try again soon
                pending.resend_at = time.monotonic() + _RETRY_SOON
                return
            del self._waiting[token]
            self._fail(pending, f"the server refused the record: {ack.error.description}")
            return
        del self._waiting[token]
        seq = ack.seq
        if seq > self.acked_max:
            self.acked_max = seq
        pending.seq = seq
        pending.duplicate = ack.duplicate and (pending.attempts == 1 or seq <= pending.floor)
        pending.state = State.STORED
        self._on_answer(pending)

    def _drop(self, pending: Pending) -> None:
        self._waiting.pop(pending.reply[self._cut :], None)

    def _fail(self, pending: Pending, reason: str) -> None:
        pending.error = LogUnavailable(self._shown_as, reason)
        pending.finish()
        self._on_failed(pending)
