"""Delivering an envelope to its route: offering it to each target, and waiting.

Only a ``block`` mailbox that is full makes a publisher wait; ``reject`` targets
are checked for room before anything is appended to the log.
"""

from __future__ import annotations

import anyio

from .._errors import MailboxFull
from .._message import Envelope
from ._router import Target

__all__ = ["check_room", "deliver", "may_block", "wait_all"]


def deliver(env: Envelope, targets: tuple[Target, ...]) -> list[anyio.Event] | None:
    waits = None
    for target in targets:
        event = target.offer(env)
        if event is not None:
            if waits is None:
                waits = [event]
            else:
                waits.append(event)
    return waits


async def wait_all(events: list[anyio.Event]) -> None:
    for event in events:
        await event.wait()


def may_block(targets: tuple[Target, ...]) -> bool:
    for target in targets:  # noqa: SIM110  (a loop beats any() over a generator here)
        if target.policy == "block" and len(target) >= target.size:
            return True
    return False


def check_room(targets: tuple[Target, ...], topic: str) -> None:
    for target in targets:
        if target.refuses():
            raise MailboxFull(target.owner, target.size, topic)
