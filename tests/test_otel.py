"""OpenTelemetry tracing: a multi-agent run is one trace, publish -> handle -> chat.

Skipped when the ``otel`` extra is not installed (the bus itself needs none of it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

import actorbus as ab

pytest.importorskip("opentelemetry.sdk", reason="needs pip install 'actorbus[otel]' and the SDK")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from actorbus import otel
from actorbus.testing import NatsServer


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
