"""The child program of the crash test: a 3-stage pipeline on a `SqliteLog`.

Run as ``python tests/log/crash_pipeline.py DB_PATH N [BACKEND]`` (BACKEND is
``asyncio``, the default, or ``trio``). The program is the source: it publishes
``CrashInput(n=i)`` for i in 0..N-1 on ``pipe.in`` under the key ``in-{i}``;
``CrashTransform`` turns each into a ``CrashMiddle`` on ``pipe.mid`` and ``CrashSink``
turns that into a ``CrashOutput`` on ``pipe.out``. Then it drains the bus and exits 0.

It is killed with SIGKILL at random moments and started again on the same file, so
every run must pick up where the last one stopped: the actors have fixed names (their
cursors resume), the source starts again from 0 (the log drops the inputs it already
holds, by key), and a stage that handles a message again after a crash republishes
the same derived ids (the log drops those too). It imports only public actorbus.
"""

from __future__ import annotations

import sys

import anyio

import actorbus

IN, MID, OUT = "pipe.in", "pipe.mid", "pipe.out"
TRANSFORM, SINK = "crash-transform", "crash-sink"
DEDUP_WINDOW = 3600.0  # longer than the whole test: no id may be forgotten


class CrashInput(actorbus.Message):
    """What the source publishes."""

    n: int


class CrashMiddle(actorbus.Message):
    """What the transform stage publishes for each input."""

    n: int


class CrashOutput(actorbus.Message):
    """What the sink stage publishes for each input: the pipeline's output."""

    n: int


async def work() -> None:
    """A stage's work on one message: about as long as the log takes to commit a batch.

    So the log commits other batches (cursors included) while a handler runs, and a
    kill can land between any two of a stage's steps: taking the message, publishing
    its output, committing its cursor. (With a bare checkpoint a handler's output
    and its cursor nearly always share one transaction, which hides a cursor
    committed too early.)
    """
    await anyio.sleep(0.001)


class CrashTransform(actorbus.Actor):
    """Stage 2: pipe.in -> pipe.mid."""

    subscribe = (IN,)

    async def on_input(self, msg: CrashInput, ctx: actorbus.Context) -> None:
        await work()
        await ctx.publish(MID, CrashMiddle(n=msg.n))


class CrashSink(actorbus.Actor):
    """Stage 3: pipe.mid -> pipe.out."""

    subscribe = (MID,)

    async def on_middle(self, msg: CrashMiddle, ctx: actorbus.Context) -> None:
        await work()
        await ctx.publish(OUT, CrashOutput(n=msg.n))


async def run(db: str, count: int) -> None:
    """Run the pipeline on the log at ``db`` until all ``count`` inputs are through."""
    log = actorbus.SqliteLog(db, dedup_window=DEDUP_WINDOW)
    async with actorbus.Bus(log=log) as bus:
        await bus.spawn(CrashTransform, name=TRANSFORM)
        await bus.spawn(CrashSink, name=SINK)
        for i in range(count):
            await bus.publish(IN, CrashInput(n=i), key=f"in-{i}")
        await bus.drain()


def main(argv: list[str] | None = None) -> int:
    """Parse ``DB_PATH N [BACKEND]`` and run the pipeline; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: crash_pipeline.py DB_PATH N [asyncio|trio]", file=sys.stderr)
        return 2
    anyio.run(run, args[0], int(args[1]), backend=args[2] if len(args) == 3 else "asyncio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
