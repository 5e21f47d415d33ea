"""Reading stored records: an ephemeral pull consumer, pulled with ``no_wait``, then deleted.

One read creates a consumer that starts where the read starts (a seq, or the
last message per subject for a KV bucket), asks for a batch with ``no_wait`` (the
server sends what it holds, up to the batch, then a 404 status if that was fewer),
and deletes the consumer. Nothing is acknowledged (``ack_policy: none``) and the
consumer lives in memory; ``inactive_threshold`` removes it if this process dies
before deleting it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

__all__ = ["Batches", "pull", "read_consumer"]

logger = logging.getLogger("actorbus.jetstream")

API = "$JS.API"  # the JetStream API prefix (no domain)
_BATCH = 1000  # messages asked for per pull request
_WAIT = 10.0  # seconds to wait for the next message of a pull before giving up


async def pull(
    client: Client,
    js: JetStreamContext,
    stream: str,
    filter_subject: str,
    *,
    start_seq: int = 0,
    last_per_subject: bool = False,
    limit: int = 2**62,
) -> list[Msg]:
    """Return up to ``limit`` messages of ``stream`` matching ``filter_subject``, in seq order.

    From ``start_seq`` on, or (``last_per_subject``) the newest of each subject.

    Raises:
        TimeoutError: the server stopped answering mid-read.
        nats.errors.Error: the consumer could not be made.
    """
    found: list[Msg] = []
    async with read_consumer(
        client, js, stream, filter_subject, start_seq=start_seq, last_per_subject=last_per_subject
    ) as batches:
        while not batches.done and len(found) < limit:
            found += await batches.next(min(_BATCH, limit - len(found)))
    return found


@asynccontextmanager
async def read_consumer(
    client: Client,
    js: JetStreamContext,
    stream: str,
    filter_subject: str,
    *,
    start_seq: int = 0,
    last_per_subject: bool = False,
    headers_only: bool = False,
) -> AsyncIterator[Batches]:
    """Make a read consumer (see the module docs), hand out its batches, then delete it.

    With ``headers_only``, messages come without their payload (for indexing).

    Raises:
        nats.errors.Error: the consumer could not be made.
    """
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    if last_per_subject:
        policy, start = DeliverPolicy.LAST_PER_SUBJECT, None
    else:
        policy, start = DeliverPolicy.BY_START_SEQUENCE, max(start_seq, 1)
    config = ConsumerConfig(
        deliver_policy=policy,
        opt_start_seq=start,
        ack_policy=AckPolicy.NONE,
        filter_subject=filter_subject,
        inactive_threshold=60.0,
        mem_storage=True,
        num_replicas=1,
        headers_only=headers_only or None,
    )
    info = await js.add_consumer(stream, config)
    try:
        yield Batches(client, f"{API}.CONSUMER.MSG.NEXT.{stream}.{info.name}")
    finally:
        try:
            await js.delete_consumer(stream, info.name)
        except Exception:  # it expires by itself (inactive_threshold)
            logger.debug("deleting the read consumer %s failed", info.name, exc_info=True)


@final
class Batches:
    """The batches of one read consumer, in seq order."""

    __slots__ = ("_client", "_next_subject", "done")

    def __init__(self, client: Client, next_subject: str) -> None:
        self._client = client
        self._next_subject = next_subject
        self.done = False
        """Whether the consumer has handed out every message it matches."""

    async def next(self, batch: int) -> list[Msg]:
        """Return up to ``batch`` more messages (fewer, and `done` set, at the end).

        Raises:
            TimeoutError: the server stopped answering mid-read.
        """
        got = await _pull_batch(self._client, self._next_subject, batch)
        if len(got) < batch or got[-1].metadata.num_pending == 0:
            self.done = True
        return got


async def _pull_batch(client: Client, next_subject: str, batch: int) -> list[Msg]:
    inbox = client.new_inbox()
    sub = await client.subscribe(inbox)
    got: list[Msg] = []
    try:
        request: dict[str, Any] = {"batch": batch, "no_wait": True}
        await client.publish(next_subject, json.dumps(request).encode(), reply=inbox)
        while len(got) < batch:
            msg = await sub.next_msg(timeout=_WAIT)
            if not msg.data and msg.headers and "Status" in msg.headers:
                break  # 404 no more messages, 408 request expired
            got.append(msg)
    finally:
        await sub.unsubscribe()
    return got
