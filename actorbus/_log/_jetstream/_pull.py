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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

__all__ = ["pull"]

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
    )
    info = await js.add_consumer(stream, config)
    try:
        return await _pull_all(client, stream, info.name, limit)
    finally:
        try:
            await js.delete_consumer(stream, info.name)
        except Exception:  # it expires by itself (inactive_threshold)
            logger.debug("deleting the read consumer %s failed", info.name, exc_info=True)


async def _pull_all(client: Client, stream: str, consumer: str, limit: int) -> list[Msg]:
    found: list[Msg] = []
    while len(found) < limit:
        batch = min(_BATCH, limit - len(found))
        got = await _pull_batch(client, f"{API}.CONSUMER.MSG.NEXT.{stream}.{consumer}", batch)
        found.extend(got)
        if len(got) < batch or got[-1].metadata.num_pending == 0:
            break
    return found


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
