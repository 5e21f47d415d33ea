"""Per-actor mailboxes: a bounded queue of envelopes with an overflow policy.

A mailbox holds envelopes in the order they were offered (which the bus makes seq
order). When it is full, its policy decides:

* ``"block"`` (the default): the envelope waits in line behind the full queue and
  the publisher is given an event to wait on, so a fast publisher is slowed to the
  actor's pace (backpressure). Waiting envelopes keep their order and are moved in
  as room frees up, so memory stays bounded by the capacity plus one envelope per
  waiting publisher.
* ``"drop_oldest"``: the oldest queued envelope is dropped to make room and counted
  in `dropped` (and logged, at 1, 10, 100, ... drops); the publisher never waits.
* ``"reject"``: the bus checks `refuses` before appending to the log and raises
  `MailboxFull`, so a rejected message is never published at all.

The mailbox runs nothing itself. When it goes from idle to having work it calls
`became_active` once (the actor's cell overrides it to start a drain task), and the
drain side calls `finish` when it has emptied it. An idle mailbox holds no queue
object at all: a deque costs about 760 bytes, more than the rest of an idle actor.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Literal

import anyio

from ._message import Envelope

__all__ = ["DEFAULT_MAILBOX_SIZE", "Mailbox", "Overflow"]

Overflow = Literal["block", "drop_oldest", "reject"]
"""What a full mailbox does with a new message: see `Mailbox`."""

DEFAULT_MAILBOX_SIZE = 1024
"""Capacity of a mailbox unless the actor sets ``mailbox_size``."""

_POLICIES = ("block", "drop_oldest", "reject")
_log = logging.getLogger("actorbus.mailbox")


class Mailbox:
    """A bounded, ordered queue of envelopes for one actor.

    Attributes:
        owner: the actor's name, for error messages.
        size: capacity, in envelopes.
        policy: the overflow policy.
        items: the queued envelopes, oldest first; None while the mailbox is idle.
        blocked: envelopes waiting for room (``block`` policy) with their
            publishers' events; None unless some ever waited.
        dropped: how many envelopes ``drop_oldest`` has dropped.
        active: True from the first offer after idleness until `finish`.
    """

    __slots__ = ("active", "blocked", "dropped", "items", "owner", "policy", "size")

    def __init__(self, owner: str, size: int, policy: Overflow) -> None:
        if size < 1:
            raise ValueError(f"mailbox size must be a positive int, got {size!r}")
        if policy not in _POLICIES:
            raise ValueError(f"overflow policy must be one of {_POLICIES}, got {policy!r}")
        self.owner = owner
        self.size = size
        self.policy: Overflow = policy
        self.items: deque[Envelope] | None = None
        self.blocked: deque[tuple[Envelope, anyio.Event]] | None = None
        self.active = False
        self.dropped = 0

    def became_active(self) -> None:
        """Called once when an offer finds the mailbox idle; override to start draining."""

    def refuses(self) -> bool:
        """Tell whether a new envelope would be rejected (``reject`` policy, full)."""
        return self.policy == "reject" and self.items is not None and len(self.items) >= self.size

    def offer(self, env: Envelope) -> anyio.Event | None:
        """Queue ``env``; return an event to wait on if the publisher must wait for room.

        The envelope is in line as soon as this returns, whether or not the caller
        then waits: cancelling the wait does not take it back.
        """
        items = self.items
        if items is None:
            items = self.items = deque()
        waiter = None
        if len(items) < self.size and not self.blocked:
            items.append(env)
        elif self.policy == "block":
            waiter = anyio.Event()
            if self.blocked is None:
                self.blocked = deque()
            self.blocked.append((env, waiter))
        else:
            if self.policy == "drop_oldest":
                items.popleft()
                self._count_drop()
            # 'reject' was checked before the append; a log that appends
            # asynchronously can let one more in, and losing it would be worse.
            items.append(env)
        if not self.active:
            self.active = True
            self.became_active()
        return waiter

    def pop(self) -> Envelope | None:
        """Take the next envelope, or None if there is none; lets one waiting envelope in.

        A hot loop may instead pop `items` itself and call `let_in` when `blocked`
        is not empty.
        """
        items = self.items
        if not items:
            return None
        env = items.popleft()
        if self.blocked:
            self.let_in()
        return env

    def let_in(self) -> None:
        """Move the first waiting envelope into the queue and wake its publisher."""
        assert self.blocked is not None
        assert self.items is not None
        waiting, event = self.blocked.popleft()
        self.items.append(waiting)
        event.set()

    def clear(self) -> int:
        """Discard every queued envelope, releasing waiting publishers; return how many."""
        count = len(self)
        if self.items is not None:
            self.items.clear()  # a drain loop may hold it
        self.items = None
        blocked, self.blocked = self.blocked, None
        while blocked:
            blocked.popleft()[1].set()
        return count

    def finish(self) -> bool:
        """Mark the mailbox idle, releasing its queue, if it is empty; return True if it was."""
        if self.items or self.blocked:
            return False
        self.active = False
        self.items = self.blocked = None
        return True

    def __len__(self) -> int:
        """Envelopes queued, counting those waiting for room."""
        return (len(self.items) if self.items else 0) + (len(self.blocked) if self.blocked else 0)

    def _count_drop(self) -> None:
        self.dropped += 1
        if str(self.dropped).strip("0") == "1":  # 1, 10, 100, ...
            _log.warning(
                "mailbox of actor %r is full (%d): %d message(s) dropped so far "
                "(overflow='drop_oldest')",
                self.owner,
                self.size,
                self.dropped,
                extra={"actor": self.owner},
            )
