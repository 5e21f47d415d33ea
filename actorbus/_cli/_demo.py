"""The built-in demo team: a planner, researchers, a writer and a reviewer.

It shows the core at work: an ``ask`` into the team, a parallel fan-out of asks
from inside a handler, a bounded review loop, and a monitor that watches every
message go by. Researchers and the writer call models, each its own (the source
article's pattern: a cheap model for research, a strong one for writing); with
no endpoint configured that is the offline echo provider, and on a bus without
models (Trio) they work from the task's own words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import anyio

from .._actor import Actor, Context
from .._message import Message, Request, Response, TaskDelegation
from .._models import system, user

__all__ = ["Monitor", "Planner", "Researcher", "Reviewer", "Writer", "team"]

_STOPWORD_TEXT = "a an and are as at be by can do does for from how in is it of on or the to why"
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class Notes(Message):
    """Findings on one angle of a task."""

    angle: str
    keywords: tuple[str, ...]
    summary: str = ""


class Draft(Message):
    """A written answer, and the round of review it went through."""

    text: str
    round: int


class Review(Message):
    """The reviewer's verdict on a draft."""

    approved: bool
    missing: tuple[str, ...] = ()


def _keywords(text: str, count: int) -> tuple[str, ...]:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS]
    return tuple(word for word, _ in Counter(words).most_common(count))


class Researcher(Actor):
    """Finds the keywords of one angle of the task and asks a (cheap) model for notes."""

    subscribe = ("team.research",)
    concurrency = 3
    model = "deepseek-v3"

    async def on_task(self, msg: TaskDelegation, ctx: Context) -> Notes:
        angle = str(msg.inputs.get("angle", "overview"))
        words = _keywords(f"{msg.description} {angle}", 4)
        summary = ""
        if ctx.models is not None:
            done = await ctx.complete(
                [
                    system("You are a researcher. Answer in three short bullet points."),
                    user(f"Task: {msg.description}\nAngle: {angle}"),
                ],
                max_tokens=300,
            )
            summary = done.text
        return Notes(angle=angle, keywords=words, summary=summary)


class Writer(Actor):
    """Writes a draft with a (strong) model, revising it with the reviewer's feedback."""

    subscribe = ("team.write",)
    model = "gpt-4.1"

    async def on_task(self, msg: TaskDelegation, ctx: Context) -> Draft:
        keywords: list[str] = list(msg.inputs.get("keywords", []))
        missing: list[str] = list(msg.inputs.get("missing", []))
        round_ = int(msg.inputs.get("round", 1))
        used = keywords[: max(1, len(keywords) - 2)] if round_ == 1 else keywords + missing
        terms = ", ".join(dict.fromkeys(used))
        if ctx.models is None:
            return Draft(text=f"This answer covers {terms}.", round=round_)
        done = await ctx.complete(
            [
                system(f"You are a writer. In one short paragraph, answer: {msg.description}"),
                user(f"Cover these points: {terms}."),
            ],
            max_tokens=600,
        )
        return Draft(text=done.text, round=round_)


class Reviewer(Actor):
    """Approves a draft once it mentions every keyword."""

    subscribe = ("team.review",)

    async def on_task(self, msg: TaskDelegation, ctx: Context) -> Review:
        text = str(msg.inputs.get("text", ""))
        missing = tuple(k for k in msg.inputs.get("keywords", []) if k not in text)
        return Review(approved=not missing, missing=missing)


class Planner(Actor):
    """Splits a task into research angles, gathers notes, then writes and reviews."""

    subscribe = ("team.task",)
    angles = ("background", "methods", "risks")
    max_rounds = 3

    async def on_request(self, msg: Request, ctx: Context) -> Response:
        notes = await self._research(msg.content, ctx)
        keywords = list(dict.fromkeys(k for n in notes for k in n.keywords))
        draft, review = None, Review(approved=False, missing=())
        for round_ in range(1, self.max_rounds + 1):
            draft = await self._ask_draft(msg.content, keywords, list(review.missing), round_, ctx)
            review = await self._ask_review(draft, keywords, ctx)
            if review.approved:
                break
        assert draft is not None
        return Response(content=draft.text, data={"rounds": draft.round, "keywords": keywords})

    async def _research(self, task: str, ctx: Context) -> list[Notes]:
        results: dict[str, Notes] = {}

        async def one(angle: str) -> None:
            ask = TaskDelegation(
                task_id=f"research-{angle}",
                capability="research",
                description=task,
                inputs={"angle": angle},
            )
            reply = await ctx.ask("team.research", ask)
            assert isinstance(reply, Notes)
            results[angle] = reply

        async with anyio.create_task_group() as tg:
            for angle in self.angles:
                tg.start_soon(one, angle)
        return [results[a] for a in self.angles]

    async def _ask_draft(
        self, task: str, keywords: list[str], missing: list[str], round_: int, ctx: Context
    ) -> Draft:
        inputs = {"keywords": keywords, "missing": missing, "round": round_}
        reply = await ctx.ask(
            "team.write",
            TaskDelegation(
                task_id=f"write-{round_}", capability="write", description=task, inputs=inputs
            ),
        )
        assert isinstance(reply, Draft)
        return reply

    async def _ask_review(self, draft: Draft, keywords: list[str], ctx: Context) -> Review:
        reply = await ctx.ask(
            "team.review",
            TaskDelegation(
                task_id=f"review-{draft.round}",
                capability="verify",
                description="review",
                inputs={"text": draft.text, "keywords": keywords},
            ),
        )
        assert isinstance(reply, Review)
        return reply


class Monitor(Actor):
    """Reports every message on the team's topics as it is handled."""

    subscribe = ("team.>",)

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report

    async def on_message(self, msg: Message, ctx: Context) -> None:
        env = ctx.envelope
        self._report(f"seq={env.seq:<4} {env.sender or 'you':<12} -> {env.topic:<14} {env.type}")


def team() -> list[tuple[type[Actor], str]]:
    """Return the team's actor classes with their names, in spawn order."""
    return [
        (Researcher, "researcher"),
        (Writer, "writer"),
        (Reviewer, "reviewer"),
        (Planner, "planner"),
    ]
