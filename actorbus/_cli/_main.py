"""Argument parsing, dispatch, and the ``run`` command."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence

import anyio

from .._bus import Bus, BusStatistics
from .._errors import ActorbusError, ModelsConfigError
from .._log import SqliteLog
from .._log._reader import LogReader
from .._message import Request, Response
from .._models import CostReport, Models, ModelsConfig
from .._version import __version__
from ._demo import Monitor, team
from ._fake_cmd import add_fake_openai_parser
from ._log_cmd import add_log_parser

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
    run.add_argument(
        "--log", default="actorbus.db", help="the log file to write (default ./actorbus.db)"
    )
    run.add_argument(
        "--models",
        metavar="TOML",
        help="model configuration file (default: from the environment; with nothing "
        "configured, the offline echo provider)",
    )
    run.set_defaults(handler=_run)
    add_log_parser(commands)
    add_fake_openai_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``actorbus`` command; return its exit status."""
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ActorbusError as exc:
        print(f"actorbus: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read our output stopped (`| head`): end quietly, and keep Python
        # from failing again when it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # such as a --log path in a directory that does not exist
        print(f"actorbus: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    models = _models(args)
    reply, stats, costs, before = anyio.run(_run_team, args, models, backend=args.backend)
    elapsed = time.perf_counter() - started
    if args.quiet:
        print(reply.content)
        return 0
    print(f"\nanswer ({reply.data.get('rounds')} review round(s)):\n  {reply.content}\n")
    print(_table(stats))
    print(_costs(models, costs))
    print(f"\n{stats.published} messages in {elapsed * 1000:.1f} ms, logged to {args.log}")
    request_id = _first_request(args.log, before)
    if request_id is not None:
        command = shlex.join(["actorbus", "log", "trace", args.log, request_id])
        print(f"see how the task was handled: {command}")
    return 0


def _models(args: argparse.Namespace) -> Models | None:
    # Model calls need asyncio (aiolimiter): on Trio the team works without them.
    if args.backend != "asyncio":
        if args.models:
            raise ModelsConfigError("--models needs --backend asyncio: model calls need asyncio")
        return None
    config = ModelsConfig.from_toml(args.models) if args.models else ModelsConfig.from_env()
    return Models(config)


def _costs(models: Models | None, costs: CostReport) -> str:
    if models is None:
        return "\nno model calls (they need asyncio; this run used Trio)"
    providers = models.providers()
    where = (
        "the offline echo provider, priced as the models it stands in for"
        if all(p.offline for p in providers)
        else ", ".join(f"{p.name} ({p.base_url})" for p in providers)
    )
    return f"\nmodel calls, through {where}:\n{costs.format()}"


async def _run_team(
    args: argparse.Namespace, models: Models | None
) -> tuple[Response, BusStatistics, CostReport, int]:
    say = _printer(quiet=args.quiet)
    async with Bus(log=SqliteLog(args.log), models=models) as bus:
        before = bus.log.last_seq  # the file may hold earlier runs
        await bus.spawn(Monitor, say, name="monitor")
        for actor, name in team():
            await bus.spawn(actor, name=name)
        say(f"team: {', '.join(bus.actors())}; task: {args.task!r}\n")
        reply = await bus.ask("team.task", Request(action="solve", content=args.task), args.timeout)
        await bus.drain()
        stats = bus.statistics()
    assert isinstance(reply, Response)
    return reply, stats, bus.costs(), before


def _first_request(path: str, after: int) -> str | None:
    # The ask is this run's first record on team.task: the root of its trace.
    with LogReader(path) as reader:
        found = (r.id for r in reader.records(after + 1) if r.topic == "team.task")
        return next(found, None)


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
