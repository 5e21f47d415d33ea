"""A three-stage run traced with OpenTelemetry, printed as its span tree.

Needs ``pip install 'actorbus[otel]' opentelemetry-sdk``. A real app would hand
``instrument`` a provider that exports to its collector instead of to memory.
"""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import actorbus as ab
from actorbus import otel


class Question(ab.Message):
    text: str


class Answer(ab.Message):
    text: str


class Asker(ab.Actor):
    subscribe = ("questions",)

    async def on_question(self, msg: Question, ctx: ab.Context) -> None:
        await ctx.publish("to-model", msg)


class Thinker(ab.Actor):
    subscribe = ("to-model",)
    model = "echo"

    async def on_question(self, msg: Question, ctx: ab.Context) -> None:
        done = await ctx.complete([ab.user(msg.text)])
        await ctx.publish("answers", Answer(text=done.text))


class Printer(ab.Actor):
    subscribe = ("answers",)

    async def on_answer(self, msg: Answer, ctx: ab.Context) -> None:
        ctx.logger.debug("answered")


def tree(spans: tuple[ReadableSpan, ...]) -> list[str]:
    """Return the spans as indented lines, each under its parent."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in children.get(parent, []):
            lines.append("  " * depth + span.name)
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return lines


async def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bus = ab.Bus(models=ab.Models())
    otel.instrument(bus, tracer_provider=provider)
    async with bus:
        await bus.spawn(Asker, name="asker")
        await bus.spawn(Thinker, name="thinker")
        await bus.spawn(Printer, name="printer")
        await bus.publish("questions", Question(text="why?"))
        await bus.drain()
    print("\n".join(tree(exporter.get_finished_spans())))


if __name__ == "__main__":
    asyncio.run(main())
