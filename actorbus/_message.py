"""Messages, the envelope that carries them, and the receipt of a publish.

`Message` is the msgspec Struct base users subclass: frozen (so a message shared by
many actors cannot be changed under them), keyword-only, and tagged with its class
name (so a durable log can tell the type of an encoded message). In memory the
Struct object itself travels; only durable logs encode it, once.

The built-in kinds model what agents say to each other in the source problem:
`Request`, `Response`, `StateUpdate`, `TaskDelegation`, `Register` and `DeadLetter`.
"""

from __future__ import annotations

from typing import Any, final

import msgspec
from typing_extensions import dataclass_transform

__all__ = [
    "DeadLetter",
    "Envelope",
    "EnvelopeInfo",
    "Message",
    "Receipt",
    "Register",
    "Request",
    "Response",
    "StateUpdate",
    "TaskDelegation",
    "Undecodable",
    "message_registry",
    "message_tag",
]


_registry: dict[str, type[Message] | list[type[Message]]] = {}


def _register(cls: type[Message]) -> None:
    # The same class defined again (a module reloaded, a class made in a
    # function) replaces itself; two different classes with one tag are kept
    # as a list, which decoding reports as ambiguous.
    tag = message_tag(cls)
    known = _registry.get(tag)
    others = [known] if isinstance(known, type) else list(known or [])
    same = [
        c for c in others if (c.__module__, c.__qualname__) == (cls.__module__, cls.__qualname__)
    ]
    others = [c for c in others if c not in same]
    _registry[tag] = cls if not others else [*others, cls]


def message_registry() -> dict[str, type[Message] | list[type[Message]]]:
    """Return every Message class defined so far, by tag (a list where tags clash)."""
    return _registry


def message_tag(cls: type[Message]) -> str:
    """Return the type tag of a message class (its class name unless overridden)."""
    tag = cls.__struct_config__.tag
    return tag if isinstance(tag, str) else cls.__name__


class _MessageMeta(msgspec.StructMeta):
    """Makes every Message subclass keyword-only unless it says otherwise.

    msgspec applies ``kw_only`` only to the fields of the class that declares it,
    so without this a subclass's own fields would be positional.
    """

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kwargs: Any,
    ) -> _MessageMeta:
        kwargs.setdefault("kw_only", True)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        _register(cls)  # type: ignore[arg-type]
        return cls


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, metaclass=_MessageMeta):
    """Base class of every message: subclass it and declare typed fields.

    Example::

        class Research(actorbus.Message):
            query: str
            depth: int = 1

    Subclasses are frozen, keyword-only msgspec Structs tagged with their class name
    (pass ``tag="..."`` in the class statement to choose another tag). Keep tags
    unique among the types one log carries.

    Version added: 0.1
    """


class Request(Message):
    """Ask an agent to do something.

    Attributes:
        action: what is asked, in a word or two (``"summarize"``).
        content: the text of the request.
        data: structured inputs, JSON-compatible.
    """

    action: str = ""
    content: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Response(Message):
    """The answer to a `Request`.

    Attributes:
        content: the text of the answer.
        data: structured results, JSON-compatible.
        ok: False when the request could not be done; ``error`` says why.
        error: what went wrong, when ``ok`` is False.
    """

    content: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    ok: bool = True
    error: str | None = None


class StateUpdate(Message):
    """A key of the shared state changed.

    Attributes:
        key: the key that changed.
        value: its new value (None when deleted), JSON-compatible.
        revision: the revision the change created.
        updated_by: the actor (or client) that made the change.
        deleted: True when the key was deleted.
    """

    key: str
    value: Any = None
    revision: int = 0
    updated_by: str | None = None
    deleted: bool = False


class TaskDelegation(Message):
    """Hand a task to an agent that has a capability.

    Attributes:
        task_id: the task's id, stable across retries.
        capability: the capability needed (``"search"``, ``"write"``).
        description: what to do, in plain words.
        inputs: structured inputs, such as earlier tasks' results.
        assigned_to: the actor chosen, once one is.
        deadline: when the assignee must have answered (`time.time`, seconds since
            the epoch); work still going then is abandoned (None: no bound).
    """

    task_id: str
    capability: str
    description: str = ""
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    assigned_to: str | None = None
    deadline: float | None = None


class Register(Message):
    """An actor announces what it can do and where to reach it.

    Attributes:
        actor: the announcing actor's name.
        capabilities: what it can do.
        topics: the patterns it subscribes to.
    """

    actor: str
    capabilities: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


class Undecodable(Message):
    """Stands in for a logged message that cannot be decoded in this process.

    A durable log hands this to an actor in place of the real message (which stays
    in the log untouched); actors dead-letter it unless they handle it.

    Attributes:
        type: the stored message's type tag.
        error: why it cannot be decoded, and what to do.
    """

    type_tag: str
    error: str


class EnvelopeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The envelope of a message, without the message: where and when it travelled.

    Carried by `DeadLetter` so the failed message can be traced back to its place
    in the log. Field meanings are those of `Envelope`.
    """

    seq: int
    id: str
    topic: str
    type: str
    sender: str | None
    timestamp: float
    correlation_id: str | None
    reply_to: str | None
    causation: str | None


class DeadLetter(Message):
    """A message an actor could not handle, with why. Published on ``_dead.<actor>``.

    Attributes:
        actor: the actor that gave up on the message.
        message: the original message.
        envelope: the original message's envelope.
        error_type: the qualified name of the exception (or ``"NoHandler"``).
        error: the exception's text.
        traceback: the formatted traceback of the last attempt ("" if none).
        attempts: how many times a handler ran (0 when none could).
    """

    actor: str
    message: Message
    envelope: EnvelopeInfo
    error_type: str
    error: str
    traceback: str = ""
    attempts: int = 0


@final
class Envelope(msgspec.Struct, gc=False):
    """A message on its way: the message plus where it sits in the log and who sent it.

    Envelopes are made by the bus; handlers see the current one as ``ctx.envelope``.
    Treat them as read-only. (Envelopes hold only strings, numbers and a message, so
    they cannot form reference cycles and skip the cyclic garbage collector.)

    Attributes:
        id: the message id, used for de-duplication: the caller's ``key``, or an
            id the log generates (31 characters, unique across processes, in seq
            order within a log).
        topic: the topic it was published to.
        message: the message itself (the "payload").
        timestamp: when it was published (``time.time()``).
        sender: the name of the publishing actor, or None for a publish from outside.
        correlation_id: the conversation it belongs to. None for a message that
            starts one (unless its publisher names one); a message published while
            handling another inherits the other's correlation id, or its id.
        reply_to: where the reply goes, for a message sent with ``ask``.
        causation: the id of the message whose handler published this one.
        seq: the message's place in the log's total order (0 before it is appended).
    """

    id: str
    topic: str
    message: Message
    timestamp: float
    sender: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    causation: str | None = None
    seq: int = 0

    @property
    def type(self) -> str:
        """The message's type tag."""
        return message_tag(type(self.message))

    def info(self) -> EnvelopeInfo:
        """Return the envelope's fields, without the message, as a Struct."""
        return EnvelopeInfo(
            seq=self.seq,
            id=self.id,
            topic=self.topic,
            type=self.type,
            sender=self.sender,
            timestamp=self.timestamp,
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            causation=self.causation,
        )

    def __repr__(self) -> str:
        # No payload: reprs end up in logs.
        return (
            f"Envelope(seq={self.seq}, id={self.id!r}, topic={self.topic!r}, "
            f"type={self.type!r}, sender={self.sender!r})"
        )


@final
class Receipt(msgspec.Struct, frozen=True, gc=False):
    """What `publish` returns: where the message landed in the log.

    Attributes:
        seq: the message's seq; for a duplicate, the seq of the original.
        id: the message id.
        duplicate: True when the id was already in the log's dedup window, so
            nothing was appended or delivered.
    """

    seq: int
    id: str
    duplicate: bool
