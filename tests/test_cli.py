"""The `actorbus` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_answers_the_task_and_reports_each_actor(backend: str) -> None:
    result = _run("run", "compare message ordering guarantees", "--backend", backend)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "answer (" in out
    assert "ordering" in out.split("answer (", 1)[1]
    for actor in ("planner", "researcher", "writer", "reviewer", "monitor"):
        assert actor in out
    assert "messages in" in out


def test_quiet_prints_only_the_answer() -> None:
    result = _run("run", "plan a release", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "release" in lines[0]


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("actorbus ")


def test_missing_task_is_a_usage_error() -> None:
    result = _run("run")
    assert result.returncode == 2
    assert "task" in result.stderr
