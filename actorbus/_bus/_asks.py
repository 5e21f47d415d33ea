"""Asks: waiting for the reply to a request.

Every bus subscribes one reply inbox to ``_reply.<bus id>``. An ask publishes its
request with that topic as ``reply_to`` and waits; the handler's reply is
published like any message (so it is logged, ordered and traceable) with the
request's id as its causation, and the inbox hands it to the waiting ask.
"""

from __future__ import annotations

import logging
import sys
from typing import final

import anyio

from .._backend import Waiter
from .._mailbox import Overflow
from .._message import Envelope, Message

__all__ = ["ReplyInbox"]

_log = logging.getLogger("actorbus.bus")


@final
class ReplyInbox:
    """The router target that resolves pending asks by the reply's causation."""

    __slots__ = ("pending", "topic")

    policy: Overflow = "block"
    owner = "bus"
    size = sys.maxsize

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.pending: dict[str, Waiter[Message]] = {}

    def __len__(self) -> int:
        return 0

    def refuses(self) -> bool:
        """An inbox never refuses."""
        return False

    def offer(self, env: Envelope) -> anyio.Event | None:
        """Hand the reply in ``env`` to the ask it answers, if it still waits."""
        waiter = self.pending.get(env.causation) if env.causation is not None else None
        if waiter is None or waiter.done():
            _log.debug(
                "reply seq=%d to %s arrived after its ask ended", env.seq, env.causation,
                extra={"seq": env.seq, "topic": env.topic, "correlation_id": env.correlation_id},
            )  # fmt: skip
        else:
            waiter.set(env.message)
        return None
