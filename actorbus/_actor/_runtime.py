"""The seam between actors and the bus that runs them.

Actors sit below the bus in the layering, so they reach it only through this
protocol, which the bus implements.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import anyio

from .._message import Message, Receipt
from .._models import Models
from .._state import State
from .._trace import Tracing

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["Runtime"]


class Runtime(Protocol):
    """What a running actor needs from its bus."""

    async def publish_from(
        self,
        topic: str,
        msg: Message,
        key: str | None,
        sender: str,
        correlation_id: str | None,
        causation: str | None,
        reply_to: str | None = None,
    ) -> Receipt:
        """Publish on behalf of actor ``sender``."""
        ...

    def send_nowait(
        self,
        topic: str,
        msg: Message,
        key: str | None,
        sender: str,
        correlation_id: str | None,
        causation: str | None,
    ) -> tuple[Receipt, list[anyio.Event] | None] | None:
        """Publish without suspending, if the log allows it.

        Returns the receipt and the events to wait on (backpressure), or None when
        the caller must use `publish_from` instead.
        """
        ...

    async def ask_from(
        self,
        topic: str,
        msg: Message,
        timeout: float,
        sender: str,
        correlation_id: str | None,
        causation: str | None,
    ) -> Message:
        """Ask on behalf of actor ``sender``."""
        ...

    def start_drain(self, cell: Cell) -> None:
        """Start a task that runs ``cell.run()`` (the cell's mailbox has work)."""
        ...

    async def journal_get(self, key: str) -> bytes | None:
        """Return the journal entry under ``key`` (see `Context.once`)."""
        ...

    async def journal_put(self, key: str, value: bytes) -> None:
        """Record a journal entry (see `Context.once`)."""
        ...

    def cell_idle(self, cell: Cell) -> None:
        """Called when ``cell`` has emptied its mailbox and its drain task ends."""
        ...

    models: Models | None
    """The bus's model providers (None: it makes no model calls)."""

    @property
    def state(self) -> State:
        """The bus's shared state."""
        ...

    checkpoint: Callable[[], Awaitable[None]]
    """Let other tasks run, and deliver a pending cancellation."""

    linger_twice: bool
    """Whether a drain task should yield twice before it ends (Trio's shuffled runs)."""

    tracing: Tracing | None
    """The tracer handlings are reported to (None: tracing is off)."""
