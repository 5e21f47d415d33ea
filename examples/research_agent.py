"""A research agent: a model that calls two tools and answers with a typed report.

The Researcher's model may call a function (``percent_change``) and another
actor (``Notes``, asked with a `SearchRequest`, answering `SearchResults`), in a
loop, until it answers; that answer is decoded and validated as a `Report`.

Run as it is, it is offline: ``offline_model`` stands in for the model through
the echo provider, making the tool calls a model would make (the calls are
priced as gpt-4.1-mini's, to show the cost table). Set ``OPENAI_BASE_URL`` (or
``ACTORBUS_BASE_URL``), ``OPENAI_API_KEY`` and ``ACTORBUS_MODEL`` to ask a real
model instead.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from typing import Any

import msgspec

import actorbus as ab

NOTES = (
    "Load test, March: the orders service handled 1,200 requests/s at p99 80 ms.",
    "Load test, June: the orders service handled 1,500 requests/s at p99 65 ms.",
    "June: the orders service moved its sessions from Postgres to Redis.",
    "The billing service is rate-limited to 300 requests/s by its payment gateway.",
)


class SearchRequest(ab.Message):
    """Search the team's notes; returns every note containing one of the words.

    Attributes:
        query: words to look for, such as "orders latency".
    """

    query: str


class SearchResults(ab.Message):
    notes: list[str]


class Notes(ab.Actor):
    """Answers searches over the team's notes (a stand-in for an index or a database)."""

    subscribe = ("notes.search",)

    async def on_search(self, msg: SearchRequest, ctx: ab.Context) -> SearchResults:
        words = msg.query.lower().split()
        return SearchResults(notes=[n for n in NOTES if any(w in n.lower() for w in words)])


def percent_change(old: float, new: float) -> float:
    """Return the change from one value to another, in percent.

    Args:
        old: the earlier value.
        new: the later value.
    """
    return round((new - old) / old * 100, 1)


search_notes = ab.actor_tool("notes.search", SearchRequest, name="search_notes")


class Report(msgspec.Struct):
    """What the researcher found."""

    title: str
    findings: list[str]
    sources: list[str]


class Question(ab.Message):
    text: str


class Researched(ab.Message):
    report: Report
    tools: list[ab.ToolRun]


class Researcher(ab.Actor):
    subscribe = ("research",)

    async def on_question(self, msg: Question, ctx: ab.Context) -> Researched:
        chat = [
            ab.system(
                "You are a careful researcher. Search the notes before answering, use "
                "percent_change for any change between two figures, and cite your notes."
            ),
            ab.user(msg.text),
        ]
        done = await ctx.complete(chat, tools=[percent_change, search_notes], output=Report)
        return Researched(report=done.output, tools=done.tools)


def offline_model(body: dict[str, Any]) -> ab.ChatMessage | str:
    """Answer a request as a model would, offline: search, compute, then report.

    It reads what a model reads: the request's messages, with the tool results so far.
    """
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if not results:  # turn 1: look in the notes
        return _call("search_notes", {"query": "orders"})
    notes: list[str] = json.loads(results[0])["notes"]
    figures = [float(f.replace(",", "")) for n in notes for f in re.findall(r"([\d,]+) req", n)]
    if len(results) == 1:  # turn 2: the change between the two figures found
        return _call("percent_change", {"old": figures[0], "new": figures[1]})
    change = results[1]  # turn 3: the report, as JSON (the schema is in response_format)
    report = Report(
        title="Orders service throughput, March to June",
        findings=[
            f"Throughput rose {change}% (from {figures[0]:,.0f} to {figures[1]:,.0f} "
            "requests/s) while p99 latency fell from 80 ms to 65 ms.",
            "Sessions moved from Postgres to Redis in June, which may explain it.",
        ],
        sources=notes,
    )
    return msgspec.json.encode(report).decode()


def _call(name: str, arguments: dict[str, Any]) -> ab.ChatMessage:
    call = ab.ToolCall(
        id=f"call_{name}", function=ab.FunctionCall(name=name, arguments=json.dumps(arguments))
    )
    return ab.assistant("", tool_calls=[call])


def models() -> ab.Models:
    """Return the models the environment names, else the offline stand-in."""
    config = ab.ModelsConfig.from_env()
    if not all(p.offline for p in config.providers):
        return ab.Models(config)
    offline = ab.ModelsConfig.offline(default_model=config.default_model or "gpt-4.1-mini")
    return ab.Models(offline, transports={"echo": ab.EchoTransport(respond=offline_model)})


async def main() -> None:
    async with ab.Bus(models=models()) as bus:
        await bus.spawn(Notes, name="notes")
        await bus.spawn(Researcher, name="researcher")
        question = Question(text="How did the orders service's throughput change since March?")
        answer = await bus.ask("research", question, timeout=120)
        assert isinstance(answer, Researched)
        report = answer.report  # a Report, decoded and validated
        print(f"{type(report).__name__}: {report.title}")
        for finding in report.findings:
            print(f"  - {finding}")
        print(f"  sources: {len(report.sources)} notes")
        for run in answer.tools:
            print(f"tool {run.name}({run.arguments}) -> {textwrap.shorten(run.result, 60)}")
        print(bus.costs().format())


if __name__ == "__main__":
    asyncio.run(main())
