"""The OpenAI chat completions format as the fake server writes it: pure functions.

Everything here turns a `Reply` (or an error) plus what the request asked for into
bytes, with no I/O, so the shapes are easy to test and cheap per request: one
msgspec encoder is shared by all of them.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import msgspec

from ._spec import Reply, ToolCall

__all__ = [
    "DONE",
    "Answering",
    "call_deltas",
    "completion_body",
    "echo",
    "error_body",
    "estimate_prompt_tokens",
    "event",
    "split_text",
    "reply_finish",
    "text_of",
    "stream_events",
    "to_json",
    "wire_calls",
]

to_json = msgspec.json.Encoder().encode
_WORD_START = re.compile(r"(?<=\s)(?=\S)")

DONE = b"data: [DONE]\n\n"

# status -> (message, type, code) of the error body `Fault.status` sends by default.
_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to access this resource.", "permission_denied", None),
    404: ("The requested resource does not exist.", "invalid_request_error", "not_found"),
    413: ("The request body is too large.", "invalid_request_error", "request_too_large"),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class Answering(msgspec.Struct, frozen=True, kw_only=True):
    """What a chat completion request asked for, as far as the answer's shape goes."""

    id: str
    model: str
    call_id_prefix: str = "call_"
    """What a `ToolCall` without an id gets before its place in the reply."""
    stream: bool = False
    include_usage: bool = False
    prompt_tokens: int = 0


def error_body(
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> bytes:
    """An OpenAI-style error body for ``status``; the arguments override the defaults."""
    default_message, default_type, default_code = _ERRORS.get(
        status,
        ("The server had an error." if status >= 500 else "Request failed.", "api_error", None),
    )
    error = {
        "message": message or default_message,
        "type": type_ or default_type,
        "param": param,
        "code": code or default_code,
    }
    return to_json({"error": error})


def text_of(content: Any) -> str:
    """The text of a message's content: a string, ``None``, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def estimate_prompt_tokens(messages: list[Any]) -> int:
    """A quarter of the characters of all message contents, rounded up."""
    chars = sum(len(text_of(m.get("content"))) for m in messages if isinstance(m, dict))
    return math.ceil(chars / 4)


def echo(body: dict[str, Any]) -> Reply:
    """The default reply: ``"echo: "`` and the content of the last user message."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return Reply(text="echo: " + text_of(message.get("content")))
    return Reply(text="echo: ")


def reply_finish(reply: Reply) -> str:
    """The reply's ``finish_reason``: as given, or by whether it calls tools."""
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if reply.tool_calls else "stop"


def wire_calls(reply: Reply, answering: Answering) -> list[dict[str, Any]]:
    """The reply's tool calls as ``message.tool_calls`` items (dicts pass verbatim)."""
    return [
        call if isinstance(call, dict) else _wire_call(call, answering.call_id_prefix, index)
        for index, call in enumerate(reply.tool_calls or [])
    ]


def _wire_call(call: ToolCall, prefix: str, index: int) -> dict[str, Any]:
    function = {"name": call.name, "arguments": call.arguments_text()}
    call_id = f"{prefix}{index}" if call.id is None else call.id
    return {"id": call_id, "type": "function", "function": function}


def _arguments(call: dict[str, Any]) -> str | None:
    function = call.get("function")
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        return str(function["arguments"])
    return None


def call_deltas(calls: list[dict[str, Any]], chunk: int) -> list[list[dict[str, Any]]]:
    """The ``delta.tool_calls`` of a streamed answer's tool calls, one list per chunk.

    As OpenAI streams them, one call after another: a call's first delta has its
    ``index``, ``id``, ``type``, ``name`` and empty ``arguments``; the arguments
    follow ``chunk`` characters per delta, with only the ``index``. A dict call with
    no string ``function.arguments`` goes out whole in one delta.
    """
    deltas: list[list[dict[str, Any]]] = []
    for place, call in enumerate(calls):
        index = call.get("index", place)
        arguments = _arguments(call)
        if arguments is None:
            deltas.append([{"index": index, **call}])
            continue
        first = {"index": index, **call, "function": {**call["function"], "arguments": ""}}
        deltas.append([first])
        deltas += [
            [{"index": index, "function": {"arguments": arguments[at : at + chunk]}}]
            for at in range(0, len(arguments), chunk)
        ]
    return deltas


def _usage(reply: Reply, answering: Answering) -> dict[str, int]:
    prompt = answering.prompt_tokens if reply.prompt_tokens is None else reply.prompt_tokens
    completion = reply.completion_tokens
    if completion is None:
        arguments = (_arguments(call) or "" for call in wire_calls(reply, answering))
        completion = math.ceil((len(reply.text) + sum(map(len, arguments))) / 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion_body(reply: Reply, answering: Answering) -> bytes:
    """A whole ``chat.completion`` answer."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls is not None:
        message["tool_calls"] = wire_calls(reply, answering)
        if not reply.text:
            message["content"] = None
    return to_json(
        {
            "id": answering.id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or answering.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reply_finish(reply)}],
            "usage": _usage(reply, answering),
        }
    )


def split_text(text: str) -> list[str]:
    """Split ``text`` into word-sized pieces that concatenate back to it."""
    return [piece for piece in _WORD_START.split(text) if piece]


def event(payload: Any) -> bytes:
    """One server-sent event carrying ``payload`` as JSON."""
    return b"data: " + to_json(payload) + b"\n\n"


def _chunk(answering: Answering, model: str, choices: list[Any], **extra: Any) -> bytes:
    return event(
        {
            "id": answering.id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            **extra,
        }
    )


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> list[Any]:
    return [{"index": 0, "delta": delta, "finish_reason": finish_reason}]


def stream_events(reply: Reply, answering: Answering) -> tuple[list[bytes], list[bytes]]:
    """The events of a streamed answer, split as (role and content chunks, the rest).

    The first list holds the role chunk (its content ``""``, or ``null`` when only
    tools are called, as OpenAI sends it) then one chunk per piece of text (see
    `split_text`); the second holds the tool-call deltas (see `call_deltas`), the
    finish chunk, the usage chunk when ``include_usage`` was asked for, and
    ``[DONE]``. `Fault.truncated_stream` sends a prefix of the first list only.
    """
    model = reply.model or answering.model
    content = None if reply.tool_calls and not reply.text else ""
    head = [_chunk(answering, model, _delta({"role": "assistant", "content": content}))]
    head += [_chunk(answering, model, _delta({"content": p})) for p in split_text(reply.text)]
    tail = [
        _chunk(answering, model, _delta({"tool_calls": calls}))
        for calls in call_deltas(wire_calls(reply, answering), reply.arguments_chunk)
    ]
    tail.append(_chunk(answering, model, _delta({}, reply_finish(reply))))
    if answering.include_usage:
        tail.append(_chunk(answering, model, [], usage=_usage(reply, answering)))
    tail.append(DONE)
    return head, tail
