"""A model call as a loop: model turn, tool calls, tool results, model turn... until an answer.

One `Call` runs every model call, plain or streamed, with or without tools or a
structured output; a call without either is a loop of one turn. Each turn and
each tool result is written to the call's journal as soon as it exists, under a
name fixed by its place in the loop (``turn:2``, ``turn:2:tool:0``), so a call
run again after a crash replays what it finished, without asking the model or
running a tool again, and goes on from where it stopped: the same requests, the
same tool calls, the same answer. A turn's entry holds its `Completion`, and beside
it (`TurnEntry`) who asked, when the answer came, and the messages the request
added to the one before it, so an inspection tool can show what each model was
sent and what it answered (a re-run reads the entry as a `Completion`, ignoring
those).

The loop is bounded (each bound ends it with `ToolLoopError`, carrying the
transcript): at most ``max_tool_rounds`` turns that call tools; the same tool with
the same arguments at most ``max_repeats`` times; at most ``max_tool_errors``
error results. A structured output that does not validate is asked for again,
with the error, at most ``output_retries`` times (then `OutputValidationError`).
Budgets are reserved and rate limits taken before every turn, by `Models`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractContextManager, aclosing, nullcontext
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, final

import anyio
import msgspec

from .._errors import ModelsConfigError, OutputValidationError, ToolLoopError
from .._journal_keys import tool_entry, turn_entry
from .._trace import ChatScope, ToolScope
from ._chat import (
    ChatMessage,
    Completion,
    PromptTokensDetails,
    ToolCall,
    ToolRun,
    Usage,
    assistant,
    tool_result,
    user,
)
from ._schema import Output
from ._tools import Asker, Tool, ToolArgumentsError, ToolTimeout
from ._turn import Turn

if TYPE_CHECKING:
    from ._models import Models

__all__ = ["Bounds", "Call", "CallJournal", "TurnEntry"]

log = logging.getLogger("actorbus.models")

ERROR_CHARS = 2_000
"""The most characters of an error result (or of an invalid output quoted in an error)."""


class CallJournal(Protocol):
    """Where one call records its turns and tool results, so a re-run replays them.

    Entries are named by their place in the call (``turn:0``, ``turn:0:tool:1``);
    `Context.complete` keeps them in the log's journal under the handling's key.
    """

    async def get(self, entry: str) -> bytes | None:
        """Return the entry recorded earlier, or None."""
        ...

    async def put(self, entry: str, value: bytes) -> None:
        """Record an entry (durably, before the call goes on)."""
        ...


@final
class TurnEntry(Completion[None], frozen=True, kw_only=True):
    """A turn's journal entry: its completion, and what inspection tools read beside it.

    A re-run decodes the entry as a `Completion` (unknown fields are ignored), so
    an entry without these fields (written before they existed) replays the same.

    Attributes:
        actor: the actor whose handler made the call (None outside a handler).
        at: when the answer came (seconds since the epoch).
        sent: the messages this turn's request added to the previous turn's (all
            of them for the first turn): the prompt, then each tool round's
            assistant message and tool results, or a re-ask's feedback.
    """

    actor: str | None = None
    at: float = 0.0
    sent: list[ChatMessage] = msgspec.field(default_factory=list)


@final
class Bounds(msgspec.Struct, frozen=True, kw_only=True):
    """How far a call may go: output retries and the tool loop's limits.

    Raises:
        ModelsConfigError: a bound is negative (or ``max_tool_rounds`` is below 1).
    """

    output_retries: int = 2
    max_tool_rounds: int = 8
    max_repeats: int = 2
    max_tool_errors: int = 3

    def __post_init__(self) -> None:
        for field in self.__struct_fields__:
            value = getattr(self, field)
            least = 1 if field == "max_tool_rounds" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ModelsConfigError(f"{field} must be an int >= {least}, not {value!r}")


TurnFactory = Callable[
    ["Models", list[ChatMessage], str, "str | None", dict[str, Any], "Output[Any] | None"], Turn
]
"""Runs one request: `plain_turn` or `streamed_turn`."""


@final
class Call:
    """One model call: its turns, tool runs and output, replayed from its journal where it can.

    `run` yields the text deltas of streamed turns (nothing for plain ones) and
    leaves the whole call's `Completion` in `completion`.
    """

    __slots__ = (
        "_actor", "_asker", "_bounds", "_chat", "_journal", "_model", "_models", "_output",
        "_params", "_runs", "_stream", "_tools", "_turn", "_turns", "completion",
    )  # fmt: skip

    def __init__(
        self,
        models: Models,
        turn: TurnFactory,
        chat: list[ChatMessage],
        model: str,
        actor: str | None,
        params: dict[str, Any],
        *,
        journal: CallJournal | None,
        output: Output[Any] | None,
        tools: dict[str, Tool],
        bounds: Bounds,
        asker: Asker | None,
        stream: bool,
    ) -> None:
        if tools and any(t.topic for t in tools.values()) and asker is None:
            raise ModelsConfigError(
                "actor tools ask through the bus: call from a handler (ctx.complete), or pass "
                "asker=bus to Models.complete"
            )
        self._models = models
        self._turn = turn
        self._chat = chat
        self._model = model
        self._actor = actor
        if tools:
            params = {**params, "tools": [t.definition() for t in tools.values()]}
        self._params = params
        self._journal = journal
        self._output = output
        self._tools = tools
        self._bounds = bounds
        self._asker = asker
        self._stream = stream  # a journaled turn is yielded as one delta
        self._turns: list[Completion[None]] = []
        self._runs: list[list[ToolRun]] = []  # per turn: the tools run after it
        self.completion: Completion[Any] | None = None

    async def run(self) -> AsyncGenerator[str, None]:
        """Run the call; yield streamed text deltas; set `completion` at the end.

        Raises:
            ToolLoopError: the loop reached one of its bounds.
            OutputValidationError: no answer gave a valid output within ``output_retries``.
            ModelError: a turn failed (see `Models.complete`).
        """
        chat = list(self._chat)
        tally = _Tally()
        sent = 0  # the messages of chat already sent: each turn records what it adds
        while True:
            k = len(self._turns)
            answer: Completion[None] | None = None
            new, sent = chat[sent:], len(chat)
            async with aclosing(self._one_turn(k, chat, new)) as turn:  # closed if we are
                async for item in turn:
                    if isinstance(item, str):
                        yield item
                    else:
                        answer = item
            assert answer is not None  # a turn always ends with its completion
            self._turns.append(answer)
            self._runs.append([])
            if answer.tool_calls and self._tools:
                await self._tool_round(k, answer.tool_calls, answer.text, chat, tally)
            elif self._finished(answer, chat, tally):
                return

    async def _tool_round(
        self, k: int, calls: list[ToolCall], text: str, chat: list[ChatMessage], tally: _Tally
    ) -> None:
        """Run turn ``k``'s tool calls within the bounds; add them and their results to ``chat``."""
        bounds = self._bounds
        tally.rounds += 1
        chat.append(assistant(text, calls))
        if tally.rounds > bounds.max_tool_rounds:
            self._stop(chat, "max_tool_rounds", f"the model asked for tools {tally.rounds} times")
        for call in calls:
            key = call.name, _canonical(call.arguments)
            tally.repeats[key] += 1
            if tally.repeats[key] > bounds.max_repeats:
                self._stop(
                    chat, "max_repeats",
                    f"{call.name} was called with the same arguments "
                    f"{bounds.max_repeats + 1} times (they are in the transcript)",
                )  # fmt: skip
        runs = self._runs[-1] = await self._run_tools(k, calls)
        chat += [tool_result(run.call_id, run.result) for run in runs]
        tally.errors += sum(run.error for run in runs)
        if tally.errors > bounds.max_tool_errors:
            self._stop(chat, "max_tool_errors", f"{tally.errors} tool calls gave errors")

    def _finished(self, answer: Completion[None], chat: list[ChatMessage], tally: _Tally) -> bool:
        """Set `completion` from a final ``answer``, or ask for its output again (False)."""
        output = self._output
        if output is None:
            self.completion = self._whole(None)
            return True
        try:
            value = output.decode(answer.text)
        except msgspec.DecodeError as exc:
            tally.invalid += 1
            if tally.invalid > self._bounds.output_retries:
                raise OutputValidationError(
                    self._model, _cut(answer.text, ERROR_CHARS), str(exc), tally.invalid
                ) from None
            chat += [assistant(answer.text), user(output.feedback(str(exc)))]
            return False
        self.completion = self._whole(value)
        return True

    async def _one_turn(self, k: int, chat: list[ChatMessage], new: list[ChatMessage]) -> Turn:
        """Yield turn ``k``'s deltas and completion: replayed if journaled, else asked for.

        ``new``: the messages of ``chat`` the previous turn did not send.
        """
        models, journal, name = self._models, self._journal, turn_entry(k)
        tracing = models.tracing
        traced: AbstractContextManager[ChatScope | None] = (
            nullcontext() if tracing is None else tracing.chat(self._model, self._actor)
        )
        with traced as scope:
            raw = None if journal is None else await journal.get(name)
            answer: Completion[None] | None = None
            if raw is not None:
                answer = msgspec.structs.replace(
                    msgspec.msgpack.decode(raw, type=Completion[None]), journaled=True
                )
                if answer.text and self._stream:
                    yield answer.text
            else:
                turn = self._turn(
                    models, chat, self._model, self._actor, self._params, self._output
                )
                async with aclosing(turn):  # left early: release the connection and reservation
                    async for item in turn:
                        if isinstance(item, str):
                            yield item
                        else:
                            answer = item
                if answer is None:  # a turn always ends with its completion
                    raise RuntimeError("a model turn ended without its completion")
                if journal is not None:
                    entry = TurnEntry(
                        **msgspec.structs.asdict(answer), actor=self._actor, at=time.time(),
                        sent=new,
                    )  # fmt: skip
                    await journal.put(name, msgspec.msgpack.encode(entry))
            if scope is not None:
                _report(scope, answer)
        yield answer

    async def _run_tools(self, k: int, calls: list[ToolCall]) -> list[ToolRun]:
        """Run turn ``k``'s tool calls concurrently; return their runs, in call order."""
        runs: list[ToolRun | None] = [None] * len(calls)

        async def one(i: int, call: ToolCall) -> None:
            runs[i] = await self._run_tool(tool_entry(k, i), call)

        if len(calls) == 1:
            await one(0, calls[0])
        else:
            async with anyio.create_task_group() as tg:
                for i, call in enumerate(calls):
                    tg.start_soon(one, i, call)
        return [run for run in runs if run is not None]

    async def _run_tool(self, name: str, call: ToolCall) -> ToolRun:
        journal, models = self._journal, self._models
        tracing = models.tracing
        found = self._tools.get(call.name)
        scope_cm: AbstractContextManager[ToolScope | None] = (
            nullcontext()
            if tracing is None
            else tracing.tool(
                call.name, call.id, self._actor, None if found is None else found.description
            )
        )
        with scope_cm as scope:
            raw = None if journal is None else await journal.get(name)
            if raw is not None:  # replayed: the tool is not run again
                run = msgspec.structs.replace(
                    msgspec.msgpack.decode(raw, type=ToolRun), journaled=True
                )
            else:
                started = time.monotonic()
                result, error = await self._execute(call)
                run = ToolRun(
                    call_id=call.id, name=call.name, arguments=call.arguments, result=result,
                    error=error, duration=time.monotonic() - started,
                )  # fmt: skip
            if scope is not None:
                scope.finish(error=run.error, journaled=run.journaled)
        if not run.journaled:
            if journal is not None:
                await journal.put(name, msgspec.msgpack.encode(run))
            models._ledger.tool_ran(self._actor, error=run.error)
        return run

    async def _execute(self, call: ToolCall) -> tuple[str, bool]:
        """Run one tool call; return (the text for the model, whether it is an error)."""
        found = self._tools.get(call.name)
        if found is None:
            offered = ", ".join(sorted(self._tools)) or "none"
            return f"error: there is no tool {call.name!r}; the tools are: {offered}", True
        try:
            return await found.run(call.arguments, self._asker), False
        except ToolArgumentsError as exc:
            problem = f"invalid arguments for {call.name}: {exc}"
        except ToolTimeout as exc:
            problem = str(exc)
        except Exception as exc:
            problem = f"the tool failed: {type(exc).__name__}: {exc}"
            log.info(
                "tool %s failed for actor %r: %s: %s", call.name, self._actor,
                type(exc).__name__, exc, extra={"tool": call.name, "actor": self._actor},
            )  # fmt: skip
        return f"error: {_cut(problem, ERROR_CHARS)}", True

    def _stop(self, chat: list[ChatMessage], reason: str, detail: str) -> NoReturn:
        tools = [run for runs in self._runs for run in runs]
        raise ToolLoopError(self._model, reason, detail, list(chat), tools)

    def _whole(self, value: object) -> Completion[Any]:
        """Return the call's completion: its one turn, or every turn summed."""
        turns, runs = self._turns, self._runs
        last = turns[-1]
        if len(turns) == 1:
            whole: Completion[Any] = msgspec.structs.replace(last, output=value)
            return whole
        each = [msgspec.structs.replace(t, tools=r) for t, r in zip(turns, runs, strict=True)]
        costs = [t.cost for t in turns]
        cached = sum(t.usage.cached_tokens for t in turns)
        usage = Usage(
            prompt_tokens=sum(t.usage.prompt_tokens for t in turns),
            completion_tokens=sum(t.usage.completion_tokens for t in turns),
            total_tokens=sum(t.usage.total_tokens for t in turns),
            prompt_tokens_details=PromptTokensDetails(cached_tokens=cached) if cached else None,
        )
        return Completion[Any](
            text=last.text, finish_reason=last.finish_reason, usage=usage, model=last.model,
            provider=last.provider, latency=sum(t.latency for t in turns),
            cost=None if None in costs else sum(c or 0.0 for c in costs),
            attempts=sum(t.attempts for t in turns),
            usage_estimated=any(t.usage_estimated for t in turns),
            journaled=all(t.journaled for t in turns), output=value,
            tools=[run for r in runs for run in r], turns=each,
        )  # fmt: skip


@final
class _Tally:
    """What a call has used of its bounds so far."""

    __slots__ = ("errors", "invalid", "repeats", "rounds")

    def __init__(self) -> None:
        self.rounds = 0  # turns that called tools
        self.errors = 0  # error results
        self.invalid = 0  # answers whose output did not validate
        self.repeats: Counter[tuple[str, str]] = Counter()  # (tool, arguments) -> calls


def _report(scope: ChatScope, completion: Completion[Any]) -> None:
    """Tell a tracing scope what a turn gave."""
    usage = completion.usage
    scope.finish(
        model=completion.model, provider=completion.provider, prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens, cost=completion.cost,
        attempts=completion.attempts, journaled=completion.journaled,
    )  # fmt: skip


def _canonical(arguments: str) -> str:
    """Return ``arguments`` in one form, so equal arguments written differently match."""
    try:
        return msgspec.json.encode(msgspec.json.decode(arguments), order="sorted").decode()
    except msgspec.DecodeError:
        return arguments.strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
