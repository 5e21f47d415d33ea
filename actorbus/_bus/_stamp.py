"""Making envelopes: checking what a publish was given, and the actor's patterns.

Kept apart from the bus so the bus reads as its steps; the hot path in
`Bus._send` writes the common case of `stamp` out inline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .._actor import Actor
from .._message import Envelope, Message
from .._topic import validate_pattern

__all__ = ["patterns_for", "stamp", "valid_key"]


def stamp(
    topic: str,
    msg: Message,
    key: str | None,
    sender: str | None,
    correlation_id: str | None,
    reply_to: str | None,
    causation: str | None,
) -> Envelope:
    if not _valid_message(msg):
        raise TypeError(
            f"can only publish actorbus.Message instances, not {type(msg).__qualname__}; "
            "subclass actorbus.Message for your message types"
        )
    if key is not None and not valid_key(key):
        raise TypeError(f"key must be a non-empty str, not {key!r}")
    # An empty id asks the log for one.
    return Envelope(key or "", topic, msg, time.time(), sender, correlation_id, reply_to, causation)


def patterns_for(cls: type[Actor], name: str, subscribe: Sequence[str] | None) -> tuple[str, ...]:
    if isinstance(subscribe, str):
        raise TypeError(f"subscribe must be a sequence of patterns, such as ({subscribe!r},)")
    given = cls.subscribe if subscribe is None else tuple(subscribe)
    return tuple(validate_pattern(p.replace("{name}", name)) for p in given)


def _valid_message(msg: object) -> bool:
    return isinstance(msg, Message)


def valid_key(key: object) -> bool:
    return type(key) is str and bool(key)
