"""Logging: the ``actorbus`` loggers say where things happened, never what a message says.

A run with a sentinel payload and a sentinel API key goes through every path that
logs (a handler retried, a message dead-lettered, a model answering 429 then 200)
with every logger captured at DEBUG: the payload appears in no record at INFO or
above, the key in no record at all, and the records carry structured fields.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback

import pytest

import actorbus as ab
from actorbus.testing import FakeOpenAI, Fault

KEY_ENV = "ACTORBUS_TEST_LOGGING_KEY"
KEY = "sk-LOGGING-SENTINEL-7d1f-never-log-me"
PAYLOAD = "PAYLOAD-SENTINEL-93b2-secret-text"


class LoggedSecret(ab.Message):
    text: str


class Writer(ab.Actor):
    subscribe = ("write",)
    model = "gpt-4.1"
    retry_delay = 0.0

    def __init__(self) -> None:
        self.failures = 1

    async def on_secret(self, msg: LoggedSecret, ctx: ab.Context) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("transient failure")  # the app's own words, no payload
        done = await ctx.complete([ab.user(msg.text)])
        await ctx.publish("broken", LoggedSecret(text=done.text + msg.text))


class Broken(ab.Actor):
    subscribe = ("broken",)
    max_retries = 1
    retry_delay = 0.0

    async def on_secret(self, msg: LoggedSecret, ctx: ab.Context) -> None:
        raise ValueError("cannot do it")


def _texts(record: logging.LogRecord) -> list[str]:
    """Everything a handler could print of ``record``: message, args, fields, traceback."""
    texts = [record.getMessage(), repr(record.args)]
    texts += [f"{name}={value!r}" for name, value in vars(record).items()]
    if record.exc_info:
        texts.append("".join(traceback.format_exception(*record.exc_info)))
    return texts


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_no_payload_at_info_and_no_key_anywhere(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG)  # every logger: actorbus, httpx, httpcore
    with FakeOpenAI(api_key=KEY) as server:
        server.script(Fault.status(429), "drafted")
        provider = ab.Provider(
            name="gw", base_url=server.base_url, api_key_env=KEY_ENV, retry_base=0.001
        )
        models = ab.Models(ab.ModelsConfig(providers=[provider]))
        async with ab.Bus(models=models) as bus:
            await bus.spawn(Writer, name="writer")
            await bus.spawn(Broken, name="broken")
            await bus.publish("write", LoggedSecret(text=PAYLOAD), correlation_id="run-1")
            await bus.drain()
            stats = bus.statistics()
    assert stats.actors["broken"].dead_lettered == 1  # every path that logs was taken
    assert stats.models["gw"].rate_limited == 1

    records = caplog.records
    loud = [r for r in records if r.levelno >= logging.INFO]
    assert any(r.name == "actorbus.actor" for r in loud)
    assert not [t for r in loud for t in _texts(r) if PAYLOAD in t]
    assert not [t for r in records for t in _texts(r) if KEY in t]

    retry = next(r for r in loud if "retrying" in r.getMessage() and r.name == "actorbus.actor")
    assert (retry.actor, retry.seq, retry.topic, retry.correlation_id) == (  # type: ignore[attr-defined]
        "writer",
        1,
        "write",
        "run-1",
    )
    dead = next(r for r in loud if "dead-lettered" in r.getMessage())
    assert dead.levelno == logging.WARNING
    assert (dead.actor, dead.topic, dead.attempt) == ("broken", "broken", 2)  # type: ignore[attr-defined]
    assert dead.correlation_id == "run-1"  # type: ignore[attr-defined]
    refused = next(r for r in loud if "HTTP 429" in r.getMessage())
    assert (refused.provider, refused.status) == ("gw", 429)  # type: ignore[attr-defined]


def test_the_library_prints_nothing_unless_the_app_configures_logging() -> None:
    # A warning (a dead letter) in an app that configured no logging: Python's
    # last-resort handler would print it; the NullHandler on "actorbus" stops that.
    script = """
import anyio, actorbus as ab

class Broken(ab.Actor):
    subscribe = ("x",)
    max_retries = 0
    async def on_request(self, msg: ab.Request, ctx: ab.Context) -> None:
        raise ValueError("no")

async def main():
    async with ab.Bus() as bus:
        await bus.spawn(Broken)
        await bus.publish("x", ab.Request(action="go"))
        await bus.drain()
        assert bus.statistics().actors["broken-1"].dead_lettered == 1
anyio.run(main)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == result.stderr == ""
