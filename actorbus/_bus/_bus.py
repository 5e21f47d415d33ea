"""`Bus`: spawn actors, publish, ask, drain; log -> router -> mailboxes.

A publish takes four steps: route (find the mailboxes, refusing a full ``reject``
one before anything is written), stamp (make the envelope), append (the log gives
the seq or reports a duplicate), deliver (offer the envelope to each mailbox, and
wait if one applies backpressure). With an in-memory log the first three steps do
not suspend, so envelopes reach every mailbox in seq order.
"""

from __future__ import annotations

import enum
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, final

import anyio
from anyio.abc import TaskGroup

from .._actor import Actor, Cell
from .._backend import Primitives, Waiter, primitives
from .._errors import (
    AskFailed,
    AskTimeout,
    BusClosed,
    DuplicateActor,
    InvalidTopic,
    LogUnavailable,
    NoSubscriber,
    UnknownActor,
)
from .._ids import new_id
from .._log import ConsumerLog, EventLog, MemoryLog, SyncAppend
from .._message import DeadLetter, Envelope, Message, Receipt, StateUpdate
from .._models import CostReport, Models, Spend
from .._state import State, shared_storage
from .._topic import validate_topic
from .._trace import Tracing
from ._asks import ReplyInbox
from ._delivery import check_room, deliver, may_block, wait_all
from ._durable import Delivery, StartAt, resume
from ._ref import ActorRef, actor_statistics
from ._remote import Remote
from ._router import GuardedRoute, Router
from ._stamp import patterns_for, stamp, valid_key
from ._stats import BusStatistics

__all__ = ["Bus"]

A = TypeVar("A", bound=Actor)

_log = logging.getLogger("actorbus.bus")
_MESSAGE: type = Message  # typed loosely so the hot path may check what typing promises


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSING = "closing"  # outside publishes refused; actors finish their work
    STOPPING = "stopping"  # handlers are done; on_stop hooks run
    CLOSED = "closed"


@final
class Bus:
    """An in-process pub/sub bus of actors with per-actor mailboxes and an event log.

    Use it as an async context manager inside any anyio-compatible program (asyncio
    or Trio)::

        async with actorbus.Bus() as bus:
            await bus.spawn(Greeter, name="greeter")
            reply = await bus.ask("greetings.en", Hello(name="Ada"))

    On exit, publishes from outside are refused at once; actors go on handling what
    is queued (and what they publish themselves) until every mailbox is empty or
    ``shutdown_grace`` seconds pass, then running handlers are cancelled and each
    actor's ``on_stop`` runs. If the body raised or was cancelled, handlers are
    cancelled at once.

    Args:
        log: the event log; a fresh `MemoryLog` by default.
        models: the model providers actors call through `Context.complete` (None:
            the bus makes no model calls). Opened and closed with the bus; needs asyncio.
        shutdown_grace: seconds to let actors finish their work on exit.

    Version added: 0.1
    """

    def __init__(
        self,
        *,
        log: EventLog | None = None,
        models: Models | None = None,
        shutdown_grace: float = 5.0,
    ) -> None:
        self._log: EventLog = log if log is not None else MemoryLog()
        self.models = models
        # A log that keeps the state itself (JetStream's KV bucket), else a local one.
        self._state_store = State(self._publish_state, anyio.sleep, shared_storage(self._log))
        self._sync_log = self._log if isinstance(self._log, SyncAppend) else None
        # A log whose server hands each actor its messages: the bus routes nothing.
        self._remote = Remote(self._log) if isinstance(self._log, ConsumerLog) else None
        self._attach: Callable[[Callable[[Envelope], None]], None] | None = (
            None if self._remote is not None else getattr(self._log, "attach", None)
        )
        self._grace = shutdown_grace
        self._router = Router()
        self._route_cache = self._router.cache
        self._delivery = Delivery(self._router)
        self._cells: dict[str, Cell] = {}
        self._names = 0
        self._inbox = ReplyInbox(f"_reply.{new_id()}")
        self._state = _State.NEW
        self._tg: TaskGroup | None = None
        self._active = 0
        self._idle_event: anyio.Event | None = None
        self._published = 0
        self._duplicates = 0
        self._primitives = Primitives(
            "anyio", anyio.lowlevel.checkpoint, _no_waiter, anyio.current_time
        )
        self.checkpoint: Callable[[], Awaitable[None]] = anyio.lowlevel.checkpoint
        self.linger_twice = False
        self.tracing: Tracing | None = None  # set by actorbus.otel.instrument

    def __repr__(self) -> str:
        return f"Bus(state={self._state.value!r}, actors={len(self._cells)}, log={self._log!r})"

    @property
    def log(self) -> EventLog:
        """The bus's event log."""
        return self._log

    # -- lifecycle ----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise BusClosed(self._state.value, "enter the bus again")
        self._primitives = primitives()
        self.checkpoint = self._primitives.checkpoint
        self.linger_twice = self._primitives.library == "trio"
        if self.models is not None:
            await self.models.open()  # first: it refuses Trio before anything is opened
        try:
            await self._log.open()
        except BaseException:
            if self.models is not None:
                await self.models.aclose()
            raise
        self._delivery.delivered_seq = self._log.last_seq  # what was logged before is history
        read_prefix = getattr(self._log, "read_topic_prefix", None)
        if read_prefix is not None:  # a durable log: rebuild the shared state from it
            await self._state_store.rebuild(read_prefix)
        if self._attach is not None:
            self._attach(self._delivery.committed)
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._router.add(self._inbox.topic, self._inbox)
        if self._remote is not None:
            try:
                await self._remote.listen(self._inbox.topic, self._inbox.offer)
            except BaseException:
                tg.cancel_scope.cancel()
                await tg.__aexit__(None, None, None)
                await self._finish()
                raise
        self._state = _State.OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._state is not _State.OPEN:
            return None
        self._state = _State.CLOSING
        tg = self._tg
        assert tg is not None
        suppress: bool | None = None
        try:
            if exc_type is None:
                with anyio.move_on_after(self._grace):
                    await self._drain_on_exit()
        finally:
            tg.cancel_scope.cancel()
            try:
                suppress = await tg.__aexit__(exc_type, exc, tb)
            except BaseExceptionGroup as group:
                if exc is None or not _only(group, exc):
                    raise
                suppress = False  # the body's own exception goes on, unwrapped
            finally:
                await self._finish()
        return suppress

    async def _drain_on_exit(self) -> None:
        try:
            await self.drain()
        except LogUnavailable as exc:
            if self._remote is None:
                raise
            # Only the server could say whether the names' work is done: close as
            # when the grace runs out (what the actors hold goes back to it).
            _log.warning("closing without draining: %s", exc)

    async def aclose(self) -> None:
        """Close the bus as leaving its ``async with`` block does.

        Call it from the task that entered the bus. Closing twice does nothing.
        """
        await self.__aexit__(None, None, None)

    async def _finish(self) -> None:
        self._state = _State.STOPPING
        try:
            with anyio.CancelScope(shield=True), anyio.move_on_after(self._grace):
                for cell in reversed(list(self._cells.values())):
                    await self._run_on_stop(cell, raise_errors=False)
        finally:
            if self._remote is not None:  # before the log closes: acks go out first
                await self._remote.close_all()
            self._cells.clear()
            self._router = Router()  # a closed bus keeps no actor alive
            self._route_cache = self._router.cache
            self._delivery = Delivery(self._router)
            self._state = _State.CLOSED
            # Not inside a scope of ours: a log may hold a task group of its own,
            # entered when the bus opened it. It shields its own final flush.
            try:
                await self._log.aclose()
            finally:
                if self.models is not None:
                    with anyio.CancelScope(shield=True):
                        await self.models.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_state", None) is _State.OPEN:
            _warn(
                f"{self!r} was never closed; use `async with Bus()`", ResourceWarning, source=self
            )

    def _require(self, action: str) -> None:
        if self._state is not _State.OPEN:
            raise BusClosed(self._state.value, action)

    # -- actors ---------------------------------------------------------------------

    async def spawn(
        self,
        actor: type[A] | A,
        *args: Any,
        name: str | None = None,
        subscribe: Sequence[str] | None = None,
        start_at: StartAt | None = None,
    ) -> ActorRef[A]:
        """Start an actor: ``actor`` is an Actor class (built with ``*args``) or instance.

        Runs its ``on_start`` in this task, then subscribes it, so it receives
        only messages published after ``spawn`` returns.

        Args:
            actor: an `Actor` subclass, or an instance of one not yet spawned.
            *args: arguments for the class.
            name: a unique name on this bus; by default the class name with a number.
            start_at: where to start reading the log: ``"latest"`` (only messages
                published from now on), ``"earliest"`` (everything the log still
                holds, then what comes next) or a seq. By default an actor whose
                name has a cursor in a durable log resumes after it (a restart:
                what it had not finished is handled now, what it had is not), and
                any other starts at ``"latest"``.
            subscribe: patterns for this actor instead of its class's ``subscribe``
                (in either, ``{name}`` stands for the actor's name, so each
                instance can have a topic of its own: ``"agents.{name}"``).

        Returns:
            A handle on the running actor.

        Raises:
            DuplicateActor: the name is taken.
            ActorDefinitionError: the class's handlers are declared wrongly.
            InvalidTopic: the name is not usable in a topic (``_dead.<name>``).
            BusClosed: the bus is not open.
        """
        self._require("spawn an actor")
        instance: A = self._instantiate(actor, args)
        name = self._pick_name(instance, name)
        patterns = patterns_for(type(instance), name, subscribe)
        cell = Cell(instance, name, self, patterns)
        self._cells[name] = cell
        instance._actorbus_name = name
        try:
            await instance.on_start(cell.context())
            await self._resume(cell, start_at)
        except BaseException:
            del self._cells[name]
            instance._actorbus_name = None
            cell.clear()
            raise
        for pattern in patterns:
            self._router.add(pattern, cell)
        return ActorRef(cell, instance, self._log, self._spend_of)

    async def _resume(self, cell: Cell, start_at: StartAt | None) -> None:
        if self._remote is not None:
            assert self._tg is not None
            await self._remote.start(cell, start_at, self._tg)
        else:
            await resume(self._log, cell, start_at, self._delivered)

    def _delivered(self) -> int:
        return self._log.last_seq if self._sync_log is not None else self._delivery.delivered_seq

    @staticmethod
    def _instantiate(actor: type[A] | A, args: tuple[Any, ...]) -> A:
        if isinstance(actor, type):
            if not issubclass(actor, Actor):
                raise TypeError(f"spawn takes an Actor subclass or instance, not {actor!r}")
            return actor(*args)
        if not isinstance(actor, Actor):
            raise TypeError(f"spawn takes an Actor subclass or instance, not {actor!r}")
        if args:
            raise TypeError("spawn takes constructor arguments only with an Actor class")
        if actor._actorbus_name is not None:
            raise ValueError(
                f"this {type(actor).__qualname__} already runs as {actor._actorbus_name!r}"
            )
        return actor

    def _pick_name(self, instance: Actor, name: str | None) -> str:
        if name is None:
            while True:
                self._names += 1
                name = f"{type(instance).__name__.lower()}-{self._names}"
                if name not in self._cells:
                    break
        try:
            validate_topic(f"_dead.{name}")
        except InvalidTopic as exc:
            raise InvalidTopic(
                name, f"an actor name must be usable in a topic: {exc.reason}"
            ) from None
        if name in self._cells:
            raise DuplicateActor(name)
        return name

    async def stop(self, name: str) -> None:
        """Stop an actor gracefully: no new messages; queued ones are handled; then ``on_stop``.

        Do not await this from the actor's own handler: it waits for that handler.

        Raises:
            UnknownActor: no actor has this name.
            Exception: whatever the actor's ``on_stop`` raised.
        """
        cell = self._cell(name)
        self._unsubscribe(cell)
        await cell.wait_idle()
        if self._remote is not None:
            await self._remote.close(name)
        if self._cells.pop(name, None) is not cell:
            return  # killed while it finished its work: no on_stop
        await self._run_on_stop(cell, raise_errors=True)

    def kill(self, name: str) -> int:
        """Stop an actor at once: cancel its running handler and discard its queued messages.

        ``on_stop`` does not run.

        Returns:
            How many queued messages were discarded (they stay in the log).

        Raises:
            UnknownActor: no actor has this name.
        """
        cell = self._cell(name)
        self._unsubscribe(cell)
        discarded = cell.clear()
        if cell.scope is not None:
            cell.scope.cancel()
        del self._cells[name]
        if self._remote is not None and self._tg is not None:
            # What it held goes back to the server at once, for another instance.
            self._tg.start_soon(self._remote.close, name)
        if discarded:
            _log.warning(
                "killed actor %r; %d queued message(s) discarded", name, discarded,
                extra={"actor": name},
            )  # fmt: skip
        return discarded

    def actors(self) -> tuple[str, ...]:
        """Return the names of the running actors, in spawn order."""
        return tuple(self._cells)

    def _cell(self, name: str) -> Cell:
        try:
            return self._cells[name]
        except KeyError:
            raise UnknownActor(name) from None

    def _unsubscribe(self, cell: Cell) -> None:
        if self._remote is not None:
            self._remote.stop(cell.name)
        patterns, cell.patterns = cell.patterns, ()
        for pattern in patterns:
            self._router.remove(pattern, cell)

    async def _run_on_stop(self, cell: Cell, *, raise_errors: bool) -> None:
        try:
            await cell.actor.on_stop(cell.context())
        except Exception:
            if raise_errors:
                raise
            _log.exception("on_stop of actor %r raised", cell.name, extra={"actor": cell.name})

    # -- drain tasks ------------------------------------------------------------------

    def start_drain(self, cell: Cell) -> None:
        """Start ``cell``'s drain task (called by the cell when its mailbox gets work)."""
        tg = self._tg
        if tg is None or self._state is _State.STOPPING or self._state is _State.CLOSED:
            cell.busy = False
            return
        self._active += 1
        tg.start_soon(cell.run, name=f"actorbus:{cell.name}")

    async def journal_get(self, key: str) -> bytes | None:
        """Return a journal entry of the log (see `Context.once`)."""
        return await self._log.journal_get(key)

    async def journal_put(self, key: str, value: bytes) -> None:
        """Record a journal entry in the log (see `Context.once`)."""
        await self._log.journal_put(key, value)

    def cell_idle(self, cell: Cell) -> None:
        """A drain task ended (called by the cell)."""
        if self._sync_log is not None:
            self._sync_log.commit_cursor_nowait(cell.name, cell.cursor)
        self._active -= 1
        if self._active == 0 and self._idle_event is not None:
            self._idle_event.set()
            self._idle_event = None

    async def drain(self) -> None:
        """Wait until every mailbox is empty and no handler runs.

        Messages published while waiting (by handlers, or by other tasks) are waited
        for too. Always a checkpoint.

        Raises:
            BusClosed: the bus was never opened, or is closed.
        """
        if self._state is _State.NEW or self._state is _State.CLOSED:
            raise BusClosed(self._state.value, "drain")
        await self.checkpoint()
        delay = 0.0
        while True:
            while self._active:
                if self._idle_event is None:
                    self._idle_event = anyio.Event()
                await self._idle_event.wait()
            if self._remote is None or (await self._remote.settled() and not self._active):
                return
            delay = self._remote.next_poll(delay)  # others' work: only the server sees it
            await anyio.sleep(delay)

    # -- publishing -------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        msg: Message,
        *,
        key: str | None = None,
        correlation_id: str | None = None,
    ) -> Receipt:
        """Publish ``msg`` on ``topic`` to every subscribed actor.

        Returns once the log has accepted the message (with a `SqliteLog` in
        ``"commit"`` durability: once it is fsynced) and every mailbox has taken it.
        It suspends only when it must wait: for a mailbox with room (``block``
        policy) or for a log that writes to disk; so a loop of publishes to actors
        that keep up, on the memory log, does not yield to other tasks until a
        mailbox fills.

        Args:
            topic: where to publish, such as ``"tasks.research"``; no wildcards.
            msg: the message.
            key: an idempotency key used as the message id: publishing the same key
                again within the log's dedup window appends and delivers nothing.
            correlation_id: the conversation this message belongs to; by default it
                starts one, whose id is its own.

        Returns:
            The receipt: seq, id, and whether it was a duplicate.

        Raises:
            InvalidTopic: the topic is malformed or has a wildcard.
            MailboxFull: a subscriber with overflow ``reject`` is full; nothing
                was published.
            TypeError: ``msg`` is not a Message, or ``key`` is not a non-empty str.
            ValueError: ``key`` mimics an id the log would generate later.
            BusClosed: the bus is not open.
        """
        if self._state is not _State.OPEN:
            raise BusClosed(self._state.value, "publish")
        sync_log = self._sync_log
        if sync_log is None:
            return await self._publish_async(topic, msg, key, None, correlation_id, None, None)
        # `_send`, written out (a call and a tuple less per message: about 6% of
        # the 1->1 benchmark's instructions): this is every outside publish.
        targets = self._route_cache.get(topic)
        if targets is None:
            targets = self._router.route(topic)
        if targets.__class__ is GuardedRoute:
            check_room(targets, topic)
        if not isinstance(msg, _MESSAGE) or (key is not None and not valid_key(key)):
            stamp(topic, msg, key, None, correlation_id, None, None)  # raises
        env = Envelope(key or "", topic, msg, time.time(), None, correlation_id)
        tracing = self.tracing
        receipt = sync_log.append_nowait(env) if tracing is None else self._append_traced(env)
        if receipt.duplicate:
            self._duplicates += 1
            return receipt
        self._published += 1
        waits = None
        for target in targets:  # every mailbox takes it before anyone waits
            event = target.offer(env)
            if event is not None:
                waits = [event] if waits is None else [*waits, event]
        if waits is not None:
            await wait_all(waits)
        return receipt

    async def publish_from(
        self,
        topic: str,
        msg: Message,
        key: str | None,
        sender: str | None,
        correlation_id: str | None,
        causation: str | None,
        reply_to: str | None = None,
    ) -> Receipt:
        """Publish on behalf of an actor: allowed while the bus closes."""
        if self._state is not _State.OPEN and self._state is not _State.CLOSING:
            raise BusClosed(self._state.value, "publish")
        if self._sync_log is None:
            return await self._publish_async(
                topic, msg, key, sender, correlation_id, reply_to, causation
            )
        receipt, waits = self._send(topic, msg, key, sender, correlation_id, reply_to, causation)
        if waits is not None:
            await wait_all(waits)
        return receipt

    def send_nowait(
        self,
        topic: str,
        msg: Message,
        key: str | None,
        sender: str,
        correlation_id: str | None,
        causation: str | None,
    ) -> tuple[Receipt, list[anyio.Event] | None] | None:
        """`publish_from` without a coroutine, if the log appends at once; else None.

        The envelope is appended and offered; the caller awaits the returned
        events (backpressure) if there are any.
        """
        if self._sync_log is None:
            return None
        if self._state is not _State.OPEN and self._state is not _State.CLOSING:
            raise BusClosed(self._state.value, "publish")
        return self._send(topic, msg, key, sender, correlation_id, None, causation)

    def _send(
        self,
        topic: str,
        msg: Message,
        key: str | None,
        sender: str | None,
        correlation_id: str | None,
        reply_to: str | None,
        causation: str | None,
    ) -> tuple[Receipt, list[anyio.Event] | None]:
        # Route, stamp, append and deliver without suspending (a SyncAppend log).
        # The hot path of every publish: _stamp and _deliver are written out here.
        targets = self._route_cache.get(topic)
        if targets is None:
            targets = self._router.route(topic)
        if targets.__class__ is GuardedRoute:
            check_room(targets, topic)
        if not isinstance(msg, _MESSAGE) or (key is not None and not valid_key(key)):
            stamp(topic, msg, key, sender, correlation_id, reply_to, causation)  # raises
        env = Envelope(
            key or "", topic, msg, time.time(), sender, correlation_id, reply_to, causation
        )
        if self.tracing is None:
            receipt = self._sync_log.append_nowait(env)  # type: ignore[union-attr]
        else:
            receipt = self._append_traced(env)
        if receipt.duplicate:
            self._duplicates += 1
            return receipt, None
        self._published += 1
        waits = None
        for target in targets:
            event = target.offer(env)
            if event is not None:
                waits = [event] if waits is None else [*waits, event]
        return receipt, waits

    async def _append(self, env: Envelope) -> Receipt:
        # A log whose append suspends, with a publish span if tracing is on.
        if self.tracing is None:
            return await self._log.append(env)
        return await self.tracing.append(self._log.append, env)

    def _append_traced(self, env: Envelope) -> Receipt:
        assert self.tracing is not None
        assert self._sync_log is not None
        return self.tracing.append_nowait(self._sync_log.append_nowait, env)

    async def _publish_async(
        self,
        topic: str,
        msg: Message,
        key: str | None,
        sender: str | None,
        correlation_id: str | None,
        reply_to: str | None,
        causation: str | None,
    ) -> Receipt:
        # The same steps for a log whose append suspends. A log that attached
        # delivers each envelope itself, in seq order, once durable; otherwise
        # delivery order across concurrent publishers is the order appends return.
        if self._remote is not None:  # the log's server delivers: only append
            env = stamp(topic, msg, key, sender, correlation_id, reply_to, causation)
            receipt = await self._append(env)
            if receipt.duplicate:
                self._duplicates += 1
            else:
                self._published += 1
            return receipt
        targets = self._router.route(topic)
        if targets.__class__ is GuardedRoute:
            check_room(targets, topic)
        env = stamp(topic, msg, key, sender, correlation_id, reply_to, causation)
        receipt = await self._append(env)
        if receipt.duplicate:
            self._duplicates += 1
            return receipt
        self._published += 1
        if self._attach is not None:
            waits = self._delivery.take_waits(env.seq)
        else:
            waits = deliver(env, targets)
            self._delivery.delivered_seq = env.seq
        if waits is not None:
            await wait_all(waits)
        return receipt

    # -- asking -----------------------------------------------------------------------

    async def ask(self, topic: str, msg: Message, timeout: float = 30.0) -> Message:
        """Publish ``msg`` on ``topic`` and return the first reply.

        A handler replies by returning a Message (or with ``ctx.reply``). If several
        actors subscribe, the first reply wins and later ones are ignored.

        Args:
            topic: where to publish; someone must subscribe to it.
            msg: the request.
            timeout: seconds to wait for the reply, publishing included.

        Raises:
            NoSubscriber: no actor subscribes to the topic.
            AskTimeout: no reply came in time (the request stays published).
            AskFailed: the handler failed on every attempt (a `DeadLetter` reply).
            BusClosed: the bus is not open.
        """
        self._require("ask")
        return await self._ask(topic, msg, timeout, None, None, None)

    async def ask_from(
        self,
        topic: str,
        msg: Message,
        timeout: float,
        sender: str,
        correlation_id: str | None,
        causation: str | None,
    ) -> Message:
        """Ask on behalf of an actor."""
        if self._state is not _State.OPEN and self._state is not _State.CLOSING:
            raise BusClosed(self._state.value, "ask")
        return await self._ask(topic, msg, timeout, sender, correlation_id, causation)

    async def _ask(
        self,
        topic: str,
        msg: Message,
        timeout: float,
        sender: str | None,
        correlation_id: str | None,
        causation: str | None,
    ) -> Message:
        targets = self._route_cache.get(topic)
        if targets is None:
            targets = self._router.route(topic)
        if not targets and self._remote is None:  # remote subscribers are not known here
            raise NoSubscriber(topic)
        waiter: Waiter[Message] = self._primitives.waiter()
        pending = self._inbox.pending
        request_id = ""
        try:
            if self._sync_log is not None and not may_block(targets):
                # Nothing can run between this append and the wait below, so the
                # waiter is registered under the log's id before any reply exists,
                # and no time passes that the timeout must account for.
                receipt, _ = self._send(
                    topic, msg, None, sender, correlation_id, self._inbox.topic, causation
                )
                request_id = receipt.id
                pending[request_id] = waiter
                reply = await waiter.wait(timeout)
            else:
                request_id = new_id()
                pending[request_id] = waiter
                reply = await self._ask_slowly(
                    topic, msg, timeout, sender, correlation_id, causation, request_id, waiter
                )
        except TimeoutError:
            raise AskTimeout(topic, timeout) from None
        finally:
            pending.pop(request_id, None)
        if isinstance(reply, DeadLetter):
            raise AskFailed(topic, reply.actor, reply.error_type, reply.error, reply.attempts)
        return reply

    async def _ask_slowly(
        self,
        topic: str,
        msg: Message,
        timeout: float,
        sender: str | None,
        correlation_id: str | None,
        causation: str | None,
        request_id: str,
        waiter: Waiter[Message],
    ) -> Message:
        # The publish may suspend here (a full mailbox, or a log that writes to
        # disk), so the waiter goes in first under an id chosen in advance, and
        # the publish is bounded too (a cancel scope costs ~10 us on asyncio, so
        # only on this path).
        clock = self._primitives.clock
        deadline = clock() + timeout
        with anyio.fail_after(timeout):
            await self.publish_from(
                topic, msg, request_id, sender, correlation_id, causation, self._inbox.topic
            )
        return await waiter.wait(max(0.0, deadline - clock()))

    # -- observing --------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The shared state: a versioned key-value store with compare-and-swap.

        Raises:
            BusClosed: the bus is not open (or closing).
        """
        if self._state is not _State.OPEN and self._state is not _State.CLOSING:
            raise BusClosed(self._state.value, "use the shared state")
        return self._state_store

    async def _publish_state(self, topic: str, msg: StateUpdate, by: str | None) -> Receipt:
        return await self.publish_from(topic, msg, None, by, None, None)

    def costs(self) -> CostReport:
        """Return what model calls cost so far: in all, per actor and per model.

        Completions replayed from the journal after a restart are not counted again.
        """
        if self.models is None:
            return CostReport(total=Spend(), by_actor={}, by_model={})
        return self.models.costs()

    def statistics(self) -> BusStatistics:
        """Return a frozen snapshot of the bus's and each actor's counters.

        Each actor's model and tool counts come from the same totals as `costs`.
        """
        last = self._log.last_seq
        spent = {} if self.models is None else self.models.costs().by_actor
        return BusStatistics(
            last_seq=last,
            published=self._published,
            duplicates=self._duplicates,
            pending_asks=len(self._inbox.pending),
            actors={
                name: actor_statistics(cell, last, spent.get(name))
                for name, cell in self._cells.items()
            },
            models={} if self.models is None else self.models.statistics(),
        )

    def _spend_of(self, actor: str) -> Spend | None:
        # One actor's model spend so far, for `ActorRef.statistics`.
        return None if self.models is None else self.models.costs().by_actor.get(actor)


def _only(group: BaseExceptionGroup[BaseException], exc: BaseException) -> bool:
    """Tell whether ``group`` holds nothing but ``exc`` (the task group's wrapping)."""
    return all(leaf is exc for leaf in _leaves(group))


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found.extend(_leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    return found


def _no_waiter() -> Waiter[Any]:
    raise BusClosed("new", "ask")
