"""`actorbus log`: inspecting a log file from the command line, run as a user runs it.

One log is built in-process by a small bus on a `SqliteLog`; every command then
runs in a subprocess and is judged by its output. The log it builds:

====  ==========  ====================  =======  =========
seq   topic       message               sender   caused by
====  ==========  ====================  =======  =========
1     work.start  Ping                  -        -
2     work.log    TaskResult (a team's)  relay    1
3     work.step   Ping                  relay    1
4     work.done   Response (built in)   stepper  3
5     auth.login  Login (with secrets)  -        -
====  ==========  ====================  =======  =========

``Ping`` and ``Login`` are defined only here, so the command cannot decode them
into messages; ``Response`` is built in, and ``TaskResult`` belongs to the
installed team (``actors``, found by entry point), so it can decode those.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

import actorbus
from actors import TaskResult

TOPICS = ["work.start", "work.log", "work.step", "work.done", "auth.login"]
SECRETS = ("sk-live-123", "Bearer abc", "hunter2", "tok-9")


class Ping(actorbus.Message):
    n: int


class Login(actorbus.Message):
    user: str
    api_key: str
    headers: dict[str, str]
    accounts: list[dict[str, Any]]
    token_count: int


class Relay(actorbus.Actor):
    subscribe = ("work.start",)

    async def on_ping(self, msg: Ping, ctx: actorbus.Context) -> None:
        await ctx.publish("work.log", TaskResult(task_id="log", output=["start"]))
        await ctx.publish("work.step", Ping(n=msg.n + 1))


class Stepper(actorbus.Actor):
    subscribe = ("work.step",)

    async def on_ping(self, msg: Ping, ctx: actorbus.Context) -> None:
        await ctx.publish("work.done", actorbus.Response(content="done", data={"round": msg.n}))


class Sink(actorbus.Actor):
    subscribe = ("work.done",)

    async def on_response(self, msg: actorbus.Response, ctx: actorbus.Context) -> None:
        pass


def _login() -> Login:
    return Login(
        user="ada",
        api_key="sk-live-123",
        headers={"Authorization": "Bearer abc", "Accept": "json"},
        accounts=[{"name": "main", "password": "hunter2", "access_token": "tok-9"}],
        token_count=3,
    )


async def _build(path: Path) -> None:
    async with actorbus.Bus(log=actorbus.SqliteLog(path)) as bus:
        for actor, name in ((Relay, "relay"), (Stepper, "stepper"), (Sink, "sink")):
            await bus.spawn(actor, name=name)
        await bus.publish("work.start", Ping(n=1))
        await bus.drain()
        await bus.publish("auth.login", _login())
        await bus.drain()


async def _build_lagging(path: Path) -> None:
    async with actorbus.Bus(log=actorbus.SqliteLog(path)) as bus:
        await bus.spawn(Sink, name="sink")
        await bus.publish("work.done", actorbus.Response(content="first"))
        await bus.drain()
        await bus.spawn(Relay, name="relay")
        await bus.spawn(Stepper, name="stepper")
        await bus.publish("work.start", Ping(n=1))  # 2; relay: 3, 4; stepper: 5 (sink's)
        await bus.drain()
        await bus.stop("sink")
        for n in range(2):
            await bus.publish("work.done", actorbus.Response(content=f"late {n}"))  # 6, 7


async def _append(path: Path, count: int) -> None:
    async with actorbus.Bus(log=actorbus.SqliteLog(path)) as bus:
        for n in range(count):
            await bus.publish("work.extra", Ping(n=100 + n))


@dataclass(frozen=True)
class Built:
    path: Path
    ids: dict[int, str]  # seq -> id, read with plain sqlite3


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("log") / "team.db"
    anyio.run(_build, path)
    with sqlite3.connect(path) as conn:
        ids = dict(conn.execute("SELECT seq, id FROM records").fetchall())
    conn.close()
    assert len(ids) == 5
    return Built(path, ids)


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _ok(*args: str | Path) -> list[str]:
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def _seqs(lines: list[str]) -> list[int]:
    """The seq column of a table's rows (the lines that start with a number)."""
    return [int(line.split()[0]) for line in lines if line.split() and line.split()[0].isdigit()]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestShow:
    def test_lists_every_record_as_an_aligned_table(self, log: Built) -> None:
        lines = _ok("log", "show", log.path)
        assert lines[0].split() == ["seq", "time", "topic", "type", "sender", "id"]
        assert _seqs(lines) == [1, 2, 3, 4, 5]
        row = lines[4].split()
        assert row[2:] == ["work.done", "Response", "stepper", log.ids[4]]
        assert datetime.fromisoformat(row[1]).isoformat(timespec="milliseconds") == row[1]
        assert lines[1].split()[4] == "-"  # published from outside: no sender
        starts = {line.index(word) for line, word in zip(lines, ["topic", *TOPICS], strict=True)}
        assert len(starts) == 1, "the topic column is aligned"

    @pytest.mark.parametrize(
        ("args", "seqs"),
        [
            pytest.param(["--topic", "work.*"], [1, 2, 3, 4], id="topic-wildcard"),
            pytest.param(["--topic", "auth.>"], [5], id="topic-rest"),
            pytest.param(["--topic", "work.done"], [4], id="topic-exact"),
            pytest.param(["--type", "Ping"], [1, 3], id="type"),
            pytest.param(["--from", "2", "--to", "4"], [2, 3, 4], id="seq-range"),
            pytest.param(["--type", "Ping", "--from", "2"], [3], id="type-and-range"),
        ],
    )
    def test_filters(self, log: Built, args: list[str], seqs: list[int]) -> None:
        assert _seqs(_ok("log", "show", log.path, *args)) == seqs

    def test_limit_says_where_to_continue(self, log: Built) -> None:
        lines = _ok("log", "show", log.path, "--limit", "2")
        assert _seqs(lines) == [1, 2]
        assert "--from 3" in lines[-1]

    def test_no_match_says_so(self, log: Built) -> None:
        assert _ok("log", "show", log.path, "--type", "Nope")[-1] == "(no records match)"

    def test_payload_is_compact_json_without_the_type_tag(self, log: Built) -> None:
        lines = _ok("log", "show", log.path, "--type", "Response", "--payload")
        assert lines[0].split()[-1] == "payload"
        assert lines[1].endswith('  {"content":"done","data":{"round":2},"ok":true,"error":null}')

    def test_payload_needs_no_message_class(self, log: Built) -> None:
        lines = _ok("log", "show", log.path, "--type", "Ping", "--payload")
        assert lines[1].endswith('{"n":1}')

    def test_secret_looking_values_are_redacted_at_any_depth(self, log: Built) -> None:
        args = ("--topic", "auth.login", "--payload", "--width", "1000")
        out = "\n".join(_ok("log", "show", log.path, *args))
        for secret in SECRETS:
            assert secret not in out
        assert '"api_key":"***"' in out
        assert '"Authorization":"***"' in out
        assert '"password":"***"' in out
        assert '"access_token":"***"' in out
        assert '"user":"ada"' in out
        assert '"token_count":3' in out  # a count of tokens is no secret
        assert '"Accept":"json"' in out

    def test_long_payloads_are_truncated(self, log: Built) -> None:
        lines = _ok("log", "show", log.path, "--topic", "auth.login", "--payload", "--width", "20")
        payload = lines[1].split("  ")[-1]
        assert len(payload) == 20
        assert payload.endswith("...")

    def test_a_payload_that_is_not_msgpack_is_shown_as_undecodable(
        self, log: Built, tmp_path: Path
    ) -> None:
        path = tmp_path / "edited.db"
        shutil.copy(log.path, path)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE records SET payload = 'not msgpack' WHERE seq = 1")
        conn.close()
        lines = _ok("log", "show", path, "--payload", "--to", "2")
        assert "<undecodable payload: " in lines[1]
        assert lines[2].endswith(
            '{"task_id":"log","ok":true,"output":["start"],"error":null,"worker":null}'
        )

    @pytest.mark.parametrize(
        "args",
        [
            pytest.param(["--limit", "0"], id="limit-0"),
            pytest.param(["--from", "x"], id="from-not-a-number"),
            pytest.param(["--width", "3"], id="width-too-small"),
        ],
    )
    def test_bad_arguments_are_usage_errors(self, log: Built, args: list[str]) -> None:
        result = _run("log", "show", log.path, *args)
        assert result.returncode == 2
        assert "error: argument" in result.stderr

    def test_invalid_topic_pattern_is_one_line_error(self, log: Built) -> None:
        result = _run("log", "show", log.path, "--topic", "work..x")
        assert result.returncode == 1
        assert result.stderr.startswith("actorbus: invalid topic")
        assert len(result.stderr.splitlines()) == 1


class TestTail:
    def test_prints_the_newest_records(self, log: Built) -> None:
        assert _seqs(_ok("log", "tail", log.path, "-n", "2")) == [4, 5]

    def test_filters_before_counting(self, log: Built) -> None:
        assert _seqs(_ok("log", "tail", log.path, "-n", "5", "--topic", "work.>")) == [1, 2, 3, 4]

    def test_follow_prints_records_another_process_commits(
        self, log: Built, tmp_path: Path
    ) -> None:
        path = tmp_path / "follow.db"
        shutil.copy(log.path, path)
        args = ["log", "tail", str(path), "-n", "1", "-f", "--max-records", "3", "--duration", "30"]
        with subprocess.Popen(
            [sys.executable, "-m", "actorbus", *args], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            backlog = [proc.stdout.readline(), proc.stdout.readline()]  # header, seq 5
            assert _seqs(backlog) == [5]
            anyio.run(_append, path, 3)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        followed = out.splitlines()
        assert _seqs(followed) == [6, 7, 8]
        assert all("work.extra" in line for line in followed)

    @pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
    def test_follow_ends_quietly_on_ctrl_c(self, log: Built) -> None:
        args = ["log", "tail", str(log.path), "-n", "1", "-f"]
        with subprocess.Popen(
            [sys.executable, "-m", "actorbus", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            assert _seqs([proc.stdout.readline(), proc.stdout.readline()]) == [5]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert (out, err) == ("", "")

    def test_follow_stops_after_its_duration(self, log: Built) -> None:
        lines = _ok("log", "tail", log.path, "-n", "1", "-f", "--duration", "0.3")
        assert _seqs(lines) == [5]


class TestStats:
    def test_counts_records_per_topic_and_type(self, log: Built) -> None:
        lines = _ok("log", "stats", log.path)
        assert "records  5 (seq 1 to 5)" in lines
        assert any(line.startswith("first    seq 1 at ") for line in lines)
        assert any(line.startswith("last     seq 5 at ") for line in lines)
        pairs = {tuple(line.split()) for line in lines}
        assert {("work.start", "1"), ("work.done", "1"), ("auth.login", "1")} <= pairs
        assert {("Ping", "2"), ("TaskResult", "1"), ("Response", "1"), ("Login", "1")} <= pairs
        assert {("relay", "2"), ("stepper", "1"), ("-", "2")} <= pairs

    def test_shows_each_consumers_cursor_and_lag(self, log: Built) -> None:
        lines = _ok("log", "stats", log.path)
        table = lines[lines.index(next(x for x in lines if x.startswith("consumer"))) :]
        assert table[0].split() == ["consumer", "cursor", "lag"]
        rows = {line.split()[0]: line.split()[1:] for line in table[1:4]}
        # Every actor handled all it subscribes to: none lags on the others' topics.
        assert rows == {"relay": ["1", "0"], "sink": ["4", "0"], "stepper": ["3", "0"]}

    def test_a_consumer_stopped_with_work_on_its_topics_lags_by_that_work(
        self, tmp_path: Path
    ) -> None:
        """Regression for issue 14, point 7: lag counts only a consumer's own topics."""
        path = tmp_path / "lagging.db"
        anyio.run(_build_lagging, path)
        lines = _ok("log", "stats", path)
        table = lines[lines.index(next(x for x in lines if x.startswith("consumer"))) :]
        rows = {line.split()[0]: line.split()[1:] for line in table[1:] if line[:1] != "("}
        # relay handled work.start (seq 2), stepper work.step (4), sink work.done
        # (1 and 5), then sink was stopped before 6 and 7, on its topic.
        assert rows == {"relay": ["2", "0"], "sink": ["5", "2"], "stepper": ["4", "0"]}
        assert table[-1].startswith("(lag: records after the cursor on the topics")


class TestTrace:
    def test_draws_the_causation_tree_indented(self, log: Built) -> None:
        lines = _ok("log", "trace", log.path, log.ids[1])
        assert len(lines) == 4
        assert lines[0].split()[:5] == ["1", "work.start", "Ping", "-", log.ids[1]]
        assert lines[1].startswith("|-- 2  work.log  TaskResult  relay  " + log.ids[2])
        assert lines[2].startswith("`-- 3  work.step  Ping  relay  " + log.ids[3])
        assert lines[3].startswith("    `-- 4  work.done  Response  stepper  " + log.ids[4])
        assert lines[0].endswith("+0.0ms")

    def test_takes_a_seq_and_names_the_cause_above(self, log: Built) -> None:
        lines = _ok("log", "trace", log.path, "3", "--payload")
        assert lines[0].startswith("3  work.step  Ping")
        assert lines[0].endswith('{"n":2}')
        assert lines[1].startswith("`-- 4  work.done")
        assert log.ids[1] in lines[-1]

    def test_a_message_with_no_effects_is_a_tree_of_one(self, log: Built) -> None:
        assert len(_ok("log", "trace", log.path, log.ids[5])) == 1

    def test_unknown_id_is_one_line_error(self, log: Built) -> None:
        result = _run("log", "trace", log.path, "no-such-id")
        assert result.returncode == 1
        assert result.stderr == f"actorbus: no record with id 'no-such-id' in {log.path}\n"


class TestReplay:
    def test_publishes_each_record_into_a_bus_whose_monitor_prints_it(self, log: Built) -> None:
        lines = _ok("log", "replay", log.path, "--from", "1")
        printed = [line for line in lines if line.startswith("seq=")]
        assert [int(line.split()[0][4:]) for line in printed] == [1, 2, 3, 4, 5]
        team_result, response = printed[1], printed[3]
        assert team_result.split()[1:5] == ["relay", "->", "work.log", "TaskResult"]
        assert team_result.endswith(
            '{"task_id":"log","ok":true,"output":["start"],"error":null,"worker":null}'
        )
        assert response.split()[1:5] == ["stepper", "->", "work.done", "Response"]
        assert response.endswith('{"content":"done","data":{"round":2},"ok":true,"error":null}')
        assert lines[-1].startswith("replayed 2 record(s) from seq 1")
        assert lines[-1].endswith("3 not replayed")

    def test_records_of_unknown_types_are_reported_and_skipped(self, log: Built) -> None:
        lines = _ok("log", "replay", log.path, "--from", "3", "--to", "3")
        assert lines[0].split()[:5] == ["seq=3", "relay", "->", "work.step", "Ping"]
        assert lines[1].strip().startswith("not replayed, undecodable: no Message subclass")
        assert lines[-1].startswith("replayed 0 record(s)")

    def test_replays_only_the_range(self, log: Built) -> None:
        lines = _ok("log", "replay", log.path, "--from", "4", "--to", "4")
        assert [line.split()[0] for line in lines if line.startswith("seq=")] == ["seq=4"]

    def test_replays_built_in_messages_with_secrets_redacted(self, tmp_path: Path) -> None:
        path = tmp_path / "request.db"
        anyio.run(_publish_request, path)
        lines = _ok("log", "replay", path, "--from", "1")
        assert '"data":{"api_key":"***"}' in lines[0]
        assert "sk-live-123" not in "\n".join(lines)


async def _publish_request(path: Path) -> None:
    async with actorbus.Bus(log=actorbus.SqliteLog(path)) as bus:
        await bus.publish("team.task", actorbus.Request(data={"api_key": "sk-live-123"}))


class TestReadOnly:
    def test_commands_leave_the_log_file_as_it_was(self, log: Built, tmp_path: Path) -> None:
        path = tmp_path / "copy.db"
        shutil.copy(log.path, path)
        before = _digest(path)
        for command in (["show", "--payload"], ["tail"], ["stats"], ["trace", "1"]):
            _ok("log", command[0], path, *command[1:])
        _ok("log", "replay", path, "--from", "1")
        assert _digest(path) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"]  # no -wal, -shm


COMMANDS = [
    pytest.param(["show"], id="show"),
    pytest.param(["tail"], id="tail"),
    pytest.param(["stats"], id="stats"),
    pytest.param(["trace", "x"], id="trace"),
    pytest.param(["replay", "--from", "1"], id="replay"),
]


def _fails_cleanly(args: list[str], path: Path, problem: str) -> None:
    result = _run("log", args[0], path, *args[1:])
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"actorbus: cannot use log file '{path}': ")
    assert problem in result.stderr
    assert len(result.stderr.splitlines()) == 1, "one line, no traceback"


class TestNotALog:
    @pytest.mark.parametrize("args", COMMANDS)
    def test_a_text_file_is_refused_and_left_unchanged(
        self, tmp_path: Path, args: list[str]
    ) -> None:
        path = tmp_path / "notes.txt"
        path.write_text("not a database\n")
        _fails_cleanly(args, path, "not an SQLite database")
        assert path.read_text() == "not a database\n"
        assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]

    @pytest.mark.parametrize("args", COMMANDS)
    def test_another_applications_database_is_refused_and_left_unchanged(
        self, tmp_path: Path, args: list[str]
    ) -> None:
        path = tmp_path / "other.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE records (x)")
        conn.close()
        before = _digest(path)
        _fails_cleanly(args, path, "another application")
        assert _digest(path) == before
        assert [p.name for p in tmp_path.iterdir()] == ["other.db"]

    def test_an_empty_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.db"
        path.touch()
        _fails_cleanly(["stats"], path, "an empty file")
        assert path.read_bytes() == b""

    @pytest.mark.parametrize("args", COMMANDS)
    def test_a_missing_file_is_refused_and_not_created(
        self, tmp_path: Path, args: list[str]
    ) -> None:
        path = tmp_path / "missing.db"
        _fails_cleanly(args, path, "there is no such file")
        assert not path.exists()
