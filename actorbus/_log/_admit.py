"""What every log does on append: give the seq and the id, and stop duplicates.

Shared by the logs as a base class, so that the in-memory log's append is one
method call on the publish path.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence

from .._ids import SEQ_OFFSET, id_prefix, is_log_id
from .._message import Envelope, Receipt
from ._dedup import DedupWindow

__all__ = ["Admission"]


class Admission:
    """Seq counter, id maker and dedup window of one log.

    Subclasses set ``_records`` to where admitted envelopes go.
    """

    __slots__ = ("_dedup", "_prefix", "_records", "_seq", "_withdrawn")

    def __init__(
        self, records: MutableSequence[Envelope], dedup_entries: int, dedup_window: float
    ) -> None:
        if not dedup_window > 0:
            raise ValueError(f"dedup_window must be positive seconds, got {dedup_window}")
        if dedup_entries < 1:
            raise ValueError(f"dedup_entries must be at least 1, got {dedup_entries}")
        self._seq = 0
        self._prefix = id_prefix()
        self._dedup = DedupWindow(dedup_entries, dedup_window)
        self._records = records
        self._withdrawn: set[int] = set()  # seqs admitted but never stored (rare)

    @property
    def last_seq(self) -> int:
        """The seq of the newest record (0 for an empty log)."""
        return self._seq

    def admit(self, env: Envelope) -> Receipt:
        """Give ``env`` the next seq (and an id if it has none) unless it is a duplicate.

        Raises:
            ValueError: its id mimics an id this log would generate later.
        """
        seq = self._seq + 1
        msg_id = env.id
        window = self._dedup
        if msg_id:
            original = self._own_seq(msg_id, env.timestamp)
            if original is None:
                original = window.check(msg_id, seq, env.timestamp)
            if original is not None:
                return Receipt(original, msg_id, True)
        else:
            env.id = msg_id = self._prefix + str(seq + SEQ_OFFSET)
            if env.timestamp >= window.next_mark:
                window.note(seq, env.timestamp)
            else:
                window.last_seq = seq
        self._seq = env.seq = seq
        self._records.append(env)
        return Receipt(seq, msg_id, False)

    def withdraw(self, envelopes: Iterable[Envelope]) -> None:
        """Take back the admission of envelopes that could not be stored.

        Their ids are free again (publishing one again is not a duplicate); their
        seqs stay taken, so the log has a gap there.
        """
        for env in envelopes:
            if is_log_id(env.id, self._prefix) == env.seq:
                self._withdrawn.add(env.seq)
            else:
                self._dedup.forget(env.id, env.seq)

    def _own_seq(self, msg_id: str, now: float) -> int | None:
        # A caller may pass back an id this log generated: it is a duplicate if
        # its seq is still inside the window. An id of this log's shape for a seq
        # not appended yet would later collide with a generated one: refused.
        seq = is_log_id(msg_id, self._prefix)
        if seq is None:
            return None
        if seq > self._seq:
            raise ValueError(
                f"key {msg_id!r} has the shape of an id this log generates, for a message "
                "it has not appended; pick a key of your own, or actorbus.new_id()"
            )
        if seq in self._withdrawn:
            return None
        return seq if self._dedup.covers(seq, now) else None
