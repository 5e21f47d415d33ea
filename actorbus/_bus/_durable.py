"""Delivery through a log that writes asynchronously, and catching an actor up.

A log that appends at once (the memory log) is delivered from by the publisher
itself. A log that writes to disk offers ``attach``: it then hands each envelope
back, in seq order, once durable, and `Delivery` routes it; the publisher picks up
any backpressure events after its append returns. So mailboxes see seq order no
matter the order publishers wake in, and a publisher cancelled mid-append cannot
leave a gap.

`catch_up` feeds an actor the records it has not handled yet (after its cursor, on
restart) before it is subscribed to new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import anyio

from .._actor import Cell
from .._errors import LogTruncated
from .._log import EventLog, StartAt
from .._message import Envelope
from .._topic import TopicIndex
from ._delivery import deliver
from ._router import Router

__all__ = ["Delivery", "StartAt", "catch_up", "resume"]

_PAGE = 512
_MAX_HELD = 10_000  # backpressure lists kept for publishers that stopped waiting


@final
class Delivery:
    """Routes envelopes a log hands back once durable; remembers the last seq delivered."""

    __slots__ = ("_router", "_waits", "delivered_seq")

    def __init__(self, router: Router) -> None:
        self._router = router
        self._waits: dict[int, list[anyio.Event]] = {}
        self.delivered_seq = 0

    def committed(self, env: Envelope) -> None:
        """Deliver ``env`` (called by the log, in seq order)."""
        waits = deliver(env, self._router.route(env.topic))
        self.delivered_seq = env.seq
        if waits is not None:
            self._waits[env.seq] = waits
            if len(self._waits) > _MAX_HELD:
                del self._waits[next(iter(self._waits))]

    def take_waits(self, seq: int) -> list[anyio.Event] | None:
        """Return the backpressure events of the envelope at ``seq``, if any."""
        return self._waits.pop(seq, None)


async def catch_up(
    log: EventLog, cell: Cell, after: int | None, delivered: Callable[[], int]
) -> None:
    """Offer ``cell`` every record after seq ``after`` that its patterns match.

    Returns once it has offered everything delivered so far, without suspending
    after its last check, so the caller can subscribe the cell with no gap and no
    repeat. ``after`` None means from the oldest record the log still holds.
    """
    patterns: TopicIndex[bool] = TopicIndex()
    for pattern in cell.patterns:
        patterns.add(pattern, True)
    next_seq = 1 if after is None else after + 1
    while next_seq <= delivered():
        page = await _read(log, next_seq, after is None)
        if not page:
            return
        for env in page:
            if env.seq > delivered():
                return
            if patterns.match(env.topic):
                event = cell.offer(env)
                if event is not None:
                    await event.wait()
            next_seq = env.seq + 1


async def _read(log: EventLog, from_seq: int, earliest: bool) -> list[Envelope]:
    try:
        return await log.read(from_seq, _PAGE)
    except LogTruncated as exc:
        if not earliest:
            raise
        return await log.read(exc.first_seq, _PAGE)


async def resume(
    log: EventLog, cell: Cell, start_at: StartAt | None, delivered: Callable[[], int]
) -> None:
    """Catch ``cell`` up from where it should start reading, before it is subscribed.

    That is after its cursor if it has one in a durable log (a restart: what it had
    not finished is handled now, what it had is not), else where ``start_at`` says
    (by default: only what comes next). A durable log gets the cursor at once.
    """
    name = cell.name
    known: Callable[[str], bool] | None = getattr(log, "has_cursor", None)
    if known is not None:
        cell.on_handled = getattr(log, "commit_cursor_nowait", None)
    had_cursor = known is not None and known(name)
    if start_at is None and had_cursor:
        after: int | None = await log.cursor(name)
    elif start_at is None or start_at == "latest":
        after = delivered()
    elif start_at == "earliest":
        after = None
    else:
        after = _first_seq(start_at) - 1
    if after is not None and after >= delivered():
        cell.cursor = after
    else:
        await catch_up(log, cell, after, delivered)
    if known is not None and not had_cursor and cell.on_handled is not None:
        cell.on_handled(name, cell.cursor)


def _first_seq(start_at: object) -> int:
    if isinstance(start_at, int) and not isinstance(start_at, bool) and start_at >= 1:
        return start_at
    raise ValueError(f"start_at must be 'earliest', 'latest' or a seq >= 1, not {start_at!r}")
