"""Delivery by a log's server (JetStream): each actor name pulls its own messages.

With a `ConsumerLog` the bus routes nothing itself: a publish is an append, and
each spawned actor gets a feed (its name's durable consumer) that offers the
actor's messages to its mailbox; the actor's cursor moving acknowledges them.
Several processes spawning the same name share its messages. Replies to this
bus's asks come back through a subscription to its inbox topic.

`drain` cannot see other processes' mailboxes, so it asks the server: it returns
once the local actors are idle and every feed's consumer has nothing left
undelivered or unacknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import final

import anyio
from anyio.abc import TaskGroup

from .._actor import Cell
from .._log import ConsumerLog, Feed
from .._message import Envelope
from ._durable import StartAt

__all__ = ["Remote"]

_log = logging.getLogger("actorbus.bus")
_POLL_FIRST = 0.002  # seconds between the first checks of the server's backlog
_POLL_MAX = 0.05


@final
class Remote:
    """The feeds of one bus's actors on a `ConsumerLog`."""

    __slots__ = ("_feeds", "_log", "_scopes", "_stop_listening")

    def __init__(self, log: ConsumerLog) -> None:
        self._log = log
        self._feeds: dict[str, Feed] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._stop_listening: Callable[[], Awaitable[None]] | None = None

    async def listen(self, topic: str, deliver: Callable[[Envelope], object]) -> None:
        """Have replies published on ``topic`` (this bus's inbox) reach ``deliver``."""
        self._stop_listening = await self._log.listen(topic, deliver)

    async def start(self, cell: Cell, start_at: StartAt | None, tg: TaskGroup) -> None:
        """Open ``cell``'s feed and start pulling into its mailbox."""
        size = type(cell.actor).mailbox_size
        feed = await self._log.consume(cell.name, cell.patterns, size, start_at)
        cell.on_handled = feed.handled
        self._feeds[cell.name] = feed
        scope = self._scopes[cell.name] = anyio.CancelScope()
        tg.start_soon(_pull, feed, cell, scope, name=f"actorbus:feed:{cell.name}")

    def stop(self, name: str) -> None:
        """Stop pulling for actor ``name``; what it holds is still handled and acknowledged.

        The feed keeps sending acks and work-in-progress notes until `close`: a
        graceful stop may take longer than the server waits for them.
        """
        feed = self._feeds.get(name)
        if feed is not None:
            feed.stop_pulling()

    async def close(self, name: str) -> None:
        """Give back what ``name`` did not handle, and send its acknowledgements."""
        scope = self._scopes.pop(name, None)
        if scope is not None:
            scope.cancel()
        feed = self._feeds.pop(name, None)
        if feed is not None:
            with anyio.CancelScope(shield=True):
                await feed.aclose()

    async def close_all(self) -> None:
        """Close every feed and stop listening (the bus is closing)."""
        for name in list(self._feeds):
            await self.close(name)
        stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            with anyio.CancelScope(shield=True):
                await stop()

    async def settled(self) -> bool:
        """Tell whether no feed's consumer has messages undelivered or unacknowledged."""
        for feed in list(self._feeds.values()):
            if await feed.backlog():
                return False
        return True

    @staticmethod
    def next_poll(delay: float) -> float:
        """Return the wait before the next backlog check, after waiting ``delay``."""
        return _POLL_FIRST if delay <= 0 else min(delay * 2, _POLL_MAX)


async def _pull(feed: Feed, cell: Cell, scope: anyio.CancelScope) -> None:
    async def offer(env: Envelope) -> None:
        if not cell.patterns:
            return  # stopped or killed: the feed gives the message back
        event = cell.offer(env)
        if event is not None:
            await event.wait()

    with scope:
        await feed.run(offer)
    _log.debug("feed of actor %r stopped", cell.name)
