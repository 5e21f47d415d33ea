"""``actorbus log serve`` and ``actorbus run --serve``, run as a user runs them.

Each command runs in a subprocess; its URL is read from what it prints, the API
is asked over loopback, and Ctrl-C (SIGINT, to that process) stops it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from ._story import Story

pytestmark = pytest.mark.timeout(180)

URL = re.compile(r"(http://127\.0\.0\.1:\d+/)")
WAIT = 60.0  # seconds for a line to come: a safety net far above the second or so it takes


class Lines:
    """The lines a child prints, read in a thread, waited for with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: Queue[str | None] = Queue()
        assert proc.stdout is not None
        self._stream = proc.stdout
        self._thread = threading.Thread(target=self._read, args=(self._stream,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Once the child has ended: let the reader finish, and close the pipe."""
        self._thread.join(timeout=WAIT)
        self._stream.close()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)
        self._queue.put(None)

    def until(self, pattern: re.Pattern[str]) -> re.Match[str]:
        while True:
            try:
                line = self._queue.get(timeout=WAIT)
            except Empty:
                pytest.fail(f"no line matching {pattern.pattern!r}; got {self.seen}")
            if line is None:
                pytest.fail(f"the command ended without {pattern.pattern!r}; got {self.seen}")
            self.seen.append(line)
            found = pattern.search(line)
            if found:
                return found


@contextmanager
def command(*args: str, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ACTORBUS_LOG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "actorbus", *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    lines = Lines(proc)
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=WAIT)
        lines.close()


def test_log_serve_prints_its_url_serves_the_log_and_stops_on_ctrl_c(
    story: Story, tmp_path: Path
) -> None:
    with command("log", "serve", str(story.path), "--port", "0", cwd=tmp_path) as (proc, out):
        url = out.until(URL).group(1)
        summary = httpx.get(url + "api/summary", timeout=WAIT).json()
        assert summary["count"] == story.count
        page = httpx.get(url, timeout=WAIT)
        assert "actorbus viewer" in page.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 130  # Ctrl-C, as for every command
    assert not any("Traceback" in line for line in out.seen)


def test_log_serve_of_a_missing_log_says_so_and_serves_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "actorbus", "log", "serve", "nowhere.db", "--port", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=WAIT, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "there is no such file" in result.stderr
    assert "http://" not in result.stdout


BLOCKED = "import sys; sys.modules['uvicorn'] = None; from actorbus._cli import main; "


def test_without_the_ui_extra_the_command_says_what_to_install(story: Story) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED + f"sys.exit(main(['log', 'serve', {str(story.path)!r}]))"],
        capture_output=True, text=True, timeout=WAIT, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "pip install 'actorbus[ui]'" in result.stderr
    assert "uvicorn" in result.stderr


def test_actorbus_imports_without_the_ui_extra() -> None:
    code = (
        "import sys; import actorbus, actorbus._cli, actorbus._cli._main; "
        "print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert result.stdout.strip() == "[]"


def test_run_serve_shows_the_run_first_and_stays_up_until_ctrl_c(tmp_path: Path) -> None:
    args = ("run", "--serve", "--serve-port", "0", "--log", "run.db", "Plan a trip to Lisbon")
    with command(*args, cwd=tmp_path) as (proc, out):
        url = out.until(re.compile(r"watch the run at " + URL.pattern)).group(1)
        out.until(re.compile(r"the viewer stays at " + re.escape(url)))
        assert any("answer" in line.lower() or "approved" in line.lower() for line in out.seen)
        summary = httpx.get(url + "api/summary", timeout=WAIT).json()
        assert summary["count"] > 0
        assert summary["log"] == "run.db"
        actors = httpx.get(url + "api/actors", timeout=WAIT).json()
        assert {"coordinator", "writer"} <= {a["name"] for a in actors["actors"]}
        assert actors["usage"]["total_cost"] > 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    first_url = next(i for i, line in enumerate(out.seen) if "watch the run at" in line)
    report = next(i for i, line in enumerate(out.seen) if "the viewer stays at" in line)
    assert first_url < report
