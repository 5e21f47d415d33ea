"""Message ids: unique across processes, sortable by creation time, cheap to make.

An id is 31 characters (`ID_LENGTH`): the creation time in milliseconds (11 hex digits, good
until the year 2527), a random per-process node (7 hex digits, drawn again after
``fork``), and a per-process counter (13 decimal digits: it starts at 10**12, so it
keeps its width, and the ids their sort order, for 9 * 10**12 ids). Ids made in one
process sort in creation order; ids from different processes sort by millisecond,
then by node.

The time prefix is only rebuilt when the millisecond changes, so making an id is
one clock read and one small concatenation.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time

__all__ = ["ID_LENGTH", "SEQ_OFFSET", "id_prefix", "new_id"]

_COUNTER_START = 10**12
SEQ_OFFSET = _COUNTER_START
"""Added to a seq to make the fixed-width counter of a log-generated id."""
ID_LENGTH = 31
"""The length of every generated id."""

_node = ""
_prefix = ""
_next_ms = 0.0  # time.time() at which the current millisecond ends
_counter = itertools.count(_COUNTER_START)


def _reseed() -> None:
    global _node, _next_ms, _counter
    _node = f"{secrets.randbits(28):07x}"  # a forked child must not share the parent's node
    _next_ms = 0.0
    _counter = itertools.count(_COUNTER_START)


_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_id(now: float | None = None) -> str:
    """Return a fresh message id.

    Args:
        now: the creation time (``time.time()``) if the caller has already read the
            clock; read here otherwise.
    """
    global _prefix, _next_ms
    if now is None:
        now = time.time()
    if now >= _next_ms:
        ms = int(now * 1000)
        if (ms + 1) / 1000 > _next_ms:  # never step back if the clock does
            _next_ms = (ms + 1) / 1000
            _prefix = f"{ms:011x}{_node}"
    return _prefix + str(next(_counter))


def id_prefix() -> str:
    """Return a fresh 18-character id prefix: now in milliseconds, and this process's node.

    A log makes its ids as ``prefix + str(seq + SEQ_OFFSET)``: the same shape as
    `new_id`, unique across processes, and in seq order within the log.
    """
    return f"{int(time.time() * 1000):011x}{_node}"
