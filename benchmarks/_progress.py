"""A tiny progress bar on stderr: redrawn in place on a TTY, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 24


class Progress:
    """Count finished steps out of ``total`` and show what runs now.

    On a terminal one line is redrawn (``[#####-----] 3/20 ask 2/5 4.1s``); when
    stderr is a file or a pipe (CI, the test suite) each step is one plain line.
    """

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._start = time.perf_counter()

    def start(self, label: str) -> None:
        """Show that step ``label`` has started (only on a terminal)."""
        if self._tty:
            self._draw(f"{label} ...")

    def step(self, label: str, seconds: float, ok: bool = True) -> None:
        """Record one finished step that took ``seconds``."""
        self.done += 1
        status = "" if ok else " FAILED"
        text = f"{label} {seconds:.1f}s{status}"
        if self._tty:
            self._draw(text)
        else:
            self._stream.write(f"[{self.done}/{self.total}] {text}\n")
            self._stream.flush()

    def close(self) -> None:
        """Finish the bar with the total elapsed time."""
        elapsed = time.perf_counter() - self._start
        if self._tty:
            self._draw(f"done in {elapsed:.1f}s")
            self._stream.write("\n")
        else:
            self._stream.write(f"benchmarks done in {elapsed:.1f}s\n")
        self._stream.flush()

    def _draw(self, text: str) -> None:
        filled = _WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (_WIDTH - filled)
        self._stream.write(f"\r\x1b[2K[{bar}] {self.done}/{self.total} {text}")
        self._stream.flush()
