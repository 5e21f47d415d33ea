"""The code is lint-clean and type-checks under mypy --strict: part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check_is_clean() -> None:
    result = _run("ruff", "check", "actorbus", "actors", "tests", "benchmarks", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = _run(
        "ruff", "format", "--check", "actorbus", "actors", "tests", "benchmarks", "examples"
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(240)
def test_mypy_strict_is_clean() -> None:
    result = _run("mypy", "--strict", "actorbus", "actors", "tests", "examples")
    assert result.returncode == 0, result.stdout + result.stderr
