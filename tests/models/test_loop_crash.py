"""A tool loop is journaled, effectively once: a re-run repeats no turn and no tool (issue 13, 5).

Every model turn and every tool result of a ``ctx.complete`` inside a handling is
recorded in the log's journal as it finishes; a handler run again for the same
message replays them and goes on from where it stopped.

The crash: a child process (``loop_child.py``) runs a four-tool loop on a
`SqliteLog`, against this process's `FakeOpenAI`. Its third tool hangs; once the
child is in it (two tool calls finished and journaled), the test SIGKILLs it and
starts it again on the same file, with nothing hanging. The server's requests
and the tools' executions (noted in a file outside the log) show that nothing
finished was done again, the final output is that of an uninterrupted run, and
``bus.costs()`` in the restarted process counts only what it paid for. Two shapes:
one tool per turn (the kill lands after the second of four turns' tools), and
four tools in one turn (two finished, two running: each result is journaled on
its own).

The retry: in one process, a handler that fails after its loop is run again by
its supervisor and replays every turn and tool result.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

import actorbus as ab
from actorbus.testing import FakeOpenAI

from .loop_child import (
    ACTOR,
    ITEMS,
    JOBS,
    REPORT,
    TOOLS,
    Executions,
    LoopCrashJob,
    Planner,
    Report,
    models_for,
    result_of,
    script,
)

CHILD = Path(__file__).with_name("loop_child.py")
ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 30.0  # seconds a child may take to finish or die: it needs about one
FINISHED = TOOLS[:2]  # fetch and parse: the tool calls finished before the kill, in each shape
POLL = 0.01  # seconds between looks at a child that is getting to its hanging tool


@dataclass(frozen=True)
class Shape:
    """A loop's shape, and where the first run of it is killed."""

    name: str
    hang: tuple[str, ...]  # the tools the killed run hangs in (started, never finished)
    journal: int  # journal entries when it hangs: finished turns and tool results
    turns: list[bool]  # which turns the restarted run replays (``journaled``)


SHAPES = [
    # Turns 0-3 call fetch, parse, rank, store; turn 4 answers. Killed in rank: turns
    # 0-2 and the results of fetch and parse are in the journal.
    pytest.param(Shape("sequential", ("rank",), 5, [True, True, True, False, False]), id="turns"),
    # Turn 0 calls all four at once; turn 1 answers. Killed with fetch and parse
    # finished, rank and store running: turn 0 and two results are in the journal.
    pytest.param(Shape("parallel", ("rank", "store"), 3, [True, False]), id="one-turn"),
]


def journal_entries(db: Path) -> int:
    """Count the log file's journal entries, read-only, with plain sqlite3."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "journal" not in tables:
            return 0
        count: int = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
        return count
    finally:
        conn.close()


def start(
    db: Path, base_url: str, record: Path, hang: tuple[str, ...], out: Path
) -> subprocess.Popen[bytes]:
    """Start the child, its tools ``hang`` hanging; its output goes to ``out``."""
    with out.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, str(CHILD), str(db), base_url, str(record), ",".join(hang)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def run_to_end(db: Path, base_url: str, record: Path) -> dict[str, Any]:
    """Run the child until it finishes; return its summary."""
    done = subprocess.run(
        [sys.executable, str(CHILD), str(db), base_url, str(record)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, output
    summary: dict[str, Any] = json.loads(done.stdout.decode().splitlines()[-1])
    return summary


def wait_hanging(
    child: subprocess.Popen[bytes], db: Path, executions: Executions, shape: Shape, out: Path
) -> None:
    """Wait until the child hangs in its tools with the journal as `shape` says.

    A bounded poll: the child is another process, with no event to wait on.
    """
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        # The journal is read only once the log is open and busy (a tool has started),
        # so this reader never meets the child creating the file.
        counts = executions.counts()
        entries = journal_entries(db) if all(counts[f"start {t}"] for t in shape.hang) else 0
        if entries >= shape.journal:
            return
        if child.poll() is not None:
            pytest.fail(f"the child ended (rc={child.returncode}):\n{out.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(
                f"the child did not hang in {shape.hang} with {shape.journal} journal entries "
                f"within {RUN_TIMEOUT}s: executions {dict(counts)}, {entries} entries"
            )
        time.sleep(POLL)


def uninterrupted(where: Path, shape: Shape) -> tuple[dict[str, Any], list[Any]]:
    """Run the loop once without a kill: its summary and the requests it made."""
    where.mkdir()
    with FakeOpenAI() as server:
        server.script(*script(shape.name))
        summary = run_to_end(where / "loop.db", server.base_url, where / "executions")
        return summary, [request.body for request in server.requests]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("shape", SHAPES)
def test_a_loop_killed_in_its_tools_resumes_without_repeating_a_turn_or_a_tool(
    tmp_path: Path, shape: Shape
) -> None:
    steps = script(shape.name)
    reference, reference_bodies = uninterrupted(tmp_path / "reference", shape)
    assert reference["spend"]["calls"] == len(steps)
    assert reference["spend"]["tool_calls"] == len(TOOLS)
    assert not any(reference["turns_journaled"])

    db, out = tmp_path / "loop.db", tmp_path / "child.out"
    executions = Executions(tmp_path / "executions")
    with FakeOpenAI() as server:
        server.script(*steps)
        child = start(db, server.base_url, executions.path, shape.hang, out)
        try:
            wait_hanging(child, db, executions, shape, out)
        finally:
            child.send_signal(signal.SIGKILL)
            rc = child.wait(timeout=RUN_TIMEOUT)
        assert rc == -signal.SIGKILL
        paid_before = server.request_count
        assert paid_before == sum(shape.turns)  # each finished turn; the next not asked yet
        assert journal_entries(db) == shape.journal  # nothing was added as it died
        assert executions.counts() == Counter(
            [f"{e} {t}" for t in FINISHED for e in ("start", "end")]
            + [f"start {t}" for t in shape.hang]
        )

        after = run_to_end(db, server.base_url, executions.path)
        bodies = [request.body for request in server.requests]

    # The model: each turn asked once, in all; the restarted run asked only for the
    # turns the first had not finished, with the very same bodies (the replayed
    # transcript, tool call ids and results included) as an uninterrupted run.
    assert len(bodies) == len(steps)
    assert bodies == reference_bodies
    last = bodies[-1]
    assert last is not None
    tool_messages = [m for m in last["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == [result_of(t, ITEMS[t]) for t in TOOLS]

    # The tools: each finished once. A tool the kill interrupted started twice: the
    # journal records a tool's result only after the tool returns, so a tool still
    # running when the process died has no result to replay, and runs again.
    counts = executions.counts()
    assert counts == Counter(
        {f"start {t}": 2 if t in shape.hang else 1 for t in TOOLS} | {f"end {t}": 1 for t in TOOLS}
    )

    # The answer is an uninterrupted run's; the restarted run says what it replayed.
    assert after["output"] == reference["output"] == msgspec.to_builtins(REPORT)
    assert after["turns_journaled"] == shape.turns
    assert after["tools"] == [[t, result_of(t, ITEMS[t]), t in FINISHED, False] for t in TOOLS]
    assert not after["journaled"]
    # And it paid only for its own turns and tool runs.
    assert after["spend"]["calls"] == len(steps) - paid_before
    assert after["spend"]["tool_calls"] == len(TOOLS) - len(FINISHED)
    assert after["spend"]["tool_errors"] == 0


@pytest.mark.parametrize("shape", ["sequential", "parallel"])
async def test_a_handler_retried_after_its_loop_replays_every_turn_and_tool_result(
    tmp_path: Path, shape: str
) -> None:
    steps = script(shape)
    executions = Executions(tmp_path / "executions")
    done: list[ab.Completion[Report]] = []
    async with FakeOpenAI() as server:
        server.script(*steps)
        with anyio.fail_after(30):
            log = ab.SqliteLog(tmp_path / "loop.db")
            async with ab.Bus(log=log, models=models_for(server.base_url)) as bus:
                # fail_once: the handler raises a RuntimeError after its loop, once.
                await bus.spawn(Planner, executions.tools(), done, True, name=ACTOR)
                await bus.publish(JOBS, LoopCrashJob(task="rank the links of the page"))
                await bus.drain()
                spend = bus.costs().by_actor[ACTOR]

    first, again = done  # the supervisor ran the handler a second time
    assert server.request_count == len(steps)  # no new request for the re-run
    assert executions.counts() == Counter(f"{e} {t}" for t in TOOLS for e in ("start", "end"))
    assert [t.journaled for t in first.turns] == [False] * len(steps)
    assert [r.journaled for r in first.tools] == [False] * len(TOOLS)
    assert [t.journaled for t in again.turns] == [True] * len(steps)
    assert [r.journaled for r in again.tools] == [True] * len(TOOLS)
    assert again.journaled
    assert again.output == first.output == REPORT
    assert [(r.call_id, r.result) for r in again.tools] == [
        (r.call_id, r.result) for r in first.tools
    ]
    assert spend.calls == len(steps)  # the replayed turns are not counted again
    assert spend.tool_calls == len(TOOLS)
