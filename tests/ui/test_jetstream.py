"""The viewer over a JetStream stream: the same API, read through a `JetStreamReader`.

A bus writes a small conversation (and a dead letter) into a stream on a real
nats-server; the viewer then reads it on a connection of its own.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

import actorbus as ab
from actorbus._ui._app import viewer_app
from actorbus._ui._viewer import Viewer
from actorbus.testing import NatsServer

pytestmark = [pytest.mark.timeout(120), pytest.mark.parametrize("anyio_backend", ["asyncio"])]


class JsQuestion(ab.Message):
    text: str


class Answerer(ab.Actor):
    subscribe = ("questions",)

    async def on_ask(self, msg: JsQuestion, ctx: ab.Context) -> None:
        await ctx.publish("answers", JsQuestion(text=f"re: {msg.text}"))


class Refuser(ab.Actor):
    subscribe = ("questions",)
    max_retries = 0

    async def on_ask(self, msg: JsQuestion, ctx: ab.Context) -> None:
        raise ValueError("no")


async def test_the_viewer_reads_a_stream_as_it_reads_a_file(nats_server: NatsServer) -> None:
    name = f"V{uuid.uuid4().hex[:10]}"

    def log() -> ab.JetStreamLog:
        return ab.JetStreamLog(nats_server.url, stream=name, subject_prefix=name.lower())

    async with ab.Bus(log=log()) as bus:
        await bus.spawn(Answerer, name="answerer")
        await bus.spawn(Refuser, name="refuser")
        first = await bus.publish("questions", JsQuestion(text="why?"))
        await bus.drain()
    viewer = Viewer(log().reader, shown=name)
    transport = httpx.ASGITransport(app=viewer_app(viewer))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        summary = (await http.get("/api/summary")).json()
        records = (await http.get("/api/records", params={"after": 0})).json()["records"]
        answers = (await http.get("/api/records", params={"topic": "answers"})).json()
        tree = (await http.get("/api/tree", params={"id": first.id})).json()
        dead = (await http.get("/api/dead")).json()
        actors = (await http.get("/api/actors")).json()
    await viewer.aclose()
    assert summary["count"] == 3
    topics = [r["topic"] for r in records]  # the two actors answer in either order
    assert topics[0] == "questions"
    assert sorted(topics[1:]) == ["_dead.refuser", "answers"]
    assert [r["sender"] for r in answers["records"]] == ["answerer"]
    assert [n["topic"] for n in tree["nodes"]] == topics  # children in seq order
    [letter] = dead["letters"]
    assert (letter["actor"], letter["error_type"]) == ("refuser", "ValueError")
    assert letter["error"] == "no"
    by_name = {a["name"]: a for a in actors["actors"]}
    assert by_name["refuser"]["dead_lettered"] == 1
    assert by_name["answerer"]["published"] == 1
