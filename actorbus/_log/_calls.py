"""The model calls a handling left in the journal, read back for inspection tools.

`handling_calls` rebuilds, from the journal alone, the model calls an actor made
while it handled one message: each call's turns (what the request sent and what
the model answered, model, tokens, cost, and whether a re-run of the handler
replayed the turn instead of asking again), and each turn's tool calls (name,
arguments, result, error, duration, replayed). Journal
keys are hashes (see `_journal_keys`), so the keys are computed again from the
actor's name and the message id, and probed: calls 0, 1, 2... (a call whose first
turn failed leaves nothing, so the probing goes a few calls past a gap), turns
0, 1, 2... of each call, then the tool calls each turn asked for.

`actor_names` lists the actors a log knows of (consumer cursors, senders, dead
letter topics): the candidates for having handled a message; `handlings` puts the
two together for one message. Any `LogReader` serves.

Arguments, results, answers and the content of the messages sent are masked as
payloads are: text that is JSON is decoded and every secret-looking key's value
replaced (`redact`); text that is not JSON is kept as it is, as a payload's
strings are. (What a turn sent, and when it answered, are in entries written
since the journal recorded them: an older entry shows none.) Entries are decoded without the
models layer's types (this layer sits below it): the fields read are those of
`Completion` and `ToolRun`; anything else in an entry is ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any, final

import msgspec

from .._journal_keys import call_step, entry_key, replay_mark, tool_entry, turn_entry
from ._reading import LogReader
from ._record import redact

__all__ = [
    "Handling",
    "JournaledCall",
    "JournaledMessage",
    "JournaledTool",
    "JournaledTurn",
    "actor_names",
    "handling_calls",
    "handlings",
    "masked",
]

_GAP = 3  # calls probed past one that left no entry, before giving up
_DEAD = "_dead."


@final
class JournaledTool(msgspec.Struct, frozen=True, kw_only=True):
    """One tool call a model turn asked for, and what running it gave.

    Attributes:
        index: its place among the turn's tool calls (from 0).
        name: the tool called.
        call_id: the model's id for the call.
        arguments: the arguments, masked (see the module docs).
        ran: False when no result was recorded: the loop stopped before running
            it (a bound), or the handler crashed while it ran.
        result: the text the model was given, masked (None when not run).
        error: True when the result reports an error.
        duration: seconds the tool ran.
        replayed: True when a re-run of the handler replayed the recorded result
            instead of running the tool again.
        problem: why the recorded result could not be read (None: it could).
    """

    index: int
    name: str
    call_id: str
    arguments: Any
    ran: bool
    result: Any = None
    error: bool = False
    duration: float = 0.0
    replayed: bool = False
    problem: str | None = None


@final
class JournaledMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One chat message a model request sent, as recorded (masked: see the module docs).

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        content: its text, masked (None for an assistant message of tool calls only).
        name: the participant's name, if given.
        tool_calls: an assistant message's tool calls: ``{"name", "id", "arguments"}``
            each, the arguments masked.
        tool_call_id: a tool message's call id.
    """

    role: str
    content: Any = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] = msgspec.field(default_factory=list)
    tool_call_id: str | None = None


@final
class JournaledTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One model request of a call, as recorded.

    Attributes:
        index: its place in the call (from 0).
        sent: the messages the request added to the previous turn's (all of
            them for a call's first turn), masked.
        answer: the model's text, masked ("" when it only called tools).
        at: when the answer came (seconds since the epoch; None if not recorded).
        model: the model that answered.
        provider: the provider that answered.
        prompt_tokens: input tokens.
        completion_tokens: output tokens.
        cost: dollars (None: the model has no price, or the entry is unreadable).
        latency: seconds the request took.
        attempts: requests made for it, retries and fallbacks included.
        finish_reason: why the model stopped.
        replayed: True when a re-run of the handler replayed this turn from the
            journal instead of asking the model again.
        tools: the tool calls it asked for, in order.
        problem: why the entry could not be read (None: it could).
    """

    index: int
    sent: list[JournaledMessage] = msgspec.field(default_factory=list)
    answer: Any = ""
    at: float | None = None
    model: str = ""
    provider: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    latency: float = 0.0
    attempts: int = 1
    finish_reason: str | None = None
    replayed: bool = False
    tools: list[JournaledTool] = msgspec.field(default_factory=list)
    problem: str | None = None


@final
class JournaledCall(msgspec.Struct, frozen=True, kw_only=True):
    """One model call of a handling (`Context.complete` or `Context.stream`).

    Attributes:
        index: its place among the handling's calls (from 0).
        turns: its turns, in order (more than one for a tool loop or a re-ask).
    """

    index: int
    turns: list[JournaledTurn]


@final
class Handling(msgspec.Struct, frozen=True, kw_only=True):
    """The model calls one actor made while handling one message.

    Attributes:
        actor: the actor's name.
        message_id: the id of the message it handled.
        calls: its calls, in order.
    """

    actor: str
    message_id: str
    calls: list[JournaledCall]


# The fields read from a journaled `Completion` and `ToolRun` (all optional, so a
# field added or dropped later does not make an entry unreadable).
class _Usage(msgspec.Struct, frozen=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Function(msgspec.Struct, frozen=True):
    name: str = ""
    arguments: str = ""


class _ToolCall(msgspec.Struct, frozen=True):
    id: str = ""
    function: _Function = msgspec.field(default_factory=_Function)


class _Message(msgspec.Struct, frozen=True):
    role: str = ""
    content: str | None = None
    name: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None


class _Turn(msgspec.Struct, frozen=True):
    text: str = ""
    at: float | None = None
    sent: list[_Message] = msgspec.field(default_factory=list)
    model: str = ""
    provider: str = ""
    usage: _Usage = msgspec.field(default_factory=_Usage)
    cost: float | None = None
    latency: float = 0.0
    attempts: int = 1
    finish_reason: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Run(msgspec.Struct, frozen=True):
    result: str = ""
    error: bool = False
    duration: float = 0.0


JournalGet = Callable[[str], Awaitable["bytes | None"]]


def masked(text: str) -> Any:
    """Return tool arguments or a result as shown: JSON decoded and `redact`-ed, else as is."""
    try:
        data = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text
    return redact(data)


async def actor_names(reader: LogReader) -> list[str]:
    """Return the names of the actors ``reader``'s log knows of, sorted.

    An actor that handled a message has a cursor (a durable log commits one per
    actor), and one that published or dead-lettered something is a sender or has
    a ``_dead.<name>`` topic.
    """
    names = set(await reader.cursors())
    names.update(name for name in await reader.counts("sender") if name != "-")  # "-": none
    names.update(t[len(_DEAD) :] for t in await reader.counts("topic") if t.startswith(_DEAD))
    return sorted(names)


async def handlings(reader: LogReader, message_id: str, actors: list[str]) -> list[Handling]:
    """Return the handlings of message ``message_id`` by any of ``actors`` that called a model."""
    found = []
    for actor in actors:
        calls = await handling_calls(reader.journal, actor, message_id)
        if calls:
            found.append(Handling(actor=actor, message_id=message_id, calls=calls))
    return found


async def handling_calls(journal: JournalGet, actor: str, message_id: str) -> list[JournaledCall]:
    """Return the model calls ``actor`` made while handling ``message_id``, from the journal.

    ``journal`` looks an entry up by key (None: no such entry). Empty when the
    actor made no call there (or did not handle the message).
    """
    calls: list[JournaledCall] = []
    misses = 0
    for n in itertools.count():
        turns = await _turns(journal, actor, message_id, call_step(n))
        if turns:
            calls.append(JournaledCall(index=n, turns=turns))
            misses = 0
        else:
            misses += 1
            if misses == _GAP:
                return calls
    raise AssertionError("unreachable")  # pragma: no cover


async def _turns(
    journal: JournalGet, actor: str, message_id: str, step: str
) -> list[JournaledTurn]:
    def get(entry: str) -> Awaitable[bytes | None]:
        return journal(entry_key(actor, message_id, step, entry))

    turns: list[JournaledTurn] = []
    for k in itertools.count():
        raw = await get(turn_entry(k))
        if raw is None:
            return turns
        replayed = await get(replay_mark(turn_entry(k))) is not None
        try:
            turn = msgspec.msgpack.decode(raw, type=_Turn)
        except msgspec.DecodeError as exc:
            turns.append(JournaledTurn(index=k, replayed=replayed, problem=_unreadable(exc)))
            return turns  # what follows cannot be read as this turn's tools
        tools = [await _tool(get, k, i, call) for i, call in enumerate(turn.tool_calls or ())]
        turns.append(
            JournaledTurn(
                index=k,
                sent=[_message(m) for m in turn.sent],
                answer=masked(turn.text),
                at=turn.at,
                model=turn.model,
                provider=turn.provider,
                prompt_tokens=turn.usage.prompt_tokens,
                completion_tokens=turn.usage.completion_tokens,
                cost=turn.cost,
                latency=turn.latency,
                attempts=turn.attempts,
                finish_reason=turn.finish_reason,
                replayed=replayed,
                tools=tools,
            )
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _message(sent: _Message) -> JournaledMessage:
    calls = [
        {"name": c.function.name, "id": c.id, "arguments": masked(c.function.arguments)}
        for c in sent.tool_calls or ()
    ]
    content = None if sent.content is None else masked(sent.content)
    return JournaledMessage(
        role=sent.role, content=content, name=sent.name, tool_calls=calls,
        tool_call_id=sent.tool_call_id,
    )  # fmt: skip


async def _tool(
    get: Callable[[str], Awaitable[bytes | None]], k: int, i: int, call: _ToolCall
) -> JournaledTool:
    name = tool_entry(k, i)
    asked = JournaledTool(
        index=i, name=call.function.name, call_id=call.id,
        arguments=masked(call.function.arguments), ran=False,
    )  # fmt: skip
    raw = await get(name)
    if raw is None:
        return asked
    replayed = await get(replay_mark(name)) is not None
    try:
        run = msgspec.msgpack.decode(raw, type=_Run)
    except msgspec.DecodeError as exc:
        return msgspec.structs.replace(asked, ran=True, replayed=replayed, problem=_unreadable(exc))
    return msgspec.structs.replace(
        asked, ran=True, result=masked(run.result), error=run.error,
        duration=run.duration, replayed=replayed,
    )  # fmt: skip


def _unreadable(exc: msgspec.DecodeError) -> str:
    return f"the journal entry cannot be read ({exc})"
