"""OpenTelemetry tracing: a multi-agent run is one trace, publish -> handle -> chat.

A tool loop adds a ``chat`` span per turn and an ``execute_tool`` span per tool
call (current while the tool runs: an actor tool's ask is its child).

Skipped when the ``otel`` extra is not installed (the bus itself needs none of it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest

import actorbus as ab

pytest.importorskip("opentelemetry.sdk", reason="needs pip install 'actorbus[otel]' and the SDK")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from actorbus import otel
from actorbus.testing import FakeOpenAI, NatsServer, Reply, ToolCall


class TracedTask(ab.Message):
    text: str


class TracedDraft(ab.Message):
    text: str


class TracedFinal(ab.Message):
    text: str


class Planner(ab.Actor):
    subscribe = ("tasks",)

    async def on_task(self, msg: TracedTask, ctx: ab.Context) -> None:
        await ctx.publish("drafts", TracedDraft(text=msg.text))


class Writer(ab.Actor):
    subscribe = ("drafts",)
    model = "echo-1"

    async def on_draft(self, msg: TracedDraft, ctx: ab.Context) -> None:
        done = await ctx.complete([ab.user(msg.text)])
        await ctx.publish("finals", TracedFinal(text=done.text))


class Editor(ab.Actor):
    subscribe = ("finals",)

    def __init__(self) -> None:
        self.got = anyio.Event()

    async def on_final(self, msg: TracedFinal, ctx: ab.Context) -> None:
        self.got.set()


class Relay(ab.Actor):
    """Stage without a model, for the Trio and SQLite runs."""

    subscribe = ("drafts",)

    async def on_draft(self, msg: TracedDraft, ctx: ab.Context) -> None:
        await ctx.publish("finals", TracedFinal(text=msg.text))


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _tree(spans: tuple[ReadableSpan, ...]) -> dict[str, list[str]]:
    """Return span name -> names of its children, checking every span is in one trace."""
    assert len({s.context.trace_id for s in spans}) == 1, "the run must be one trace"
    by_id = {s.context.span_id: s for s in spans}
    children: dict[str, list[str]] = {s.name: [] for s in spans}
    roots = []
    for span in spans:
        if span.parent is None:
            roots.append(span.name)
        else:
            children[by_id[span.parent.span_id].name].append(span.name)
    assert roots == ["publish tasks"]
    return children


async def _run(bus: ab.Bus, middle: type[ab.Actor]) -> None:
    async with bus:
        editor = await bus.spawn(Editor)
        await bus.spawn(Planner)
        await bus.spawn(middle)
        await bus.publish("tasks", TracedTask(text="hello"))
        with anyio.fail_after(10):
            await editor.actor.got.wait()
            await bus.drain()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_three_stage_run_is_one_trace(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    bus = ab.Bus(models=ab.Models())
    otel.instrument(bus, tracer_provider=provider)
    await _run(bus, Writer)

    spans = exporter.get_finished_spans()
    assert len(spans) == 7
    assert _tree(spans) == {
        "publish tasks": ["handle planner-2"],
        "handle planner-2": ["publish drafts"],
        "publish drafts": ["handle writer-3"],
        "handle writer-3": ["chat echo-1", "publish finals"],
        "chat echo-1": [],
        "publish finals": ["handle editor-1"],
        "handle editor-1": [],
    }
    named = {s.name: s for s in spans}
    publish = named["publish drafts"].attributes or {}
    assert publish["messaging.destination.name"] == "drafts"
    assert publish["actorbus.seq"] == 2
    assert publish["actorbus.sender"] == "planner-2"
    handle = named["handle writer-3"].attributes or {}
    assert handle["actorbus.actor"] == "writer-3"
    assert handle["actorbus.seq"] == 2
    assert handle["actorbus.attempts"] == 1
    chat = named["chat echo-1"].attributes or {}
    assert chat["gen_ai.request.model"] == "echo-1"
    assert chat["gen_ai.provider.name"] == "echo"
    assert isinstance(chat["gen_ai.usage.input_tokens"], int)
    assert chat["gen_ai.usage.output_tokens"] > 0  # type: ignore[operator]
    assert chat["actorbus.actor"] == "writer-3"


async def test_a_durable_log_keeps_the_links(
    exporter: InMemorySpanExporter, provider: TracerProvider, tmp_path: Path
) -> None:
    # SqliteLog delivers once durable, possibly before the publisher resumes.
    bus = ab.Bus(log=ab.SqliteLog(tmp_path / "events.db"))
    otel.instrument(bus, tracer_provider=provider)
    await _run(bus, Relay)

    assert _tree(exporter.get_finished_spans()) == {
        "publish tasks": ["handle planner-2"],
        "handle planner-2": ["publish drafts"],
        "publish drafts": ["handle relay-3"],
        "handle relay-3": ["publish finals"],
        "publish finals": ["handle editor-1"],
        "handle editor-1": [],
    }


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_jetstream_in_one_process_keeps_the_links(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    # The server delivers: each actor's feed hands it envelopes decoded from the wire.
    with NatsServer() as server:
        log = ab.JetStreamLog(server.url, stream="TRACED", subject_prefix="traced")
        bus = ab.Bus(log=log)
        otel.instrument(bus, tracer_provider=provider)
        await _run(bus, Relay)

    assert _tree(exporter.get_finished_spans()) == {
        "publish tasks": ["handle planner-2"],
        "handle planner-2": ["publish drafts"],
        "publish drafts": ["handle relay-3"],
        "handle relay-3": ["publish finals"],
        "publish finals": ["handle editor-1"],
        "handle editor-1": [],
    }


async def test_a_failed_handling_is_an_error_span(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    class Broken(ab.Actor):
        subscribe = ("tasks",)
        max_retries = 1
        retry_delay = 0.0

        async def on_task(self, msg: TracedTask, ctx: ab.Context) -> None:
            raise RuntimeError("no")

    async with ab.Bus() as bus:
        otel.instrument(bus, tracer_provider=provider)
        await bus.spawn(Broken, name="broken")
        await bus.publish("tasks", TracedTask(text="x"))
        await bus.drain()

    handle = next(s for s in exporter.get_finished_spans() if s.name == "handle broken")
    assert handle.attributes == {**(handle.attributes or {}), "actorbus.attempts": 2}
    assert handle.attributes["actorbus.dead_lettered"] is True
    assert not handle.status.is_ok
    children = [
        s.name for s in exporter.get_finished_spans() if s.parent == handle.get_span_context()
    ]
    assert children == ["publish _dead.broken"]


async def test_uninstrument_stops_the_spans(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    async with ab.Bus() as bus:
        otel.instrument(bus, tracer_provider=provider)
        otel.uninstrument(bus)
        await bus.spawn(Relay)
        await bus.publish("drafts", TracedDraft(text="x"))
        await bus.drain()
    assert exporter.get_finished_spans() == ()


def test_without_the_extra_the_bus_runs_and_tracing_says_what_to_install() -> None:
    # A child interpreter in which OpenTelemetry cannot be imported.
    script = """
import sys
sys.modules["opentelemetry"] = None  # as if not installed
import anyio, actorbus as ab

async def main():
    async with ab.Bus() as bus:
        await bus.publish("nobody", ab.Request(action="x"))
anyio.run(main)
try:
    import actorbus.otel
except ImportError as exc:
    print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'actorbus[otel]'" in result.stdout


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_stream_closed_early_is_not_an_error_span(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    # Stopping a stream once it said enough is a normal use, not a failure.
    bus = ab.Bus(models=ab.Models())
    otel.instrument(bus, tracer_provider=provider)
    assert bus.models is not None
    async with bus:
        stream = bus.models.stream([ab.user("hello there")], model="echo-1")
        async with stream:
            async for _ in stream:
                break
    (chat,) = exporter.get_finished_spans()
    assert chat.name == "chat echo-1"
    assert chat.status.is_unset
    attributes = chat.attributes or {}
    assert "error.type" not in attributes
    assert attributes["actorbus.closed_early"] is True


# -- tool loops (issue 13, point 6) ------------------------------------------------------

TOOL_MODEL = "gpt-test"


class ToolQuestion(ab.Message):
    text: str


class GlossaryLookup(ab.Message):
    """Look a word up in the glossary."""

    word: str


class GlossaryEntry(ab.Message):
    text: str


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def get_time() -> str:
    """The time now."""
    return "noon"


def broken_tool() -> str:
    """A tool that always fails."""
    raise RuntimeError("out of order")


class ToolUser(ab.Actor):
    subscribe = ("questions",)
    model = TOOL_MODEL
    retry_delay = 0
    tools: ClassVar[list[Any]] = [get_weather, get_time, broken_tool]
    fail_first = False
    runs = 0

    async def on_question(self, msg: ToolQuestion, ctx: ab.Context) -> ab.Response:
        done = await ctx.complete([ab.user(msg.text)], tools=type(self).tools)
        type(self).runs += 1
        if type(self).fail_first and type(self).runs == 1:
            raise RuntimeError("fails after its tool loop")
        return ab.Response(content=done.text)


class Glossary(ab.Actor):
    subscribe = ("glossary",)

    async def on_lookup(self, msg: GlossaryLookup, ctx: ab.Context) -> GlossaryEntry:
        return GlossaryEntry(text=f"{msg.word}: a word")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _tool_models(fake: FakeOpenAI) -> ab.Models:
    provider = ab.Provider(name="fake", base_url=fake.base_url, max_attempts=1)
    return ab.Models(ab.ModelsConfig(providers=[provider]))


async def _ask_tool_user(
    fake: FakeOpenAI, provider: TracerProvider, *others: type[ab.Actor]
) -> None:
    bus = ab.Bus(models=_tool_models(fake))
    otel.instrument(bus, tracer_provider=provider)
    with anyio.fail_after(30):
        async with bus:
            await bus.spawn(ToolUser, name="tool-user")
            for other in others:
                await bus.spawn(other, name=other.__name__.lower())
            await bus.ask("questions", ToolQuestion(text="Weather and time?"), timeout=20)
            await bus.drain()


def _children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
class TestToolSpans:
    async def test_a_loop_makes_a_chat_span_per_turn_and_an_execute_tool_span_per_call(
        self, exporter: InMemorySpanExporter, provider: TracerProvider, fake: FakeOpenAI
    ) -> None:
        ToolUser.tools, ToolUser.fail_first = [get_weather, get_time, broken_tool], False
        fake.script(
            Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time")]),
            Reply(text="Sunny, at noon."),
        )
        await _ask_tool_user(fake, provider)

        spans = exporter.get_finished_spans()
        handle = next(s for s in spans if s.name == "handle tool-user")
        under = sorted(s.name for s in _children(spans, handle))
        assert [n for n in under if not n.startswith("publish")] == [
            "chat gpt-test", "chat gpt-test", "execute_tool get_time", "execute_tool get_weather",
        ]  # fmt: skip
        weather = next(s for s in spans if s.name == "execute_tool get_weather")
        assert weather.kind == trace.SpanKind.INTERNAL
        assert weather.attributes == {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1_0",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": "The weather in a city.",
            "actorbus.actor": "tool-user",
            "actorbus.journaled": False,
        }
        assert weather.status.is_unset
        chats = [s for s in spans if s.name == "chat gpt-test"]
        assert [(s.attributes or {})["gen_ai.operation.name"] for s in chats] == ["chat"] * 2
        # the second turn is asked after the tools ran
        tools_end = max(s.end_time or 0 for s in spans if s.name.startswith("execute_tool"))
        assert max(s.start_time or 0 for s in chats) >= tools_end

    async def test_an_actor_tools_ask_is_a_child_of_its_execute_tool_span(
        self, exporter: InMemorySpanExporter, provider: TracerProvider, fake: FakeOpenAI
    ) -> None:
        ToolUser.tools, ToolUser.fail_first = [ab.actor_tool("glossary", GlossaryLookup)], False
        fake.script(
            Reply(tool_calls=[ToolCall("glossary", {"word": "actor"})]), Reply(text="Done.")
        )
        await _ask_tool_user(fake, provider, Glossary)

        spans = exporter.get_finished_spans()
        execute = next(s for s in spans if s.name == "execute_tool glossary")
        assert (execute.attributes or {})["gen_ai.tool.description"] == (
            "Look a word up in the glossary."
        )
        (ask,) = _children(spans, execute)
        assert ask.name == "publish glossary"
        handle = next(s for s in spans if s.name == "handle glossary")
        assert handle.parent is not None
        assert handle.parent.span_id == ask.context.span_id
        assert len({s.context.trace_id for s in spans}) == 1

    async def test_an_error_result_sets_the_execute_tool_spans_status(
        self, exporter: InMemorySpanExporter, provider: TracerProvider, fake: FakeOpenAI
    ) -> None:
        ToolUser.tools, ToolUser.fail_first = [get_weather, broken_tool], False
        fake.script(
            Reply(tool_calls=[ToolCall("broken_tool"), ToolCall("get_weather", {"city": "Oslo"})]),
            Reply(text="Sorry."),
        )
        await _ask_tool_user(fake, provider)

        spans = {s.name: s for s in exporter.get_finished_spans()}
        broken = spans["execute_tool broken_tool"]
        assert broken.status.status_code == trace.StatusCode.ERROR
        assert (broken.attributes or {})["error.type"] == "tool_error"
        assert spans["execute_tool get_weather"].status.is_unset
        assert spans["handle tool-user"].status.is_unset  # the loop went on: not a failure

    async def test_a_replayed_tool_result_gets_a_span_marked_journaled(
        self, exporter: InMemorySpanExporter, provider: TracerProvider, fake: FakeOpenAI
    ) -> None:
        ToolUser.tools, ToolUser.fail_first, ToolUser.runs = [get_weather], True, 0
        fake.script(
            Reply(tool_calls=[ToolCall("get_weather", {"city": "Rome"})]), Reply(text="Sunny.")
        )
        await _ask_tool_user(fake, provider)

        spans = exporter.get_finished_spans()
        tools = [s for s in spans if s.name == "execute_tool get_weather"]
        assert [(s.attributes or {})["actorbus.journaled"] for s in tools] == [False, True]
        chats = [s for s in spans if s.name == "chat gpt-test"]
        assert [(s.attributes or {})["actorbus.journaled"] for s in chats] == [
            False, False, True, True,
        ]  # fmt: skip
        assert fake.request_count == 2
