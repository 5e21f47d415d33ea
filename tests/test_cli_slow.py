"""``actorbus run`` against a slow, faulty or confused endpoint, as a user runs it (issue 14).

Each test starts FakeOpenAI with scripted latency, faults or invalid verdicts and
runs the command in a subprocess. Latencies are kept small (a request timeout of
0.5 s against answers that take 1 s) and every wait is a safety net far above
the expected time.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import actors
from actorbus.testing import FakeOpenAI, Fault, RecordedRequest, Reply

Step = str | Reply | Fault

ROOT = Path(__file__).resolve().parent.parent
TASK = "plan a release"


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": "", "PYTHONPATH": str(ROOT), "COLUMNS": "100", **extra}


def _run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *args], capture_output=True, text=True, timeout=90,
        check=False, cwd=cwd, env=_env(**env),
    )  # fmt: skip


def _models_file(tmp_path: Path, server: FakeOpenAI, **settings: Any) -> str:
    """An actorbus.toml with one provider at ``server`` and these settings."""
    lines = ["[[providers]]", 'name = "local"', f'base_url = "{server.base_url}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path = tmp_path / "actorbus.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _role(body: dict[str, Any] | None) -> str:
    assert body is not None
    system = next(str(m["content"]) for m in body["messages"] if m["role"] == "system")
    return next(r for r in ("researcher", "writer", "validator") if r in system)


def _prompt(body: dict[str, Any] | None) -> str:
    assert body is not None
    return next(str(m["content"]) for m in body["messages"] if m["role"] == "user")


def _task_of(request: RecordedRequest) -> str:
    """Which task a request was for: the research angle, or the role and its round."""
    prompt = _prompt(request.body)
    if "Angle: " in prompt:
        return prompt.split("Angle: ", 1)[1].split("\n", 1)[0]
    return _role(request.body)


def _overlapping(requests: list[RecordedRequest]) -> list[str]:
    """Requests for the same task the server had open at the same time (none: [])."""
    found = []
    ordered = sorted(requests, key=_task_of)
    for task, group in itertools.groupby(ordered, key=_task_of):
        same = sorted(group, key=lambda r: r.time)
        for before, after in itertools.pairwise(same):
            assert before.ended is not None
            if after.time < before.ended - 0.05:  # the server sees a hang-up on its next read
                found.append(f"{task}: {before.time:.3f}-{before.ended:.3f}, {after.time:.3f}")
    return found


def _total(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("total "))
    return line.split()[1:]


def _hang_validation(body: dict[str, Any]) -> Step:
    """Answer as the offline team, except the validator, which never answers."""
    return Fault.hang(60) if _role(body) == "validator" else actors.offline_reply(body)


class TestSlowEndpoint:
    """Point 2 and 3: timeouts between chunks, retries said as they happen, no duplicates."""

    @pytest.mark.parametrize("where", ["toml", "option"])
    def test_retries_show_as_they_happen_and_every_request_is_counted(
        self, tmp_path: Path, where: str
    ) -> None:
        with FakeOpenAI(latency=1.0) as server:
            server.reply_with(actors.offline_reply)
            timeout = {"timeout": 0.5} if where == "toml" else {"timeout": 30}
            config = _models_file(tmp_path, server, max_attempts=2, retry_base=0.05, **timeout)
            extra = ["--request-timeout", "0.5"] if where == "option" else []
            result = _run("run", TASK, "--models", config, *extra, cwd=tmp_path)
            requests = server.requests
        assert result.returncode == 1, result.stderr
        out = result.stdout
        retries = [line for line in out.splitlines() if ": retry 1/1 after ReadTimeout" in line]
        assert len(retries) == 6  # each research attempt's first request, said as it happened
        assert out.index(retries[0]) < out.index("research-background failed")
        assert len(requests) == 12  # 3 angles x 2 attempts x 2 requests
        calls, sent = _total(out)[:2]
        assert (calls, sent) == ("0", str(len(requests)))  # the costs count what the server saw
        assert _overlapping(requests) == []
        assert "logged to actorbus.db" in out

    def test_the_roles_stream_so_a_timeout_bounds_silence_not_answers(self, tmp_path: Path) -> None:
        with FakeOpenAI() as server:
            server.reply_with(actors.offline_reply)
            result = _run("run", TASK, "--base-url", server.base_url, cwd=tmp_path)
            bodies = [r.body for r in server.requests]
        assert result.returncode == 0, result.stderr
        assert len(bodies) == 7
        assert all(body is not None and body["stream"] is True for body in bodies)

    def test_a_rate_limit_is_said_with_its_wait(self, tmp_path: Path) -> None:
        # Answers take 0.5 s: the two researchers, asked at once, share one slot.
        with FakeOpenAI(latency=0.5) as server:
            server.script(Fault.status(429, retry_after_ms=100))
            server.reply_with(actors.offline_reply)
            config = _models_file(tmp_path, server, max_concurrent=1)
            result = _run("run", TASK, "--models", config, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert any(line.endswith(": retry 1/4 after HTTP 429, waiting 0.1 s") for line in lines)
        assert any(line.endswith("waiting for local's max_concurrent limit") for line in lines)
        assert _total(result.stdout)[:2] == ["7", "8"]  # 8 requests for 7 answers

    def test_verbose_shows_the_actorbus_log_at_info(self, tmp_path: Path) -> None:
        with FakeOpenAI(latency=0.5) as server:
            server.reply_with(actors.offline_reply)
            config = _models_file(tmp_path, server, max_concurrent=1)
            quiet = _run("run", TASK, "--models", config, cwd=tmp_path)
            verbose = _run("run", TASK, "--models", config, "-v", cwd=tmp_path)
        assert (quiet.returncode, verbose.returncode) == (0, 0)
        assert quiet.stderr == ""
        waits = [line for line in verbose.stderr.splitlines() if "max_concurrent limit" in line]
        assert waits
        assert all(line.startswith("INFO actorbus.models: local ") for line in waits)

    def test_a_request_timeout_must_be_positive(self, tmp_path: Path) -> None:
        result = _run("run", TASK, "--request-timeout", "0", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr == "actorbus: --request-timeout must be positive, not 0\n"


class TestVerdicts:
    """Point 4: typed verdicts, shown one line per item, cut to the terminal's width."""

    def test_a_long_verdict_is_shown_one_line_per_issue_cut_to_the_width(
        self, tmp_path: Path
    ) -> None:
        issues = [f"issue {i}: " + "this needs much more detail " * 8 for i in range(8)]

        def reply(body: dict[str, Any]) -> Step:
            if _role(body) == "validator":
                return json.dumps({"approved": False, "issues": issues})
            return actors.offline_reply(body)

        with FakeOpenAI() as server:
            server.reply_with(reply)
            result = _run("run", TASK, "--base-url", server.base_url, cwd=tmp_path, COLUMNS="60")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        live = out.split("\n\nanswer (", 1)[0].splitlines()
        rounds = out.split("review rounds:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert all(len(line) <= 59 for line in live + rounds)
        assert live.count("round 1: not approved, 8 issues to fix") == 1
        assert live.count("  (3 more in the log)") == 3  # five shown per round, three rounds
        assert rounds[0] == "  1. not approved"
        assert len(rounds) == 3 * (1 + 8)  # every issue, one line each
        assert rounds[1].startswith("     - issue 0: this needs much more detail this")
        assert rounds[1].endswith("...")
        assert len(out.splitlines()) < 100

    def test_an_answer_that_is_no_verdict_is_said_so_never_quoted_as_one(
        self, tmp_path: Path
    ) -> None:
        def reply(body: dict[str, Any]) -> Step:
            if _role(body) == "validator":
                return "Well, it reads fine, I suppose.\n" * 30
            return actors.offline_reply(body)

        with FakeOpenAI() as server:
            server.reply_with(reply)
            result = _run("run", TASK, "--base-url", server.base_url, cwd=tmp_path)
            validations = [r for r in server.requests if _role(r.body) == "validator"]
        assert result.returncode == 0, result.stderr
        assert len(validations) == 3  # the answer, then two re-asks with the error
        assert "round 1: the validator gave no valid verdict (3 answer(s)" in result.stdout
        assert "answer (round 1 has no verdict):" in result.stdout
        assert "reads fine" not in result.stdout
        assert "REVISE" not in result.stdout


class TestCutShort:
    """Point 5: a run stopped by --timeout or Ctrl-C keeps and shows what it has."""

    def test_a_timed_out_run_shows_its_draft_and_resume_goes_on_from_it(
        self, tmp_path: Path
    ) -> None:
        with FakeOpenAI() as server:
            server.reply_with(_hang_validation)
            first = _run("run", TASK, "--base-url", server.base_url, "--timeout", "3", cwd=tmp_path)
            asked_first = server.requests
            server.reset()
            server.reply_with(actors.offline_reply)
            again = _run(
                "run", TASK, "--base-url", server.base_url, "--timeout", "30", "--resume",
                cwd=tmp_path,
            )  # fmt: skip
            asked_again = server.requests
        assert first.returncode == 124, first.stderr
        assert first.stderr.splitlines() == [
            "actorbus: unfinished: the run did not finish within --timeout 3 s "
            "(allow more with --timeout)"
        ]
        out = first.stdout
        assert "best draft so far (round 1, not reviewed; unfinished):" in out
        assert "go on from where it stopped: actorbus run 'plan a release' --base-url" in out
        assert out.rstrip().splitlines()[-1].startswith("  validate-1: actorbus log trace")
        assert "logged to actorbus.db" in out
        assert [_role(r.body) for r in asked_first][-1] == "validator"
        assert asked_first[-1].ended is not None  # its request was closed

        assert again.returncode == 0, again.stderr
        assert "resume: going on with run " in again.stdout
        assert again.stdout.count("done in the earlier run, kept") == 4  # 3 angles, write-1
        roles = [_role(r.body) for r in asked_again]
        assert roles == ["validator", "writer", "validator"]  # research and write-1 kept
        assert "\nanswer (approved after 2 review rounds):" in again.stdout

    def test_ctrl_c_stops_the_run_and_shows_what_it_has(self, tmp_path: Path) -> None:
        with FakeOpenAI() as server:
            server.reply_with(_hang_validation)
            command = [sys.executable, "-m", "actorbus", "run", TASK, "--base-url", server.base_url]
            with subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=tmp_path, env=_env(),
            ) as process:  # fmt: skip
                assert process.stdout is not None
                seen = _read_until(process.stdout.readline, "validator started validate-1")
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "stopping (Ctrl-C again to stop at once)" in err
        assert err.splitlines()[-1] == "actorbus: unfinished: the run was stopped (Ctrl-C)"
        out = seen + out
        assert "unfinished: the run was stopped (Ctrl-C)" in out
        assert "best draft so far (round 1, not reviewed; unfinished):" in out
        assert "model calls, through endpoint" in out


class TestLogDefault:
    """Point 7: the log commands read ./actorbus.db, which ``run`` writes, by default."""

    def test_each_log_command_reads_actorbus_db_when_no_log_is_given(self, tmp_path: Path) -> None:
        ran = _run("run", TASK, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        root = ran.stdout.rstrip().splitlines()[-1].split()[-1]
        for command in (["show"], ["tail"], ["stats"], ["trace", root], ["replay", "--from", "1"]):
            result = _run("log", *command, cwd=tmp_path)
            assert result.returncode == 0, (command, result.stderr)
            assert result.stdout
        stats = _run("log", "stats", cwd=tmp_path).stdout.splitlines()
        table = stats[stats.index(next(x for x in stats if x.startswith("consumer"))) + 1 :]
        lags = {line.split()[0]: int(line.split()[2]) for line in table if line[:1] != "("}
        assert set(lags) >= {"coordinator", "writer", "validator"}
        assert set(lags.values()) == {0}  # a finished run's actors lag nowhere

    def test_without_actorbus_db_the_log_must_be_named(self, tmp_path: Path) -> None:
        result = _run("log", "show", cwd=tmp_path)
        assert result.returncode == 1
        assert "which log?" in result.stderr
        assert "(there is no actorbus.db here)" in result.stderr


def _read_until(readline: Callable[[], str], marker: str) -> str:
    """Read lines until one holds ``marker`` (or the output ends); return them."""
    lines: list[str] = []
    while line := readline():
        lines.append(line)
        if marker in line:
            break
    assert any(marker in line for line in lines), "".join(lines)
    return "".join(lines)
