"""The child program of the tool-loop crash test: one handling's tool loop on a `SqliteLog`.

Run as ``python tests/models/loop_child.py DB_PATH BASE_URL RECORD_PATH [BLOCK]``.
It opens a bus on the `SqliteLog` at DB_PATH, with models whose one provider is the
OpenAI-compatible server at BASE_URL (the test's `FakeOpenAI`), spawns a `Planner`
and publishes one `LoopCrashJob` under a fixed key. The planner's handler runs one
``ctx.complete(..., tools=[fetch, parse, rank, store], output=Report)``: the
server's script decides the loop's shape (one tool per turn, or all four in one
turn). Then the program drains the bus and prints one JSON line (see `summary`):
the output, which turns and tool results were replayed from the journal, and what
this process paid for (``bus.costs()``).

Each tool notes ``start <tool>`` and ``end <tool>`` in the file at RECORD_PATH,
outside the log, so the test counts executions across a SIGKILL. The tools named in
BLOCK (comma-separated) hang after their ``start`` line, so the test kills the child
at a moment it knows. Started again on the same file, the actor resumes (its cursor
is before the job), the job's republication is dropped by key, and the handler runs
again for the same message. It imports only public actorbus. The in-process tests
import its pieces too.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import msgspec

import actorbus as ab
from actorbus.testing import Reply, ToolCall

JOBS = "loopcrash.jobs"
ACTOR = "planner"
MODEL = "gpt-4.1"
DEDUP_WINDOW = 3600.0  # longer than the test: the restarted source's job must be dropped
TOOLS = ("fetch", "parse", "rank", "store")  # in the order the model calls them
ITEMS = {"fetch": "page", "parse": "html", "rank": "links", "store": "top"}


class LoopCrashJob(ab.Message):
    """The one message the planner handles."""

    task: str


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The loop's structured output."""

    results: list[str]
    verdict: str


def result_of(tool: str, item: str) -> str:
    """What ``tool`` returns for ``item``: the same in every run."""
    return f"{tool}({item})"


REPORT = Report(results=[result_of(t, ITEMS[t]) for t in TOOLS], verdict="done")


def script(shape: str) -> list[Reply]:
    """The server's replies for the whole loop of ``shape``, in order.

    ``"sequential"``: four turns each calling one tool, then the answer (5 requests).
    ``"parallel"``: one turn calling all four tools at once, then the answer (2).
    """
    calls = [ToolCall(t, {"item": ITEMS[t]}) for t in TOOLS]
    final = Reply.json(REPORT)
    if shape == "sequential":
        return [*(Reply(tool_calls=[call]) for call in calls), final]
    if shape == "parallel":
        return [Reply(tool_calls=calls), final]
    raise ValueError(f"unknown shape {shape!r}")


class Executions:
    """The tools, noting each execution in a file outside the log.

    A line written with ``os.write`` is in the kernel once the call returns, so it
    survives the process dying of SIGKILL (no fsync needed: the machine stays up).
    """

    def __init__(self, path: Path, block: Sequence[str] = ()) -> None:
        self.path = path
        self.block = frozenset(block)

    def note(self, line: str) -> None:
        """Append ``line`` to the record (one ``write``, so lines never interleave)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)

    def counts(self) -> Counter[str]:
        """How many times each line was noted (``"start rank"``: 2)."""
        if not self.path.exists():
            return Counter()
        return Counter(self.path.read_text().splitlines())

    def tools(self) -> list[ab.Tool]:
        """The four tools, in `TOOLS` order."""
        return [self._tool(name) for name in TOOLS]

    def _tool(self, name: str) -> ab.Tool:
        async def run(item: str) -> str:
            self.note(f"start {name}")
            if name in self.block:
                await anyio.sleep_forever()  # the test kills the process here
            self.note(f"end {name}")
            return result_of(name, item)

        return ab.tool(run, name=name, description=f"The {name} step of the job.")


class Planner(ab.Actor):
    """Runs the job's tool loop; keeps each completion; may fail once after the loop."""

    subscribe = (JOBS,)
    model = MODEL
    max_retries = 1
    retry_delay = 0

    def __init__(
        self, tools: list[ab.Tool], done: list[ab.Completion[Report]], fail_once: bool = False
    ) -> None:
        self.tools = tools
        self.done = done
        self.fail_once = fail_once

    async def on_job(self, msg: LoopCrashJob, ctx: ab.Context) -> None:
        done = await ctx.complete([ab.user(msg.task)], tools=self.tools, output=Report)
        self.done.append(done)
        if self.fail_once:
            self.fail_once = False
            raise RuntimeError("the handler failed after its loop (a retryable error)")


def models_for(base_url: str) -> ab.Models:
    """Models with one provider at ``base_url``; one attempt, so no retry hides a request."""
    provider = ab.Provider(name="fake", base_url=base_url, max_attempts=1)
    return ab.Models(ab.ModelsConfig(providers=[provider]))


def summary(done: ab.Completion[Report], spend: ab.Spend) -> dict[str, Any]:
    """What the child prints: the output, what was replayed, what this process paid for."""
    return {
        "output": msgspec.to_builtins(done.output),
        "journaled": done.journaled,
        "turns_journaled": [turn.journaled for turn in done.turns],
        "tools": [[run.name, run.result, run.journaled, run.error] for run in done.tools],
        "spend": msgspec.to_builtins(spend),
    }


async def run(db: str, base_url: str, record: str, block: Sequence[str]) -> dict[str, Any]:
    """Handle the job on the log at ``db`` (resuming it if a run was killed); summarise."""
    done: list[ab.Completion[Report]] = []
    tools = Executions(Path(record), block).tools()
    log = ab.SqliteLog(db, dedup_window=DEDUP_WINDOW)
    async with ab.Bus(log=log, models=models_for(base_url)) as bus:
        await bus.spawn(Planner, tools, done, name=ACTOR)
        await bus.publish(JOBS, LoopCrashJob(task="rank the links of the page"), key="job-1")
        await bus.drain()
        spend = bus.costs().by_actor.get(ACTOR, ab.Spend())
    if len(done) != 1:
        raise RuntimeError(f"expected one completion, got {len(done)}")
    return summary(done[0], spend)


def main(argv: list[str] | None = None) -> int:
    """Parse ``DB_PATH BASE_URL RECORD_PATH [BLOCK]``, run, print the summary; exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4):
        print("usage: loop_child.py DB_PATH BASE_URL RECORD_PATH [TOOL,...]", file=sys.stderr)
        return 2
    block = args[3].split(",") if len(args) == 4 else []
    print(
        json.dumps(anyio.run(run, args[0], args[1], args[2], block, backend="asyncio")), flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
