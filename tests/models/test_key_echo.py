"""A gateway that echoes the API key back: the key leaves the process through nothing.

Issue 12, point 1. The fake gateway puts the sentinel key in each kind of body a
provider sends (error bodies, bodies that are not JSON or not a completion, invalid
streamed chunks, and answers), with the key inside the excerpt, ending at its cut,
across it and just after it. Every exception, every log record at DEBUG, every byte
of the log files and the CLI's output is then searched for the key and for any run
of 8 of its characters.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import actorbus as ab
from actorbus._models._secret import EXCERPT, SLICE
from actorbus.testing import FakeOpenAI, Fault, Reply

from ._support import KEY_ENV, SENTINEL_KEY

ROOT = Path(__file__).resolve().parents[2]
KEY = SENTINEL_KEY


def leaks(text: str) -> list[str]:
    """Every run of SLICE characters of the key that ``text`` holds."""
    runs = {KEY[i : i + SLICE] for i in range(len(KEY) - SLICE + 1)}
    return sorted(run for run in runs if run in text)


def with_key_at(offset: int, head: str = '{"error": {"message": "bad", "debug": "') -> str:
    """A body holding the key from character ``offset`` (padded JSON-ish text)."""
    pad = "x" * max(offset - len(head), 0)
    return (head + pad)[:offset] + KEY + '"}}'


# Where the key sits relative to the excerpt's cut (EXCERPT characters).
OFFSETS = {
    "inside": 40,
    "ending_at_cut": EXCERPT - len(KEY),
    "across_cut": EXCERPT - len(KEY) // 2,
    "just_after_cut": EXCERPT - 3,
}


class Probe(ab.Message):
    kind: str
    stream: bool = False


class Said(ab.Message):
    text: str


class Caller(ab.Actor):
    subscribe = ("probe",)
    model = "gpt-4.1"
    max_retries = 0

    async def on_probe(self, msg: Probe, ctx: ab.Context) -> Said:
        if msg.stream:
            return Said(text=await ctx.stream([ab.user(msg.kind)]).text())
        done = await ctx.complete([ab.user(msg.kind)])
        return Said(text=done.text + repr(done.tool_calls))


def steps() -> list[tuple[str, bool, Fault | Reply]]:
    """(label, streamed, what the gateway does) for every kind of body."""
    cases: list[tuple[str, bool, Fault | Reply]] = []
    for where, offset in OFFSETS.items():
        body = with_key_at(offset)
        cases += [
            (f"400 body, key {where}", False, Fault.status(400, body=body)),
            (f"422 body, key {where}", False, Fault.status(422, body=body)),
            (f"500 body, key {where}", False, Fault.status(500, body=body)),
            (f"not JSON, key {where}", False, Fault.malformed(body[:-3])),
            (
                f"not a completion, key {where}",
                False,
                Fault.malformed('{"choices": 7, "x": ' + body),
            ),
            (f"invalid chunk, key {where}", True, Fault.malformed(body[:-3])),
            (f"error event in a stream, key {where}", True, Fault.malformed(body)),
            (f"answer, key {where}", False, Reply(text=body)),
            (f"streamed answer, key {where}", True, Reply(text=body)),
        ]
    arguments = '{"q": "' + KEY + '"}'
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    cases.append(("tool call arguments", False, Reply(text="", tool_calls=[call])))
    return cases


def cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "actorbus", *args], capture_output=True, text=True, timeout=120,
        check=False, env={"PATH": "", "PYTHONPATH": str(ROOT), KEY_ENV: KEY},
    )  # fmt: skip
    return result.stdout + result.stderr


async def test_an_echoed_key_reaches_no_error_log_record_file_or_cli_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG)  # every logger: actorbus, httpx, httpcore
    seen: list[str] = []
    path = tmp_path / "events.db"
    cases = steps()
    with FakeOpenAI(api_key=KEY) as gateway:
        provider = ab.Provider(
            name="gw", base_url=gateway.base_url, api_key_env=KEY_ENV, max_attempts=2,
            retry_base=0.001, retry_cap=0.01,
        )  # fmt: skip
        models = ab.Models(ab.ModelsConfig(providers=[provider]))
        failures = 0
        async with ab.Bus(log=ab.SqliteLog(path), models=models) as bus:
            await bus.spawn(Caller, name="caller")
            for label, streamed, step in cases:
                gateway.script(step, step)  # twice: a retried status is echoed again
                try:
                    reply = await bus.ask("probe", Probe(kind=label, stream=streamed), timeout=30)
                except ab.AskFailed as exc:
                    failures += 1
                    seen += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
                else:
                    seen.append(repr(reply))
                gateway.reset()
            seen += [repr(bus.costs()), repr(models.statistics())]
        toml = tmp_path / "actorbus.toml"
        toml.write_text(
            f'[[providers]]\nname = "gw"\nbase_url = "{gateway.base_url}"\n'
            f'api_key_env = "{KEY_ENV}"\n'
        )
        gateway.reply_with(lambda body: Reply(text=with_key_at(OFFSETS["across_cut"])))
        run = cli("run", "echo my key", "--log", str(tmp_path / "run.db"), "--models", str(toml))
        assert "model calls, through gw" in run  # the run did call the gateway
        seen.append(run)
    seen.append(cli("log", "show", str(path), "--payload"))
    seen.append(cli("log", "show", str(tmp_path / "run.db"), "--payload"))
    seen.append(cli("log", "stats", str(path)))
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.args) for record in caplog.records]
    seen += [str(record.__dict__) for record in caplog.records]
    assert failures == len(OFFSETS) * 7  # every failing kind did fail...
    assert any("body starts" in text for text in seen)  # ...quoting its (masked) body
    assert any("DeadLetter" in text for text in seen)  # the log was shown
    found = {i: leaks(text) for i, text in enumerate(seen) if leaks(text)}
    assert found == {}, [seen[i][:300] for i in found]
    assert files_leaking(tmp_path) == {}


def files_leaking(directory: Path) -> dict[str, list[str]]:
    """The files (log, WAL, journal) holding runs of the key, with what they hold."""
    found = {f.name: leaks(f.read_bytes().decode("latin-1")) for f in directory.iterdir()}
    return {name: runs for name, runs in found.items() if runs}
