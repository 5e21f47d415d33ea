"""`Context`: what a handler can see and do while it handles a message.

A handler gets the current envelope and the means to act on the bus: publish,
reply, ask. Everything published through the context is stamped with the actor as
sender, the current message as its cause, and the current conversation's
correlation id, so a run can be traced back message by message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast, final, overload

import anyio
import msgspec

from .._errors import ModelsConfigError, NoReplyExpected
from .._ids import derived_id
from .._journal_keys import CALL_STEP, entry_key, replay_mark
from .._message import Envelope, Message, Receipt
from .._models import ChatMessage, Completion, Models, Stream, Tool
from .._state import StateView
from ._runtime import Runtime

__all__ = ["Context", "send", "send_waits"]

T = TypeVar("T")

Tools = Sequence[Tool | Callable[..., Any]]

_actor_log = logging.getLogger("actorbus.actor")


@final
class Context:
    """The handler's view of the bus and the message being handled.

    A context is valid while its handler runs: do not keep it for later. With
    ``concurrency = 1`` the actor reuses one context object for every message.

    Attributes:
        actor: the name of the actor handling the message.

    Version added: 0.1
    """

    __slots__ = ("_env", "_model", "_runtime", "_steps", "actor")

    def __init__(self, runtime: Runtime, actor: str, model: str | None = None) -> None:
        self._runtime = runtime
        self._env: Envelope | None = None
        self._steps: dict[str, int] | None = None  # per handling: sends and once keys
        self._model = model  # the actor class's `model`
        self.actor = actor

    def _enter(self, env: Envelope) -> None:
        # Called by the cell before each handler run (a retry too).
        self._env = env
        self._steps = None

    def _step(self, name: str) -> str:
        # The n-th use of `name` in this handling: the same on every re-run.
        steps = self._steps
        if steps is None:
            steps = self._steps = {}
        n = steps.get(name, 0)
        steps[name] = n + 1
        return f"{name}:{n}"

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger for the actor: ``actorbus.actor``, with the actor's name in ``extra``."""
        return logging.LoggerAdapter(_actor_log, {"actor": self.actor})

    def __repr__(self) -> str:
        return f"Context(actor={self.actor!r}, envelope={self._env!r})"

    @property
    def envelope(self) -> Envelope:
        """The envelope of the message being handled.

        Raises:
            RuntimeError: no message is being handled (``on_start``/``on_stop``).
        """
        env = self._env
        if env is None:
            raise RuntimeError(
                f"actor {self.actor!r} is not handling a message here; ctx.envelope "
                "exists only inside handlers"
            )
        return env

    @property
    def message(self) -> Message:
        """The message being handled."""
        return self.envelope.message

    @property
    def seq(self) -> int:
        """The seq of the message being handled."""
        return self.envelope.seq

    @property
    def topic(self) -> str:
        """The topic of the message being handled."""
        return self.envelope.topic

    async def publish(self, topic: str, msg: Message, *, key: str | None = None) -> Receipt:
        """Publish ``msg`` on ``topic`` as this actor; see `Bus.publish`."""
        env = self._env
        if env is None:
            return await self._runtime.publish_from(topic, msg, key, self.actor, None, None)
        # `send`, written out: every message a pipeline stage passes on comes here.
        if key is None:
            key = derived_id(self.actor, env.id, self._step("publish"))
        correlation = env.correlation_id or env.id
        sent = self._runtime.send_nowait(topic, msg, key, self.actor, correlation, env.id)
        if sent is None:
            return await self._runtime.publish_from(
                topic, msg, key, self.actor, correlation, env.id
            )
        receipt, waits = sent
        if waits is not None:
            await send_waits(waits)
        return receipt

    async def reply(self, msg: Message) -> Receipt:
        """Answer the `ask` that sent the current message.

        Returning a Message from the handler does the same. The first reply to
        arrive answers the ask; later ones are ignored.

        Raises:
            NoReplyExpected: the current message was published, not asked.
        """
        env = self.envelope
        if env.reply_to is None:
            raise NoReplyExpected(env.topic)
        return await send(self._runtime, env.reply_to, msg, None, self.actor, env)

    async def once(
        self,
        key: str,
        fn: Callable[[], Awaitable[T]],
        *,
        decode_as: type[T] | Any = Any,
    ) -> T:
        """Run the side effect ``fn`` once per handled message, even across re-runs.

        The result is recorded in the log's journal under a key derived from this
        actor, the current message and ``key`` (and how many times ``key`` was used
        in this handling); when the handler runs again for the same message (a
        retry, or after a crash), the recorded result is returned and ``fn`` is not
        called. The result must be msgspec-encodable; pass ``decode_as`` to get a
        Struct or other type back from the journal (plain JSON-like values need
        nothing).

        Raises:
            RuntimeError: called outside a handler.
        """
        slot = self._journal_slot(f"once:{key}")
        recorded = await slot.get()
        if recorded is not None:
            return cast("T", msgspec.msgpack.decode(recorded, type=decode_as))
        result: T = await fn()
        await slot.put(msgspec.msgpack.encode(result))
        return result

    def _journal_slot(self, name: str) -> _Slot:
        env = self.envelope
        return _Slot(self._runtime, derived_id(self.actor, env.id, self._step(name)))

    @overload
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: type[T],
        model: str | None = None,
        tools: Tools = (),
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[T]: ...
    @overload
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: None = None,
        model: str | None = None,
        tools: Tools = (),
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[None]: ...
    @overload
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object,
        model: str | None = None,
        tools: Tools = (),
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Completion[Any]: ...
    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object = None,
        model: str | None = None,
        tools: Tools = (),
        **params: Any,
    ) -> Completion[Any]:
        """Ask a model for a completion, paid for once per handled message.

        The model is this actor's assignment in the model configuration, else
        ``model``, else the actor's ``model`` attribute, else the configured
        default. ``output=T`` asks for a structured answer decoded and validated as
        a ``T`` (``done.output``); ``tools`` runs a tool loop (actor tools ask
        through this context). The rest is as for `Models.complete`:
        ``output_retries``, ``max_tool_rounds``, ``max_repeats``,
        ``max_tool_errors``, and ``params`` that go into the request
        (``temperature``, ``max_tokens``...).

        Inside a handler every turn and tool result is recorded in the log's
        journal (like `once`): a handler re-run for the same message (a retry, or
        after a crash) replays what was recorded, marked ``journaled``, without a
        request, without running a tool again, and without cost.

        Raises:
            ModelsConfigError: the bus has no models, or no model is configured.
            AuthenticationError, ModelResponseError, ModelUnavailable, BudgetExceeded,
                OutputValidationError, ToolLoopError, SchemaError: see `Models.complete`.
        """
        models, chosen = self._models(model)
        return await models.complete(
            messages, model=chosen, actor=self.actor, output=output, tools=tools,
            journal=self._call_journal(), asker=self, **params,
        )  # fmt: skip

    @overload
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: type[T],
        model: str | None = None,
        tools: Tools = (),
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[T]: ...
    @overload
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: None = None,
        model: str | None = None,
        tools: Tools = (),
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[None]: ...
    @overload
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object,
        model: str | None = None,
        tools: Tools = (),
        output_retries: int = 2,
        max_tool_rounds: int = 8,
        max_repeats: int = 2,
        max_tool_errors: int = 3,
        **params: Any,
    ) -> Stream[Any]: ...
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        output: object = None,
        model: str | None = None,
        tools: Tools = (),
        **params: Any,
    ) -> Stream[Any]:
        """Ask a model for a completion as a `Stream` of text deltas; see `complete`.

        Journaled like `complete`: on a re-run each recorded turn comes back as one
        delta, without a request.
        """
        models, chosen = self._models(model)
        return models.stream(
            messages, model=chosen, actor=self.actor, output=output, tools=tools,
            journal=self._call_journal(), asker=self, **params,
        )  # fmt: skip

    def _call_journal(self) -> _CallJournal | None:
        # One model call's entries, under this handling's n-th call step
        # (``complete:{n}``, as `call_step` names it).
        if self._env is None:
            return None
        return _CallJournal(self._runtime, self.actor, self._env.id, self._step(CALL_STEP))

    @property
    def state(self) -> StateView:
        """The bus's shared state; changes made through it name this actor as ``by``."""
        return StateView(self._runtime.state, self.actor)

    @property
    def models(self) -> Models | None:
        """The bus's models (None: this bus makes no model calls)."""
        return self._runtime.models

    def _models(self, model: str | None) -> tuple[Models, str]:
        models = self._runtime.models
        if models is None:
            raise ModelsConfigError(
                f"actor {self.actor!r} called a model, but its bus has no models: pass "
                "Bus(models=ab.Models(...)) (ab.Models() is the offline echo provider)"
            )
        return models, models.model_for(self.actor, model or self._model)

    async def ask(self, topic: str, msg: Message, timeout: float = 30.0) -> Message:
        """Publish ``msg`` on ``topic`` and wait for the reply; see `Bus.ask`."""
        env = self._env
        return await self._runtime.ask_from(
            topic,
            msg,
            timeout,
            self.actor,
            None if env is None else env.correlation_id or env.id,
            None if env is None else env.id,
        )


async def send(
    runtime: Runtime, topic: str, msg: Message, key: str | None, actor: str, cause: Envelope
) -> Receipt:
    """Publish ``msg`` as ``actor``, caused by ``cause`` (its id, its conversation).

    Uses the runtime's coroutine-free path when the log allows it, since this is
    how every message a handler sends (replies included) goes out.
    """
    correlation = cause.correlation_id or cause.id
    sent = runtime.send_nowait(topic, msg, key, actor, correlation, cause.id)
    if sent is None:
        return await runtime.publish_from(topic, msg, key, actor, correlation, cause.id)
    receipt, waits = sent
    if waits is not None:
        await send_waits(waits)
    return receipt


async def send_waits(events: list[anyio.Event]) -> None:
    """Wait until every mailbox that applied backpressure has taken the envelope."""
    for event in events:
        await event.wait()


@final
class _Slot:
    # One journal entry: a key derived from the actor, the message and the step.
    __slots__ = ("_key", "_runtime")

    def __init__(self, runtime: Runtime, key: str) -> None:
        self._runtime = runtime
        self._key = key

    async def get(self) -> bytes | None:
        return await self._runtime.journal_get(self._key)

    async def put(self, value: bytes) -> None:
        await self._runtime.journal_put(self._key, value)


@final
class _CallJournal:
    # One model call's journal entries (turns, tool results), keyed by the handling
    # (see `_journal_keys`). The loop reads an entry only to replay it, so a hit is
    # a replay: it leaves a mark for `actorbus log trace` (written once, and only
    # on the rare re-run path).
    __slots__ = ("_actor", "_cause", "_runtime", "_step")

    def __init__(self, runtime: Runtime, actor: str, cause: str, step: str) -> None:
        self._runtime = runtime
        self._actor = actor
        self._cause = cause
        self._step = step

    def _key(self, entry: str) -> str:
        return entry_key(self._actor, self._cause, self._step, entry)

    async def get(self, entry: str) -> bytes | None:
        found = await self._runtime.journal_get(self._key(entry))
        if found is not None:
            mark = msgspec.msgpack.encode(time.time())  # when it was first replayed
            await self._runtime.journal_put(self._key(replay_mark(entry)), mark)
        return found

    async def put(self, entry: str, value: bytes) -> None:
        await self._runtime.journal_put(self._key(entry), value)
