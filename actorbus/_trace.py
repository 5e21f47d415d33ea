"""The tracing seam: what the bus, the actors and the models tell a tracer.

Tracing is optional (``actorbus.otel`` implements it with OpenTelemetry). The
core knows only this protocol, so it imports no tracing library, and the cost
when tracing is off is one ``is None`` check where a publish appends to the log;
handling and model calls check once per drain or call, not per message.

Three kinds of span, linked through the message's causation so a multi-agent
run reads as one trace:

* around each append to the log (``publish <topic>``), a child of whatever span
  is current in the publishing task: inside a handler, that handler's span;
* around each handling of a message by an actor (``handle <actor>``), a child
  of the span of the publish that appended it, and current while the handler
  runs, so what the handler publishes or asks a model is its child;
* around each model call (``chat <model>``), a child of the current span; a
  tool loop makes one per turn;
* around each tool call of a tool loop (``execute_tool <name>``), a child of
  the current span (the handling's), and current while the tool runs, so an
  actor tool's ask is its child; a result replayed from the journal gets one
  too, marked journaled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Protocol

from ._message import Envelope, Receipt

__all__ = ["ChatScope", "HandleScope", "ToolScope", "Tracing"]


class HandleScope(Protocol):
    """One handling of a message by an actor, open while its handler runs."""

    def finish(self, *, attempts: int, dead_lettered: bool) -> None:
        """Say how the handling went, before the scope closes."""
        ...


class ChatScope(Protocol):
    """One model call, open while it runs."""

    def finish(
        self,
        *,
        model: str,
        provider: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float | None,
        attempts: int,
        journaled: bool,
    ) -> None:
        """Record what the call gave, before the scope closes."""
        ...


class ToolScope(Protocol):
    """One tool call of a tool loop, open while the tool runs."""

    def finish(self, *, error: bool, journaled: bool) -> None:
        """Say how the call went (an error result or not; replayed or run), before it closes."""
        ...


class Tracing(Protocol):
    """What the bus calls on a tracer; see the module docstring."""

    def append_nowait(self, append: Callable[[Envelope], Receipt], env: Envelope) -> Receipt:
        """Call ``append(env)`` (a log that appends at once) inside a publish span."""
        ...

    async def append(
        self, append: Callable[[Envelope], Awaitable[Receipt]], env: Envelope
    ) -> Receipt:
        """Await ``append(env)`` (a log whose append suspends) inside a publish span."""
        ...

    def handling(self, actor: str, env: Envelope) -> AbstractContextManager[HandleScope]:
        """Return the scope of ``actor`` handling ``env``; current while it is open."""
        ...

    def chat(self, model: str, actor: str | None) -> AbstractContextManager[ChatScope]:
        """Return the scope of one model call by ``actor`` (None: from outside)."""
        ...

    def tool(
        self, name: str, call_id: str, actor: str | None, description: str | None
    ) -> AbstractContextManager[ToolScope]:
        """Return the scope of tool call ``call_id`` of ``actor`` (tool ``name``, if known).

        Open while the tool runs (or, for a result replayed from the journal, while
        it is read back); ``description`` is what the model is told the tool does
        (None: no such tool was offered).
        """
        ...
