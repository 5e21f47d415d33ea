"""What each actor did, judged from the log alone: published, handled, failed, lag.

A log keeps the records, each consumer's cursor (the seq of the last record it
handled) and dead letters (``_dead.<actor>``, each saying how many times the
handler ran), but not what an actor subscribes to. So an actor is taken to
handle the topics it is *seen* handling: the topic of the record at its cursor,
and of each record that caused one of its own messages. Then, in one pass over
the log:

- *handled*: the records on those topics up to its cursor, less those it gave up
  on (its dead letters);
- *failed*: the handler runs that raised, as its dead letters count them (a
  failure a retry recovered from leaves no record, so it is not counted);
- *lag*: the records after its cursor on those topics. A finished run's actors
  are behind by nothing, while an actor stopped with work queued is behind by
  that work (``actorbus log stats`` shows it, see `lags`).

An actor that handled messages but never published and has no cursor (a
`MemoryLog` commits none) is not seen at all.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any, final

import msgspec

from ._reading import LogReader
from ._record import Record
from ._scan import scan

__all__ = ["ActorActivity", "activity"]

_DEAD = "_dead."


@final
class ActorActivity(msgspec.Struct, frozen=True, kw_only=True):
    """One actor's work as the log shows it (see the module docs for how each is judged).

    Version added: 0.1
    """

    name: str
    """The actor's name."""
    published: int
    """Records it published (replies and dead letters included)."""
    handled: int
    """Messages it finished handling."""
    failed: int
    """Handler runs that raised, for the messages it gave up on."""
    dead_lettered: int
    """Messages it gave up on (records on ``_dead.<name>``)."""
    cursor: int | None
    """The seq of the last record it handled; None when the log holds no cursor for it."""
    lag: int
    """Records after its cursor on the topics it is seen handling."""
    topics: list[str]
    """The topics it is seen handling, sorted."""


class _Pass:
    """The tallies of one pass over the log, in seq order."""

    __slots__ = ("at_cursor", "dead", "failed", "handled", "published", "seqs", "topic_of")

    def __init__(self, cursors: dict[str, int]) -> None:
        self.topic_of: dict[str, str] = {}  # every record's id -> topic: causes come first
        self.handled: dict[str, set[str]] = {name: set() for name in cursors}
        self.seqs: dict[str, array[int]] = {}  # each topic's seqs, ascending
        self.at_cursor: dict[int, list[str]] = {}
        for name, cursor in cursors.items():
            self.at_cursor.setdefault(cursor, []).append(name)
        self.published: dict[str, int] = {}
        self.dead: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def add(self, record: Record) -> None:
        topic, sender = record.topic, record.sender
        self.topic_of[record.id] = topic
        if sender is not None:
            self.published[sender] = self.published.get(sender, 0) + 1
            seen = self.handled.get(sender)
            if seen is not None and record.causation in self.topic_of:
                seen.add(self.topic_of[record.causation])
        self.seqs.setdefault(topic, array("q")).append(record.seq)
        for name in self.at_cursor.get(record.seq, ()):
            self.handled[name].add(topic)
        if topic.startswith(_DEAD):
            name = topic[len(_DEAD) :]
            self.dead[name] = self.dead.get(name, 0) + 1
            self.failed[name] = self.failed.get(name, 0) + _attempts(record)

    def actor(self, name: str, cursor: int | None) -> ActorActivity:
        topics = sorted(self.handled.get(name, ()))
        done = behind = 0
        if cursor is not None:
            for topic in topics:
                seqs = self.seqs.get(topic, array("q"))
                up_to = bisect_right(seqs, cursor)
                done += up_to
                behind += len(seqs) - up_to
        dead = self.dead.get(name, 0)
        return ActorActivity(
            name=name, published=self.published.get(name, 0), handled=max(done - dead, 0),
            failed=self.failed.get(name, 0), dead_lettered=dead, cursor=cursor, lag=behind,
            topics=topics,
        )  # fmt: skip


def _attempts(record: Record) -> int:
    # A dead letter's handler runs (0 when none ran: no handler, undecodable).
    try:
        data: Any = record.plain()
    except msgspec.DecodeError:
        return 0
    attempts = data.get("attempts", 0) if isinstance(data, dict) else 0
    return attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0


async def activity(reader: LogReader) -> list[ActorActivity]:
    """Return what each actor the log knows of did, by name, in one pass over the log.

    The actors are those with a cursor, a published record or a dead letter.
    """
    cursors = await reader.cursors()
    tally = _Pass(cursors)
    async for record in scan(reader):
        tally.add(record)
    names = set(cursors) | set(tally.published) | set(tally.dead)
    return [tally.actor(name, cursors.get(name)) for name in sorted(names)]
