"""What goes into and comes out of a model call: chat messages, usage, completions."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "ChatMessage",
    "Completion",
    "PromptTokensDetails",
    "Usage",
    "assistant",
    "estimate_tokens",
    "system",
    "user",
]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One message of a chat, as the OpenAI chat completions API takes it.

    Attributes:
        role: ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
        content: the text (None for an assistant message that only calls tools).
        name: an optional participant name.
        tool_calls: an assistant's tool calls, passed through as the API gives them.
        tool_call_id: for a ``"tool"`` message, the call it answers.

    Version added: 0.1
    """

    role: str
    content: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


def system(text: str) -> ChatMessage:
    """Return a system message."""
    return ChatMessage(role="system", content=text)


def user(text: str) -> ChatMessage:
    """Return a user message."""
    return ChatMessage(role="user", content=text)


def assistant(text: str) -> ChatMessage:
    """Return an assistant message (a previous answer, for multi-turn chats)."""
    return ChatMessage(role="assistant", content=text)


class PromptTokensDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What the prompt tokens were made of, as OpenAI reports it (``usage.prompt_tokens_details``).

    Attributes:
        cached_tokens: prompt tokens served from the provider's prompt cache; they
            are part of ``prompt_tokens`` and are billed at the cached-input price.

    Version added: 0.1
    """

    cached_tokens: int = 0


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


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """A model's answer, decoded and validated, with what it cost.

    Attributes:
        text: the assistant's text ("" when it only called tools).
        finish_reason: why generation stopped (``"stop"``, ``"length"``, ``"tool_calls"``...).
        tool_calls: the tool calls, passed through as the API gives them.
        usage: tokens used.
        model: the model that answered (as the provider names it).
        provider: the name of the provider that answered.
        latency: seconds from sending the successful request to having the answer.
        cost: dollars, from the price table; None when the model has no price (an
            unpriced model on a real endpoint: what it cost is unknown, not $0).
        attempts: requests made for this answer, retries and fallbacks included.
        usage_estimated: True when the provider reported no usage and it was
            estimated (streams without a usage chunk).
        journaled: True when this answer was replayed from the journal instead of
            being requested (a handler re-run after a crash): it cost nothing now.

    Version added: 0.1
    """

    text: str
    finish_reason: str | None
    tool_calls: list[dict[str, Any]] | None = None
    usage: Usage
    model: str
    provider: str
    latency: float
    cost: float | None
    attempts: int = 1
    usage_estimated: bool = False
    journaled: bool = False


def estimate_tokens(text_chars: int) -> int:
    """Return an estimate of the tokens in ``text_chars`` characters (about four per token).

    Used before a call, to take tokens from a tokens-per-minute limit and to reserve
    budget, and corrected with the real usage afterwards.
    """
    return -(-text_chars // 4)


def prompt_chars(messages: list[ChatMessage]) -> int:
    """Return the characters of text in ``messages`` (for `estimate_tokens`)."""
    return sum(len(m.content or "") + 4 for m in messages)
