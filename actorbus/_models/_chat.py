"""What goes into and comes out of a model call: chat messages, usage, completions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import msgspec

__all__ = [
    "ChatMessage",
    "Completion",
    "PromptTokensDetails",
    "FunctionCall",
    "ToolCall",
    "ToolRun",
    "Usage",
    "assistant",
    "estimate_tokens",
    "system",
    "tool_result",
    "user",
]

OutputT = TypeVar("OutputT")


class FunctionCall(msgspec.Struct, frozen=True, kw_only=True):
    """The function a tool call names, and its arguments as the model wrote them.

    Attributes:
        name: the tool's name.
        arguments: the arguments: JSON text, not yet decoded or validated.

    Version added: 0.1
    """

    name: str
    arguments: str = "{}"


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    """One tool call of an assistant message, in the chat completions wire shape.

    Attributes:
        id: the call's id, which its result message names.
        function: the tool and its arguments.
        type: always ``"function"``.

    Version added: 0.1
    """

    id: str
    function: FunctionCall
    type: str = "function"

    @property
    def name(self) -> str:
        """The tool called."""
        return self.function.name

    @property
    def arguments(self) -> str:
        """The arguments as the model wrote them (JSON text)."""
        return self.function.arguments


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One message of a chat, as the OpenAI chat completions API takes it.

    Attributes:
        role: ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
        content: the text (None for an assistant message that only calls tools).
        name: an optional participant name.
        tool_calls: an assistant's tool calls.
        tool_call_id: for a ``"tool"`` message, the call it answers.

    Version added: 0.1
    """

    role: str
    content: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


def system(text: str) -> ChatMessage:
    """Return a system message."""
    return ChatMessage(role="system", content=text)


def user(text: str) -> ChatMessage:
    """Return a user message."""
    return ChatMessage(role="user", content=text)


def assistant(text: str, tool_calls: list[ToolCall] | None = None) -> ChatMessage:
    """Return an assistant message (a previous answer, for multi-turn chats)."""
    if tool_calls:
        return ChatMessage(role="assistant", content=text or None, tool_calls=tool_calls)
    return ChatMessage(role="assistant", content=text)


class PromptTokensDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What the prompt tokens were made of, as OpenAI reports it (``usage.prompt_tokens_details``).

    Attributes:
        cached_tokens: prompt tokens served from the provider's prompt cache; they
            are part of ``prompt_tokens`` and are billed at the cached-input price.

    Version added: 0.1
    """

    cached_tokens: int = 0


def tool_result(call_id: str, text: str) -> ChatMessage:
    """Return the message answering tool call ``call_id`` with ``text``."""
    return ChatMessage(role="tool", content=text, tool_call_id=call_id)


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Tokens a call used, as the provider reports them (or estimated: see `Completion`).

    Decoded as the chat completions API sends it; fields a gateway adds are ignored.

    Attributes:
        prompt_tokens: input tokens, cached ones included.
        completion_tokens: output tokens (reasoning tokens included, as billed).
        total_tokens: their sum.
        prompt_tokens_details: the breakdown of the prompt tokens, when the provider
            gives one (None: it did not, so no prompt token counts as cached).

    Version added: 0.1
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the cache (0 when the provider reports none)."""
        details = self.prompt_tokens_details
        return 0 if details is None else details.cached_tokens


class ToolRun(msgspec.Struct, frozen=True, kw_only=True):
    """One tool call of a tool loop, and what running it gave the model.

    Attributes:
        call_id: the id of the model's call.
        name: the tool called.
        arguments: the arguments as the model wrote them (JSON text).
        result: the text sent back to the model: the tool's result, or the error.
        error: True when ``result`` reports an error (invalid arguments, an
            unknown tool, a tool that raised or timed out).
        duration: seconds the tool ran (0.0 when replayed or refused).
        journaled: True when the result was replayed from the journal (a handler
            re-run after a crash) instead of running the tool again.

    Version added: 0.1
    """

    call_id: str
    name: str
    arguments: str
    result: str
    error: bool = False
    duration: float = 0.0
    journaled: bool = False


class Completion(msgspec.Struct, Generic[OutputT], frozen=True, kw_only=True):
    """A model's answer, decoded and validated, with what it cost.

    A call that takes more than one request (a tool loop, or a structured output
    asked again) returns one `Completion` for the whole call: its ``text``,
    ``finish_reason`` and ``output`` are the final answer's; ``usage``, ``cost``,
    ``attempts`` and ``latency`` are summed over every request; ``turns`` holds
    each request's own completion, in order.

    Attributes:
        text: the assistant's text ("" when it only called tools); with
            ``output=``, the raw JSON text the output was decoded from.
        finish_reason: why generation stopped (``"stop"``, ``"length"``, ``"tool_calls"``...).
        tool_calls: the tool calls of this answer (a turn of a tool loop; the
            final answer of a loop has none).
        usage: tokens used.
        model: the model that answered (as the provider names it).
        provider: the name of the provider that answered.
        latency: seconds from sending the successful request to having the answer
            (summed over the requests of a call).
        cost: dollars, from the price table; None when the model has no price (an
            unpriced model on a real endpoint: what it cost is unknown, not $0).
        attempts: requests made for this answer, retries and fallbacks included.
        usage_estimated: True when the provider reported no usage and it was
            estimated (streams without a usage chunk).
        journaled: True when this answer was replayed from the journal instead of
            being requested (a handler re-run after a crash): it cost nothing now.
        output: with ``output=T``, the answer decoded and validated as a ``T``
            (None otherwise).
        tools: the tool calls run after this answer (a turn), or by the whole
            call, in order, with their results.
        turns: every request's completion, in order, when the call took more than
            one; empty when one request answered it.

    Version added: 0.1
    """

    text: str
    finish_reason: str | None
    tool_calls: list[ToolCall] | None = None
    usage: Usage
    model: str
    provider: str
    latency: float
    cost: float | None
    attempts: int = 1
    usage_estimated: bool = False
    journaled: bool = False
    output: OutputT = None  # type: ignore[assignment]  # None unless output= was given
    tools: list[ToolRun] = msgspec.field(default_factory=list)
    turns: list[Completion[None]] = msgspec.field(default_factory=list)


def estimate_tokens(text_chars: int) -> int:
    """Return an estimate of the tokens in ``text_chars`` characters (about four per token).

    Used before a call, to take tokens from a tokens-per-minute limit and to reserve
    budget, and corrected with the real usage afterwards.
    """
    return -(-text_chars // 4)


def prompt_chars(messages: list[ChatMessage], params: Mapping[str, Any] | None = None) -> int:
    """Return the characters of a request's prompt (for `estimate_tokens`).

    The messages' text and tool calls, and, from ``params``, the tools' definitions
    and the ``response_format`` schema: providers bill those as input too.
    """
    total = 0
    for m in messages:
        total += len(m.content or "") + 4
        if m.tool_calls:
            total += sum(len(c.function.name) + len(c.function.arguments) + 8 for c in m.tool_calls)
    if params:
        for field in ("tools", "response_format"):
            if (value := params.get(field)) is not None:
                total += len(msgspec.json.encode(value))
    return total
