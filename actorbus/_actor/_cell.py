"""`Cell`: one running actor: its mailbox, its drain task, and its supervision.

An idle actor holds no task. When its mailbox gets work the cell asks the bus to
start one drain task, which handles messages in seq order (or starts them in seq
order, up to ``concurrency`` at a time) and ends when the mailbox is empty again.
Before it ends it yields once, so a peer that answers at once (an ask in a loop)
finds the task still running instead of paying for a new one.

Supervision: a handler that raises is retried with backoff up to the actor's
``max_retries``; then the message becomes a `DeadLetter` on ``_dead.<actor>`` (and,
for an ask, the asker gets it too) and the actor goes on with the next message.
Only `Exception` is caught: cancellation always propagates.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from typing import final

import anyio

from .._backoff import backoff_delay
from .._errors import ActorbusError
from .._mailbox import Mailbox
from .._message import DeadLetter, Envelope, Message
from ._actor import Actor
from ._context import Context
from ._dispatch import handler_table
from ._runtime import Runtime

__all__ = ["Cell"]

_BATCH = 128  # messages handled between two yields to the event loop

Handler = Callable[[Message, Context], Awaitable[object]]


@final
class Cell:
    """The runtime side of one spawned actor. Not part of the public API."""

    __slots__ = (
        "_bound",
        "_done",
        "_idle_event",
        "_start_drain",
        "_started",
        "_wake",
        "actor",
        "busy",
        "ctx",
        "cursor",
        "dead_lettered",
        "dead_topic",
        "failed",
        "handled",
        "in_flight",
        "logger",
        "mailbox",
        "name",
        "retried",
        "runtime",
        "scope",
        "subscribed",
        "table",
    )

    def __init__(
        self,
        actor: Actor,
        name: str,
        runtime: Runtime,
        start_drain: Callable[[Cell], None],
    ) -> None:
        cls = type(actor)
        self.actor = actor
        self.name = name
        self.runtime = runtime
        self.table = handler_table(cls)
        self.mailbox = Mailbox(name, cls.mailbox_size, cls.overflow, self._ready)
        self.logger = logging.getLogger(f"actorbus.actor.{name}")
        self.ctx = Context(runtime, name, self.logger)
        self.dead_topic = f"_dead.{name}"
        self._bound: dict[type[Message], Handler | None] = {}  # None: no handler
        self._start_drain = start_drain
        self._wake: anyio.Event | None = None
        self._idle_event: anyio.Event | None = None
        self._started: deque[int] = deque()  # seqs in flight, in start order
        self._done: set[int] = set()
        self.scope: anyio.CancelScope | None = None
        self.busy = False
        self.subscribed = False
        self.in_flight = 0
        self.cursor = 0
        self.handled = 0
        self.failed = 0
        self.retried = 0
        self.dead_lettered = 0

    # -- scheduling -------------------------------------------------------------

    def _ready(self, mailbox: Mailbox) -> None:
        if self.busy:
            if self._wake is not None:
                self._wake.set()
            return
        self.busy = True
        self._start_drain(self)

    async def run(self) -> None:
        """Drain the mailbox, then end. Started by the bus in its task group."""
        with anyio.CancelScope() as scope:
            self.scope = scope
            try:
                if type(self.actor).concurrency == 1:
                    await self._drain_serial()
                else:
                    await self._drain_concurrent(type(self.actor).concurrency)
            finally:
                self.scope = None
                self.mailbox.active = False
                self.busy = False
                if self._idle_event is not None:
                    self._idle_event.set()
                    self._idle_event = None
                self.runtime.cell_idle(self)

    async def wait_idle(self) -> None:
        """Return once no drain task runs for this actor."""
        while self.busy:
            if self._idle_event is None:
                self._idle_event = anyio.Event()
            await self._idle_event.wait()

    async def _drain_serial(self) -> None:
        # The hot loop: envelopes come straight off the deque and the bound handler
        # is called inline (the body of _invoke, saving a coroutine per message);
        # anything unusual goes through _handle.
        mailbox, ctx, bound, checkpoint = (
            self.mailbox,
            self.ctx,
            self._bound,
            self.runtime.checkpoint,
        )
        items, blocked = mailbox.items, mailbox.blocked
        while True:
            count = 0
            while items:
                env = items.popleft()
                if blocked:
                    mailbox.let_in()
                handler = bound.get(type(env.message))
                if handler is None:
                    await self._handle(env, ctx)
                else:
                    ctx._env = env
                    try:
                        result = await handler(env.message, ctx)
                    except Exception as exc:
                        await self._retry(env, ctx, handler, exc)
                    else:
                        self.handled += 1
                        if result is not None:
                            await self._answer(env, result)
                self.cursor = env.seq
                count += 1
                if count == _BATCH:
                    count = 0
                    await checkpoint()
            await checkpoint()  # linger one turn: an answer may bring more work
            if mailbox.finish():
                return

    async def _drain_concurrent(self, limit: int) -> None:
        mailbox = self.mailbox
        async with anyio.create_task_group() as tg:
            while True:
                env = mailbox.pop()
                if env is not None:
                    while self.in_flight >= limit:
                        await self._sleep_until_woken()
                    self.in_flight += 1
                    self._started.append(env.seq)
                    tg.start_soon(self._handle_one, env)
                    continue
                if self.in_flight == 0:
                    await self.runtime.checkpoint()
                    if mailbox.finish():
                        return
                elif mailbox.finish():  # let new work wake us while handlers run
                    await self._sleep_until_woken()

    async def _sleep_until_woken(self) -> None:
        self._wake = anyio.Event()
        await self._wake.wait()
        self._wake = None

    async def _handle_one(self, env: Envelope) -> None:
        try:
            await self._handle(env, Context(self.runtime, self.name, self.logger))
        finally:
            self.in_flight -= 1
            self._advance_cursor(env.seq)
            if self._wake is not None:
                self._wake.set()

    def _advance_cursor(self, seq: int) -> None:
        self._done.add(seq)
        started, done = self._started, self._done
        while started and started[0] in done:
            self.cursor = started.popleft()
            done.discard(self.cursor)

    # -- handling ---------------------------------------------------------------

    async def _handle(self, env: Envelope, ctx: Context) -> None:
        msg_type = type(env.message)
        try:
            handler = self._bound[msg_type]
        except KeyError:
            handler = self._bind(msg_type)
        if handler is None:
            problem = f"{type(self.actor).__qualname__} has no handler for {msg_type.__qualname__}"
            await self._dead_letter(env, "NoHandler", problem, "", 0)
        else:
            await self._invoke(env, ctx, handler)

    async def _invoke(self, env: Envelope, ctx: Context, handler: Handler) -> None:
        ctx._env = env
        try:
            result = await handler(env.message, ctx)
        except Exception as exc:
            await self._retry(env, ctx, handler, exc)
        else:
            self.handled += 1
            if result is not None:
                await self._answer(env, result)

    def _bind(self, msg_type: type[Message]) -> Handler | None:
        method = self.table.method_for(msg_type)
        handler: Handler | None = None if method is None else getattr(self.actor, method)
        self._bound[msg_type] = handler
        return handler

    async def _retry(self, env: Envelope, ctx: Context, handler: Handler, exc: Exception) -> None:
        cls = type(self.actor)
        attempts = 1
        self.failed += 1
        while attempts <= cls.max_retries:
            self.logger.info(
                "handler failed on seq=%d topic=%s (attempt %d): %s: %s; retrying",
                env.seq,
                env.topic,
                attempts,
                type(exc).__qualname__,
                exc,
            )
            delay = backoff_delay(attempts, cls.retry_delay, cls.retry_delay_max)
            await (anyio.sleep(delay) if delay > 0 else self.runtime.checkpoint())
            self.retried += 1
            attempts += 1
            ctx._env = env
            try:
                result = await handler(env.message, ctx)
            except Exception as again:
                self.failed += 1
                exc = again
            else:
                self.handled += 1
                if result is not None:
                    await self._answer(env, result)
                return
        tb = "".join(traceback.format_exception(exc))
        await self._dead_letter(env, _qualname(exc), str(exc), tb, attempts)

    async def _answer(self, env: Envelope, result: object) -> None:
        if not isinstance(result, Message):
            await self._dead_letter(
                env,
                "TypeError",
                f"handler returned {type(result).__qualname__}; return a Message or None",
                "",
                1,
            )
        elif env.reply_to is not None:
            try:
                await self.runtime.publish_from(
                    env.reply_to, result, None, self.name, env.correlation_id or env.id, env.id
                )
            except ActorbusError as exc:
                self._unsent(result, env, env.reply_to, exc)
        else:
            self.logger.debug("seq=%d was not asked; the returned message is not sent", env.seq)

    async def _dead_letter(
        self, env: Envelope, error_type: str, error: str, tb: str, attempts: int
    ) -> None:
        self.dead_lettered += 1
        if env.topic.startswith("_dead."):
            self.logger.error(
                "failed on dead letter seq=%d (%s: %s); not dead-lettered again, it stays "
                "in the log",
                env.seq,
                error_type,
                error,
            )
            return
        self.logger.warning(
            "dead-lettered seq=%d topic=%s after %d attempt(s): %s: %s",
            env.seq,
            env.topic,
            attempts,
            error_type,
            error,
        )
        letter = DeadLetter(
            actor=self.name,
            message=env.message,
            envelope=env.info(),
            error_type=error_type,
            error=error,
            traceback=tb,
            attempts=attempts,
        )
        await self._send(self.dead_topic, letter, env)
        if env.reply_to is not None:
            await self._send(env.reply_to, letter, env)

    async def _send(self, topic: str, msg: Message, env: Envelope) -> None:
        # A reply or dead letter that cannot be published must not kill the actor.
        try:
            await self.runtime.publish_from(
                topic, msg, None, self.name, env.correlation_id or env.id, env.id
            )
        except ActorbusError as exc:
            self._unsent(msg, env, topic, exc)

    def _unsent(self, msg: Message, env: Envelope, topic: str, exc: ActorbusError) -> None:
        self.logger.error(
            "could not publish %s for seq=%d to %s: %s", type(msg).__qualname__, env.seq, topic, exc
        )


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
