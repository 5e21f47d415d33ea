"""The ``actorbus log`` commands: look into a log without changing it.

``show`` lists records as a table, ``tail`` prints the newest (and, with ``-f``,
follows new commits by another process), ``stats`` counts records and shows each
consumer's cursor and lag, ``trace`` draws the causation tree under a message,
``replay`` publishes a seq range into a fresh in-memory bus whose monitor prints
every message, and ``serve`` shows the log in a web page, live (see
``_serve_cmd``). Under each message, ``trace`` also shows the model calls and tool
calls of each actor's handling of it, read back from the journal (see
`handling_lines`). Payloads, tool arguments and tool results are printed as
compact JSON with secret-looking values redacted (see `redact`). Every command
reads through the log's `LogReader` (``LogTarget.reader``): a `SqliteLog` file
opened read-only, or a JetStream stream (``--log nats://...``, see `LogTarget`)
on a connection of its own; the reader pages and filters where the records are.
Each command runs its own event loop (asyncio: nats-py needs it).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from contextlib import aclosing
from datetime import datetime
from typing import Any, TypeAlias

import anyio
import msgspec

from .._actor import Actor, Context
from .._bus import Bus
from .._codec import MessageCodec
from .._errors import UndecodableRecord
from .._log import (
    LAG_NOTE,
    LogReader,
    Record,
    RecordFilter,
    actor_names,
    caused_by,
    handlings,
    lags,
    redact,
    scan,
)
from .._message import Message
from ._calls_view import handling_lines
from ._log_target import LogTarget, add_log_options, log_target
from ._serve_cmd import add_serve_options, serve_log
from ._team import load_team_messages

__all__ = ["add_log_parser"]

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_HEADER = ("seq", "time", "topic", "type", "sender", "id")
_FOLLOW_WIDTHS = (6, 23, 20, 16, 12, 0)  # minimum column widths while following


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


_SEQ = _at_least(1)


def add_log_parser(commands: Subcommands) -> None:
    """Add ``log`` and its subcommands to the ``actorbus`` parser's ``commands``."""
    log = commands.add_parser(
        "log",
        help="inspect a durable log: a file or a JetStream stream (read-only)",
        description="Inspect an actorbus log: a SqliteLog file, or a JetStreamLog stream "
        "(--log nats://...). The records are only read.",
    )
    sub = log.add_subparsers(dest="log_command", required=True, metavar="COMMAND")
    _add_show(sub)
    _add_tail(sub)
    _add_stats(sub)
    _add_trace(sub)
    _add_replay(sub)
    _add_serve(sub)


def _add_show(sub: Subcommands) -> None:
    show = sub.add_parser("show", help="a table of records, filtered")
    _add_path(show)
    _add_filters(show)
    show.add_argument("--from", dest="from_seq", type=_SEQ, default=1, help="first seq")
    show.add_argument("--to", dest="to_seq", type=_SEQ, help="last seq")
    show.add_argument("--limit", type=_at_least(1), default=1000, help="most rows (default 1000)")
    show.set_defaults(handler=_run(_show))


def _add_tail(sub: Subcommands) -> None:
    tail = sub.add_parser("tail", help="the newest records; -f to follow new ones")
    _add_path(tail)
    _add_filters(tail)
    tail.add_argument("-n", "--lines", type=_at_least(0), default=10, help="how many (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="print new records as committed")
    tail.add_argument("--interval", type=float, default=0.2, help=argparse.SUPPRESS)
    tail.add_argument("--max-records", type=_at_least(1), help=argparse.SUPPRESS)
    tail.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    tail.set_defaults(handler=_run(_tail))


def _add_stats(sub: Subcommands) -> None:
    stats = sub.add_parser("stats", help="counts per topic, type and sender; cursors and lag")
    _add_path(stats)
    stats.set_defaults(handler=_run(_stats))


def _add_trace(sub: Subcommands) -> None:
    trace = sub.add_parser("trace", help="the causation tree under one message")
    _add_path(trace)
    trace.add_argument("id", help="the message id (or its seq)")
    _add_payload(trace)
    trace.set_defaults(handler=_run(_trace))


def _add_replay(sub: Subcommands) -> None:
    replay = sub.add_parser("replay", help="publish records again into a fresh in-memory bus")
    _add_path(replay)
    replay.add_argument("--from", dest="from_seq", type=_SEQ, required=True, help="first seq")
    replay.add_argument("--to", dest="to_seq", type=_SEQ, help="last seq (default: the newest)")
    _add_width(replay)
    replay.set_defaults(handler=_run(_replay))


def _add_serve(sub: Subcommands) -> None:
    serve = sub.add_parser(
        "serve",
        help="a read-only web viewer of the log, live (pip install 'actorbus[ui]')",
        description="Serve a read-only web page showing the log: a live timeline, causation "
        "trees, model and tool calls, actors and dead letters. Listens on 127.0.0.1 unless "
        "--host says otherwise; any other address needs the token it prints.",
    )
    _add_path(serve)
    add_serve_options(serve)
    serve.set_defaults(handler=lambda args: serve_log(args, _target(args)))


def _add_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        metavar="LOG",
        help="the log file or nats:// URL (as given to `run --log`); or give --log "
        "(default: $ACTORBUS_LOG, else ./actorbus.db, which `actorbus run` writes, if it exists)",
    )
    add_log_options(parser, default="actorbus.db", existing=True)


def _target(args: argparse.Namespace) -> LogTarget:
    return log_target(args, args.path)


def _run(command: Callable[[argparse.Namespace], Awaitable[int]]) -> Callable[..., int]:
    # A command's handler: its coroutine, in an event loop of its own.
    def handler(args: argparse.Namespace) -> int:
        return anyio.run(command, args, backend="asyncio")

    return handler


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", help="only topics matching this pattern ('team.*', 'team.>')")
    parser.add_argument("--type", help="only messages with this type tag")
    _add_payload(parser)


def _add_payload(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--payload", action="store_true", help="show payloads as JSON")
    _add_width(parser)


def _add_width(parser: argparse.ArgumentParser) -> None:
    text = "payload characters to show (default 160)"
    parser.add_argument("--width", type=_at_least(10), default=160, help=text)


# -- formatting ---------------------------------------------------------------------


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat(timespec="milliseconds")


def _cells(record: Record) -> tuple[str, ...]:
    sender = record.sender or "-"
    return (str(record.seq), _when(record.timestamp), record.topic, record.type, sender, record.id)


def _line(cells: Iterable[str], widths: Iterable[int]) -> str:
    # The seq is right-aligned, the rest left-aligned; no trailing spaces.
    parts = [
        cell.rjust(width) if i == 0 else cell.ljust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    ]
    return "  ".join(parts).rstrip()


def _json(data: Any, width: int) -> str:
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "type"}  # the type column says it
    try:
        text = msgspec.json.encode(data).decode()
    except (msgspec.EncodeError, TypeError):
        text = repr(data)
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def _payload(record: Record, width: int) -> str:
    try:
        return _json(record.plain(), width)
    except msgspec.DecodeError as exc:
        return f"<undecodable payload: {exc}>"


def _rows(records: list[Record], widths: list[int], payload: int | None) -> Iterator[str]:
    header = _HEADER if payload is None else (*_HEADER, "payload")
    yield _line(header, widths if payload is None else [*widths, 0])
    for record in records:
        yield _row(record, widths, payload)


def _row(record: Record, widths: list[int], payload: int | None) -> str:
    if payload is None:
        return _line(_cells(record), widths)
    return _line((*_cells(record), _payload(record, payload)), [*widths, 0])


def _widths(records: list[Record], minimum: Iterable[int] = (0,) * len(_HEADER)) -> list[int]:
    rows = [_HEADER, *map(_cells, records)]
    return [max(low, *(len(row[i]) for row in rows)) for i, low in enumerate(minimum)]


def _where(args: argparse.Namespace) -> RecordFilter | None:
    # The filter options, checked (a bad topic pattern raises InvalidTopic).
    if args.topic is None and args.type is None:
        return None
    return RecordFilter(topic=args.topic, type=args.type)


async def _first(records: AsyncGenerator[Record, None], count: int) -> list[Record]:
    found: list[Record] = []
    async with aclosing(records):
        async for record in records:
            if len(found) == count:
                break
            found.append(record)
    return found


def _payload_width(args: argparse.Namespace) -> int | None:
    return int(args.width) if args.payload else None


# -- show and tail ------------------------------------------------------------------


async def _show(args: argparse.Namespace) -> int:
    where = _where(args)
    target = _target(args)
    async with target.reader() as reader:
        page = min(args.limit + 1, 500)
        records = scan(reader, args.from_seq, args.to_seq, where=where, page=page)
        found = await _first(records, args.limit + 1)
        empty = args.from_seq == 1 and target.nats and await reader.last_seq() == 0
    shown = found[: args.limit]
    for line in _rows(shown, _widths(shown), _payload_width(args)):
        print(line)
    if len(found) > len(shown):
        after = shown[-1].seq
        print(f"... more records after seq {after}: continue with --from {after + 1}")
    elif not shown:
        print("(no records match)")
        if empty:  # a mistyped stream name reads as an empty log: say which was read
            stream, prefix = target.stream, target.subject_prefix
            print(
                f"(the stream {stream!r} holds no records under {prefix}.>: check --stream "
                "and --subject-prefix)"
            )
    return 0


async def _tail(args: argparse.Namespace) -> int:
    where = _where(args)
    async with _target(args).reader() as reader:
        last = await reader.last_seq()  # first: a commit landing meanwhile is followed, not lost
        newest = scan(reader, 1, last, where=where, newest_first=True, page=max(args.lines, 1))
        backlog = (await _first(newest, args.lines))[::-1] if args.lines else []
        widths = _widths(backlog, _FOLLOW_WIDTHS)
        for line in _rows(backlog, widths, _payload_width(args)):
            print(line, flush=args.follow)
        if args.follow:
            await _follow(reader, args, where, last, widths)
    return 0


async def _follow(
    reader: LogReader,
    args: argparse.Namespace,
    where: RecordFilter | None,
    after: int,
    widths: list[int],
) -> None:
    # Until Ctrl-C (or the hidden --max-records/--duration).
    left: int | None = args.max_records
    with anyio.move_on_after(math.inf if args.duration is None else args.duration):
        new = reader.follow(after, where=where, interval=args.interval)
        async with aclosing(new):
            async for record in new:
                print(_row(record, widths, _payload_width(args)), flush=True)
                left = None if left is None else left - 1
                if left == 0:
                    return


# -- stats --------------------------------------------------------------------------


async def _stats(args: argparse.Namespace) -> int:
    target = _target(args)
    async with target.reader() as reader:
        summary = await reader.summary()
        counts = {column: await reader.counts(column) for column in ("topic", "type", "sender")}
        cursors = await reader.cursors()
        behind = await lags(reader)
    print(f"log      {target.shown}")
    if summary.first is None or summary.last is None:
        print("records  0")
    else:
        first, last = summary.first, summary.last
        print(f"records  {summary.count} (seq {first.seq} to {last.seq})")
        print(f"first    seq {first.seq} at {_when(first.timestamp)}")
        print(f"last     seq {last.seq} at {_when(last.timestamp)}")
    for column, found in counts.items():
        print()
        _print_table([(column, "count"), *((name, str(n)) for name, n in found.items())])
    print()
    if not cursors:
        print("(no consumer has committed a cursor)")
        return 0
    rows = [(name, str(seq), str(behind.get(name, 0))) for name, seq in cursors.items()]
    _print_table([("consumer", "cursor", "lag"), *rows])
    print(LAG_NOTE)
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


# -- trace --------------------------------------------------------------------------


async def _trace(args: argparse.Namespace) -> int:
    target = _target(args)
    async with target.reader() as reader:
        root = await reader.record(args.id)
        if root is None and args.id.isdigit():
            root = await reader.at(int(args.id))
        if root is None:
            print(f"actorbus: no record with id {args.id!r} in {target.shown}", file=sys.stderr)
            return 1
        width = shutil.get_terminal_size((100, 24)).columns  # not a terminal: 100
        async for line in _tree(reader, root, _payload_width(args), width):
            print(line)
    if root.causation is not None:
        print(f"(it was caused by {root.causation}: trace that id to see more)")
    return 0


async def _tree(
    reader: LogReader, root: Record, payload: int | None, width: int
) -> AsyncGenerator[str, None]:
    # Depth first, children in seq order; iterative, so a long chain of causes
    # cannot exhaust the recursion limit. Each id is drawn once. Under each
    # message, the model calls of its handlings.
    actors = await actor_names(reader)
    seen = {root.id}
    stack = [(root, "", "")]  # a record, the prefix of its line, of its children's
    while stack:
        record, lead, indent = stack.pop()
        yield lead + _node(record, root.timestamp, payload)
        children = [c for c in await caused_by(reader, record.id) if c.id not in seen]
        seen.update(c.id for c in children)
        below = indent + ("|   " if children else "    ")
        for handling in await handlings(reader, record.id, actors):
            for line in handling_lines(handling, width - len(below)):
                yield below + line
        for i, child in reversed(list(enumerate(children))):
            last = i == len(children) - 1
            branch, rest = ("`-- ", "    ") if last else ("|-- ", "|   ")
            stack.append((child, indent + branch, indent + rest))


def _node(record: Record, start: float, payload: int | None) -> str:
    offset = (record.timestamp - start) * 1000
    line = (
        f"{record.seq}  {record.topic}  {record.type}  {record.sender or '-'}  "
        f"{record.id}  +{offset:.1f}ms"
    )
    return line if payload is None else f"{line}  {_payload(record, payload)}"


# -- replay -------------------------------------------------------------------------


class _ReplayMonitor(Actor):
    """Prints each replayed message: its original seq, sender, topic, type and payload."""

    subscribe = (">",)
    max_retries = 0

    def __init__(self, origin: dict[str, int], width: int) -> None:
        self._origin = origin  # message id -> seq in the file
        self._width = width
        self.broken = False  # stdout was closed (`| head`): stop replaying

    async def on_message(self, msg: Message, ctx: Context) -> None:
        env = ctx.envelope
        data = redact(msgspec.to_builtins(msg))
        seq = self._origin.get(env.id, env.seq)
        try:
            print(_replayed(seq, env.sender, env.topic, env.type, _json(data, self._width)))
        except BrokenPipeError:
            self.broken = True


def _replayed(seq: int, sender: str | None, topic: str, type_: str, text: str) -> str:
    return f"seq={seq:<5} {sender or '-':<12} -> {topic:<20} {type_:<16} {text}"


def _decode(codec: MessageCodec, record: Record) -> Message | str:
    # The message, or why it cannot be one here.
    try:
        return codec.decode(record.type, record.payload, record.seq)
    except UndecodableRecord as exc:
        return exc.reason


async def _replay(args: argparse.Namespace) -> int:
    load_team_messages()  # so the records `actorbus run` writes can be decoded
    async with _target(args).reader() as reader:
        records = scan(reader, args.from_seq, args.to_seq)
        async with aclosing(records):
            done, skipped = await _replay_into_bus(records, int(args.width))
    print(
        f"\nreplayed {done} record(s) from seq {args.from_seq} into a fresh in-memory bus; "
        f"{skipped} not replayed"
    )
    return 0


async def _replay_into_bus(records: AsyncGenerator[Record, None], width: int) -> tuple[int, int]:
    origin: dict[str, int] = {}
    monitor = _ReplayMonitor(origin, width)
    codec = MessageCodec()
    done = skipped = 0
    async with Bus() as bus:
        await bus.spawn(monitor, name="replay-monitor")
        async for record in records:
            if monitor.broken:
                raise BrokenPipeError
            problem = await _replay_one(bus, codec, record, origin)
            if problem is None:
                done += 1
                continue
            await bus.drain()  # what came before is printed first
            print(_replayed(record.seq, record.sender, record.topic, record.type, "-"))
            print(f"      not replayed, {problem}")
            skipped += 1
        await bus.drain()
    return done, skipped


async def _replay_one(
    bus: Bus, codec: MessageCodec, record: Record, origin: dict[str, int]
) -> str | None:
    # Publish the record under its own id, sender, correlation and cause; or say
    # why not. (A log may hold an id twice, far enough apart: the bus drops repeats.)
    msg = _decode(codec, record)
    if isinstance(msg, str):
        return f"undecodable: {msg}"
    first = origin.setdefault(record.id, record.seq)
    receipt = await bus.publish_from(
        record.topic, msg, record.id, record.sender, record.correlation_id, record.causation
    )
    return f"duplicate of seq {first} (same id)" if receipt.duplicate else None
