"""The `actorbus` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest


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


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_answers_the_task_and_reports_each_actor(backend: str, workdir: Path) -> None:
    result = _run("run", "compare message ordering guarantees", "--backend", backend, cwd=workdir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "answer (" in out
    assert "ordering" in out.split("answer (", 1)[1]
    for actor in ("planner", "researcher", "writer", "reviewer", "monitor"):
        assert actor in out
    assert "messages in" in out


def test_run_logs_to_actorbus_db_by_default(workdir: Path) -> None:
    result = _run("run", "plan a release", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "logged to actorbus.db" in result.stdout
    assert (workdir / "actorbus.db").is_file()


def test_run_logs_to_the_given_file_and_suggests_a_trace_that_works(workdir: Path) -> None:
    result = _run("run", "plan a release", "--log", "first.db", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "logged to first.db" in result.stdout
    suggestion = result.stdout.splitlines()[-1]
    command = shlex.split(suggestion.split(": ", 1)[1])
    assert command[:4] == ["actorbus", "log", "trace", "first.db"]
    trace = _run(*command[1:], cwd=workdir)
    assert trace.returncode == 0, trace.stderr
    lines = trace.stdout.splitlines()
    assert lines[0].split()[:3] == ["1", "team.task", "Request"]
    assert any(line.startswith("|-- ") and "team.research" in line for line in lines)


def test_run_refuses_a_file_that_is_not_a_log(workdir: Path) -> None:
    notes = workdir / "notes.txt"
    notes.write_text("keep me\n")
    result = _run("run", "plan a release", "--log", "notes.txt", cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.startswith("actorbus: cannot use log file 'notes.txt'")
    assert notes.read_text() == "keep me\n"


def test_run_reports_a_log_path_it_cannot_create_in_one_line(workdir: Path) -> None:
    result = _run("run", "plan a release", "--log", "no/such/dir/x.db", cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.startswith("actorbus: ")
    assert "no/such/dir/x.db" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_quiet_prints_only_the_answer(workdir: Path) -> None:
    result = _run("run", "plan a release", "--quiet", cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "release" in lines[0]


def test_version(workdir: Path) -> None:
    result = _run("--version", cwd=workdir)
    assert result.returncode == 0
    assert result.stdout.startswith("actorbus ")


def test_missing_task_is_a_usage_error(workdir: Path) -> None:
    result = _run("run", cwd=workdir)
    assert result.returncode == 2
    assert "task" in result.stderr


def test_a_second_run_appends_to_the_log_and_traces_its_own_request(workdir: Path) -> None:
    suggestions = []
    for task in ("plan a release", "plan another release"):
        result = _run("run", task, cwd=workdir)
        assert result.returncode == 0, result.stderr
        suggestions.append(shlex.split(result.stdout.splitlines()[-1].split(": ", 1)[1]))
    assert suggestions[0][-1] != suggestions[1][-1]
    trace = _run(*suggestions[1][1:], cwd=workdir)
    assert trace.returncode == 0, trace.stderr
    root = trace.stdout.splitlines()[0].split()
    assert root[1:3] == ["team.task", "Request"]
    assert int(root[0]) > 1  # after the first run's records
    stats = _run("log", "stats", "actorbus.db", cwd=workdir)
    assert ["team.task", "2"] in [line.split() for line in stats.stdout.splitlines()]
