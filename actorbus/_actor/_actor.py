"""`Actor`: the class users subclass to react to messages.

The framework claims few names on a subclass: the declarative class attributes
below, the lifecycle hooks `on_start` and `on_stop`, handler methods named ``on_*``,
the runtime attribute `actor_name`, and private ``_actorbus_*`` internals. Anything
else is the user's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, get_args

from .._errors import ActorDefinitionError, InvalidSubscription, InvalidTopic
from .._mailbox import DEFAULT_MAILBOX_SIZE, Overflow
from .._topic import validate_pattern

if TYPE_CHECKING:
    from ._context import Context

__all__ = ["Actor"]

_OVERFLOWS = get_args(Overflow)


class Actor:
    """Base class of actors: subclass it, declare subscriptions, write handlers.

    Example::

        class Greeter(actorbus.Actor):
            subscribe = ("greetings.*",)

            async def on_hello(self, msg: Hello, ctx: actorbus.Context) -> Greeting:
                return Greeting(text=f"hello, {msg.name}")

    A handler is any ``async def on_<something>(self, msg, ctx)`` whose ``msg``
    annotation names a `Message` subclass (or a union of them). A message goes to the
    handler for its most specific type: a handler for a subclass beats one for its
    base. A message on a subscribed topic that no handler accepts is dead-lettered.
    Returning a `Message` from a handler answers an `ask`.

    Class attributes:
        subscribe: topic patterns this actor receives (``*`` is one token, a final
            ``>`` the rest); ``{name}`` stands for the actor's name, so each
            instance can have a topic of its own (``"agents.{name}"``).
        concurrency: how many messages it may handle at once. With 1 (the default)
            messages are handled one at a time in seq order; with N they are
            started in seq order, up to N at a time.
        max_retries: how many times a failing handler is retried before the message
            is dead-lettered on ``_dead.<actor name>``. An error that cannot succeed
            on a retry (a `Permanent` one, such as any `ModelError`) is not retried.
        retry_delay: the first retry's maximum delay in seconds; doubles per retry,
            with full jitter, up to ``retry_delay_max``. 0 retries at once.
        retry_delay_max: the largest retry delay, in seconds.
        mailbox_size: how many messages may wait for this actor
            (default `DEFAULT_MAILBOX_SIZE`, 1024).
        overflow: what a full mailbox does: ``"block"`` the publisher
            (backpressure, the default), ``"drop_oldest"``, or ``"reject"`` with
            `MailboxFull`.
        model: the model `Context.complete` and `Context.stream` call by default
            (None: the configuration's default). A per-actor assignment in the
            model configuration overrides it.

    Version added: 0.1
    """

    subscribe: ClassVar[tuple[str, ...]] = ()
    concurrency: ClassVar[int] = 1
    max_retries: ClassVar[int] = 3
    retry_delay: ClassVar[float] = 0.1
    retry_delay_max: ClassVar[float] = 5.0
    mailbox_size: ClassVar[int] = DEFAULT_MAILBOX_SIZE
    overflow: ClassVar[Overflow] = "block"
    model: ClassVar[str | None] = None

    _actorbus_name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_class_attributes(cls)

    @property
    def actor_name(self) -> str:
        """The name this actor runs under on its bus (set by `Bus.spawn`).

        Raises:
            RuntimeError: the actor has not been spawned.
        """
        if self._actorbus_name is None:
            raise RuntimeError(f"{type(self).__qualname__} has not been spawned on a bus")
        return self._actorbus_name

    async def on_start(self, ctx: Context) -> None:
        """Run once when the actor is spawned, before it receives any message.

        Runs in the task that called `Bus.spawn`. If it raises, ``spawn`` raises the
        same exception and the actor does not start. ``ctx`` can publish, but has no
        current message.
        """

    async def on_stop(self, ctx: Context) -> None:
        """Run once when the actor is stopped, after its last handler has finished.

        Runs in the task that called `Bus.stop`, or the one closing the bus. An
        exception propagates from ``bus.stop``; while the bus closes it is logged
        instead. When the bus closes, publishing from here raises `BusClosed`. Not
        run by `Bus.kill`.
        """


def _check_class_attributes(cls: type[Actor]) -> None:
    name = cls.__qualname__
    subscribe: object = cls.subscribe
    if isinstance(subscribe, str) or not isinstance(subscribe, tuple | list):
        raise ActorDefinitionError(
            name,
            f"`subscribe` must be a tuple of patterns, such as ('tasks.*',), not {subscribe!r}",
        )
    for pattern in subscribe:
        _check_pattern(name, pattern)
    _check_int(cls, "concurrency", 1)
    _check_int(cls, "max_retries", 0)
    _check_int(cls, "mailbox_size", 1)
    for attr in ("retry_delay", "retry_delay_max"):
        value = getattr(cls, attr)
        if not isinstance(value, int | float) or value < 0:
            raise ActorDefinitionError(name, f"`{attr}` must be seconds >= 0, not {value!r}")
    model: object = cls.model
    if model is not None and (not isinstance(model, str) or not model):
        raise ActorDefinitionError(name, f"`model` must be a model name or None, not {model!r}")
    if cls.overflow not in _OVERFLOWS:
        raise ActorDefinitionError(
            name, f"`overflow` must be one of {_OVERFLOWS}, not {cls.overflow!r}"
        )


def _check_pattern(actor: str, pattern: object) -> None:
    if not isinstance(pattern, str):
        kind = type(pattern).__name__
        raise InvalidSubscription(actor, pattern, f"a pattern must be a str, not {kind}")
    try:  # '{name}' becomes the actor's name at spawn; a stand-in token checks the rest
        validate_pattern(pattern.replace("{name}", "name"))
    except InvalidTopic as exc:
        raise InvalidSubscription(actor, pattern, exc.reason) from None


def _check_int(cls: type[Actor], attr: str, least: int) -> None:
    value = getattr(cls, attr)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ActorDefinitionError(
            cls.__qualname__, f"`{attr}` must be an int >= {least}, not {value!r}"
        )
