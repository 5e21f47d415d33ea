"""Handler discovery: which ``on_*`` method handles which message type.

Handlers are found by the message type in their annotation, never by strings. The
table is built once per actor class, when it is first spawned (annotations may name
types defined after the class), and lookups by concrete message type are cached.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Union, final

from .._errors import ActorDefinitionError
from .._message import Message
from ._actor import Actor

__all__ = ["Handler", "HandlerTable", "handler_table"]

_HOOKS = frozenset({"on_start", "on_stop"})


Handler = Callable[[Any, Message, Any], Awaitable[object]]
"""A handler as found on the class: called as ``handler(actor, msg, ctx)``."""


@final
class HandlerTable:
    """The handlers of one actor class, by the message type they accept.

    Shared by every instance of the class, so an actor costs no per-instance table.

    Attributes:
        by_type: method name for each declared message type.
        functions: the handler function for each concrete message type seen so
            far (None: no handler); read it directly on hot paths, and call
            `function_for` on a miss.
    """

    __slots__ = ("_cls", "by_type", "functions")

    def __init__(self, cls: type[Actor], by_type: dict[type[Message], str]) -> None:
        self._cls = cls
        self.by_type = by_type
        self.functions: dict[type[Message], Handler | None] = {}

    def method_for(self, msg_type: type[Message]) -> str | None:
        """Return the method that handles ``msg_type``: its own handler, else its nearest base's."""
        for base in msg_type.__mro__:
            found = self.by_type.get(base)
            if found is not None:
                return found
        return None

    def function_for(self, msg_type: type[Message]) -> Handler | None:
        """Return the handler function for ``msg_type`` (None if none), caching it."""
        try:
            return self.functions[msg_type]
        except KeyError:
            pass
        method = self.method_for(msg_type)
        found: Handler | None = None if method is None else getattr(self._cls, method)
        self.functions[msg_type] = found
        return found


def handler_table(cls: type[Actor]) -> HandlerTable:
    """Return the handler table of ``cls``, building it on first use.

    Raises:
        ActorDefinitionError: a handler is not ``async``, has the wrong parameters,
            or its message annotation is missing, unresolvable or not a Message type;
            or two handlers of the same class accept the same type.
    """
    table = cls.__dict__.get("_actorbus_handlers")
    if isinstance(table, HandlerTable):
        return table
    table = HandlerTable(cls, _discover(cls))
    cls._actorbus_handlers = table  # type: ignore[attr-defined]
    return table


def _discover(cls: type[Actor]) -> dict[type[Message], str]:
    by_type: dict[type[Message], str] = {}
    owner: dict[type[Message], type] = {}
    for name in sorted(dir(cls)):
        if not name.startswith("on_") or name in _HOOKS:
            continue
        defined_in = next(k for k in cls.__mro__ if name in k.__dict__)
        for msg_type in _accepted_types(cls, name, defined_in.__dict__[name]):
            if msg_type in by_type:
                _resolve_conflict(cls, msg_type, name, defined_in, by_type, owner)
                continue
            by_type[msg_type] = name
            owner[msg_type] = defined_in
    return by_type


def _resolve_conflict(
    cls: type[Actor],
    msg_type: type[Message],
    name: str,
    defined_in: type,
    by_type: dict[type[Message], str],
    owner: dict[type[Message], type],
) -> None:
    other = owner[msg_type]
    if other is defined_in:
        raise ActorDefinitionError(
            cls.__qualname__,
            f"both {by_type[msg_type]}() and {name}() handle {msg_type.__qualname__}; "
            "keep one handler per message type",
        )
    if cls.__mro__.index(defined_in) < cls.__mro__.index(other):
        by_type[msg_type] = name  # the more derived class's handler wins
        owner[msg_type] = defined_in


def _accepted_types(cls: type[Actor], name: str, fn: Any) -> tuple[type[Message], ...]:
    where = f"handler {name}()"
    if not inspect.iscoroutinefunction(fn):
        raise ActorDefinitionError(
            cls.__qualname__,
            f"{where} must be `async def`; methods named on_* are message handlers "
            "(rename it if it is not one)",
        )
    params = list(inspect.signature(fn).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if len(params) != 3 or any(p.kind not in positional for p in params):
        raise ActorDefinitionError(
            cls.__qualname__, f"{where} must take (self, msg, ctx), got {[p.name for p in params]}"
        )
    annotation = _message_annotation(cls, where, fn, params[1].name)
    return _message_types(cls, where, annotation)


def _message_annotation(cls: type[Actor], where: str, fn: Any, param: str) -> Any:
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # a NameError or a bad string annotation
        raise ActorDefinitionError(
            cls.__qualname__,
            f"cannot resolve the annotations of {where} ({exc}); define message types "
            "at module level, where the handler's module can see them",
        ) from exc
    if param not in hints:
        raise ActorDefinitionError(
            cls.__qualname__,
            f"{where} needs a type annotation on `{param}` naming the Message subclass it handles",
        )
    return hints[param]


def _message_types(cls: type[Actor], where: str, annotation: Any) -> tuple[type[Message], ...]:
    members = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (Union, types.UnionType)
        else (annotation,)
    )
    for member in members:
        if not (isinstance(member, type) and issubclass(member, Message)):
            raise ActorDefinitionError(
                cls.__qualname__,
                f"{where} is annotated with {annotation!r}; annotate the message "
                "parameter with a Message subclass or a union of them",
            )
    return members
