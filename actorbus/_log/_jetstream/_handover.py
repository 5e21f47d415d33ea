"""`Handover`: from the server's answers to the bus, in seq order, once each.

It keeps the records in flight by id (a second append of an id in flight waits
for the first, and is its duplicate), the dedup window (ids noted as their records
are handed over, so in seq order), and the `InOrder` buffer. Each record the server
stored waits there for every lower seq, then is handed to the bus (``deliver``)
and its append returns.

Every seq up to the highest any answer named (``acked_max``) is stored. One not
handed over yet, that no record in flight can own (see `InOrder`), is read from
the stream and handed over: a record stored by a publish given up on, or put there
by another publisher. A seq the read does not find (deleted, or on a subject
outside the log's prefix) is skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import final

import anyio

from ..._errors import LogUnavailable
from ..._message import Envelope
from .._dedup import DedupWindow
from ._order import InOrder
from ._publish import Pending, Publisher
from ._reader import Reader

__all__ = ["Deliver", "Handover"]

logger = logging.getLogger("actorbus.jetstream")

Deliver = Callable[[Envelope], None]
_GAP_RETRY = 0.25  # seconds before reading a gap again after a failed read


@final
class Handover:
    """Hands stored records to the bus in seq order; fills gaps from the stream.

    Set `publisher` before the first record is sent.
    """

    __slots__ = (
        "_gap_wake",
        "_idle",
        "_order",
        "_reader",
        "_shown_as",
        "deliver",
        "inflight",
        "publisher",
        "window",
    )

    def __init__(self, released: int, window: DedupWindow, reader: Reader, shown_as: str) -> None:
        self._order: InOrder[Pending] = InOrder(released)
        self.window = window
        self._reader = reader
        self._shown_as = shown_as
        self.publisher: Publisher  # set by the log: it needs this object's callbacks
        self.deliver: Deliver | None = None
        """Who gets each record in seq order; None: appends return as soon as stored."""
        self.inflight: dict[str, Pending] = {}
        """Records sent and not done, by id."""
        self._gap_wake: anyio.Event | None = None
        self._idle: anyio.Event | None = None

    @property
    def released(self) -> int:
        """The highest seq handed over (or skipped), or, with no `deliver`, stored."""
        return self._order.released

    # -- the publisher's callbacks ----------------------------------------------------

    def answered(self, pending: Pending) -> None:
        """The server said where ``pending`` is stored (or that it is a duplicate)."""
        order = self._order
        if self.deliver is None and not order.blocked:
            # Nobody is handed records in order (each actor reads the stream through
            # a consumer of its own): the append returns as soon as it is stored,
            # without waiting for, or reading, the records other publishers stored.
            if not pending.duplicate:
                order.next_seq = max(order.next_seq, pending.seq + 1)
                self._release(pending)
            else:
                self._done(pending)
            return
        if pending.duplicate or pending.seq < order.next_seq:
            self._done(pending)  # a duplicate, or read back as a gap already
        else:
            for ready in order.add(pending.seq, pending):
                self._release(ready)
        self._check_gap()

    def failed(self, pending: Pending) -> None:
        """``pending`` failed (it is finished already)."""
        self._done(pending)
        self._check_gap()

    def _release(self, pending: Pending) -> None:
        env = pending.env
        env.seq = pending.seq
        if env.id != f"seq-{env.seq}":  # not an id made up for a record stored without one
            self.window.check(env.id, env.seq, time.time())
        if self.deliver is not None:
            self.deliver(env)
        self._done(pending)

    def _done(self, pending: Pending) -> None:
        inflight = self.inflight
        if inflight.get(pending.env.id) is pending:
            del inflight[pending.env.id]
            if not inflight and self._idle is not None:
                self._idle.set()
        pending.finish()

    # -- closing ----------------------------------------------------------------------

    async def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every record in flight to be done."""
        with anyio.move_on_after(timeout):
            while self.inflight:
                self._idle = anyio.Event()
                await self._idle.wait()

    def abandon(self) -> None:
        """Finish every record still in flight (the log is closing)."""
        for pending in list(self.inflight.values()):
            pending.finish()  # stored, waiting for a lower seq that never came: it stands
        self.inflight.clear()

    # -- gaps -------------------------------------------------------------------------

    def _gap(self) -> bool:
        if self.deliver is None:
            return False
        start = self._order.next_seq
        if start > self.publisher.acked_max:
            return False
        floor = self.publisher.oldest_floor()
        return floor is None or floor >= start

    def _check_gap(self) -> None:
        if self._gap_wake is not None and self._gap():
            self._gap_wake.set()

    async def fill_gaps(self) -> None:
        """Read gaps from the stream as they appear, until cancelled."""
        while True:
            self._gap_wake = anyio.Event()
            await self._gap_wake.wait()
            while self._gap():
                if not await self._fill_once():
                    await anyio.sleep(_GAP_RETRY)

    async def _fill_once(self) -> bool:
        start, end = self._order.next_seq, self.publisher.acked_max
        try:
            found = await self._reader.read_range(start, end - start + 1)
        except LogUnavailable as exc:
            logger.warning("%s: reading records %d-%d failed: %s", self._shown_as, start, end, exc)
            return False
        by_seq = {env.seq: env for env in found}
        for seq in range(start, end + 1):
            env = by_seq.get(seq)
            item = None  # not in the stream: skipped
            if env is not None:
                item = Pending(env, "", None, b"")
                item.seq = seq
            for ready in self._order.add(seq, item):
                self._release(ready)
        return True
