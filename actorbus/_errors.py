"""The exceptions actorbus raises, all under one base, `ActorbusError`.

Each subclass is built from structured fields (the topic, the actor, the size and
the limit) and composes a message that says what went wrong and what to do about
it. Where a builtin exception fits, the class inherits it too, so callers who
already catch `ValueError` or `TimeoutError` keep working.

`Permanent` marks an error that cannot succeed on a retry: the supervisor
dead-letters the message at once instead of running the handler again
(`is_permanent` is that rule, in one place). Users mix it into their own errors.

The tree (``[P]``: also a `Permanent`)::

    ActorbusError
    +-- InvalidTopic (ValueError)            [P] a topic or pattern is malformed
    +-- ActorDefinitionError (TypeError)     [P] an Actor subclass is declared wrongly
    |   +-- InvalidSubscription (InvalidTopic)   its `subscribe` holds a bad pattern
    +-- SchemaError (TypeError)              [P] a tool or output type has no JSON schema
    +-- DuplicateActor (ValueError)              an actor name is already taken on this bus
    +-- UnknownActor (LookupError)               no actor has that name on this bus
    +-- MailboxFull                              a `reject` mailbox refused a message
    +-- NoSubscriber (LookupError)               `ask` found nobody subscribed to the topic
    +-- AskTimeout (TimeoutError)                `ask` got no reply in time
    +-- AskFailed                            [P] the handler of an `ask` failed for good
    +-- NoReplyExpected                      [P] `reply` on a message that was not an ask
    +-- LogTruncated (LookupError)           [P] a log no longer holds the records asked for
    +-- UndecodableRecord (ValueError)       [P] a durable record cannot become a message
    +-- LogFileError                         [P] a log file is not one this version can use
    +-- LogUnavailable                           a log's server cannot be reached or refused
    +-- MessageTooLarge (ValueError)         [P] a message is larger than the log accepts
    +-- BusClosed                                you closed the bus (or have not opened it)
    +-- StateConflict                            a state key changed first (compare-and-swap)
    +-- ModelError                           [P] a model call failed (every subclass is [P])
    |   +-- AuthenticationError                  the provider refused the API key (401/403)
    |   +-- ModelResponseError                   the answer is not a valid completion
    |   +-- ModelUnavailable                     retries and fallbacks are exhausted
    |   |   +-- ModelTimeout (TimeoutError)      the call ran past its deadline
    |   +-- BudgetExceeded                       the call would overspend a budget
    |   |   +-- UnpricedModel                    a budget cannot hold a call with no price
    |   +-- OutputValidationError                no answer gave a valid structured output
    |   +-- ToolLoopError                        a tool loop hit one of its bounds
    +-- ModelsConfigError (ValueError)       [P] the model configuration is wrong or missing
    +-- AsyncioRequired                      [P] a part that needs asyncio ran under Trio

    Permanent (Exception)                        the marker; not an ActorbusError

Not marked, because a later attempt can succeed: `DuplicateActor` and
`UnknownActor` (another task may stop or spawn the actor), `MailboxFull`,
`NoSubscriber`, `AskTimeout`, `LogUnavailable` and `StateConflict`; nor is
`BusClosed`, which is about the bus, not the message (dead-lettering at once
would let a durable cursor pass a message a restart should handle).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "ActorDefinitionError",
    "ActorbusError",
    "AskFailed",
    "AskTimeout",
    "AsyncioRequired",
    "AuthenticationError",
    "BudgetExceeded",
    "BusClosed",
    "ModelError",
    "ModelResponseError",
    "ModelTimeout",
    "OutputValidationError",
    "SchemaError",
    "ToolLoopError",
    "ModelUnavailable",
    "ModelsConfigError",
    "StateConflict",
    "DuplicateActor",
    "InvalidSubscription",
    "InvalidTopic",
    "LogTruncated",
    "MailboxFull",
    "NoReplyExpected",
    "NoSubscriber",
    "Permanent",
    "LogFileError",
    "LogUnavailable",
    "MessageTooLarge",
    "UndecodableRecord",
    "UnknownActor",
    "UnpricedModel",
    "is_permanent",
]


class Permanent(Exception):
    """Marks an error that cannot succeed on a retry: the supervisor does not retry it.

    A handler that raises a `Permanent` error has its message dead-lettered at
    once (``attempts=1``; an `ask` gets `AskFailed` at once) instead of being run
    again ``max_retries`` times. Mix it into your own errors when running the
    handler again with the same message can only fail the same way::

        class PaymentDeclined(actorbus.Permanent, ValueError):
            pass

    actorbus marks its own such errors (the tree in docs/concepts.md shows which),
    among them every `ModelError`: the models layer has already spent its own
    retries and fallbacks, so running the handler again would only multiply them.

    Version added: 0.1
    """


def is_permanent(exc: BaseException) -> bool:
    """Tell whether ``exc`` cannot succeed on a retry: the supervisor's one rule.

    Permanent are: a `Permanent` (actorbus's marked errors and users' own);
    msgspec's ``DecodeError``, ``ValidationError`` included (a handler decoding
    or validating data in its message fails the same way every time); and an
    exception group whose exceptions all are (a task group of model calls that
    all gave up).
    """
    if isinstance(exc, Permanent | msgspec.DecodeError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(is_permanent(inner) for inner in exc.exceptions)
    return False


class ActorbusError(Exception):
    """Base class of every error actorbus raises on purpose.

    Version added: 0.1
    """


class InvalidTopic(ActorbusError, ValueError, Permanent):
    """A topic or subscription pattern is malformed.

    Attributes:
        topic: the offending text, as given.
        reason: why it was refused.
    """

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(
            f"invalid topic {topic!r}: {reason}. Topics are dot-separated tokens of "
            "printable, non-space characters, such as 'tasks.research'; subscription "
            "patterns may use '*' for one token and a final '>' for the rest."
        )


class ActorDefinitionError(ActorbusError, TypeError, Permanent):
    """An `Actor` subclass is declared in a way actorbus cannot use.

    Raised when the class is defined (bad class attributes) or first spawned (bad
    handlers), never later while messages flow.

    Attributes:
        actor: the qualified name of the actor class.
        problem: what is wrong and how to fix it.
    """

    def __init__(self, actor: str, problem: str) -> None:
        self.actor = actor
        self.problem = problem
        super().__init__(f"actor class {actor}: {problem}")


class InvalidSubscription(ActorDefinitionError, InvalidTopic):
    """An `Actor` subclass's ``subscribe`` holds a malformed pattern (or one not a str).

    Raised when the class is defined. It is both a mistake in the class
    (`ActorDefinitionError`) and a bad pattern (`InvalidTopic`), so either
    ``except`` catches it.

    Attributes:
        actor: the qualified name of the actor class.
        topic: the offending pattern as written (its repr if it is not a str).
        reason: why it was refused.
        problem: the whole complaint, as `ActorDefinitionError` has it.

    Version added: 0.1
    """

    def __init__(self, actor: str, pattern: object, reason: str) -> None:
        self.actor = actor
        self.topic = pattern if isinstance(pattern, str) else repr(pattern)
        self.reason = reason
        self.problem = (
            f"`subscribe` holds the invalid pattern {pattern!r}: {reason}. Patterns are "
            "dot-separated tokens such as 'tasks.research'; '*' stands for one token, a "
            "final '>' for the rest, and '{name}' for the actor's name"
        )
        # Both bases build a message in their __init__; this one is both, so it
        # sets their fields itself and builds one message.
        Exception.__init__(self, f"actor class {actor}: {self.problem}")


class SchemaError(ActorbusError, TypeError, Permanent):
    """A tool or a structured output type cannot be described to a model.

    Raised where the tool or the output is defined (``ab.tool``, ``output=``),
    before any request.

    Attributes:
        subject: what was being described (a tool and parameter, or the output).
        problem: what is wrong and how to fix it.
    """

    def __init__(self, subject: str, problem: str) -> None:
        self.subject = subject
        self.problem = problem
        super().__init__(f"{subject}: {problem}")


class DuplicateActor(ActorbusError, ValueError):
    """An actor with this name already runs on the bus.

    Attributes:
        name: the name that is taken.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"an actor named {name!r} already runs on this bus; pick another name, or "
            f"stop the running one first with `await bus.stop({name!r})`"
        )


class UnknownActor(ActorbusError, LookupError):
    """No actor with this name runs on the bus.

    Attributes:
        name: the name that was looked up.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"no actor named {name!r} runs on this bus; `bus.actors()` lists the running ones"
        )


class MailboxFull(ActorbusError):
    """A mailbox with the `reject` overflow policy is full, so the message was refused.

    Nothing was appended to the log: the publish had no effect and may be retried.

    Attributes:
        actor: the actor whose mailbox is full.
        size: the mailbox's capacity.
        topic: the topic of the refused message.
    """

    def __init__(self, actor: str, size: int, topic: str) -> None:
        self.actor = actor
        self.size = size
        self.topic = topic
        super().__init__(
            f"mailbox of actor {actor!r} is full ({size} messages) and its overflow "
            f"policy is 'reject', so the message to {topic!r} was not published; "
            "retry later, give the actor a larger `mailbox_size`, or use "
            "overflow='block' for backpressure"
        )


class NoSubscriber(ActorbusError, LookupError):
    """`ask` was called on a topic no actor subscribes to, so no reply could come.

    Attributes:
        topic: the topic asked.
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(
            f"no actor subscribes to {topic!r}, so nobody could answer this ask; "
            "spawn an actor whose `subscribe` matches it first"
        )


class AskTimeout(ActorbusError, TimeoutError):
    """No reply to an `ask` arrived within its timeout.

    The request itself was published and may still be handled later.

    Attributes:
        topic: the topic asked.
        timeout: the timeout, in seconds.
    """

    def __init__(self, topic: str, timeout: float) -> None:
        self.topic = topic
        self.timeout = timeout
        super().__init__(
            f"no reply to the ask on {topic!r} within {timeout:g} s; the handler "
            "may be slow, blocked, or may return None instead of a Message (a "
            "handler answers an ask by returning a Message or calling ctx.reply)"
        )


class AskFailed(ActorbusError, Permanent):
    """The handler of an `ask` raised on every attempt, so the request was dead-lettered.

    `Permanent`: the asked actor has spent its retries, so an asking handler that
    lets this escape is not run again (which would ask, and retry, all over).

    Attributes:
        topic: the topic asked.
        actor: the actor whose handler failed.
        error_type: the qualified name of the exception the handler raised.
        error: the text of that exception.
        attempts: how many times the handler ran.
    """

    def __init__(self, topic: str, actor: str, error_type: str, error: str, attempts: int) -> None:
        self.topic = topic
        self.actor = actor
        self.error_type = error_type
        self.error = error
        self.attempts = attempts
        super().__init__(
            f"actor {actor!r} failed to answer the ask on {topic!r} after {attempts} "
            f"attempt(s): {error_type}: {error}; the request is in its dead letters "
            f"(topic '_dead.{actor}')"
        )


class NoReplyExpected(ActorbusError, Permanent):
    """`ctx.reply` was called while handling a message that was not sent with `ask`.

    Attributes:
        topic: the topic of the message being handled.
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(
            f"the message on {topic!r} was published, not asked, so nobody waits for "
            "a reply; publish the answer to a topic instead"
        )


class LogTruncated(ActorbusError, LookupError, Permanent):
    """A log no longer holds the records asked for: they fell out of its retention.

    Attributes:
        from_seq: the first seq asked for.
        first_seq: the oldest seq the log still holds.
    """

    def __init__(self, from_seq: int, first_seq: int) -> None:
        self.from_seq = from_seq
        self.first_seq = first_seq
        super().__init__(
            f"records from seq {from_seq} are no longer retained (the oldest is "
            f"{first_seq}); read from {first_seq}, or keep more with a larger "
            "retention (MemoryLog(retain=...)) or a durable log"
        )


class UndecodableRecord(ActorbusError, ValueError, Permanent):
    """A record in a durable log cannot be decoded into a message.

    The record stays in the log untouched; an actor that was to receive it gets a
    `DeadLetter` instead.

    Attributes:
        seq: the record's seq.
        type: the record's type tag.
        reason: why it cannot be decoded, and what to do.
    """

    def __init__(self, seq: int, type: str, reason: str) -> None:
        self.seq = seq
        self.type = type
        self.reason = reason
        super().__init__(f"record seq={seq} of type {type!r} cannot be decoded: {reason}")


class LogFileError(ActorbusError, Permanent):
    """A log file cannot be used: it is not an actorbus log, is newer, or is damaged.

    The file is left exactly as it was found.

    Attributes:
        path: the file.
        problem: what is wrong and what to do.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"cannot use log file {path!r}: {problem}")


class LogUnavailable(ActorbusError):
    """A log's server could not be reached in time, or refused to store a record.

    For an append, whether the record was stored is unknown unless ``reason``
    says it was refused: publishing again with the same key is safe (the log
    drops a duplicate and answers with the original seq).

    Attributes:
        log: the log, as its repr shows it (credentials never included).
        reason: what happened, and what to do.
    """

    def __init__(self, log: str, reason: str) -> None:
        self.log = log
        self.reason = reason
        super().__init__(f"event log {log} is unavailable: {reason}")


class MessageTooLarge(ActorbusError, ValueError, Permanent):
    """A message, once encoded, is larger than the log accepts; nothing was stored.

    Raised before the log gives it a seq: the log goes on, and the message can be
    published again once it is smaller (or the limit larger).

    Attributes:
        topic: where it was published: ``_state.<key>`` for a state value,
            ``_journal.<key>`` for a journal entry (a `Context.once` result or a
            model completion).
        size: its encoded size in bytes (payload and headers).
        limit: the most the log accepts, in bytes.
        setting: what to raise to accept it, as the message names it: the log's
            own setting (``SqliteLog(max_message_bytes=...)``) or the NATS
            server's ``max_payload``.
    """

    def __init__(self, topic: str, size: int, limit: int, *, setting: str) -> None:
        self.topic = topic
        self.size = size
        self.limit = limit
        self.setting = setting
        super().__init__(
            f"a message on {topic!r} is {size:,} bytes encoded, over the log's limit of "
            f"{limit:,}: send a reference (a path, a URL, a state key) instead of the data, "
            f"or raise {setting}"
        )


class BusClosed(ActorbusError):
    """The bus is not open: it was never entered, or it has been (or is being) closed.

    This is about your program's use of the bus, not a failure of the bus.

    Attributes:
        state: the bus state at the time, such as 'new', 'closing' or 'closed'.
    """

    def __init__(self, state: str, action: str) -> None:
        self.state = state
        super().__init__(
            f"cannot {action}: the bus is {state}. Use the bus inside "
            "`async with Bus(...) as bus:`; a closed bus cannot be reopened, make a "
            "new one"
        )


class ModelError(ActorbusError, Permanent):
    """A model call failed; the subclass says how.

    Every `ModelError` is `Permanent`: the models layer retries what a retry can
    mend (429, 5xx, timeouts) and tries the fallbacks before it raises, so the
    supervisor does not run the handler again.

    Attributes:
        model: the model asked for.
    """

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(message)


class AuthenticationError(ModelError):
    """The provider refused the credentials (HTTP 401 or 403); the call is not retried.

    The key itself is never included; the message names where it comes from.

    Attributes:
        status: the HTTP status.
        base_url: the provider's base URL.
        api_key_env: the environment variable the key is read from (None: no key set).
    """

    def __init__(self, model: str, status: int, base_url: str, api_key_env: str | None) -> None:
        self.status = status
        self.base_url = base_url
        self.api_key_env = api_key_env
        where = (
            f"the key in the environment variable {api_key_env}"
            if api_key_env
            else "the provider's api_key_env setting (no key is configured)"
        )
        super().__init__(
            model,
            f"{base_url} refused the credentials for model {model!r} (HTTP {status}): check "
            f"{where}, and that base_url points at the gateway that issued it",
        )


class ModelResponseError(ModelError):
    """The provider's answer is not a valid chat completion (or is too large).

    Attributes:
        status: the HTTP status of the answer (0 if none arrived whole).
        excerpt: the start of the body, truncated, for diagnosis.
        reason: what is wrong with it.
    """

    def __init__(self, model: str, status: int, reason: str, excerpt: str = "") -> None:
        self.status = status
        self.reason = reason
        self.excerpt = excerpt
        shown = f"; body starts: {excerpt!r}" if excerpt else ""
        super().__init__(
            model,
            f"model {model!r} answered HTTP {status} with an invalid completion: {reason}{shown}",
        )


class ModelUnavailable(ModelError):
    """Every attempt failed (retries, then each fallback), or the deadline passed.

    Attributes:
        attempts: how many requests were made in all.
        last_error: a description of the last failure.
    """

    def __init__(self, model: str, attempts: int, last_error: str) -> None:
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(
            model,
            f"model {model!r} is unavailable after {attempts} attempt(s) (last: {last_error}); "
            "raise max_attempts or deadline, configure fallbacks, or check the provider",
        )


class BudgetExceeded(ModelError):
    """A call was refused before it was made: it could overspend a budget.

    Attributes:
        scope: ``"run"`` or the actor whose budget it is.
        budget: the budget in dollars.
        spent: dollars spent or reserved so far.
        needed: the estimated (worst-case) cost of the refused call.
    """

    def __init__(self, model: str, scope: str, budget: float, spent: float, needed: float) -> None:
        self.scope = scope
        self.budget = budget
        self.spent = spent
        self.needed = needed
        whose = "the run" if scope == "run" else f"actor {scope!r}"
        super().__init__(
            model,
            f"a call to {model!r} could cost up to ${needed:.6f}, and {whose} has "
            f"${max(budget - spent, 0.0):.6f} left of its ${budget:.6f} budget: raise the "
            "budget, lower max_tokens, or use a cheaper model",
        )


class UnpricedModel(BudgetExceeded):
    """A call was refused before it was made: its model has no price, and a budget applies.

    A budget can only hold calls whose cost is known. Give the model a price, or
    let unpriced calls run outside the budgets (``Budgets(allow_unpriced=True)``).

    Attributes:
        scope: ``"run"`` or the actor whose budget it is.
        budget: the budget in dollars.
        spent: dollars spent or reserved so far.
        needed: infinity: what the call could cost is unknown.
    """

    def __init__(self, model: str, scope: str, budget: float, spent: float) -> None:
        self.scope = scope
        self.budget = budget
        self.spent = spent
        self.needed = float("inf")
        whose = "the run's" if scope == "run" else f"actor {scope!r}'s"
        ModelError.__init__(
            self,
            model,
            f"model {model!r} has no price, so a call to it cannot be held to {whose} "
            f"${budget:.6f} budget: add its price (--prices FILE, [prices] in actorbus.toml, "
            "or ModelsConfig.prices), or set allow_unpriced = true under [budget] "
            "(Budgets(allow_unpriced=True)) to let it run uncounted",
        )


class OutputValidationError(ModelError):
    """A structured output did not validate, on the first answer nor on any re-ask.

    Every answer was asked for (and paid for) within ``output_retries``; the
    validation error of each was fed back to the model.

    Attributes:
        text: the last answer's raw text (the API key masked), cut to 2,000 characters.
        error: why it did not validate (msgspec's message, naming the path).
        attempts: answers asked for in all.
    """

    def __init__(self, model: str, text: str, error: str, attempts: int) -> None:
        self.text = text
        self.error = error
        self.attempts = attempts
        shown = text if len(text) <= 200 else text[:200] + "..."
        super().__init__(
            model,
            f"model {model!r} gave no valid structured output in {attempts} answer(s) "
            f"(last: {error}; it said {shown!r}): raise output_retries, simplify the "
            "output type, use a stronger model, or check the provider's structured_output "
            "setting",
        )


class ToolLoopError(ModelError):
    """A tool loop was stopped at one of its bounds before the model answered.

    Attributes:
        reason: which bound: ``"max_tool_rounds"``, ``"max_repeats"`` or
            ``"max_tool_errors"``.
        detail: what happened, in words.
        transcript: the chat so far (`ChatMessage` values: the prompt, each answer
            and each tool result), for diagnosis.
        tools: every tool call run so far (`ToolRun` values), in order.
    """

    def __init__(
        self, model: str, reason: str, detail: str, transcript: list[Any], tools: list[Any]
    ) -> None:
        self.reason = reason
        self.detail = detail
        self.transcript = transcript
        self.tools = tools
        super().__init__(
            model,
            f"the tool loop of model {model!r} was stopped by {reason}: {detail}; raise "
            f"{reason} if the task needs it, or change the prompt or the tools",
        )


class ModelsConfigError(ActorbusError, ValueError, Permanent):
    """The model configuration is wrong: an unknown model, a bad file, a missing setting.

    Attributes:
        problem: what is wrong and what to do.
    """

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


class AsyncioRequired(ActorbusError, Permanent):
    """A part of actorbus that only runs on asyncio was used under another library.

    Args:
        part: what needs asyncio.
        reason: why it does.
        remedy: what else the user can do (after "run this bus under asyncio, or").

    Attributes:
        part: what needs asyncio.
    """

    def __init__(
        self,
        part: str,
        reason: str,
        remedy: str = "leave models unset to use the rest of actorbus under Trio",
    ) -> None:
        self.part = part
        super().__init__(
            f"{part} needs asyncio ({reason}); run this bus under asyncio, or {remedy}"
        )


class StateConflict(ActorbusError):
    """A state change lost: the key's revision is not the one expected.

    Attributes:
        key: the key.
        expected: the revision the change expected (0: that the key is missing).
        actual: the key's revision now (0: it is missing).
    """

    def __init__(self, key: str, expected: int | None, actual: int | None) -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        now = "missing" if not actual else f"at revision {actual}"
        wanted = "missing" if expected == 0 else f"at revision {expected}"
        super().__init__(
            f"state key {key!r} is {now}, not {wanted}: someone changed it first; re-read "
            "it and try again, or use update(), which does that for you"
        )


class ModelTimeout(ModelUnavailable, TimeoutError):
    """A model call ran past its provider's ``deadline``.

    The deadline bounds the whole call, from the first request to the last byte of
    the answer, retries and streaming included: a server that keeps a stream
    alive with comments or empty deltas cannot hold a handler forever.

    Attributes:
        deadline: the deadline, in seconds.
    """

    def __init__(self, model: str, attempts: int, deadline: float, during: str) -> None:
        self.deadline = deadline
        super().__init__(model, attempts, f"the call's deadline of {deadline:g} s passed {during}")
