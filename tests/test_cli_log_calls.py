"""`actorbus log trace` shows each handling's model calls, read back from the journal.

Issue 13, point 6: under each message, every model turn (model, tokens, cost,
replayed or not) and every tool call (name, masked arguments and result, error
or not, duration, replayed or not) of the actors that handled it. One log is
written by a real run (a `SqliteLog`, models answered by `FakeOpenAI` over HTTP);
the command then runs in a subprocess and is judged by its output:

====  =======  ==========  ===========================================================
seq   topic    handled by  what its handling did
====  =======  ==========  ===========================================================
1     ask      weatherman  call 0: a tool loop (3 tools, one an error), then the
                           handler fails; its retry replays call 0 and makes call 1
2     answers  -           (published by weatherman's retry)
3     loop     looper      a loop stopped by max_tool_rounds=1: dead-lettered, with
                           its last turn's tool call not run
4     _dead..  -           the dead letter
5     gap      gapper      call 0 refused (HTTP 400, caught), call 1 answered
====  =======  ==========  ===========================================================
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

import actorbus as ab
from actorbus._log import Handling, Record, actor_names, handlings, scan
from actorbus.testing import FakeOpenAI, Fault, NatsServer, Reply, ToolCall

pytestmark = pytest.mark.timeout(120)

SECRETS = ("hunter2", "tok-9")
MODEL = "gpt-test"


class Weather(ab.Message):
    text: str


class Forecast(ab.Message):
    text: str


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def login(user: str, password: str) -> str:
    """Log a user in."""
    raise PermissionError("wrong password")


def account(user: str) -> dict[str, str]:
    """A user's account."""
    return {"user": user, "access_token": "tok-9"}


class Weatherman(ab.Actor):
    """A tool loop, then a failure: the retry replays the loop and makes one call more."""

    subscribe = ("ask",)
    model = MODEL
    max_retries = 1
    retry_delay = 0
    runs = 0

    async def on_ask(self, msg: Weather, ctx: ab.Context) -> None:
        done = await ctx.complete([ab.user(msg.text)], tools=[get_weather, login, account])
        type(self).runs += 1
        if type(self).runs == 1:
            raise RuntimeError("fails after its tool loop")
        summary = await ctx.complete([ab.user(f"Summarize: {done.text}")])
        await ctx.publish("answers", Forecast(text=summary.text))


class Looper(ab.Actor):
    """A loop stopped at its bound: the model's second round of tools is never run."""

    subscribe = ("loop",)
    model = MODEL
    max_retries = 0

    async def on_ask(self, msg: Weather, ctx: ab.Context) -> None:
        await ctx.complete([ab.user(msg.text)], tools=[get_weather], max_tool_rounds=1)


class Gapper(ab.Actor):
    """A first call that fails before any turn is recorded, then a second that answers."""

    subscribe = ("gap",)
    model = MODEL

    async def on_ask(self, msg: Weather, ctx: ab.Context) -> None:
        with contextlib.suppress(ab.ModelResponseError):
            await ctx.complete([ab.user(msg.text)])
        await ctx.complete([ab.user(msg.text)])


SCRIPT = (
    # weatherman, call 0: two turns
    Reply(
        tool_calls=[
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("login", {"user": "ada", "password": "hunter2"}),
            ToolCall("account", {"user": "ada"}),
        ]
    ),
    Reply(text="It is sunny in Paris."),
    # weatherman's retry, call 1 (call 0 is replayed: no request)
    Reply(text="Sunny."),
    # looper: two rounds of tools; the second is over its bound
    Reply(tool_calls=[ToolCall("get_weather", {"city": "Rome"})]),
    Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]),
    # gapper
    Fault.status(400),
    Reply(text="Fine."),
)


async def write_log(log: ab.EventLog) -> None:
    """Run the three actors once on ``log``, one message after the other."""
    Weatherman.runs = 0
    with FakeOpenAI() as fake:
        fake.script(*SCRIPT)
        provider = ab.Provider(name="fake", base_url=fake.base_url, max_attempts=1)
        prices = {MODEL: ab.Price(input=1.0, output=2.0)}
        models = ab.Models(ab.ModelsConfig(providers=[provider], prices=prices))
        with anyio.fail_after(60):
            async with ab.Bus(log=log, models=models) as bus:
                for actor in (Weatherman, Looper, Gapper):
                    await bus.spawn(actor, name=actor.__name__.lower())
                for topic in ("ask", "loop", "gap"):
                    await bus.publish(topic, Weather(text=f"Weather, please ({topic})"))
                    await bus.drain()
        assert fake.request_count == len(SCRIPT)


@dataclass(frozen=True)
class Built:
    path: Path
    ids: dict[int, str]  # seq -> id


async def read_all(log: ab.SqliteLog) -> list[Record]:
    async with log.reader() as reader:
        return [record async for record in scan(reader)]


async def read_handlings(log: ab.SqliteLog, message_id: str) -> tuple[list[str], list[Handling]]:
    async with log.reader() as reader:
        actors = await actor_names(reader)
        return actors, await handlings(reader, message_id, actors)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("calls") / "calls.db"
    anyio.run(write_log, ab.SqliteLog(path))
    records = anyio.run(read_all, ab.SqliteLog(path))
    assert [r.topic for r in records] == ["ask", "answers", "loop", "_dead.looper", "gap"]
    return Built(path, {r.seq: r.id for r in records})


def trace(*args: str | Path, columns: int = 100) -> list[str]:
    """Run ``actorbus log trace ARGS`` with a terminal ``columns`` wide; return its lines."""
    result = subprocess.run(
        [sys.executable, "-m", "actorbus", "log", "trace", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": str(columns)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


TURN = re.compile(
    r"turn (\d)  gpt-test  fake  tokens \d+ in, \d+ out  \$\d\.\d{6}  [\d.]+(ms|s)(  replayed)?"
)
TOOL_TAIL = re.compile(r"  (ok|error)  [\d.]+(ms|s)(  replayed)?$")


class TestTraceShowsModelCalls:
    def test_each_turn_and_tool_call_shows_under_the_message_its_actor_handled(
        self, log: Built
    ) -> None:
        lines = trace(log.path, "1")
        assert lines[0].startswith(f"1  ask  Weather  -  {log.ids[1]}")
        body = lines[1:-1]
        assert [line[:4] for line in body] == ["|   "] * len(body)  # above the child message
        shown = [line[4:] for line in body]
        assert shown[0] == "weatherman: model call 0, 2 turns"
        assert TURN.fullmatch(shown[1].strip())
        assert shown[2].startswith('    tool get_weather  {"city":"Paris"} -> "sunny in Paris"  ok')
        assert shown[3].startswith('    tool login  {"user":"ada","password":"***"} -> "error: ')
        assert shown[4].startswith('    tool account  {"user":"ada"} -> ')
        assert TURN.fullmatch(shown[5].strip())
        assert shown[6] == "weatherman: model call 1, 1 turn"
        assert TURN.fullmatch(shown[7].strip())
        assert len(shown) == 8
        assert lines[-1].startswith(f"`-- 2  answers  Forecast  weatherman  {log.ids[2]}")

    def test_a_tool_call_says_ok_or_error_and_how_long_it_ran(self, log: Built) -> None:
        tools = [line for line in trace(log.path, "1") if "    tool " in line]
        assert [TOOL_TAIL.search(line).group(1) for line in tools] == ["ok", "error", "ok"]  # type: ignore[union-attr]

    def test_turns_and_tool_results_a_retry_replayed_are_marked_and_new_ones_are_not(
        self, log: Built
    ) -> None:
        shown = [line[4:].strip() for line in trace(log.path, "1")[1:-1]]
        # call 0 ran, then the handler failed; its retry replayed all of it
        assert [line.endswith("  replayed") for line in shown[1:6]] == [True] * 5
        # call 1 was made by the retry itself
        assert shown[7].startswith("turn 0")
        assert not shown[7].endswith("replayed")

    def test_secret_looking_arguments_and_results_are_redacted(self, log: Built) -> None:
        text = "\n".join(trace(log.path, "1", columns=400))
        assert '{"user":"ada","password":"***"}' in text
        assert '{"user":"ada","access_token":"***"}' in text
        for secret in SECRETS:
            assert secret not in text

    @pytest.mark.parametrize("columns", [80, 100, 140])
    def test_tool_lines_are_cut_to_the_terminal_width(self, log: Built, columns: int) -> None:
        tools = [line for line in trace(log.path, "1", columns=columns) if "    tool " in line]
        assert len(tools) == 3
        assert all(len(line) <= columns for line in tools), tools
        assert all(TOOL_TAIL.search(line) for line in tools)  # the status is never cut
        login = tools[1]
        assert ("..." in login) == (columns < 140)

    def test_a_tool_call_the_loop_never_ran_says_so(self, log: Built) -> None:
        lines = trace(log.path, "3")
        shown = [line[4:].strip() for line in lines[1:-1]]
        assert shown[0] == "looper: model call 0, 2 turns"
        assert shown[2].startswith('tool get_weather  {"city":"Rome"} -> "sunny in Rome"  ok')
        assert shown[4] == 'tool get_weather  {"city":"Oslo"}  (not run)'
        assert lines[-1].startswith("`-- 4  _dead.looper  DeadLetter  looper")

    def test_a_call_that_left_nothing_does_not_hide_the_next(self, log: Built) -> None:
        lines = trace(log.path, "5")
        assert [line.strip() for line in lines[1:2]] == ["gapper: model call 1, 1 turn"]
        assert TURN.fullmatch(lines[2].strip())
        assert len(lines) == 3

    def test_a_message_nobody_called_a_model_for_shows_no_calls(self, log: Built) -> None:
        lines = trace(log.path, "2")
        assert lines[0].startswith("2  answers  Forecast  weatherman")
        assert lines[1:] == [f"(it was caused by {log.ids[1]}: trace that id to see more)"]


class TestReader:
    def test_handlings_are_read_back_as_data_with_secrets_masked(self, log: Built) -> None:
        actors, (found,) = anyio.run(read_handlings, ab.SqliteLog(log.path), log.ids[1])
        assert actors == ["gapper", "looper", "weatherman"]
        assert found.actor == "weatherman"
        assert [len(call.turns) for call in found.calls] == [2, 1]
        first = found.calls[0].turns[0]
        assert (first.model, first.provider, first.replayed) == (MODEL, "fake", True)
        assert first.cost is not None
        assert first.cost > 0
        weather, login_, account_ = first.tools
        assert (weather.name, weather.arguments, weather.result) == (
            "get_weather", {"city": "Paris"}, "sunny in Paris",
        )  # fmt: skip
        assert login_.arguments == {"user": "ada", "password": "***"}
        assert (login_.error, login_.ran, login_.replayed) == (True, True, True)
        assert account_.result == {"user": "ada", "access_token": "***"}
        assert not found.calls[1].turns[0].replayed


@pytest.fixture(scope="module")
def nats() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


def test_a_jetstream_streams_journal_is_read_too(nats: NatsServer) -> None:
    stream = ["--log", nats.url, "--stream", "CALLS", "--subject-prefix", "calls"]
    anyio.run(write_log, ab.JetStreamLog(nats.url, stream="CALLS", subject_prefix="calls"))
    lines = trace(*stream, "1", columns=400)
    shown = [line[4:] for line in lines[1:-1]]
    assert shown[0] == "weatherman: model call 0, 2 turns"
    assert shown[3].startswith('    tool login  {"user":"ada","password":"***"} -> "error: ')
    assert shown[3].endswith("  replayed")
    assert shown[6] == "weatherman: model call 1, 1 turn"
    assert not any(secret in "\n".join(lines) for secret in SECRETS)
