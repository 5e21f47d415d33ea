"""Argument parsing and the ``run`` command."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import anyio

from .._bus import Bus, BusStatistics
from .._errors import ActorbusError
from .._message import Request, Response
from .._version import __version__
from ._demo import Monitor, team

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actorbus",
        description="Typed actors on a pub/sub bus with an ordered, de-duplicating log.",
    )
    parser.add_argument("--version", action="version", version=f"actorbus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the built-in team on a task (offline)")
    run.add_argument("task", help="the task, in plain words")
    run.add_argument("--quiet", action="store_true", help="print only the answer")
    run.add_argument("--timeout", type=float, default=30.0, help="seconds to allow (default 30)")
    run.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="async library"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``actorbus`` command; return its exit status."""
    args = _parser().parse_args(argv)
    try:
        return anyio.run(_run, args, backend=args.backend)
    except ActorbusError as exc:
        print(f"actorbus: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace) -> int:
    say = _printer(quiet=args.quiet)
    started = time.perf_counter()
    async with Bus() as bus:
        await bus.spawn(Monitor, say, name="monitor")
        for actor, name in team():
            await bus.spawn(actor, name=name)
        say(f"team: {', '.join(bus.actors())}; task: {args.task!r}\n")
        reply = await bus.ask("team.task", Request(action="solve", content=args.task), args.timeout)
        await bus.drain()
        stats = bus.statistics()
    elapsed = time.perf_counter() - started
    assert isinstance(reply, Response)
    if args.quiet:
        print(reply.content)
        return 0
    print(f"\nanswer ({reply.data.get('rounds')} review round(s)):\n  {reply.content}\n")
    print(_table(stats))
    print(f"\n{stats.last_seq} messages in {elapsed * 1000:.1f} ms (in-memory log)")
    return 0


def _printer(*, quiet: bool) -> Callable[[str], None]:
    def say(line: str) -> None:
        if not quiet:
            print(line, flush=True)

    return say


def _table(stats: BusStatistics) -> str:
    rows = [("actor", "handled", "failed", "retried", "dead", "cursor")]
    rows += [
        (a.name, str(a.handled), str(a.failed), str(a.retried), str(a.dead_lettered), str(a.cursor))
        for a in stats.actors.values()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )
