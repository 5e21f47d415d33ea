"""`Companion`: what a higher layer keeps in a KV bucket of a `JetStreamLog`'s stream.

The shared state (``bus.state``) lives in the bucket ``<stream>_state``, but the
state layer sits above the log: the log cannot name it. So the log keeps a set of
companions, each registered under a name before the log opens (see
`JetStreamLog.companion`): on open it makes (or finds) the bucket
``<stream>_<name>`` and hands it to the companion, runs the companion's `follow`
in its own task group, and closes the companion when it closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = ["Companion"]


class Companion(Protocol):
    """Kept in a KV bucket of the log's stream, opened and closed with the log."""

    async def open(self, client: Client, js: JetStreamContext, kv: KeyValue, bucket: str) -> None:
        """Use ``kv`` (the bucket named ``bucket``) from now on; called as the log opens.

        Raises:
            Exception: from nats-py; the log turns it into `LogUnavailable`.
        """
        ...

    async def follow(self) -> None:
        """Run until cancelled: a task of the open log (return at once if nothing to do)."""
        ...

    async def close(self) -> None:
        """Let the bucket go; called as the log closes (or fails to open)."""
        ...
