"""The `EventLog` protocol: what the bus needs from a log, whatever stores it.

A log gives each appended envelope the next seq (1, 2, 3, ... with no gaps), drops
an envelope whose id it has seen within its dedup window (answering with the
original seq), returns records from a seq on, keeps a cursor per consumer (the
last seq that consumer finished handling), and a journal of side-effect results
(see `Context.once`).

A log shared by several processes offers `ConsumerLog` instead: each actor name
reads its messages from the log's server through a feed of its own, and the bus
delivers nothing itself.

A log that writes asynchronously may also offer ``attach(deliver)``: it then calls
``deliver(envelope)`` for each appended envelope, in seq order, once it is durable
(before the append returns), and the bus delivers through it so that mailboxes
receive envelopes in seq order whatever order the publishers wake up in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

from .._message import Envelope, Receipt

__all__ = ["ConsumerLog", "EventLog", "Feed", "StartAt", "SyncAppend"]

StartAt = Literal["earliest", "latest"] | int
"""Where an actor name starts reading a log (``Bus.spawn(..., start_at=...)``).

``"latest"``: only what is published from now on; ``"earliest"``: everything the
log still holds, then what comes next; an int: from that seq on. (None, where a
signature allows it, means the default: resume after the name's cursor.)
"""


@runtime_checkable
class EventLog(Protocol):
    """A sequence-numbered, de-duplicating log of envelopes.

    Implementations: `MemoryLog`; durable ones follow the same contract, checked by
    the conformance suite in `actorbus.testing`.

    Version added: 0.1
    """

    async def open(self) -> None:
        """Make the log ready for use; the bus calls it on entry."""
        ...

    async def aclose(self) -> None:
        """Release the log's resources; the bus calls it on exit."""
        ...

    async def append(self, env: Envelope) -> Receipt:
        """Give ``env`` the next seq and store it, unless its id is a duplicate.

        Sets ``env.seq`` when the envelope is appended. An envelope whose id is
        empty gets a new unique id from the log (set on ``env.id``). A duplicate (an id seen
        within the dedup window) is not stored; the receipt carries the original
        seq and ``duplicate=True``.
        """
        ...

    async def read(self, from_seq: int, limit: int = 1000) -> list[Envelope]:
        """Return up to ``limit`` records with seq >= ``from_seq``, in seq order.

        Raises:
            LogTruncated: records from ``from_seq`` are no longer held.
        """
        ...

    async def cursor(self, consumer: str) -> int:
        """Return the last seq ``consumer`` committed, or 0 if none."""
        ...

    async def commit_cursor(self, consumer: str, seq: int) -> None:
        """Record that ``consumer`` has handled everything up to ``seq``."""
        ...

    async def journal_get(self, key: str) -> bytes | None:
        """Return the result recorded under ``key`` by `journal_put`, or None."""
        ...

    async def journal_put(self, key: str, value: bytes) -> None:
        """Record ``value`` under ``key`` (once: a second put of a key is ignored).

        Durable logs return once the record is as durable as an append.
        """
        ...

    @property
    def last_seq(self) -> int:
        """The seq of the newest record (0 for an empty log)."""
        ...


@runtime_checkable
class SyncAppend(Protocol):
    """A log that can append without waiting, such as `MemoryLog`.

    The bus uses these methods, when a log has them, to publish without a
    suspension point per message.
    """

    def append_nowait(self, env: Envelope) -> Receipt:
        """`EventLog.append`, done at once."""
        ...

    def commit_cursor_nowait(self, consumer: str, seq: int) -> None:
        """`EventLog.commit_cursor`, done at once."""
        ...


class Feed(Protocol):
    """One actor name's messages, as a log server hands them to this process.

    Version added: 0.1
    """

    async def run(self, offer: Callable[[Envelope], Awaitable[None]]) -> None:
        """Offer each message to the actor's mailbox (waiting while it is full), until cancelled."""
        ...

    def handled(self, actor: str, seq: int) -> None:
        """The actor finished every message offered up to the one at ``seq``."""
        ...

    def stop_pulling(self) -> None:
        """Take no more messages; keep acknowledging the ones held until `aclose`."""
        ...

    def release(self) -> None:
        """Give back every message offered and not handled, for another instance."""
        ...

    async def aclose(self) -> None:
        """Give back what was not handled and send the acknowledgements."""
        ...

    async def backlog(self) -> int:
        """Return how many of the name's messages are not yet handled, in every process."""
        ...


@runtime_checkable
class ConsumerLog(Protocol):
    """A log whose server hands each actor name its messages (`JetStreamLog`).

    Several processes spawning the same actor name share its messages.

    Version added: 0.1
    """

    async def consume(
        self,
        actor: str,
        patterns: Sequence[str],
        max_in_flight: int,
        start_at: StartAt | None = None,
    ) -> Feed:
        """Return the feed of actor name ``actor`` subscribed to ``patterns``."""
        ...

    async def listen(
        self, topic: str, deliver: Callable[[Envelope], object]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``deliver`` with each envelope published on ``topic``; return a stopper."""
        ...
