"""Tools a model may call: typed functions, and actors reached by topic.

A function tool is an ``async def`` (or a plain ``def``, run in a worker thread)
with annotated parameters and a docstring. Its parameters become a msgspec Struct
made once when the tool is defined: its JSON schema is what the model is shown,
and it validates the model's arguments before the function runs. The docstring's
text before its sections is the description; a Google-style ``Args:`` section
describes each parameter.

An actor tool is a topic and the `Message` type its actor takes: the model's
arguments become that message, sent with ``ask`` through the bus (mailbox
backpressure, dead letters, any log, other processes on JetStream), and the reply
is the result.

Running a tool never raises into the loop for a fault of the call itself: bad
arguments, an unknown tool, a tool that raises or runs past its ``timeout`` all
become an error result the model reads (`ToolRun.error`).
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Protocol, TypeVar, final, overload

import anyio
import anyio.to_thread
import msgspec

from .._errors import SchemaError
from .._message import Message
from ._schema import describe, schema_name, strict_schema

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Asker",
    "Tool",
    "ToolArgumentsError",
    "ToolTimeout",
    "actor_tool",
    "tool",
    "tool_set",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool may run before its call is answered with a timeout error."""

RESULT_CHARS = 16_000
"""The most characters of a tool's result sent back to the model (the rest is cut)."""

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Attributes|Returns|Yields|Raises|Examples?|Notes?):\s*$"
)
_DESCRIBING = ("Args", "Arguments", "Parameters", "Attributes")
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class Asker(Protocol):
    """What an actor tool asks through: a `Context` inside a handler, or a `Bus`."""

    async def ask(self, topic: str, msg: Message, timeout: float = ...) -> Message:
        """Publish ``msg`` on ``topic`` and return the reply."""
        ...


class ToolArgumentsError(Exception):
    """The model's arguments for a tool are not valid (internal: becomes an error result)."""


class ToolTimeout(Exception):
    """A tool ran past its timeout (internal: becomes an error result)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"the tool ran past its timeout of {timeout:g} s")


@final
class Tool:
    """A tool a model can call, made by `tool` or `actor_tool`.

    Attributes:
        name: the name the model calls it by.
        description: what the model is told it does.
        parameters: the JSON schema of its arguments (strict where possible).
        strict: whether ``parameters`` meets strict mode (sent as ``strict``).
        timeout: seconds a call may run before it is answered with a timeout error.

    Version added: 0.1
    """

    __slots__ = ("_run", "description", "name", "parameters", "strict", "timeout", "topic")

    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        run: Callable[[str, Asker | None], Awaitable[object]],
        *,
        timeout: float,
        topic: str | None = None,
    ) -> None:
        if not _NAME.match(name):
            raise SchemaError(
                f"tool {name!r}", "a tool name must be 1 to 64 letters, digits, '_' or '-'"
            )
        if timeout <= 0:
            raise SchemaError(f"tool {name!r}", f"timeout must be > 0 seconds, not {timeout!r}")
        self.name = name
        self.description = description
        parameters, self.strict = strict_schema(parameters)
        # The description goes in the function's own field: not again in its parameters.
        self.parameters = {k: v for k, v in parameters.items() if k not in ("title", "description")}
        self._run = run
        self.timeout = timeout
        self.topic = topic  # an actor tool's topic (None: a function)

    def __repr__(self) -> str:
        what = f"topic={self.topic!r}" if self.topic else "function"
        return f"Tool({self.name!r}, {what})"

    def definition(self) -> dict[str, Any]:
        """Return the tool as a request's ``tools`` entry."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    async def run(self, arguments: str, asker: Asker | None) -> str:
        """Run the tool with the model's ``arguments`` (JSON text); return the result as text.

        Raises:
            ToolArgumentsError: the arguments are not JSON, or not valid for the tool.
            ToolTimeout: the tool ran past its ``timeout``.
            Exception: whatever the tool raised.
        """
        result: object = None
        with anyio.move_on_after(self.timeout) as scope:
            result = await self._run(arguments or "{}", asker)
        if scope.cancelled_caught:
            raise ToolTimeout(self.timeout)
        text = result if isinstance(result, str) else msgspec.json.encode(result).decode()
        if len(text) > RESULT_CHARS:
            text = text[:RESULT_CHARS] + f"\n[result cut at {RESULT_CHARS} characters]"
        return text


@overload
def tool(
    fn: F, /, *, name: str | None = None, description: str | None = None, timeout: float = ...
) -> Tool: ...
@overload
def tool(
    fn: None = None, /, *, name: str | None = None, description: str | None = None,
    timeout: float = ...,
) -> Callable[[F], Tool]: ...  # fmt: skip
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = DEFAULT_TOOL_TIMEOUT,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool of a function: ``ab.tool(fn)``, ``@ab.tool`` or ``@ab.tool(name=...)``.

    The function may be ``async`` or plain (a plain one runs in a worker thread).
    Every parameter needs an annotation msgspec can describe; its name, its
    docstring and the parameters' descriptions (a Google-style ``Args:`` section)
    are what the model sees, unless ``name`` or ``description`` say otherwise.

    Raises:
        SchemaError: a parameter is unannotated, ``*args``/``**kwargs``, or of a
            type msgspec cannot describe; or the name is not a valid tool name.

    Version added: 0.1
    """
    if fn is None:
        return functools.partial(
            _function_tool, name=name, description=description, timeout=timeout
        )
    return _function_tool(fn, name=name, description=description, timeout=timeout)


def _function_tool(
    fn: Callable[..., Any] | Tool, *, name: str | None, description: str | None, timeout: float
) -> Tool:
    if isinstance(fn, Tool):
        if name is None and description is None and timeout == fn.timeout:
            return fn
        return Tool(
            name or fn.name,
            fn.description if description is None else description,
            fn.parameters,
            fn._run,
            timeout=timeout,
            topic=fn.topic,
        )
    if not callable(fn):
        raise SchemaError(f"tool {fn!r}", "a tool must be a function or an ab.tool(...)")
    inner = _unpartial(fn)
    tool_name = name or getattr(inner, "__name__", "") or "tool"
    summary, documented = _docstring(inspect.cleandoc(inner.__doc__ or ""))
    arguments = _arguments_struct(fn, tool_name, documented)
    decoder = msgspec.json.Decoder(arguments)
    fields = arguments.__struct_fields__
    asynchronous = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004  # an async callable object
    )

    async def run(text: str, asker: Asker | None) -> object:
        try:
            args = decoder.decode(text)
        except msgspec.DecodeError as exc:
            raise ToolArgumentsError(_argument_problem(exc)) from None
        kwargs = {field: getattr(args, field) for field in fields}
        if asynchronous:
            return await fn(**kwargs)
        return await anyio.to_thread.run_sync(
            functools.partial(fn, **kwargs), abandon_on_cancel=True
        )

    parameters = describe(arguments, f"tool {tool_name!r}")
    return Tool(
        tool_name,
        description if description is not None else summary,
        parameters,
        run,
        timeout=timeout,
    )


def _arguments_struct(
    fn: Callable[..., Any], tool_name: str, documented: dict[str, str]
) -> type[msgspec.Struct]:
    subject = f"tool {tool_name!r}"
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(_annotated(fn), include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise SchemaError(subject, f"its signature cannot be read ({exc})") from None
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    bound = _bound_keywords(fn)
    for param in signature.parameters.values():
        if param.name in bound:
            continue  # fixed by a functools.partial: not the model's to choose
        where = f"{subject}, parameter {param.name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise SchemaError(where, "tools take named parameters only (no *args, **kwargs, or /)")
        if param.name not in hints:
            raise SchemaError(where, "annotate it, so the model is told its type")
        annotation = hints[param.name]
        if param.name in documented:
            annotation = Annotated[annotation, msgspec.Meta(description=documented[param.name])]
        describe(annotation, where)
        if param.default is param.empty:
            fields.append((param.name, annotation))
        else:
            fields.append((param.name, annotation, param.default))
    try:
        return msgspec.defstruct(
            f"{schema_name(tool_name)}_arguments", fields, kw_only=True, forbid_unknown_fields=True
        )
    except TypeError as exc:  # a default msgspec refuses: a non-empty list, dict or set
        raise SchemaError(subject, f"its parameters cannot be described ({exc})") from None


def _unpartial(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return the function a ``functools.partial`` wraps (``fn`` if it is none)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _bound_keywords(fn: Callable[..., Any]) -> set[str]:
    """Return the keywords ``functools.partial`` layers around ``fn`` fix."""
    bound: set[str] = set()
    while isinstance(fn, functools.partial):
        bound |= set(fn.keywords)
        fn = fn.func
    return bound


def _annotated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return what holds ``fn``'s annotations: itself, a partial's function, or ``__call__``."""
    fn = _unpartial(fn)
    if inspect.isroutine(fn) or isinstance(fn, type):
        return fn
    call: Callable[..., Any] = type(fn).__call__  # a callable object
    return call


def _argument_problem(exc: msgspec.DecodeError) -> str:
    """Say what is wrong with a tool call's arguments, for the model to correct."""
    if isinstance(exc, msgspec.ValidationError):
        return str(exc)  # names the field: "Expected `int`, got `str` - at `$.n`"
    return f"the arguments are not valid JSON ({exc})"  # msgspec says only "truncated"...


def _docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Return a docstring's description (before its sections) and its ``Args:`` entries."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    current_indent = 0
    for line in doc.splitlines():
        heading = _SECTION.match(line.strip())
        if heading is not None and not line.startswith((" ", "\t")):
            section, current = heading.group(1), None
            continue
        if section is None:
            summary.append(line)
        elif section in _DESCRIBING and line.strip():
            entry = _ARG.match(line.strip())
            indent = len(line) - len(line.lstrip())
            if entry is not None and (current is None or indent <= current_indent):
                current, current_indent = entry.group(1).lstrip("*"), indent
                args[current] = entry.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {line.strip()}".strip()
    return "\n".join(summary).strip(), args


def actor_tool(
    topic: str,
    request: type[Message],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = DEFAULT_TOOL_TIMEOUT,
) -> Tool:
    """Make a tool of an actor: the model's arguments become ``request``, asked on ``topic``.

    The model is shown ``request``'s fields as the tool's parameters, and its
    docstring as the description (unless ``description`` is given). A call is an
    ``ask`` through the bus of the handler that runs the loop: mailbox
    backpressure applies, a failing handler dead-letters the request and the
    model is told the error, and it works across processes on a `JetStreamLog`.
    The reply `Message`, as JSON, is the result. The name is the topic with its
    dots as ``_`` unless ``name`` is given.

    Raises:
        SchemaError: ``request`` is not a `Message` type, or has no JSON schema.

    Version added: 0.1
    """
    tool_name = name or schema_name(topic)
    subject = f"tool {tool_name!r}"
    if not (isinstance(request, type) and issubclass(request, Message)):  # type: ignore[redundant-expr]
        raise SchemaError(subject, f"the request type must be a Message class, not {request!r}")
    config = request.__struct_config__
    tag_field, tag = config.tag_field, config.tag
    parameters = describe(request, subject)
    summary, documented = _docstring(inspect.cleandoc(request.__doc__ or ""))  # as a function's
    own = parameters.get("$defs", {}).get(parameters.get("$ref", "").removeprefix("#/$defs/"))
    if own is not None:
        properties = own.get("properties", {})
        properties.pop(tag_field, None)  # the model need not send the type's tag
        own["required"] = [r for r in own.get("required", []) if r != tag_field]
        for field, text in documented.items():
            if field in properties:
                properties[field].setdefault("description", text)

    async def run(text: str, asker: Asker | None) -> object:
        try:
            fields = msgspec.json.decode(text)
            if not isinstance(fields, dict):
                raise ToolArgumentsError("Expected `object` - at `$`")
            message = msgspec.convert({**fields, tag_field: tag}, request)
        except msgspec.DecodeError as exc:
            raise ToolArgumentsError(_argument_problem(exc)) from None
        if asker is None:
            raise RuntimeError(
                f"actor tool {tool_name!r} has no bus to ask through: call it from a handler "
                "(ctx.complete), or pass asker=bus to Models.complete"
            )
        return await asker.ask(topic, message, timeout=timeout)

    return Tool(
        tool_name,
        description if description is not None else summary,
        parameters,
        run,
        timeout=timeout,
        topic=topic,
    )


def tool_set(tools: Sequence[Tool | Callable[..., Any]]) -> dict[str, Tool]:
    """Return ``tools`` by name, making tools of plain functions.

    Raises:
        SchemaError: a tool cannot be described, or two share a name.
    """
    found: dict[str, Tool] = {}
    for item in tools:
        made = (
            item
            if isinstance(item, Tool)
            else _function_tool(item, name=None, description=None, timeout=DEFAULT_TOOL_TIMEOUT)
        )
        if made.name in found:
            raise SchemaError(f"tool {made.name!r}", "two tools have this name: rename one")
        found[made.name] = made
    return found
