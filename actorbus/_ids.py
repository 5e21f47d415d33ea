"""Message ids: unique across processes, sortable by creation time, cheap to make.

An id is 31 characters (`ID_LENGTH`): the creation time in milliseconds (11 hex
digits, good until the year 2527), a node (7 hex digits) and a 13-digit decimal
counter. Two kinds of id share that shape, with disjoint counter ranges so they
can never be equal:

* `new_id`: the node is drawn at random per process (again after ``fork``) and the
  counter runs from 10**12 up (below 2 * 10**12). Ids made in one process sort in
  creation order; ids from different processes by millisecond, then by node.
* log-generated ids (`id_prefix` + seq): a log takes a prefix of its own (its
  creation time and a node unique among the logs of this process) and appends its
  seq plus `SEQ_OFFSET` (2 * 10**12), so its ids sort in seq order and cost no
  random draw per message.

The time prefix of `new_id` is only rebuilt when the millisecond changes, so making
an id is one clock read and one small concatenation.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import time

__all__ = ["ID_LENGTH", "SEQ_OFFSET", "derived_id", "id_prefix", "is_log_id", "new_id"]

_COUNTER_START = 10**12
SEQ_OFFSET = 2 * 10**12
"""Added to a seq to make the counter of a log-generated id (above any `new_id` counter)."""
ID_LENGTH = 31
"""The length of every generated id."""
_PREFIX_LENGTH = 18
_NODES = 1 << 28

_node = 0
_prefix = ""
_next_ms = 0.0  # time.time() at which the current millisecond ends
_counter = itertools.count(_COUNTER_START)
_logs = itertools.count(1)


def _reseed() -> None:
    global _node, _next_ms, _counter, _logs
    _node = secrets.randbits(28)  # a forked child must not share the parent's node
    _next_ms = 0.0
    _counter = itertools.count(_COUNTER_START)
    _logs = itertools.count(1)


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
            _prefix = f"{ms:011x}{_node:07x}"
    return _prefix + str(next(_counter))


def id_prefix() -> str:
    """Return a prefix for a new log's ids: now in milliseconds, and a node of its own.

    The node differs for every log made in this process (and is random across
    processes); a log makes its ids as ``prefix + str(seq + SEQ_OFFSET)``.
    """
    node = (_node + next(_logs) * 0x9E3779B) % _NODES  # an odd step visits every node
    return f"{int(time.time() * 1000):011x}{node:07x}"


def is_log_id(msg_id: str, prefix: str) -> int | None:
    """Return the seq if ``msg_id`` has the shape of an id made with ``prefix``, else None."""
    if len(msg_id) != ID_LENGTH or not msg_id.startswith(prefix):
        return None
    digits = msg_id[_PREFIX_LENGTH:]
    if not digits.isdigit() or digits[0] == "0":
        return None
    seq = int(digits) - SEQ_OFFSET
    return seq if seq >= 1 else None


def derived_id(actor: str, cause: str, step: str) -> str:
    """Return the id of a message ``actor`` sends at ``step`` of handling message ``cause``.

    The same three always give the same id, so a handler that runs again (a retry,
    or a restart after a crash) sends again under the same ids, and the log drops
    the copies. 32 hex digits (128 bits of BLAKE2b): a different length from
    generated ids, so the two never meet.
    """
    data = f"{actor}\x1f{cause}\x1f{step}".encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()
