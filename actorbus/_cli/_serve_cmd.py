"""``actorbus log serve`` and ``actorbus run --serve``: the log viewer, on a local address.

``log serve`` checks that the log opens (so a wrong path or URL is said at once,
not on the first page), prints the viewer's URL and serves until Ctrl-C. ``run
--serve`` starts the same viewer in a thread beside the run, once the run's log
is open, prints its URL first, and keeps serving after the run's report until
Ctrl-C, so what the run did can still be looked at. Either way the viewer reads
the log through its own `LogReader` (`LogTarget.reader`), never the bus's log.

The viewer is the optional extra ``ui``: without Starlette and uvicorn both say
``pip install 'actorbus[ui]'`` (`UiMissing`) before doing anything.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from .._ui import require_ui
from ._log_target import LogTarget

if TYPE_CHECKING:
    from .._ui._server import ViewerServer

__all__ = ["DEFAULT_PORT", "add_serve_options", "open_viewer", "serve_until_interrupted"]

DEFAULT_PORT = 8765
"""The viewer's port unless ``--port`` says otherwise."""


def add_serve_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Add ``--host``, ``--port`` and ``--budget`` (each after ``prefix``) to ``parser``."""
    parser.add_argument(
        f"--{prefix}host",
        default="127.0.0.1",
        metavar="HOST",
        help="the address to listen on (default 127.0.0.1; any other needs the token the "
        "viewer prints)",
    )
    parser.add_argument(
        f"--{prefix}port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"the port (default {DEFAULT_PORT}; 0 for any free one)",
    )
    if not prefix:
        parser.add_argument(
            "--budget",
            type=float,
            metavar="DOLLARS",
            help="the run's budget, to show its total against (the log does not record it)",
        )


def open_viewer(target: LogTarget, host: str, port: int, budget: float | None) -> ViewerServer:
    """Make the viewer of ``target`` listening on ``host:port`` (not yet serving).

    Raises:
        UiMissing: the ``ui`` extra is not installed.
        ViewerBindError: the address cannot be listened on.
    """
    require_ui()
    from .._ui._server import ViewerServer
    from .._ui._viewer import Viewer

    viewer = Viewer(target.reader, shown=target.shown, budget=budget)
    return ViewerServer(viewer, host=host, port=port)


def serve_log(args: argparse.Namespace, target: LogTarget) -> int:
    """Run ``actorbus log serve``: check the log opens, print the URL, serve until Ctrl-C."""
    require_ui()
    anyio.run(_check_opens, target, backend="asyncio")
    server = open_viewer(target, args.host, args.port, args.budget)
    print(f"actorbus: the viewer of {target.shown} is at {server.url}", flush=True)
    print("(read-only; Ctrl-C to stop)", flush=True)
    server.serve_forever()
    return 0


async def _check_opens(target: LogTarget) -> None:
    async with target.reader():
        pass


def serve_until_interrupted(server: ViewerServer, out: TextIO = sys.stdout) -> None:
    """Keep ``server`` (serving in its thread) up until Ctrl-C, then stop it."""
    print(f"actorbus: the viewer stays at {server.url} (Ctrl-C to stop)", file=out, flush=True)
    stopped = threading.Event()
    try:
        while not stopped.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def viewer_args(args: Any) -> tuple[str, int]:
    """Return ``run --serve``'s host and port from ``args``."""
    return str(args.serve_host), int(args.serve_port)
