"""`Viewer`: what the API reads, through one `LogReader`, opened on first use.

The reader is opened in the event loop that serves the requests (a JetStream
reader's connection belongs to its loop), on the first request that needs it,
and closed with the app. What is slow on a big log and changes only as the log
grows is kept: the per-actor activity (a pass over the log) until the log has
grown and the last pass is a few seconds old; the usage tally, which only
reads the journal entries written since its last update.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio

from .._log import ActorActivity, LogReader, UsageTally, activity

__all__ = ["Viewer"]

_ACTIVITY_FRESH = 2.0  # seconds a pass over the log is reused while the log grows


class Viewer:
    """The viewer's state: its reader, what it shows as the log's name, and its caches.

    Args:
        open_reader: makes the reader (not yet open).
        shown: the log's name as the page may show it (a URL without secrets).
        budget: the run's budget in dollars, if known (the log does not hold it).
        interval: seconds between looks for new records (server-sent events).
    """

    def __init__(
        self,
        open_reader: Callable[[], LogReader],
        *,
        shown: str,
        budget: float | None = None,
        interval: float = 0.25,
    ) -> None:
        self._open_reader = open_reader
        self._reader: LogReader | None = None
        self._lock = anyio.Lock()
        self.shown = shown
        self.budget = budget
        self.interval = interval
        self._usage = UsageTally()
        self._usage_lock = anyio.Lock()
        self._activity: tuple[int, float, list[ActorActivity]] | None = None
        self._activity_lock = anyio.Lock()
        self.stopping = False
        """Set when the server stops: open event streams end (from any thread)."""

    async def reader(self) -> LogReader:
        """Return the reader, opening it the first time.

        Raises:
            LogFileError: the file is missing or not a log (see `LogReader.open`).
            LogUnavailable: the server is unreachable, or has no such stream.
        """
        async with self._lock:
            if self._reader is None:
                reader = self._open_reader()
                await reader.open()
                self._reader = reader
            return self._reader

    async def aclose(self) -> None:
        """Close the reader (a later request opens it again)."""
        async with self._lock:
            reader, self._reader = self._reader, None
            if reader is not None:
                await reader.aclose()

    async def activity(self) -> list[ActorActivity]:
        """Return each actor's activity, from a pass over the log made at most a moment ago."""
        reader = await self.reader()
        async with self._activity_lock:
            last = await reader.last_seq()
            kept = self._activity
            if kept is not None and (
                kept[0] == last or time.monotonic() - kept[1] < _ACTIVITY_FRESH
            ):
                return kept[2]
            found = await activity(reader)
            self._activity = (last, time.monotonic(), found)
            return found

    async def usage(self) -> UsageTally:
        """Return the usage tally, brought up to date with the journal."""
        reader = await self.reader()
        async with self._usage_lock:
            await self._usage.update(reader)
            return self._usage

    def about(self) -> dict[str, Any]:
        """Return what the page says about the viewer itself."""
        return {"log": self.shown, "budget": self.budget}
