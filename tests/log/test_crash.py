"""Crash recovery: a pipeline on a `SqliteLog`, killed with SIGKILL again and again.

A child process (``crash_pipeline.py``) runs source -> transform -> sink over
``N`` inputs on one log file. It is killed with SIGKILL at a random moment of each
run and started again, until ``KILLS`` kills have landed; so kills land all along
the pipeline (starting up, catching up, the source publishing, the stages
draining, shutting down). Then it is left to finish the pipeline, however long
this machine takes (a run may also finish before its moment came), and it runs
once more, not killed, and must exit 0 having added nothing. The log
file, read with plain ``sqlite3`` (not through actorbus), must then hold every input
exactly once on each stage's topic, in input order, each output caused by the
record of the stage before, with gap-free seqs. After every kill the same checks
hold for what the log holds so far (a prefix of the pipeline, nothing doubled).
Each run picks asyncio or Trio at random, so each recovers what the other left.

The random delays are the moments of the kills, the behaviour under test; nothing
waits on them for synchronisation. The seed is in every failure message; set
``ACTORBUS_CRASH_SEED`` to replay or vary it.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]

CHILD = Path(__file__).with_name("crash_pipeline.py")
ROOT = Path(__file__).resolve().parents[2]

N = 5_000
KILLS = 20  # real kills: the child was still running when SIGKILL was sent
MAX_ATTEMPTS = 200  # runs started before giving up
KILL_AFTER = (0.05, 1.0)  # seconds after the start: uniform, so kills land all over
RUN_TIMEOUT = 60.0  # seconds a child may take to exit (a finish, or dying of SIGKILL)
BACKENDS = ("asyncio", "trio")  # each run picks one: a log left by either recovers in either
SEED = int(os.environ.get("ACTORBUS_CRASH_SEED", "20240611"))

# topic -> (message type tag, sender, topic of the record that causes it)
STAGES: dict[str, tuple[str, str | None, str | None]] = {
    "pipe.in": ("CrashInput", None, None),
    "pipe.mid": ("CrashMiddle", "crash-transform", "pipe.in"),
    "pipe.out": ("CrashOutput", "crash-sink", "pipe.mid"),
}
CURSORS = {"crash-transform": "pipe.in", "crash-sink": "pipe.mid"}


@dataclass
class Record:
    seq: int
    id: str
    topic: str
    type: str
    sender: str | None
    correlation_id: str | None
    causation: str | None
    n: Any


@dataclass
class Run:
    backend: str
    delay: float | None  # when the kill was due; None for the final run
    outcome: str  # "killed", "finished", "failed (rc=...)" or "final (rc=...)"
    last_seq: int  # the log's newest seq after the run
    outputs: int  # records on pipe.out after the run


@dataclass
class History:
    seed: int
    runs: list[Run] = field(default_factory=list)

    def __str__(self) -> str:
        kills = sum(run.outcome == "killed" for run in self.runs)
        mid = sum(
            run.outcome == "killed" and before.outputs < N
            for before, run in zip([Run("", None, "", 0, 0), *self.runs], self.runs, strict=False)
        )
        lines = [
            f"seed={self.seed} (ACTORBUS_CRASH_SEED), N={N}: {kills} kill(s), {mid} of them "
            "before the pipeline was complete; runs:"
        ]
        lines += [
            f"  #{i}: {run.backend}, {run.outcome}"
            + ("" if run.delay is None else f" (kill due at {run.delay:.3f}s)")
            + f": last_seq={run.last_seq}, outputs={run.outputs}"
            for i, run in enumerate(self.runs, 1)
        ]
        return "\n".join(lines)


def read_log(db: Path) -> tuple[list[Record], dict[str, int]]:
    """Read every record (payload decoded) and cursor of the log, read-only."""
    if not db.exists():
        return [], {}
    # Read-only, so no checkpoint or WAL cleanup changes what the next child recovers.
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "records" not in tables:  # killed before the schema was made
            return [], {}
        rows = conn.execute(
            "SELECT seq, id, topic, type, sender, correlation_id, causation, payload "
            "FROM records ORDER BY seq"
        ).fetchall()
        cursors = dict(conn.execute("SELECT consumer, seq FROM cursors").fetchall())
    finally:
        conn.close()
    records = []
    for seq, msg_id, topic, tag, sender, correlation, causation, payload in rows:
        body = msgspec.msgpack.decode(payload)
        n = body.get("n") if isinstance(body, dict) else None
        records.append(Record(seq, msg_id, topic, tag, sender, correlation, causation, n))
    return records, cursors


def problems(records: list[Record], cursors: dict[str, int], *, complete: bool) -> list[str]:
    """Say everything wrong with the log; an empty list when it is right.

    With ``complete`` False the log may hold a prefix of the pipeline (after a
    kill); with True it must hold all of it.
    """
    found: list[str] = []
    seqs = [r.seq for r in records]
    if seqs != list(range(1, len(seqs) + 1)):
        holes = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
        found.append(f"seqs are not gap-free 1..{max(seqs)}: missing {_few(holes)}")
    by_topic: dict[str, list[Record]] = {topic: [] for topic in STAGES}
    for r in records:
        if r.topic not in STAGES:
            found.append(f"unexpected record seq={r.seq} on {r.topic!r} (type {r.type})")
            continue
        by_topic[r.topic].append(r)
        tag, sender, _ = STAGES[r.topic]
        if (r.type, r.sender) != (tag, sender):
            found.append(f"seq={r.seq} on {r.topic}: type {r.type}, sender {r.sender}")
        if not isinstance(r.n, int) or not 0 <= r.n < N:
            found.append(f"seq={r.seq} on {r.topic}: bad payload n={r.n!r}")
    ids: dict[str, dict[int, str]] = {}
    for topic, stage in by_topic.items():
        ns = [r.n for r in stage]
        counts = Counter(ns)
        doubled = sorted(n for n, c in counts.items() if c > 1)
        if doubled:
            found.append(f"{topic}: {len(doubled)} input(s) doubled: {_few(doubled)}")
        expected = N if complete else len(counts)
        missing = sorted(set(range(expected)) - set(counts))
        if missing:
            found.append(f"{topic}: {len(missing)} input(s) missing: {_few(missing)}")
        if ns != sorted(ns):
            first = next(i for i in range(1, len(ns)) if ns[i] < ns[i - 1])
            found.append(
                f"{topic}: order broken at seq={stage[first].seq}: n={ns[first]} after "
                f"n={ns[first - 1]}"
            )
        ids[topic] = {r.n: r.id for r in stage}
    found += _links(by_topic, ids)
    # No stage ran ahead of the stage before it: pipe.out ⊆ pipe.mid ⊆ pipe.in.
    for topic, (_, _, cause) in STAGES.items():
        if cause is not None and not set(ids[topic]) <= set(ids[cause]):
            extra = sorted(set(ids[topic]) - set(ids[cause]))
            found.append(f"{topic} has outputs for inputs not on {cause}: {_few(extra)}")
    if complete:
        for consumer, topic in CURSORS.items():
            last = max((r.seq for r in by_topic[topic]), default=0)
            if cursors.get(consumer, 0) < last:
                found.append(
                    f"cursor of {consumer} is {cursors.get(consumer)}, before the last "
                    f"{topic} record (seq={last}) although the run finished"
                )
    return found


def _links(by_topic: dict[str, list[Record]], ids: dict[str, dict[int, str]]) -> list[str]:
    # Each record is caused by the previous stage's record for the same input, in the
    # conversation the input started (whose id is the source's key).
    found: list[str] = []
    for topic, (_, _, cause) in STAGES.items():
        wrong = []
        for r in by_topic[topic]:
            if cause is None:
                ok = r.id == f"in-{r.n}" and r.causation is None
            else:
                ok = r.causation == ids[cause].get(r.n) and r.correlation_id == f"in-{r.n}"
            if not ok:
                wrong.append(r.seq)
        if wrong:
            found.append(f"{topic}: {len(wrong)} record(s) with wrong id/causation: {_few(wrong)}")
    return found


def _few(values: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def start(db: Path, log: Path, backend: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, str(CHILD), str(db), str(N), backend],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=subprocess.STDOUT,
        )


def progress(records: list[Record]) -> tuple[int, int]:
    return len(records), sum(r.topic == "pipe.out" for r in records)


@pytest.mark.timeout(300)
def test_pipeline_survives_repeated_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    output = tmp_path / "child.out"
    rng = random.Random(SEED)
    history = History(SEED)
    kills, finished = 0, False
    while kills < KILLS or not finished:
        assert len(history.runs) < MAX_ATTEMPTS, f"no end in sight\n{history}"
        # Once KILLS kills have landed, a run is left to finish: how many runs that
        # takes does not depend on how fast this machine is.
        delay = rng.uniform(*KILL_AFTER) if kills < KILLS else None
        backend = rng.choice(BACKENDS)
        child = start(db, output, backend)
        try:
            # Either it finished before the moment of the kill, or it was not to be killed.
            rc = child.wait(timeout=RUN_TIMEOUT if delay is None else delay)
        except subprocess.TimeoutExpired:  # the moment of the kill: what is under test
            assert delay is not None, f"a run left to finish took over {RUN_TIMEOUT} s"
            child.send_signal(signal.SIGKILL)
            rc = child.wait(timeout=RUN_TIMEOUT)
        finally:
            if child.poll() is None:  # this test is failing: leave no child behind
                child.kill()
        if rc == -signal.SIGKILL:
            outcome = "killed"
            kills += 1
        else:
            finished = rc == 0
            outcome = "finished" if rc == 0 else f"failed (rc={rc})"
        records, cursors = read_log(db)
        history.runs.append(Run(backend, delay, outcome, *progress(records)))
        assert rc in (0, -signal.SIGKILL), (
            f"the child failed by itself\n{history}\n{output.read_text(errors='replace')}"
        )
        found = problems(records, cursors, complete=False)
        assert not found, f"after run #{len(history.runs)}:\n" + "\n".join([*found, str(history)])

    backend = rng.choice(BACKENDS)
    result = subprocess.run(
        [sys.executable, str(CHILD), str(db), str(N), backend],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    records, cursors = read_log(db)
    history.runs.append(Run(backend, None, f"final (rc={result.returncode})", *progress(records)))
    assert result.returncode == 0, (
        f"the final run failed\n{history}\n{result.stdout.decode(errors='replace')}"
        f"{result.stderr.decode(errors='replace')}"
    )
    found = problems(records, cursors, complete=True)
    assert not found, "\n".join([*found, str(history)])
    assert len(records) == 3 * N, history
    print(history)  # shown with -s or -rP: where the kills landed
