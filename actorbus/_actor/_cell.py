"""`Cell`: one running actor: its mailbox, its drain task, and its supervision.

An idle actor holds no task and no queue. When its mailbox gets work the cell asks
the bus to start one drain task, which handles messages in seq order (or starts
them in seq order, up to ``concurrency`` at a time) and ends when the mailbox is
empty again. Before it ends it yields (once on asyncio, twice on Trio), so a peer that answers at
once (an ask in a loop) finds the task still running instead of paying for a new one.

Supervision: a handler that raises is retried with backoff up to the actor's
``max_retries``; then the message becomes a `DeadLetter` on ``_dead.<actor>`` (and,
for an ask, the asker gets it too) and the actor goes on with the next message. An
error that cannot succeed on a retry (`is_permanent`: a `Permanent`, such as every
`ModelError`, or a msgspec decode error) is not retried: its message is
dead-lettered at once. Only `Exception` is caught: cancellation always propagates.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import final

import anyio

from .._backoff import backoff_delay
from .._errors import ActorbusError, is_permanent
from .._ids import derived_id
from .._mailbox import Mailbox
from .._message import DeadLetter, Envelope, Message, Undecodable
from ._actor import Actor
from ._context import Context, send, send_waits
from ._dispatch import Handler, handler_table
from ._runtime import Runtime
from ._timing import SLOW_NS, Times, add_time, time_pass

__all__ = ["Cell", "log_fields"]

_BATCH = 128  # messages handled between two yields to the event loop
_log = logging.getLogger("actorbus.actor")


@final
class Cell(Mailbox):
    """The runtime side of one spawned actor: its mailbox, and what drains it.

    Not part of the public API.
    """

    # An idle actor is mostly this object, so it keeps few slots: state needed
    # rarely (failure counts, wait_idle's event, a concurrent drain's bookkeeping)
    # lives in a _Rare made the first time it is.
    __slots__ = (
        "_rare",
        "actor",
        "busy",
        "cursor",
        "handled",
        "on_handled",
        "patterns",
        "runtime",
        "scope",
        "times",
    )

    def __init__(
        self, actor: Actor, name: str, runtime: Runtime, patterns: tuple[str, ...]
    ) -> None:
        cls = type(actor)
        super().__init__(name, cls.mailbox_size, cls.overflow)
        handler_table(cls)  # raises ActorDefinitionError now rather than later
        self.actor = actor
        self.runtime = runtime
        self.patterns = patterns  # () once unsubscribed
        self._rare: _Rare | None = None  # made on the first failure or wait_idle
        self.scope: anyio.CancelScope | None = None
        self.busy = False
        self.cursor = 0
        # Called with (name, seq) after each message, to commit a durable cursor.
        self.on_handled: Callable[[str, int], None] | None = None
        self.handled = 0
        self.times: Times = None  # see _timing: small until it has several samples

    @property
    def name(self) -> str:
        """The actor's name."""
        return self.owner

    @property
    def failed(self) -> int:
        """Handler calls that raised."""
        return 0 if self._rare is None else self._rare.failed

    @property
    def retried(self) -> int:
        """Handler calls that were retries."""
        return 0 if self._rare is None else self._rare.retried

    @property
    def dead_lettered(self) -> int:
        """Messages given up on."""
        return 0 if self._rare is None else self._rare.dead_lettered

    def _troubles(self) -> _Rare:
        rare = self._rare
        if rare is None:
            rare = self._rare = _Rare()
        return rare

    def context(self) -> Context:
        """Return a new context for this actor (with no current message)."""
        return Context(self.runtime, self.owner, type(self.actor).model)

    # -- scheduling -------------------------------------------------------------

    def became_active(self) -> None:
        if self.busy:
            rare = self._rare
            if rare is not None and rare.concurrent is not None:
                rare.concurrent.wake()
            return
        self.busy = True
        self.runtime.start_drain(self)

    async def run(self) -> None:
        """Drain the mailbox, then end. Started by the bus in its task group."""
        ended = False  # True once the drain returned: not cancelled, not failed
        with anyio.CancelScope() as scope:
            self.scope = scope
            try:
                concurrency = type(self.actor).concurrency
                if concurrency == 1:
                    await self._drain_serial()
                else:
                    await self._drain_concurrent(concurrency)
                ended = True
            finally:
                self.scope = None
                restart = ended and bool(self.items)
                if restart:
                    # Work arrived while this drain was ending (a concurrent drain
                    # awaits its task group after `finish`): that offer found us busy
                    # and started nothing, so start the next drain now (the bus may
                    # refuse if it is stopping, and then clears `busy`).
                    self.runtime.start_drain(self)
                    restart = self.busy
                if not restart:
                    self.active = False  # the next offer starts a new drain
                    self.busy = False
                    if self._rare is not None and self._rare.idle_event is not None:
                        self._rare.idle_event.set()
                        self._rare.idle_event = None
                self.runtime.cell_idle(self)  # after start_drain: the bus stays busy

    async def wait_idle(self) -> None:
        """Return once no drain task runs for this actor."""
        while self.busy:
            rare = self._troubles()
            if rare.idle_event is None:
                rare.idle_event = anyio.Event()
            await rare.idle_event.wait()

    async def _drain_serial(self) -> None:
        # The hot loop: envelopes come straight off the deque and the handler is
        # called inline (the body of _invoke, saving a coroutine per message);
        # anything unusual goes through _handle.
        actor, ctx, on_handled = self.actor, self.context(), self.on_handled
        functions = handler_table(type(actor)).functions
        if self.runtime.tracing is not None:
            functions = {}  # every message through _handle, which traces it
        checkpoint = self.runtime.checkpoint
        clock = time.perf_counter_ns
        items = self.items
        if items is None:  # cleared (killed) before this task started
            return
        while True:
            count = 0
            # Timing a handling costs about 0.5 us (two clock reads, a histogram
            # update): too much for every message of a fast loop, which pays one
            # test of `started` per message instead. Timed: the first handling
            # of a pass (as `time_pass` decides: all of an actor's first QUIET,
            # then one pass in 8 unless its last timed handling was slow), the
            # first after each yield (one in 128 of a backlog), and the next after
            # any slow one: so slow handlers are timed throughout.
            started = clock() if time_pass(self.handled, self.times) else 0
            while items:
                env = items.popleft()
                if self.blocked:
                    self.let_in()
                handler = functions.get(type(env.message))
                if handler is None:
                    await self._handle(env, ctx)
                else:
                    ctx._env, ctx._steps = env, None  # ctx._enter(env), written out
                    try:
                        result = await handler(actor, env.message, ctx)
                    except Exception as exc:
                        await self._retry(env, ctx, handler, exc)
                    else:
                        self.handled += 1
                        if result is not None:
                            await self._answer(env, result)
                self.cursor = env.seq
                if started:
                    took = clock() - started
                    self.timed(took)
                    started = clock() if took >= SLOW_NS else 0
                if on_handled is not None:
                    on_handled(self.owner, env.seq)
                count += 1
                if count == _BATCH:
                    count = 0
                    await checkpoint()
                    started = clock()
            # Linger: an answer just sent may bring more work at once. Trio runs
            # each batch of ready tasks in a shuffled order, so there the peer
            # may need a second turn to reach us.
            await checkpoint()
            if not items and self.runtime.linger_twice:
                await checkpoint()
            if self.finish():
                return

    async def _drain_concurrent(self, limit: int) -> None:
        # A message leaves the mailbox only when a slot is free. Each handler task
        # waits for its turn before it calls the handler, so handlers start in seq
        # order on every scheduler (Trio, unlike asyncio, does not run new tasks
        # first-in first-out).
        state = self._troubles().concurrent = _Concurrent()
        try:
            async with anyio.create_task_group() as tg:
                while True:
                    if state.in_flight >= limit:
                        await state.sleep()
                        continue
                    env = self.pop()
                    if env is not None:
                        tg.start_soon(self._handle_one, env, state, state.start(env.seq))
                    elif state.in_flight == 0:
                        await self.runtime.checkpoint()
                        if self.finish():
                            return
                    elif self.finish():  # let new work wake us while handlers run
                        await state.sleep()
        finally:
            self._troubles().concurrent = None

    async def _handle_one(self, env: Envelope, state: _Concurrent, ticket: int) -> None:
        finished = False
        try:
            await state.begin(ticket)
            started = time.perf_counter_ns()
            await self._handle(env, self.context())
            finished = True
            self.timed(time.perf_counter_ns() - started)
        finally:
            # A handler cancelled mid-message (the bus closing, the actor killed)
            # did not handle it: the cursor must not pass it, so a durable log
            # delivers it again after a restart.
            cursor = state.done(env.seq, handled=finished)
            if cursor:
                self.cursor = cursor
                if self.on_handled is not None:
                    self.on_handled(self.owner, cursor)

    def timed(self, ns: int) -> None:
        """Count one handling that took ``ns`` nanoseconds in the actor's statistics."""
        self.times = add_time(self.times, ns)

    # -- handling ---------------------------------------------------------------

    async def _handle(self, env: Envelope, ctx: Context) -> None:
        tracing = self.runtime.tracing
        if tracing is None:
            await self._handle_untraced(env, ctx)
            return
        with tracing.handling(self.owner, env) as scope:
            attempts, ok = await self._handle_untraced(env, ctx)
            scope.finish(attempts=attempts, dead_lettered=not ok)

    async def _handle_untraced(self, env: Envelope, ctx: Context) -> tuple[int, bool]:
        # Returns how many times a handler ran, and whether one finished.
        msg_type = type(env.message)
        handler = handler_table(type(self.actor)).function_for(msg_type)
        if handler is None:
            if isinstance(env.message, Undecodable):
                error_type, problem = "UndecodableRecord", env.message.error
            else:
                error_type = "NoHandler"
                actor = type(self.actor).__qualname__
                problem = f"{actor} has no handler for {msg_type.__qualname__}"
            await self._dead_letter(env, error_type, problem, "", 0)
            return 0, False
        return await self._invoke(env, ctx, handler)

    async def _invoke(self, env: Envelope, ctx: Context, handler: Handler) -> tuple[int, bool]:
        ctx._enter(env)
        try:
            result = await handler(self.actor, env.message, ctx)
        except Exception as exc:
            return await self._retry(env, ctx, handler, exc)
        self.handled += 1
        if result is not None:
            await self._answer(env, result)
        return 1, True

    async def _retry(
        self, env: Envelope, ctx: Context, handler: Handler, exc: Exception
    ) -> tuple[int, bool]:
        # Returns the attempts made and whether the last one succeeded. An error
        # that cannot succeed on a retry (is_permanent) ends the attempts at once.
        cls = type(self.actor)
        attempts = 1
        self._troubles().failed += 1
        while attempts <= cls.max_retries and not is_permanent(exc):
            _log.info(
                "actor %r failed on seq=%d topic=%s (attempt %d): %s: %s; retrying",
                self.owner, env.seq, env.topic, attempts, type(exc).__qualname__, exc,
                extra={**log_fields(self.owner, env), "attempt": attempts},
            )  # fmt: skip
            delay = backoff_delay(attempts, cls.retry_delay, cls.retry_delay_max)
            await (anyio.sleep(delay) if delay > 0 else self.runtime.checkpoint())
            self._troubles().retried += 1
            attempts += 1
            ctx._enter(env)
            try:
                result = await handler(self.actor, env.message, ctx)
            except Exception as again:
                self._troubles().failed += 1
                exc = again
            else:
                self.handled += 1
                if result is not None:
                    await self._answer(env, result)
                return attempts, True
        tb = "".join(traceback.format_exception(exc))
        why = " (permanent: not retried)" if attempts <= cls.max_retries else ""
        await self._dead_letter(env, _qualname(exc), str(exc), tb, attempts, why)
        return attempts, False

    async def _answer(self, env: Envelope, result: object) -> None:
        if not isinstance(result, Message):
            problem = f"handler returned {type(result).__qualname__}; return a Message or None"
            await self._dead_letter(env, "TypeError", problem, "", 1)
        elif env.reply_to is None:
            _log.debug(
                "actor %r: seq=%d was not asked; answer not sent", self.owner, env.seq,
                extra=log_fields(self.owner, env),
            )  # fmt: skip
        else:
            try:  # `send`, written out: this is every ask's reply
                sent = self.runtime.send_nowait(
                    env.reply_to, result, None, self.owner, env.correlation_id or env.id, env.id
                )
                if sent is None:
                    await send(self.runtime, env.reply_to, result, None, self.owner, env)
                elif sent[1] is not None:
                    await send_waits(sent[1])
            except ActorbusError as exc:
                self._unsent(env.reply_to, result, env, exc)

    async def _dead_letter(
        self, env: Envelope, error_type: str, error: str, tb: str, attempts: int, why: str = ""
    ) -> None:
        self._troubles().dead_lettered += 1
        if env.topic.startswith("_dead."):
            _log.error(
                "actor %r failed on dead letter seq=%d (%s: %s); not dead-lettered again, "
                "it stays in the log", self.owner, env.seq, error_type, error,
                extra=log_fields(self.owner, env),
            )  # fmt: skip
            return
        _log.warning(
            "actor %r dead-lettered seq=%d topic=%s after %d attempt(s)%s: %s: %s",
            self.owner, env.seq, env.topic, attempts, why, error_type, error,
            extra={**log_fields(self.owner, env), "attempt": attempts},
        )  # fmt: skip
        letter = DeadLetter(
            actor=self.owner,
            message=env.message,
            envelope=env.info(),
            error_type=error_type,
            error=error,
            traceback=tb,
            attempts=attempts,
        )
        await self._send(f"_dead.{self.owner}", letter, env)
        if env.reply_to is not None:
            await self._send(env.reply_to, letter, env)

    async def _send(self, topic: str, msg: Message, env: Envelope) -> None:
        # A reply or dead letter that cannot be published must not kill the actor.
        try:
            key = derived_id(self.owner, env.id, f"dead:{topic}")  # once, even re-run
            await send(self.runtime, topic, msg, key, self.owner, env)
        except ActorbusError as exc:
            self._unsent(topic, msg, env, exc)

    def _unsent(self, topic: str, msg: Message, env: Envelope, exc: ActorbusError) -> None:
        _log.error(
            "actor %r could not publish %s for seq=%d to %s: %s",
            self.owner, type(msg).__qualname__, env.seq, topic, exc,
            extra=log_fields(self.owner, env),
        )  # fmt: skip


@final
class _Rare:
    """What few actors need: failure counts, `wait_idle`'s event, concurrent drains.

    Kept apart so an idle actor that never failed pays one slot for all of it (the
    bookkeeping of a drain with ``concurrency`` > 1 lives here too).
    """

    __slots__ = ("concurrent", "dead_lettered", "failed", "idle_event", "retried")

    def __init__(self) -> None:
        self.failed = 0
        self.retried = 0
        self.dead_lettered = 0
        self.idle_event: anyio.Event | None = None
        self.concurrent: _Concurrent | None = None


@final
class _Concurrent:
    """The bookkeeping of a drain with ``concurrency`` > 1: slots, start turns, cursor."""

    __slots__ = ("_done", "_issued", "_started", "_turn", "_turns", "_wake", "in_flight")

    def __init__(self) -> None:
        self._started: deque[int] = deque()  # seqs in flight, in start order
        self._done: set[int] = set()
        self._wake: anyio.Event | None = None
        self._issued = 0  # tickets handed out, one per message, in seq order
        self._turn = 0  # the ticket whose handler may begin next
        self._turns: dict[int, anyio.Event] = {}  # tickets waiting for their turn
        self.in_flight = 0

    def start(self, seq: int) -> int:
        """Take a slot for ``seq``; return its ticket for `begin`."""
        self.in_flight += 1
        self._started.append(seq)
        self._issued += 1
        return self._issued - 1

    async def begin(self, ticket: int) -> None:
        """Return when every earlier ticket's handler has begun."""
        if ticket != self._turn:
            event = self._turns[ticket] = anyio.Event()
            await event.wait()
        self._turn += 1
        following = self._turns.pop(self._turn, None)
        if following is not None:
            following.set()

    def done(self, seq: int, handled: bool = True) -> int:
        """Note ``seq`` ended; return the new cursor (all up to it handled), or 0.

        A message not ``handled`` (cancelled) frees its slot but holds the cursor
        before it for good.
        """
        self.in_flight -= 1
        self.wake()
        if not handled:
            return 0
        self._done.add(seq)
        cursor = 0
        started, done = self._started, self._done
        while started and started[0] in done:
            cursor = started.popleft()
            done.discard(cursor)
        return cursor

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def sleep(self) -> None:
        self._wake = anyio.Event()
        await self._wake.wait()
        self._wake = None


def log_fields(actor: str, env: Envelope) -> dict[str, object]:
    """Return the ``extra`` fields of a log record about ``actor`` and ``env``.

    Where the message is, never what it says: no payload, no key but the id.
    """
    return {
        "actor": actor,
        "seq": env.seq,
        "topic": env.topic,
        "message_id": env.id,
        "correlation_id": env.correlation_id or env.id,
    }


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
