"""The log the viewer's tests look at: written by a real run, with hostile text in it.

A bus on a `SqliteLog`, its models answered by `FakeOpenAI` over HTTP:

====  ===============  ==========  ==================================================
seq   topic            sender      what
====  ===============  ==========  ==================================================
1     trips.plan       -           a Plan; the planner's handling calls a model with
                                   a tool (turn 0: get_weather, turn 1: the answer)
2     trips.book       planner     what the planner published (caused by 1)
3     notes.summary    planner     a note, caused by 1
4     _dead.booker     booker      the booker failed twice and gave up on 2
5     evil.<img...>    -           a message of a type whose tag is markup
6..   bulk.<n % 3>     -           `BULK` records to page through
====  ===============  ==========  ==================================================

Model answers, tool arguments and results, payloads, a type tag, a topic and an
error message all carry `XSS` payloads, each of which would set
``window.__pwned`` if the page ever ran it. Written with ``hostile=False`` (for
the screenshots in the docs), the same story carries plain words instead.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio

import actorbus as ab
from actorbus.testing import FakeOpenAI, Reply, ToolCall

T = TypeVar("T")

XSS = (
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<svg onload=\"window.__pwned = 'svg'\"></svg>",
    "<iframe src=\"javascript:window.__pwned = 'iframe'\"></iframe>",
    "javascript:window.__pwned = 'href'",
    "<a href=\"javascript:window.__pwned = 'link'\">click</a>",
)
EVIL_TOPIC = "evil.<img/src=x/onerror=window.__pwned=1"  # no ">": a wildcard
EVIL_TAG = "<img src=x onerror=\"window.__pwned = 'tag'\">"
PLAIN = (
    "Three days, mostly museums.",
    "Hotel Lisboa Centro",
    "with a sea view",
    "Alfama, near the castle",
    "a quiet room",
    "late checkout",
)
BULK = 600
MODEL = "gpt-test"
SECRET = "sk-viewer-secret-0123456789"


# Tags are unique in a process: these must not be taken by another test module.
class Plan(ab.Message):
    destination: str
    notes: list[str]


class Book(ab.Message):
    hotel: str


class Note(ab.Message, tag="Summary"):
    text: str


class Evil(ab.Message, tag=EVIL_TAG):
    html: str


class Bulk(ab.Message):
    n: int
    api_key: str = ""


TEXTS = XSS  # what the story's free text says: XSS, or PLAIN


def get_weather(city: str, access_token: str = "") -> str:
    """The weather in a city."""
    return f"sunny in {city} {TEXTS[2]}"


class Planner(ab.Actor):
    subscribe = ("trips.plan",)
    model = MODEL

    async def on_plan(self, msg: Plan, ctx: ab.Context) -> None:
        done = await ctx.complete(
            [ab.system("You plan trips."), ab.user(f"Plan {msg.destination}. {TEXTS[0]}")],
            tools=[get_weather],
        )
        await ctx.publish("trips.book", Book(hotel=f"Hotel {TEXTS[3]}"))
        await ctx.publish("notes.summary", Note(text=done.text))


class Booker(ab.Actor):
    subscribe = ("trips.book",)
    max_retries = 1
    retry_delay = 0

    async def on_book(self, msg: Book, ctx: ab.Context) -> None:
        raise RuntimeError(f"no rooms at {TEXTS[1]}")


def _script() -> tuple[Reply, ...]:
    weather = ToolCall("get_weather", {"city": TEXTS[1], "access_token": SECRET})
    return (Reply(tool_calls=[weather]), Reply(text=f"Pack light. {TEXTS[0]} {TEXTS[5]}"))


@dataclass(frozen=True)
class Story:
    """The log written, and what the tests need to know of it."""

    path: Path
    plan_id: str
    count: int


async def _write(path: Path) -> str:
    script = _script()
    with FakeOpenAI() as fake:
        fake.script(*script)
        provider = ab.Provider(name="fake", base_url=fake.base_url, max_attempts=1)
        prices = {MODEL: ab.Price(input=1.0, output=2.0)}
        models = ab.Models(ab.ModelsConfig(providers=[provider], prices=prices))
        with anyio.fail_after(60):
            async with ab.Bus(log=ab.SqliteLog(path), models=models) as bus:
                await bus.spawn(Planner, name="planner")
                await bus.spawn(Booker, name="booker")
                plan = await bus.publish(
                    "trips.plan", Plan(destination="Lisbon", notes=list(TEXTS)),
                    correlation_id="trip-1",
                )  # fmt: skip
                await bus.drain()
                if TEXTS is XSS:
                    await bus.publish(EVIL_TOPIC, Evil(html=" ".join(XSS)))
                else:
                    await bus.publish("notes.plain", Note(text=" ".join(TEXTS)))
                for n in range(BULK):
                    secret = SECRET if n == 0 else ""
                    await bus.publish(f"bulk.{n % 3}", Bulk(n=n, api_key=secret))
                await bus.drain()
        assert fake.request_count == len(script)
    return plan.id


def write_story(path: Path, *, hostile: bool = True) -> Story:
    """Write the story's log at ``path`` (a new file); plain words unless ``hostile``."""
    global TEXTS
    TEXTS = XSS if hostile else PLAIN
    try:
        plan_id = _in_a_thread(_write, path)
    finally:
        TEXTS = XSS
    return Story(path=path, plan_id=plan_id, count=5 + BULK)


async def _append(path: Path, topic: str) -> int:
    async with ab.SqliteLog(path) as log:
        receipt = await log.append(ab.Envelope("", topic, Note(text="appended"), time.time()))
    return receipt.seq


def append_record(path: Path, topic: str) -> int:
    """Append one record to the log at ``path`` (as another writer would); return its seq."""
    return _in_a_thread(_append, path, topic)


def _in_a_thread(fn: Callable[..., Awaitable[T]], *args: object) -> T:
    # An event loop of its own, in a thread of its own: the caller may be in one
    # already (Playwright's sync API runs one).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()
