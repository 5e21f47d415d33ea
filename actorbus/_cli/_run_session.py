"""One ``actorbus run`` session: the bus, the team's run, and how it ended.

The run is bounded by ``--timeout`` and stopped by Ctrl-C (SIGINT, caught as a
signal so the session can still report). However it ends (finished, timed out,
interrupted, or failed with an `ActorbusError` such as the team's ``TeamError``)
the session returns what there is to print: the outcome, or the team's run as
far as it got (``TeamRunner.unfinished``), and the costs. A second Ctrl-C stops
at once. The bus closes with a short grace: what an interrupted actor was doing
is not waited for (its completed tasks are in the log, for ``--resume``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anyio

from .._bus import Bus
from .._errors import ActorbusError
from .._log import EventLog
from .._models import CostReport, ModelEvent
from ._progress import StatusLine
from ._team import TeamOutcome, TeamRunner

__all__ = ["Ended", "Session", "run_session"]

Ended = Literal["done", "timeout", "interrupted", "failed"]
"""How a session's run ended."""

SHUTDOWN_GRACE = 2.0
"""Seconds actors get to finish on the way out (a finished run has nothing left)."""

UNFINISHED_WAIT = 10.0
"""Seconds to read how far a run that was cut short got."""


@dataclass(frozen=True)
class Session:
    """What a session has to report.

    Attributes:
        ended: how the run ended.
        outcome: the run's outcome; for a run that did not end "done", as far as
            it got (None: nothing to show).
        error: why it failed (``ended == "failed"``).
        costs: what the model calls cost.
        published: messages the bus published.
    """

    ended: Ended
    outcome: TeamOutcome | None
    error: str | None
    costs: CostReport
    published: int


async def run_session(
    args: argparse.Namespace,
    log: EventLog,
    runner: TeamRunner,
    progress: StatusLine | None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> Session:
    """Run the team on ``args.task`` on a bus over ``log``; report to ``progress``.

    ``ready`` is awaited once the bus (and so its log) is open, before the run.
    """
    async with Bus(log=log, models=args.run_models.models, shutdown_grace=SHUTDOWN_GRACE) as bus:
        if ready is not None:
            await ready()
        if progress is not None and bus.models is not None:
            progress.costs = bus.costs
            bus.models.on_event = _noting(progress)
        say = _silent if progress is None else progress
        ended: Ended = "done"
        outcome: TeamOutcome | None = None
        error: str | None = None
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                interrupted = _Flag()
                tg.start_soon(_stop_on_sigint, scope, interrupted)
                with anyio.move_on_after(args.timeout) as timer:
                    try:
                        outcome = await runner.run(
                            bus, args.task, say, model=args.model, resume=args.resume
                        )
                    except ActorbusError as exc:
                        ended, error = "failed", str(exc)
                if timer.cancelled_caught:
                    ended = "timeout"
                tg.cancel_scope.cancel()  # the signal watcher
        if interrupted.set:
            ended = "interrupted"
        if progress is not None:
            progress.close()
        if ended != "done":
            with anyio.move_on_after(UNFINISHED_WAIT):
                outcome = await runner.unfinished(bus, args.task)
        published = bus.statistics().published
    return Session(ended, outcome, error, bus.costs(), published)


class _Flag:
    __slots__ = ("set",)

    def __init__(self) -> None:
        self.set = False


async def _stop_on_sigint(scope: anyio.CancelScope, interrupted: _Flag) -> None:
    """Cancel ``scope`` on the first Ctrl-C; the next one stops the process at once."""
    # No signals (not the main thread, or no such support): Ctrl-C stops at once.
    with (
        contextlib.suppress(NotImplementedError, ValueError),
        anyio.open_signal_receiver(signal.SIGINT) as signals,
    ):
        async for _ in signals:
            interrupted.set = True
            sys.stderr.write("\nactorbus: stopping (Ctrl-C again to stop at once)\n")
            scope.cancel()
            return


def _noting(progress: StatusLine) -> Callable[[ModelEvent], None]:
    """Return what shows each retry, and each wait on a limit, of a model call as it starts."""

    def note(event: ModelEvent) -> None:
        progress.note(event.describe())

    return note


def _silent(text: str, *, done: int, total: int, lasting: bool = False) -> None:
    return None
