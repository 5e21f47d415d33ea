"""``--log nats://...``: `actorbus run` and `actorbus log` on a JetStream stream.

The command runs in a subprocess, as a user runs it, against a real nats-server
(`NatsServer`). Each test uses a stream and subject prefix of its own on the
module's server, so tests do not see each other's records; the ones about
credentials start a server of their own.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from actorbus.testing import NatsServer

SECRET = "pw-5d1c0e9a"  # a password that must never be printed


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with NatsServer() as nats:
        yield nats


@pytest.fixture
def stream() -> list[str]:
    """The options naming a stream (and subject prefix) no other test uses."""
    name = f"T{uuid.uuid4().hex[:10]}"
    return ["--stream", name, "--subject-prefix", name.lower()]


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "ACTORBUS_LOG"}
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**environ, **(env or {})},
    )


def _traces(out: str) -> dict[str, list[str]]:
    """The trace commands the run printed, by step."""
    lines = out.split("see how each step was handled", 1)[1].splitlines()[1:]
    return {
        step.strip(): shlex.split(command)
        for step, command in (line.split(": ", 1) for line in lines if line.startswith("  "))
    }


def _stream_names(server: NatsServer) -> set[str]:
    """The streams on ``server`` (KV buckets included, as ``KV_<bucket>``)."""

    async def names() -> set[str]:
        import nats

        client = await nats.connect(server.url)
        try:
            return {info.config.name or "" for info in await client.jetstream().streams_info()}
        finally:
            await client.close()

    return asyncio.run(names())


def _make_stream(server: NatsServer, name: str, prefix: str) -> None:
    """Create the stream ``name`` over ``<prefix>.>``, empty, as a run would."""

    async def make() -> None:
        import nats

        client = await nats.connect(server.url)
        try:
            await client.jetstream().add_stream(name=name, subjects=[f"{prefix}.>"])
        finally:
            await client.close()

    asyncio.run(make())


def _publish(server: NatsServer, name: str, prefix: str, notes: list[str]) -> None:
    """Publish a `Request` on ``notes.<note>`` for each note, through a JetStreamLog."""
    import actorbus as ab

    async def publish() -> None:
        log = ab.JetStreamLog(server.url, stream=name, subject_prefix=prefix)
        async with ab.Bus(log=log) as bus:
            for note in notes:
                await bus.publish(f"notes.{note}", ab.Request(action="note", content=note))

    asyncio.run(publish())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestRunOnJetStream:
    def test_run_logs_to_the_stream_and_prints_trace_commands_that_work(
        self, server: NatsServer, stream: list[str], tmp_path: Path
    ) -> None:
        result = _run("run", "plan a release", "--log", server.url, *stream, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"logged to {server.url} (stream '{stream[1]}')" in result.stdout
        assert not list(tmp_path.iterdir())  # no SQLite file on the side
        traces = _traces(result.stdout)
        assert list(traces) == [
            "research (3 tasks)", "write-1", "validate-1", "write-2", "validate-2"
        ]  # fmt: skip
        for command in traces.values():
            assert command[:-1] == ["actorbus", "log", "trace", "--log", server.url, *stream]
        trace = _run(*traces["research (3 tasks)"][1:], cwd=tmp_path)
        assert trace.returncode == 0, trace.stderr
        lines = trace.stdout.splitlines()
        assert lines[0].split()[1:4] == ["agents.coordinator", "RunWorkflow", "-"]
        assert len([line for line in lines if "TaskDelegation" in line]) == 3
        assert "WorkflowResult" in lines[-1]

    def test_log_show_and_stats_read_the_runs_records(
        self, server: NatsServer, stream: list[str], tmp_path: Path
    ) -> None:
        run = _run("run", "plan a release", "--log", server.url, *stream, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        published = int(run.stdout.split(" messages in ", 1)[0].rsplit("\n", 1)[1])
        show = _run("log", "show", "--log", server.url, *stream, "--limit", "5000", cwd=tmp_path)
        assert show.returncode == 0, show.stderr
        rows = show.stdout.splitlines()
        assert rows[0].split() == ["seq", "time", "topic", "type", "sender", "id"]
        assert [int(row.split()[0]) for row in rows[1:]] == list(range(1, published + 1))
        only = _run(
            "log", "show", server.url, *stream, "--type", "RunWorkflow", "--payload", cwd=tmp_path
        )
        assert only.returncode == 0, only.stderr
        workflows = only.stdout.splitlines()[1:]
        assert len(workflows) == 5  # research, then write and validate twice
        assert all("agents.coordinator  RunWorkflow" in row for row in workflows)
        assert '{"workflow_id":' in workflows[0]  # the payload, read with no message class
        stats = _run("log", "stats", "--log", server.url, *stream, cwd=tmp_path)
        assert stats.returncode == 0, stats.stderr
        assert f"records  {published} (seq 1 to {published})" in stats.stdout
        assert ["RunWorkflow", "5"] in [line.split() for line in stats.stdout.splitlines()]

    def test_an_empty_stream_says_which_stream_was_read(
        self, server: NatsServer, stream: list[str], tmp_path: Path
    ) -> None:
        _make_stream(server, stream[1], stream[3])
        result = _run("log", "show", "--log", server.url, *stream, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "(no records match)" in result.stdout
        assert f"the stream '{stream[1]}' holds no records" in result.stdout

    def test_reading_a_missing_stream_says_so_and_creates_nothing(
        self, server: NatsServer, stream: list[str], tmp_path: Path
    ) -> None:
        # A mistyped --stream must not leave a stream and its buckets on the server.
        before = _stream_names(server)
        for command in (["log", "show"], ["log", "stats"], ["log", "trace", "some-id"]):
            result = _run(*command, "--log", server.url, *stream, cwd=tmp_path)
            assert result.returncode == 1, result.stdout
            assert f"no stream {stream[1]!r}" in result.stderr
            assert "--stream" in result.stderr
            assert len(result.stderr.splitlines()) == 1
        assert _stream_names(server) == before


@pytest.fixture(scope="module")
def guarded() -> Iterator[NatsServer]:
    """A server that takes only user ``abus`` with the password `SECRET`."""
    config = f'authorization {{ user: "abus", password: "{SECRET}" }}'
    with NatsServer(extra_config=config) as nats:
        yield nats


class TestCredentials:
    def test_a_password_in_the_url_is_never_printed(
        self, guarded: NatsServer, stream: list[str], tmp_path: Path
    ) -> None:
        url = f"nats://abus:{SECRET}@127.0.0.1:{guarded.port}"
        run = _run("run", "plan a release", "--log", url, *stream, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert SECRET not in run.stdout + run.stderr
        assert f"logged to nats://***@127.0.0.1:{guarded.port}" in run.stdout
        assert "set ACTORBUS_LOG to it" in run.stdout
        # The printed commands name no URL: with ACTORBUS_LOG set, they work as pasted.
        command = _traces(run.stdout)["write-1"]
        assert command[:-1] == ["actorbus", "log", "trace", *stream]
        env = {"ACTORBUS_LOG": url}
        outputs = [
            _run(*command[1:], cwd=tmp_path, env=env),
            _run("log", "stats", *stream, cwd=tmp_path, env=env),
            _run("log", "show", "--log", url, *stream, "--payload", cwd=tmp_path),
            _run("log", "trace", "--log", url, *stream, "no-such-id", cwd=tmp_path),
        ]
        assert [o.returncode for o in outputs] == [0, 0, 0, 1]
        assert "agents.writer  TaskDelegation" in outputs[0].stdout
        assert "nats://***@127.0.0.1" in outputs[1].stdout
        for output in outputs:
            assert SECRET not in output.stdout + output.stderr

    def test_a_wrong_password_is_one_line_without_it(
        self, guarded: NatsServer, tmp_path: Path
    ) -> None:
        wrong = "not-" + SECRET
        url = f"nats://abus:{wrong}@127.0.0.1:{guarded.port}"
        for args in (["run", "x"], ["log", "stats"]):
            result = _run(*args, "--log", url, "--connect-timeout", "2", cwd=tmp_path)
            assert result.returncode == 1
            assert result.stderr.startswith("actorbus: event log nats://***@127.0.0.1")
            assert "refused the credentials" in result.stderr
            assert len(result.stderr.splitlines()) == 1
            assert wrong not in result.stdout + result.stderr


class TestUnreachable:
    @pytest.mark.parametrize(
        "args", [pytest.param(["run", "x"], id="run"), pytest.param(["log", "show"], id="show")]
    )
    def test_no_server_is_one_line_and_exit_1_within_the_timeout(
        self, args: list[str], tmp_path: Path
    ) -> None:
        url = f"nats://user:{SECRET}@127.0.0.1:{_free_port()}"
        started = time.monotonic()
        result = _run(*args, "--log", url, "--connect-timeout", "1", cwd=tmp_path)
        elapsed = time.monotonic() - started
        assert result.returncode == 1
        assert result.stderr.startswith("actorbus: event log nats://***@127.0.0.1:")
        assert "no NATS server answered within 1s" in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert SECRET not in result.stdout + result.stderr
        assert elapsed < 15  # a second of trying, plus starting Python

    def test_without_nats_py_the_error_says_what_to_install(self, tmp_path: Path) -> None:
        # nats-py made unimportable in the child only, as if it were not installed.
        code = (
            "import sys; sys.modules['nats'] = None; from actorbus._cli import main; "
            "sys.exit(main(['log', 'stats', '--log', 'nats://127.0.0.1:4222']))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 1
        assert "pip install 'actorbus[nats]'" in result.stderr
        assert len(result.stderr.splitlines()) == 1


class TestLogValues:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            pytest.param(
                ["--log", f"http://u:{SECRET}@host"], "not 'http://***@host'", id="other-scheme"
            ),
            pytest.param(
                ["--log", "nats://a:4222,http://b"], "nats:// or tls:// URLs", id="mixed-list"
            ),
            pytest.param(["--log", "x.db", "--stream", "S"], "--stream: only with", id="file-opts"),
            pytest.param(["x.db", "--log", "y.db"], "give the log once", id="twice"),
            pytest.param([], "which log?", id="none"),
            pytest.param(
                ["--log", "nats://127.0.0.1:1", "--stream", "a.b"], "stream must be", id="bad-name"
            ),
        ],
    )
    def test_bad_values_are_one_line_errors(
        self, args: list[str], message: str, tmp_path: Path
    ) -> None:
        result = _run("log", "stats", *args, cwd=tmp_path)
        assert result.returncode == 1
        assert message in result.stderr
        assert SECRET not in result.stderr
        assert len(result.stderr.splitlines()) == 1

    def test_tail_follows_a_stream_as_another_process_publishes(
        self, server: NatsServer, stream: list[str], tmp_path: Path
    ) -> None:
        """Issue 15: a stream is read through the same reader as a file, following too."""
        _publish(server, stream[1], stream[3], ["first"])
        args = ["log", "tail", "--log", server.url, *stream, "-n", "1", "-f"]
        args += ["--max-records", "2", "--duration", "30", "--topic", "notes.>"]
        with subprocess.Popen(
            [sys.executable, "-m", "actorbus", *args],
            stdout=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        ) as proc:
            assert proc.stdout is not None
            backlog = [proc.stdout.readline(), proc.stdout.readline()]  # header, seq 1
            assert [row.split()[0] for row in backlog] == ["seq", "1"]
            _publish(server, stream[1], stream[3], ["second", "third"])
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        followed = [line.split() for line in out.splitlines()]
        assert [(row[0], row[2]) for row in followed] == [
            ("2", "notes.second"),
            ("3", "notes.third"),
        ]

    def test_a_file_path_may_hold_a_comma(self, tmp_path: Path) -> None:
        result = _run("run", "plan a release", "--log", "a,b.db", "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "a,b.db").is_file()
