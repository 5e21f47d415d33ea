"""What FakeOpenAI can be told to do: `Reply`, `Fault`, and what it saw: `RecordedRequest`.

These are plain frozen descriptions with no I/O, so a test can build them, compare
them and queue them with `FakeOpenAI.script` before a single request arrives. The
server turns each one into bytes on the wire in ``_respond``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, final

import msgspec

__all__ = ["Fault", "FaultKind", "RecordedRequest", "Reply", "Step"]

FaultKind: TypeAlias = Literal[
    "status", "hang", "malformed", "inconsistent", "truncated_stream", "disconnect"
]


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """A successful chat completion for the fake server to send.

    Attributes:
        text: The assistant message's content.
        finish_reason: The choice's ``finish_reason``.
        tool_calls: Sent verbatim as ``message.tool_calls`` (streamed as one delta, each
            call given an ``index`` if it has none). With tool calls and no text, the
            content is ``null``, as OpenAI sends it.
        prompt_tokens: Reported prompt tokens; ``None`` estimates them as a quarter of
            the characters of all the request's message contents, rounded up.
        completion_tokens: Reported completion tokens; ``None`` estimates a quarter of
            ``len(text)``, rounded up.
        model: The answer's ``model``; ``None`` echoes the request's.
    """

    text: str = ""
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None


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
    """

    time: float
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int
