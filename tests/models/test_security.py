"""The API key never shows: not in logs, reprs, errors, the event log, or CLI output.

A sentinel key is configured, used for real calls (accepted and refused), and then
every place it could leak is searched for it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import actorbus as ab
from actorbus.testing import FakeOpenAI, Fault

from ._support import KEY_ENV, SENTINEL_KEY

ROOT = Path(__file__).resolve().parents[2]


class Confidential(ab.Message):
    text: str


class Agent(ab.Actor):
    subscribe = ("agent",)
    model = "gpt-4.1"
    max_retries = 0

    async def on_ask(self, msg: Confidential, ctx: ab.Context) -> Confidential:
        done = await ctx.complete([ab.user(msg.text)])
        return Confidential(text=done.text)


def _config(server: FakeOpenAI) -> ab.ModelsConfig:
    provider = ab.Provider(
        name="gw", base_url=server.base_url, api_key_env=KEY_ENV, retry_base=0.01
    )
    return ab.ModelsConfig(providers=[provider])


def _cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "actorbus", *args], capture_output=True, text=True, timeout=60,
        check=False, env={"PATH": "", "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    return result.stdout + result.stderr


async def test_the_key_appears_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    caplog.set_level(logging.DEBUG)  # every logger: actorbus, httpx, httpcore
    seen: list[str] = []
    path = tmp_path / "events.db"
    with FakeOpenAI(api_key=SENTINEL_KEY) as good, FakeOpenAI(api_key="sk-other") as bad:
        # Accepted calls, a retried 500, a malformed answer, all through a durable bus.
        good.script(Fault.status(500), "fine", Fault.malformed(), "again")
        models = ab.Models(_config(good))
        async with ab.Bus(log=ab.SqliteLog(path), models=models) as bus:
            await bus.spawn(Agent, name="agent")
            reply = await bus.ask("agent", Confidential(text="one"), timeout=10)
            with pytest.raises(ab.AskFailed) as failed:
                await bus.ask("agent", Confidential(text="two"), timeout=10)
            seen += [repr(reply), repr(bus), repr(models), repr(models.config), str(failed.value)]
            seen += [repr(bus.costs()), repr(models.statistics()), repr(models.providers())]
        # A refused key: the error, its repr and its whole traceback.
        async with ab.Models(_config(bad)) as refused:
            with pytest.raises(ab.AuthenticationError) as caught:
                await refused.complete([ab.user("x")], model="gpt-4.1")
        exc = caught.value
        seen += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        seen += [repr(good), repr(bad), repr(good.requests)]
        # The CLI: reading the log back, and a whole run against the server.
        toml = tmp_path / "actorbus.toml"
        toml.write_text(
            f'[[providers]]\nname = "gw"\nbase_url = "{good.base_url}"\napi_key_env = "{KEY_ENV}"\n'
        )
        env = {KEY_ENV: SENTINEL_KEY}
        run_out = _cli(
            "run", "keep secrets", "--log", str(tmp_path / "run.db"), "--models", str(toml), env=env
        )
        assert "model calls, through gw" in run_out  # the run did call the server
        seen.append(run_out)
        for command in ("show", "stats"):
            seen.append(
                _cli(
                    "log",
                    command,
                    str(path),
                    *(["--payload"] if command == "show" else []),
                    env=env,
                )
            )
        seen.append(_cli("log", "show", str(tmp_path / "run.db"), "--payload", env=env))
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.args) for record in caplog.records]
    assert reply == Confidential(text="fine")
    assert any("HTTP 500" in line for line in seen)  # the logs were captured
    leaks = [text for text in seen if SENTINEL_KEY in text]
    assert not leaks, leaks
    assert _files_holding(tmp_path, SENTINEL_KEY) == []


def _files_holding(directory: Path, secret: str) -> list[str]:
    return [f.name for f in directory.iterdir() if secret.encode() in f.read_bytes()]
