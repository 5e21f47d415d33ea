"""Listening to one topic as it is published, without a consumer: an ask's reply inbox.

A JetStream publish is also a plain NATS message on its subject, so a subscription
sees every reply the moment it is published, whichever process published it. The
stream still stores it; nothing here acknowledges or remembers anything, which
suits replies: only the asker waiting now wants them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..._codec import MessageCodec
from ..._errors import LogUnavailable
from ..._message import Envelope
from ._wire import decode_envelope

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["listen"]

logger = logging.getLogger("actorbus.jetstream")


async def listen(
    client: Client, prefix: str, topic: str, deliver: Callable[[Envelope], object], shown_as: str
) -> Callable[[], Awaitable[None]]:
    """Call ``deliver`` with each envelope published on ``topic`` from now on (seq 0).

    Returns the coroutine function that stops listening.

    Raises:
        LogUnavailable: the subscription could not be made.
    """
    codec = MessageCodec()
    cut = len(prefix) + 1

    async def on_message(msg: Msg) -> None:
        deliver(decode_envelope(0, msg.subject[cut:], msg.headers, msg.data, codec))

    try:
        sub = await client.subscribe(f"{prefix}.{topic}", cb=on_message)
    except Exception as exc:
        raise LogUnavailable(shown_as, f"listening on {topic!r} failed ({exc})") from exc

    async def stop() -> None:
        try:
            await sub.unsubscribe()
        except Exception:  # the connection is gone, and the subscription with it
            logger.debug("unsubscribing from %s failed", topic, exc_info=True)

    return stop
