"""``actorbus run TASK``: run a team on a task and show it working.

The team comes from the ``actorbus.teams`` entry points (see `load_team`); its
models from ``--models``, ``--base-url`` or the environment (see ``_run_models``),
else its own offline provider, in which case the run says first that the replies
are scripted. The run is logged to the ``--log`` (a `SqliteLog` file, or a
`JetStreamLog` for a ``nats://`` URL: see `LogTarget`), shows live progress
(`StatusLine`: tasks, verdicts, problems, and each retry or wait of a model
call), and ends with the report (see ``_run_report``). With ``--serve``, the
log viewer starts beside the run once its log is open, its URL printed first,
and stays up after the report until Ctrl-C (see ``_serve_cmd``).

Exit status: 0 when the run finished (approved or not), 1 on an error (the run
failed: its report is still printed), 2 for a usage error, 124 when
``--timeout`` ran out and 130 on Ctrl-C. A run that did not finish prints what
it has, and ``--resume`` goes on with it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from ._log_target import add_log_options, log_target
from ._progress import StatusLine
from ._run_models import add_model_options, run_models
from ._run_report import OFFLINE_NOTICE, report, stopped_line
from ._run_session import Session, run_session
from ._serve_cmd import add_serve_options, open_viewer, serve_until_interrupted
from ._team import load_team

if TYPE_CHECKING:
    from .._ui._server import ViewerServer

__all__ = ["EXIT_INTERRUPTED", "EXIT_TIMEOUT", "add_run_parser"]

EXIT_TIMEOUT = 124
"""``actorbus run``'s exit status when ``--timeout`` ran out (as ``timeout(1)``'s)."""

EXIT_INTERRUPTED = 130
"""``actorbus run``'s exit status on Ctrl-C (128 + SIGINT)."""


def add_run_parser(commands: Any) -> None:
    """Add the ``run`` command to the ``actorbus`` parser."""
    run: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="run the team on a task (offline, scripted, unless an endpoint is configured)",
        description="Run the team (researchers, a writer and a validator under a "
        "coordinator) on a task, showing what each actor does, and print the answer.",
    )
    run.add_argument("task", help="the task, in plain words")
    run.add_argument("--quiet", action="store_true", help="print only the answer")
    run.add_argument(
        "-v", "--verbose", action="store_true", help="show the actorbus log (INFO) on stderr"
    )
    run.add_argument(
        "--timeout", type=float, default=300.0, help="seconds the run may take (default 300)"
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="go on with the last unfinished run of this task in the log, keeping what it "
        "completed (default: a new run)",
    )
    add_log_options(run, default="actorbus.db")
    run.add_argument(
        "--serve",
        action="store_true",
        help="watch the run in the log viewer: start it beside the run, print its URL, and "
        "keep it up after the run until Ctrl-C (pip install 'actorbus[ui]')",
    )
    add_serve_options(run, prefix="serve-")
    run.add_argument("--team", default="default", help="the installed team to run")
    add_model_options(run)
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    target = log_target(args)
    runner = load_team(args.team)
    args.run_models = run_models(args, runner)
    viewer: ViewerServer | None = None
    if args.serve:  # listening before the run: a port in use is said before it starts
        budget = args.run_models.models.config.budget.run
        viewer = open_viewer(target, args.serve_host, args.serve_port, budget)
    out = sys.stderr if args.quiet else sys.stdout
    if args.run_models.offline:
        print(OFFLINE_NOTICE, file=out, flush=True)
    progress = None if args.quiet else StatusLine(sys.stdout, tty=sys.stdout.isatty())
    if args.verbose:
        _show_log(progress)
    started = time.perf_counter()
    log = target.open_log()  # a missing nats-py is said before the run starts
    ready = None if viewer is None else _starting(viewer, out)
    try:
        session = anyio.run(run_session, args, log, runner, progress, ready)
    except BaseException:
        if viewer is not None:
            viewer.stop()
        raise
    elapsed = time.perf_counter() - started
    if args.quiet:
        if session.outcome is not None:
            print(session.outcome.answer)
    else:
        print(report(args, session, target, elapsed))
    if session.ended != "done":
        print(f"actorbus: {stopped_line(args, session)}", file=sys.stderr)
    if viewer is not None:
        serve_until_interrupted(viewer, out)
    return _status(session)


def _starting(viewer: ViewerServer, out: TextIO) -> Callable[[], Awaitable[None]]:
    """Return what starts ``viewer`` once the run's log is open, and prints its URL."""

    async def start() -> None:
        await anyio.to_thread.run_sync(viewer.start)
        print(f"actorbus: watch the run at {viewer.url}", file=out, flush=True)

    return start


def _status(session: Session) -> int:
    return {"done": 0, "failed": 1, "timeout": EXIT_TIMEOUT, "interrupted": EXIT_INTERRUPTED}[
        session.ended
    ]


def _show_log(progress: StatusLine | None) -> None:
    """Show the ``actorbus`` log at INFO on stderr, clearing the status line first."""
    handler = _ProgressLog(progress)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("actorbus")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


class _ProgressLog(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, progress: StatusLine | None) -> None:
        super().__init__(sys.stderr)
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if self._progress is not None:
            self._progress.close()  # a log line never lands on the status line
        super().emit(record)
