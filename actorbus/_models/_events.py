"""What a model call is waiting on, as it happens: a retry, or a rate limit.

A call that is retried or held back by a limit can take a long time with nothing
to show for it. `Models` reports each such wait to its ``on_event`` function as a
`ModelEvent` at the moment it starts, so a progress display can say
``writer: retry 2/4 after ReadTimeout, waiting 3 s`` while it waits rather than
after. The same events are logged on ``actorbus.models`` (WARNING for retries,
INFO for waits).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, TypeAlias

import msgspec

__all__ = ["ModelEvent", "ModelEventKind", "OnModelEvent", "report"]

log = logging.getLogger("actorbus.models")

ModelEventKind: TypeAlias = Literal["retry", "wait"]
"""``"retry"``: a request failed and is sent again after ``delay``; ``"wait"``: a
request waits for one of its provider's limits before it is sent."""


class ModelEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A model call waits: a request is retried, or held back by a limit.

    Attributes:
        kind: ``"retry"`` or ``"wait"`` (see `ModelEventKind`).
        actor: whose call it is (None: a call made outside an actor).
        model: the model asked.
        provider: the provider's name.
        attempt: the request that failed (``"retry"``: 1 is the first), or the
            one about to be sent (``"wait"``).
        max_attempts: the provider's ``max_attempts``.
        reason: why: ``"ReadTimeout"``, ``"HTTP 429"``, ``"HTTP 503"`` (retries);
            ``"requests_per_minute"``, ``"tokens_per_minute"`` or
            ``"max_concurrent"`` (waits).
        delay: seconds until the retry is sent (``"retry"``); None for a wait on a
            limit, which lasts until the limit lets the request through.

    Version added: 0.1
    """

    kind: ModelEventKind
    actor: str | None
    model: str
    provider: str
    attempt: int
    max_attempts: int
    reason: str
    delay: float | None = None

    def describe(self) -> str:
        """Return the event as one line for people: ``writer: retry 2/4 after ReadTimeout, ...``.

        The retry count is of retries (``max_attempts - 1`` of them at most).
        """
        who = self.actor or self.model
        if self.kind == "wait":
            return f"{who}: waiting for {self.provider}'s {self.reason} limit"
        waiting = "" if self.delay is None else f", waiting {_seconds(self.delay)}"
        return f"{who}: retry {self.attempt}/{self.max_attempts - 1} after {self.reason}{waiting}"


OnModelEvent: TypeAlias = Callable[[ModelEvent], None]
"""What `Models` calls with each `ModelEvent`; it runs in the event loop and must not block."""


def report(on_event: OnModelEvent | None, event: ModelEvent) -> None:
    """Call ``on_event`` with ``event``; an exception it raises is logged, never raised."""
    if on_event is None:
        return
    try:
        on_event(event)
    except Exception:
        log.exception("on_event failed on %r; the call goes on", event.describe())


def _seconds(delay: float) -> str:
    return f"{delay:.1f} s" if delay < 10 else f"{delay:.0f} s"
