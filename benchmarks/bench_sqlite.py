"""Durable appends: `SqliteLog` in commit mode against raw sqlite3 at the same batch sizes.

actorbus: for P = 1, 10 and 100, P publisher tasks share one ``SqliteLog(path,
durability="commit")`` on a fresh file in a temporary directory, each making M/P
sequential ``await log.append(Envelope("", topic, msg, time.time()))`` calls; the
clock runs from starting the publishers until the last append has returned. An
append returns once its batch is committed and fsynced, and appends that arrive
while a batch is being written share the next transaction (group commit), so P
publishers make batches of about P records. The batches are counted through the
log's public ``attach`` callback, which is called for every record of a batch in
one synchronous pass once it is committed: a record starts a new batch when some
publisher's append has returned since the previous record.

Baseline: raw ``sqlite3`` in one thread, no event loop: a fresh file with the
log's schema (the CREATE statements of ``actorbus/_log/_schema.py``: ``records``
and its six indexes), WAL mode, ``synchronous=FULL``. The same rows (seq, an id
of the same 31-character shape, topic, type tag, ``time.time()``, and the payload
``msgspec.msgpack.encode(msg)``) are built and encoded in the timed loop and
inserted in transactions of exactly the sizes the actorbus run produced, in the
same order: ``BEGIN IMMEDIATE``, ``executemany(INSERT ...)``, ``COMMIT`` (one
fsync each).

Sizes: M = N/100, N/10 and N/2 appends for P = 1, 10 and 100 (2,000, 20,000 and
100,000 at the default N), each after an untimed warm-up of M/10 on the same file
(in batches of P on the raw side). The actorbus side runs first in every repeat,
since the baseline replays its batch sizes.
Targets at P=100: actorbus >= 0.7x the raw rate, and > 50,000 appends/s.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import anyio
import msgspec

import actorbus
from actorbus._log import _schema as _log_schema

from ._child import ChildArgs, collect, run_actorbus, run_child
from ._results import Metric, ScenarioResult, Target

TOPIC = "bench.sqlite"
PUBLISHERS = (1, 10, 100)
DIVISORS = {1: 100, 10: 10, 100: 2}  # M = N / divisor appends for P publishers
RATIO_TARGET = 0.7
RATE_TARGET = 50_000.0

# The log's own schema, so both sides do the same work (indexes included).
SCHEMA = _log_schema.SCHEMA + _log_schema.FILTER_INDEXES
INSERT = (
    "INSERT INTO records (seq, id, topic, type, sender, timestamp, correlation_id, "
    "reply_to, causation, payload) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
ID_OFFSET = 2 * 10**12  # a log-generated id: an 18-character prefix + str(seq + this)


class Tick(actorbus.Message):
    """The message appended; one instance is reused."""

    n: int


class Batches:
    """Counts the records of each committed batch, from the log's ``attach`` callback."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.returned = 0  # appends returned so far: bumped by the publishers
        self._seen = -1

    def on_record(self, env: actorbus.Envelope) -> None:
        """Called for each record once its batch is committed."""
        if self.returned != self._seen:
            self._seen = self.returned
            self.sizes.append(1)
        else:
            self.sizes[-1] += 1


def sizes(messages: int, publishers: int) -> tuple[int, int]:
    """Return (timed appends, warm-up appends) for ``publishers``, multiples of it."""
    count = max(publishers, messages // DIVISORS[publishers] // publishers * publishers)
    warmup = max(publishers, count // 10 // publishers * publishers)
    return count, warmup


async def _publish(log: actorbus.SqliteLog, batches: Batches, msg: Tick, count: int) -> None:
    envelope, now = actorbus.Envelope, time.time
    for _ in range(count):
        await log.append(envelope("", TOPIC, msg, now()))
        batches.returned += 1


async def _publishers(
    log: actorbus.SqliteLog, batches: Batches, msg: Tick, count: int, publishers: int
) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(publishers):
            tg.start_soon(_publish, log, batches, msg, count // publishers)


async def actorbus_run(
    path: Path, count: int, warmup: int, publishers: int
) -> tuple[float, list[int]]:
    """Time ``count`` commit-mode appends by ``publishers`` tasks; return (seconds, batch sizes)."""
    msg = Tick(n=0)
    batches = Batches()
    async with actorbus.SqliteLog(path, durability="commit") as log:
        log.attach(batches.on_record)
        await _publishers(log, batches, msg, warmup, publishers)
        batches.sizes.clear()
        collect()
        start = time.perf_counter()
        await _publishers(log, batches, msg, count, publishers)
        seconds = time.perf_counter() - start
    if sum(batches.sizes) != count:
        raise RuntimeError(f"counted {sum(batches.sizes)} records in batches, not {count}")
    return seconds, batches.sizes


class RawWriter:
    """Raw sqlite3: inserts rows like the log's, one transaction per batch.

    ``synchronous`` is the SQLite setting: ``FULL`` (the default, what
    ``durability="commit"`` uses) fsyncs every commit.
    """

    def __init__(self, path: Path, msg: Tick, tag: str, synchronous: str = "FULL") -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.executescript(f"BEGIN; {SCHEMA} COMMIT;")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.msg = msg
        self.tag = tag
        self.prefix = f"{int(time.time() * 1000):011x}{0x5EED123:07x}"
        self.seq = 0

    def write(self, batch_sizes: list[int]) -> None:
        """Insert ``sum(batch_sizes)`` new rows, one transaction per batch."""
        conn, msg, tag, prefix = self.conn, self.msg, self.tag, self.prefix
        encode, now = msgspec.msgpack.encode, time.time
        seq = self.seq
        for size in batch_sizes:
            rows = [
                (s, prefix + str(s + ID_OFFSET), TOPIC, tag, None, now(), None, None, None,
                 encode(msg))
                for s in range(seq + 1, seq + size + 1)
            ]  # fmt: skip
            seq += size
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        self.seq = seq

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def raw_rate(path: Path, batch_sizes: list[int], warmup: int, publishers: int) -> float:
    """Insert rows in transactions of ``batch_sizes``, after a warm-up; return rows/s."""
    msg = Tick(n=0)
    tag = actorbus.Envelope("", TOPIC, msg, 0.0).type
    writer = RawWriter(path, msg, tag)
    try:
        writer.write([publishers] * (warmup // publishers))
        collect()
        start = time.perf_counter()
        writer.write(batch_sizes)
        seconds = time.perf_counter() - start
    finally:
        writer.close()
    return sum(batch_sizes) / seconds


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides for each publisher count and return appends/s for each."""
    metrics: list[Metric] = []
    workload: dict[str, int] = {}
    extra: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="actorbus-bench-sqlite-") as tmp:
        for p in PUBLISHERS:
            count, warmup = sizes(args.messages, p)
            ours, raw, batch_sizes = _measure_one(args.backend, Path(tmp), p, count, warmup)
            metrics.append(_rate(p, ours, raw))
            workload[f"appends_p{p}"] = count
            extra[f"mean_batch_p{p}"] = count / len(batch_sizes)
            extra[f"max_batch_p{p}"] = max(batch_sizes)
    top = metrics[-1]
    metrics.append(
        Metric(
            name="rate_p100_abs",
            label="100 publishers, absolute",
            unit=top.unit,
            better="higher",
            actorbus=top.actorbus,
            baseline=top.baseline,
            target=Target("actorbus_min", RATE_TARGET),
        )
    )
    title = "SqliteLog commit appends"
    return ScenarioResult("sqlite", title, args.backend, workload, metrics, extra)


def _measure_one(
    backend: str, tmp: Path, publishers: int, count: int, warmup: int
) -> tuple[float, float, list[int]]:
    # actorbus first: the baseline replays the batch sizes it produced.
    path = tmp / f"log-{publishers}.db"
    seconds, batch_sizes = run_actorbus(
        backend, lambda: actorbus_run(path, count, warmup, publishers)
    )
    raw = raw_rate(tmp / f"raw-{publishers}.db", batch_sizes, warmup, publishers)
    return count / seconds, raw, batch_sizes


def _rate(publishers: int, ours: float, raw: float) -> Metric:
    plural = "publisher" if publishers == 1 else "publishers"
    return Metric(
        name=f"rate_p{publishers}",
        label=f"{publishers} {plural} (raw: same batches)",
        unit="appends/s",
        better="higher",
        actorbus=ours,
        baseline=raw,
        target=Target("ratio_min", RATIO_TARGET) if publishers == 100 else None,
    )


if __name__ == "__main__":
    run_child(measure)
