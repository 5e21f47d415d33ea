"""What FakeOpenAI can be told to do: `Reply`, `Fault`, and what it saw: `RecordedRequest`.

These are plain frozen descriptions with no I/O, so a test can build them, compare
them and queue them with `FakeOpenAI.script` before a single request arrives. The
server turns each one into bytes on the wire in ``_respond``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, final

import msgspec

__all__ = ["Fault", "FaultKind", "RecordedRequest", "Reply", "Step", "ToolCall"]

_to_json = msgspec.json.Encoder().encode

FaultKind: TypeAlias = Literal[
    "status", "hang", "malformed", "inconsistent", "truncated_stream", "disconnect"
]


class ToolCall(msgspec.Struct, frozen=True):
    """One tool call for a `Reply` to make: ``ToolCall("get_weather", {"city": "Paris"})``.

    The server sends it as OpenAI does, ``{"id", "type": "function", "function":
    {"name", "arguments"}}``, whatever the request's ``tools`` say: noticing an
    unknown tool or bad arguments is the client's job.

    Attributes:
        name: The function's name.
        arguments: A dict (or any value msgspec can encode), sent as its JSON text; or
            a string, sent as it is, so a test can send arguments that are not JSON.
        id: The call's id; ``None`` gives ``"call_<n>_<i>"``, where ``n`` numbers the
            completion (as in its ``chatcmpl-<n>`` id) and ``i`` is the call's place in
            the reply, so ids are unique per server and predictable in order.

    Raises:
        TypeError: If ``arguments`` is neither a string nor encodable as JSON.

    Version added: 0.1
    """

    name: str
    arguments: Any = msgspec.field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        self.arguments_text()  # refuse unencodable arguments now, not mid-request

    def arguments_text(self) -> str:
        """The ``function.arguments`` string the server sends."""
        if isinstance(self.arguments, str):
            return self.arguments
        return _to_json(self.arguments).decode()


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """A successful chat completion for the fake server to send.

    Attributes:
        text: The assistant message's content. A structured answer is just text: see
            `Reply.json`, or pass invalid JSON or a schema violation as ``text``.
        finish_reason: The choice's ``finish_reason``; ``None`` means ``"tool_calls"``
            when the reply has tool calls, else ``"stop"``.
        tool_calls: The calls for ``message.tool_calls``: `ToolCall` specs, or dicts
            sent verbatim (given an ``index`` in a stream if they have none). With tool
            calls and no text, the content is ``null``, as OpenAI sends it. Streamed,
            each call's first delta carries its ``index``, ``id``, ``type``, ``name``
            and empty ``arguments``; the arguments follow in fragments (see
            ``arguments_chunk``) that the client must join.
        arguments_chunk: Characters of a tool call's arguments per streamed delta.
        prompt_tokens: Reported prompt tokens; ``None`` estimates them as a quarter of
            the characters of all the request's message contents, rounded up.
        completion_tokens: Reported completion tokens; ``None`` estimates a quarter of
            the characters of ``text`` and of the tool calls' arguments, rounded up.
        model: The answer's ``model``; ``None`` echoes the request's.

    Raises:
        ValueError: If ``arguments_chunk`` is less than 1.
    """

    text: str = ""
    finish_reason: str | None = None
    tool_calls: Sequence[ToolCall | dict[str, Any]] | None = None
    arguments_chunk: int = 8
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.arguments_chunk < 1:
            raise ValueError(f"arguments_chunk must be >= 1, got {self.arguments_chunk}")

    @staticmethod
    def json(value: Any, **fields: Any) -> Reply:
        """A reply whose text is ``value`` as JSON, such as a structured answer.

        ``value`` is anything msgspec encodes (a dict, a list, a Struct...); ``fields``
        are other `Reply` fields. Version added: 0.1.
        """
        return Reply(text=_to_json(value).decode(), **fields)


class Fault(msgspec.Struct, frozen=True, kw_only=True, repr_omit_defaults=True):
    """A misbehaviour for the fake server to act out, built by one of the factories.

    Use the static methods (`Fault.status`, `Fault.hang`, ...) rather than the
    constructor: each documents what the client sees.
    """

    kind: FaultKind
    code: int = 200
    retry_after: str | None = None
    retry_after_ms: int | None = None
    body: str | None = None
    seconds: float = 0.0
    after_chunks: int = 0

    @staticmethod
    def status(
        code: int,
        *,
        retry_after: str | None = None,
        retry_after_ms: int | None = None,
        body: str | None = None,
    ) -> Fault:
        """Answer with HTTP status ``code``.

        The body is an OpenAI-style error, ``{"error": {"message", "type", "code"}}``
        chosen to match the status (429 is a rate limit, 5xx a server error), unless
        ``body`` is given, which is sent raw as ``application/json``. ``retry_after``
        and ``retry_after_ms`` set the ``Retry-After`` and ``retry-after-ms`` headers.
        """
        if not 100 <= code <= 599:
            raise ValueError(f"HTTP status must be in 100..599, got {code}")
        return Fault(
            kind="status",
            code=code,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            body=body,
        )

    @staticmethod
    def hang(seconds: float) -> Fault:
        """Wait ``seconds`` before answering with the default reply.

        For exercising client read timeouts. If the client gives up first, the server
        notices the closed connection, records status 0 and closes its side quietly.
        """
        if seconds < 0:
            raise ValueError(f"hang seconds must be >= 0, got {seconds}")
        return Fault(kind="hang", seconds=seconds)

    @staticmethod
    def malformed(body: str = "{not json") -> Fault:
        """Answer 200 ``application/json`` with this raw ``body``.

        A streaming request gets the body as one ``data:`` event of an event stream
        instead, then ``data: [DONE]``, so a stream parser meets the bad JSON.
        """
        return Fault(kind="malformed", body=body)

    @staticmethod
    def inconsistent() -> Fault:
        """Answer 200 with valid JSON that is not a usable completion.

        A plain request gets a ``chat.completion`` whose ``choices`` is empty; a
        streaming one gets a chunk without ``choices``, then ``data: [DONE]``.
        """
        return Fault(kind="inconsistent")

    @staticmethod
    def truncated_stream(after_chunks: int = 2) -> Fault:
        """Break the answer off mid-body.

        A streaming request gets the role chunk and ``after_chunks`` content chunks of
        the default reply, then the connection closes without the final chunk,
        ``[DONE]`` or the end of the chunked body. A plain request gets the headers and
        half the body, then the connection closes.
        """
        if after_chunks < 0:
            raise ValueError(f"after_chunks must be >= 0, got {after_chunks}")
        return Fault(kind="truncated_stream", after_chunks=after_chunks)

    @staticmethod
    def disconnect() -> Fault:
        """Close the connection without sending any response (recorded as status 0)."""
        return Fault(kind="disconnect")


Step: TypeAlias = "str | Reply | Fault"
"""One scripted behaviour: a `Reply`, a `Fault`, or a string meaning ``Reply(text=...)``."""


@final
class RecordedRequest(msgspec.Struct, frozen=True):
    """One request the fake server received.

    Attributes:
        time: `time.monotonic` when the request (head and body) was fully received.
        method: The HTTP method, such as ``"POST"``.
        path: The path without the query string, such as ``"/v1/chat/completions"``.
        headers: The headers, names in lower case. An ``authorization`` value is
            recorded as ``"<scheme> [redacted]"``: whatever key a client sends never
            reaches test output.
        body: The decoded JSON body, or ``None`` if it was empty, not JSON or too big.
        status: The status answered, or 0 while unanswered or if the connection was
            closed without one.
        ended: `time.monotonic` when the server was done with it: the answer sent,
            or the client seen hanging up (so a request abandoned by its client
            ends then, not when its answer would have been ready); ``None`` while
            it is being answered. Version added: 0.1.
    """

    time: float
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int
    ended: float | None = None
