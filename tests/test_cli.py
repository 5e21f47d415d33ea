"""The `actorbus` command, run as a user runs it: in a subprocess.

``actorbus run`` finds the team through the ``actorbus.teams`` entry point that
installing the project registers, and runs it offline (the team's scripted
provider) unless an endpoint is configured; see test_cli_models.py for those.
"""

from __future__ import annotations

import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from actorbus._cli._team import NoTeam, load_team

TASK = "How should agents share a task list without losing or repeating work?"
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (.+) \| [\d,]+ tokens, \$\d+\.\d{4}$")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory: `actorbus run` writes its log file there."""
    return tmp_path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def _traces(out: str) -> dict[str, list[str]]:
    """The trace commands the run printed, by step."""
    lines = out.split("see how each step was handled", 1)[1].splitlines()[1:]
    return {
        step.strip(): shlex.split(command)
        for step, command in (line.split(": ", 1) for line in lines if line.strip())
    }


SCRIPTED = "offline demo: these replies are scripted, and no model is called."


class TestRun:
    def test_answers_after_a_visible_bounded_review_loop(self, workdir: Path) -> None:
        result = _run("run", TASK, cwd=workdir)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "team: coordinator, researcher-1, researcher-2, writer, validator" in out
        answer = out.split("answer (", 1)[1].split("review rounds:", 1)[0].lower()
        assert all(word in answer for word in ("agents", "losing", "repeating"))
        rounds = out.split("review rounds:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert rounds == [
            "  1. not approved", "     - mention losing", "     - mention repeating",
            "  2. approved",
        ]  # fmt: skip
        # said as it happened, one line per issue
        assert "round 1: not approved, 2 issues to fix\n  - mention losing\n" in out
        assert "round 2: approved\n" in out

    def test_an_offline_run_says_first_that_its_replies_are_scripted(self, workdir: Path) -> None:
        """Regression for issue 14, point 1: a scripted answer is never passed off as real."""
        result = _run("run", TASK, cwd=workdir)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == SCRIPTED
        assert "--base-url URL --model NAME" in lines[1]
        assert "$OPENAI_API_KEY" in lines[1]
        assert "llama-server, Ollama, vLLM" in lines[2]
        assert "README.md" in lines[2]
        assert "\nanswer (" not in result.stdout
        (head,) = [line for line in lines if "answer (" in line]
        assert head.startswith("scripted answer (offline demo, no model was called; approved")

    def test_prints_what_each_actor_and_model_cost(self, workdir: Path) -> None:
        result = _run("run", "compare ordering guarantees", cwd=workdir)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "model calls, through the team's offline provider (no network)" in out
        for row in ("actor researcher-1", "actor writer", "actor validator", "total"):
            assert row in out
        for model in ("deepseek-v3", "gpt-4.1", "gemini-2.5-flash"):
            assert f"model {model}" in out

    def test_progress_is_a_plain_line_per_event_when_not_on_a_terminal(self, workdir: Path) -> None:
        result = _run("run", TASK, cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "\r" not in result.stdout
        assert "\x1b" not in result.stdout
        progress = [m for line in result.stdout.splitlines() if (m := PROGRESS.match(line))]
        events = [m.group(3) for m in progress]
        for event in ("started research-risks", "writer started write-1", "finished validate-2"):
            assert any(event in e for e in events), event
        counts = [(int(m.group(1)), int(m.group(2))) for m in progress]
        assert counts[-1] == (7, 7)
        assert all(done <= total for done, total in counts)

    def test_progress_is_one_line_redrawn_in_place_on_a_terminal(self, workdir: Path) -> None:
        controller, terminal = pty.openpty()
        with subprocess.Popen(
            [sys.executable, "-m", "actorbus", "run", "plan a release"],
            stdout=terminal,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env={**os.environ, "COLUMNS": "100"},
        ) as process:
            os.close(terminal)
            out = _read_all(controller).decode()
            assert process.wait(timeout=60) == 0
        status = out.split("\r\x1b[K")
        assert len(status) > 5  # redrawn once per event
        assert any("writer started write-1" in part for part in status)
        assert all(len(part.split("\n", 1)[0]) <= 99 for part in status)  # never wraps
        assert "round 1: not approved, 1 issue to fix" in out
        assert "scripted answer (offline demo, no model was called" in out

    def test_quiet_prints_only_the_answer(self, workdir: Path) -> None:
        result = _run("run", "plan a release", "--quiet", cwd=workdir)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1
        assert "release" in lines[0]
        assert result.stderr.splitlines()[0] == SCRIPTED  # still said, aside

    def test_a_run_that_takes_too_long_is_stopped_with_a_clear_error(self, workdir: Path) -> None:
        result = _run("run", "plan a release", "--timeout", "0.000001", cwd=workdir)
        assert result.returncode == 124
        assert result.stderr.startswith(
            "actorbus: unfinished: the run did not finish within --timeout 1e-06 s"
        )
        assert len(result.stderr.splitlines()) == 1
        assert "go on from where it stopped: actorbus run 'plan a release'" in result.stdout
        assert "logged to actorbus.db" in result.stdout


class TestRefusals:
    def test_there_is_no_backend_option_to_refuse(self, workdir: Path) -> None:
        """Regression for issue 14, point 7: ``--backend trio`` was offered, always refused."""
        result = _run("run", "plan", "--backend", "trio", cwd=workdir)
        assert result.returncode == 2
        assert "unrecognized arguments: --backend trio" in result.stderr
        assert "--backend" not in _run("run", "--help", cwd=workdir).stdout
        assert not (workdir / "actorbus.db").exists()

    def test_a_team_that_is_not_installed_is_named_with_the_installed_ones(
        self, workdir: Path
    ) -> None:
        result = _run("run", "plan", "--team", "nosuch", cwd=workdir)
        assert result.returncode == 1
        assert result.stderr.startswith(
            "actorbus: no team named 'nosuch' is installed (installed: default)"
        )
        assert "actorbus.teams" in result.stderr
        assert len(result.stderr.splitlines()) == 1

    def test_no_team_at_all_is_a_clear_error(self) -> None:
        with pytest.raises(NoTeam, match=r"installed: none\).*entry point group") as caught:
            load_team("default", group="actorbus.no-such-group")
        assert caught.value.installed == []

    def test_the_installed_default_team_is_found(self) -> None:
        runner = load_team()
        assert type(runner).__module__ == "actors._cli"

    def test_missing_task_is_a_usage_error(self, workdir: Path) -> None:
        result = _run("run", cwd=workdir)
        assert result.returncode == 2
        assert "task" in result.stderr

    def test_version(self, workdir: Path) -> None:
        result = _run("--version", cwd=workdir)
        assert result.returncode == 0
        assert result.stdout.startswith("actorbus ")


class TestLog:
    def test_run_logs_to_actorbus_db_by_default(self, workdir: Path) -> None:
        result = _run("run", "plan a release", cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "logged to actorbus.db" in result.stdout
        assert (workdir / "actorbus.db").is_file()

    def test_run_logs_to_the_given_file_and_suggests_traces_that_work(self, workdir: Path) -> None:
        result = _run("run", "plan a release", "--log", "first.db", cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "logged to first.db" in result.stdout
        traces = _traces(result.stdout)
        assert list(traces) == [
            "research (3 tasks)", "write-1", "validate-1", "write-2", "validate-2"
        ]  # fmt: skip
        for command in traces.values():
            assert command[:4] == ["actorbus", "log", "trace", "first.db"]
        trace = _run(*traces["research (3 tasks)"][1:], cwd=workdir)
        assert trace.returncode == 0, trace.stderr
        lines = trace.stdout.splitlines()
        assert lines[0].split()[1:4] == ["agents.coordinator", "RunWorkflow", "-"]
        delegated = [line for line in lines if "TaskDelegation" in line]
        assert len(delegated) == 3
        assert all("agents.researcher-" in line for line in delegated)
        assert "WorkflowResult" in lines[-1]
        write = _run(*traces["write-2"][1:], cwd=workdir).stdout
        assert "agents.writer  TaskDelegation" in write

    def test_run_refuses_a_file_that_is_not_a_log(self, workdir: Path) -> None:
        notes = workdir / "notes.txt"
        notes.write_text("keep me\n")
        result = _run("run", "plan a release", "--log", "notes.txt", cwd=workdir)
        assert result.returncode == 1
        assert result.stderr.startswith("actorbus: cannot use log file 'notes.txt'")
        assert notes.read_text() == "keep me\n"

    def test_run_reports_a_log_path_it_cannot_create_in_one_line(self, workdir: Path) -> None:
        result = _run("run", "plan a release", "--log", "no/such/dir/x.db", cwd=workdir)
        assert result.returncode == 1
        assert result.stderr.startswith("actorbus: ")
        assert "no/such/dir/x.db" in result.stderr
        assert len(result.stderr.splitlines()) == 1

    def test_a_second_run_appends_to_the_log_and_traces_its_own_requests(
        self, workdir: Path
    ) -> None:
        roots = []
        for task in ("plan a release", "plan another release"):
            result = _run("run", task, cwd=workdir)
            assert result.returncode == 0, result.stderr
            roots.append(_traces(result.stdout)["research (3 tasks)"])
        assert roots[0][-1] != roots[1][-1]
        trace = _run(*roots[1][1:], cwd=workdir)
        assert trace.returncode == 0, trace.stderr
        root = trace.stdout.splitlines()[0].split()
        assert root[1:3] == ["agents.coordinator", "RunWorkflow"]
        first_run = _run(*roots[0][1:], cwd=workdir).stdout.splitlines()
        assert int(root[0]) > int(first_run[-1].split()[1])  # after the first run's records
        stats = _run("log", "stats", "actorbus.db", cwd=workdir)
        assert ["RunWorkflow", "10"] in [line.split() for line in stats.stdout.splitlines()]


def _read_all(fd: int) -> bytes:
    """Read a pty until the other side is closed."""
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:  # EIO: the child closed its end
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)
