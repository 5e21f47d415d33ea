"""The dedup window: which message ids a log has seen lately, and at which seq.

A log remembers the ids of its newest ``max_entries`` messages, each for at least
``max_age`` seconds (both configurable): publishing one of those ids again is a
duplicate. Ages are tracked by marks (a time and the first seq appended from then
on) taken at most every 1/16 of ``max_age`` (and at most every second), so an id may
be remembered up to one mark interval longer than ``max_age``, never shorter.

Only ids chosen by callers (idempotency keys, derived ids) are stored. An id the log
generated itself is derived from its seq, so the log can tell whether such an id is
still in the window from the seq alone (`covers`), at no cost per message. Pure:
times are the callers' (the envelopes' timestamps).
"""

from __future__ import annotations

from collections import deque
from typing import final

__all__ = ["DedupWindow"]


@final
class DedupWindow:
    """Which seqs are inside the window, and the seqs of recent caller-chosen ids.

    Seqs must be noted in increasing order, as a log appends them.

    Args:
        max_entries: how many of the newest messages' ids are remembered.
        max_age: how long an id is remembered, in seconds.
    """

    __slots__ = (
        "_expires_at",
        "_interval",
        "_marks",
        "_order",
        "_seqs",
        "last_seq",
        "max_age",
        "max_entries",
        "next_mark",
    )

    def __init__(self, max_entries: int = 100_000, max_age: float = 120.0) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if not max_age > 0:
            raise ValueError(f"max_age must be positive seconds, got {max_age}")
        self.max_entries = max_entries
        self.max_age = max_age
        self.last_seq = 0
        self._seqs: dict[str, int] = {}
        # (id, seq) of caller-chosen ids, in seq order. An id reused after it left
        # the window is listed again; a pair is only deleted from _seqs if it is
        # still the id's current entry.
        self._order: deque[tuple[str, int]] = deque()
        # (time, first seq noted from then on), oldest first; the seqs of a mark
        # were all noted within one interval after its time.
        self._marks: deque[tuple[float, int]] = deque()
        self._interval = min(1.0, max_age / 16)
        self.next_mark = float("-inf")
        """`note` must be called when the time reaches this; see `note`."""
        self._expires_at = float("inf")

    def note(self, seq: int, now: float) -> None:
        """Record that ``seq`` was appended at ``now`` (with a log-generated id).

        A hot path may skip the call while ``now < next_mark``, setting `last_seq`
        itself.
        """
        self.last_seq = seq
        if now >= self.next_mark:
            self.next_mark = now + self._interval
            self._marks.append((now, seq))
            if len(self._marks) == 1:
                self._expires_at = now + self._interval + self.max_age

    def check(self, msg_id: str, seq: int, now: float) -> int | None:
        """Return the seq of ``msg_id`` if it is in the window; else note it at ``seq``.

        Args:
            msg_id: a caller-chosen id.
            seq: the seq it gets if it is new.
            now: the current time, in seconds.
        """
        old = self.seen(msg_id, now)
        if old is not None:
            return old
        self.note(seq, now)
        self._seqs[msg_id] = seq
        order = self._order
        order.append((msg_id, seq))
        oldest_kept = seq - self.max_entries
        while order[0][1] <= oldest_kept:
            self._forget(*order.popleft())
        return None

    def seen(self, msg_id: str, now: float) -> int | None:
        """Return the seq of the caller-chosen ``msg_id`` if it is in the window."""
        if now >= self._expires_at:
            self._expire(now)
        old = self._seqs.get(msg_id)
        if old is None or old <= self.last_seq - self.max_entries:
            return None
        return old

    def covers(self, seq: int, now: float) -> bool:
        """Tell whether the message appended at ``seq`` is still inside the window."""
        if now >= self._expires_at:
            self._expire(now)
        if not self._marks or seq > self.last_seq or seq < 1:
            return False
        return seq > self.last_seq - self.max_entries and seq >= self._marks[0][1]

    def forget(self, msg_id: str, seq: int) -> None:
        """Forget that the caller-chosen ``msg_id`` was noted at ``seq``.

        For a record that was admitted but never stored: publishing its id again is
        then not a duplicate. Nothing happens if the id is noted at another seq.
        """
        self._forget(msg_id, seq)

    def __len__(self) -> int:
        """How many caller-chosen ids are stored."""
        return len(self._seqs)

    def _expire(self, now: float) -> None:
        marks, order = self._marks, self._order
        lifetime = self._interval + self.max_age
        while marks and marks[0][0] + lifetime <= now:
            marks.popleft()
            boundary = marks[0][1] if marks else self.last_seq + 1
            while order and order[0][1] < boundary:
                self._forget(*order.popleft())
        self._expires_at = marks[0][0] + lifetime if marks else float("inf")
        if not marks:
            self.next_mark = float("-inf")

    def _forget(self, msg_id: str, seq: int) -> None:
        if self._seqs.get(msg_id) == seq:
            del self._seqs[msg_id]
