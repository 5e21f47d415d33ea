"""How far each consumer of a log is behind, judged from the log alone.

A log keeps each consumer's cursor (the seq of the last record it handled) but
not what it subscribes to, so "records after the cursor" would count, for an
actor that finished its work, every later record on topics it never subscribed
to. Instead a consumer is behind by the records after its cursor on the topics
it is seen handling: the topic of the record at its cursor, and of each record
that caused one of its own messages. A finished run's actors are then behind by
nothing, while an actor stopped with work queued is behind by that work.
"""

from __future__ import annotations

from ._reading import LogReader
from ._scan import scan

__all__ = ["LAG_NOTE", "lags"]

LAG_NOTE = (
    "(lag: records after the cursor on the topics the consumer is seen handling: "
    "its cursor's, and those its own messages answer)"
)
"""What the lag `lags` gives counts, as ``actorbus log stats`` says it."""


async def lags(reader: LogReader) -> dict[str, int]:
    """Return each consumer's lag (see the module docs), by name, in one pass over the log."""
    cursors = await reader.cursors()
    topic_of: dict[str, str] = {}  # every record's id -> topic: causes come before effects
    handled: dict[str, set[str]] = {name: set() for name in cursors}
    by_topic: dict[str, list[int]] = {}  # seqs per topic, past the lowest cursor
    lowest = min(cursors.values(), default=0)
    at_cursor: dict[int, list[str]] = {}
    for name, cursor in cursors.items():
        at_cursor.setdefault(cursor, []).append(name)
    async for record in scan(reader):
        topic_of[record.id] = record.topic
        sender = record.sender
        if sender in handled and record.causation in topic_of:
            handled[sender].add(topic_of[record.causation])
        if record.seq > lowest:
            by_topic.setdefault(record.topic, []).append(record.seq)
        for name in at_cursor.get(record.seq, ()):
            handled[name].add(record.topic)
    return {
        name: sum(
            sum(1 for seq in by_topic.get(topic, ()) if seq > cursor) for topic in handled[name]
        )
        for name, cursor in cursors.items()
    }
