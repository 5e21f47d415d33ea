"""`HeaderIndex`: what a stream cannot look up by itself, built from its headers.

A stream finds a record by seq and filters by subject (the topic); it has no index
of ids or causes, nor counts per type or sender. A `JetStreamReader` builds them
the first time a question needs them, by reading every record's headers (a
headers-only consumer: payloads do not travel), and extends them from where it
stopped each time it is asked again, so a record is read for the index once. If
the stream has let records go since (its limits), the index is built again, so
counts never include records the stream no longer holds.

It holds, per record, an entry in a dict or two and a count: a few hundred bytes,
so a stream of a million records costs a few hundred MB here. Pages of records
by seq or topic never need it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, final

from ._wire import decode_record

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from ._pull import Batches

__all__ = ["HeaderIndex", "OpenBatches"]

OpenBatches = Callable[[int], AbstractAsyncContextManager["Batches"]]
"""Opens a headers-only read of the log's records from a seq on."""

_BATCH = 1000


@final
class HeaderIndex:
    """Ids, causes and counts of a stream's records, up to the seq read so far."""

    __slots__ = ("_first", "_read_to", "by_cause", "by_id", "senders", "topics", "types")

    def __init__(self) -> None:
        self._first = 0  # the stream's first seq when the index started
        self._read_to = 0  # the highest seq read
        self.by_id: dict[str, int] = {}  # the newest seq of each id
        self.by_cause: dict[str, list[int]] = {}  # seqs published while handling an id
        self.topics: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.senders: Counter[str] = Counter()

    async def update(
        self,
        first_seq: int,
        last_seq: int,
        open_batches: OpenBatches,
        prefix: str,
    ) -> None:
        """Read the headers of the records up to ``last_seq`` not read yet.

        ``first_seq`` is the stream's oldest seq now: past the index's start, the
        stream has let records go, and the index is built again.
        """
        if self._read_to and first_seq > self._first:
            self._clear()  # records were let go
        if not self._read_to:
            self._first = first_seq
        if last_seq <= self._read_to:
            return
        async with open_batches(self._read_to + 1) as batches:
            while not batches.done and self._read_to < last_seq:
                for msg in await batches.next(_BATCH):
                    self._add(msg, prefix)

    def _clear(self) -> None:
        self._first = self._read_to = 0
        self.by_id.clear()
        self.by_cause.clear()
        self.topics.clear()
        self.types.clear()
        self.senders.clear()

    def _add(self, msg: Msg, prefix: str) -> None:
        seq = msg.metadata.sequence.stream
        topic = msg.subject[len(prefix) + 1 :]
        record = decode_record(seq, topic, msg.headers, b"", 0.0)
        self._read_to = max(self._read_to, seq)
        self.by_id[record.id] = seq
        if record.causation is not None:
            self.by_cause.setdefault(record.causation, []).append(seq)
        self.topics[topic] += 1
        self.types[record.type] += 1
        self.senders[record.sender or "-"] += 1
