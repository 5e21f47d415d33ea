"""`SqliteLog` at each durability mode against raw sqlite3 with the same SQLite settings.

actorbus: for each ``durability`` (``"commit"``, ``"batch"``, ``"none"``) and P = 1
and 100 publishers, a fresh ``SqliteLog(path, durability=mode)`` in a temporary
directory gets an untimed warm-up of M/10 appends and is closed; it is opened again
and P publisher tasks each make M/P sequential ``await log.append(Envelope(...))``
calls (the workload of the ``sqlite`` scenario). The clock runs from starting the
publishers until ``await log.aclose()`` returns, that is until every record is
written: with ``"commit"`` each append already waited for its fsynced batch; with
``"batch"`` and ``"none"`` appends return at once and the writer thread catches up
before the close returns.

Baseline: raw ``sqlite3`` in one thread (the ``RawWriter`` of ``bench_sqlite``: the
log's schema, WAL mode, the same rows built and encoded in the timed loop) with the
``synchronous`` setting the mode uses (``FULL``, ``NORMAL``, ``OFF``), timed until
its connection is closed. Its transactions have the sizes the log wrote: for
``"commit"`` the batches counted through ``attach`` (as in ``bench_sqlite``); for
``"batch"`` and ``"none"``, ``max_batch`` (4,096) records, since a publisher that
never waits fills the open batch to that size before the writer runs again.

M = N/100 appends for ``"commit"`` with 1 publisher (each is a transaction and an
fsync) and N/4 otherwise (2,000 and 50,000 at the default N). No target: the
figures show what each mode costs over raw SQLite, and each mode's rate.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import actorbus

from ._child import ChildArgs, collect, run_actorbus, run_child
from ._results import Metric, ScenarioResult
from .bench_sqlite import TOPIC, Batches, RawWriter, Tick, _publishers

MODES: tuple[actorbus.Durability, ...] = ("commit", "batch", "none")
PUBLISHERS = (1, 100)
SYNCHRONOUS = {"commit": "FULL", "batch": "NORMAL", "none": "OFF"}  # as SqliteLog sets it
MAX_BATCH = 4096  # SqliteLog's default max_batch


def sizes(messages: int, mode: str, publishers: int) -> tuple[int, int]:
    """Return (timed appends, warm-up appends), multiples of ``publishers``."""
    divisor = 100 if mode == "commit" and publishers == 1 else 4
    count = max(publishers, messages // divisor // publishers * publishers)
    warmup = max(publishers, count // 10 // publishers * publishers)
    return count, warmup


async def actorbus_run(
    path: Path, mode: actorbus.Durability, count: int, warmup: int, publishers: int
) -> tuple[float, list[int]]:
    """Time ``count`` appends and the close; return (seconds, batch sizes or [])."""
    msg = Tick(n=0)
    async with actorbus.SqliteLog(path, durability=mode) as log:
        await _publishers(log, Batches(), msg, warmup, publishers)
    batches = Batches()
    log = actorbus.SqliteLog(path, durability=mode)
    await log.open()
    if mode == "commit":
        log.attach(batches.on_record)
    collect()
    start = time.perf_counter()
    try:
        await _publishers(log, batches, msg, count, publishers)
    finally:
        await log.aclose()
    seconds = time.perf_counter() - start
    if mode == "commit" and sum(batches.sizes) != count:
        raise RuntimeError(f"counted {sum(batches.sizes)} records in batches, not {count}")
    return seconds, batches.sizes


def raw_seconds(path: Path, mode: str, batch_sizes: list[int], warmup: int) -> float:
    """Insert rows in transactions of ``batch_sizes`` and close; return seconds."""
    msg = Tick(n=0)
    tag = actorbus.Envelope("", TOPIC, msg, 0.0).type
    writer = RawWriter(path, msg, tag, SYNCHRONOUS[mode])
    try:
        writer.write(_chunks(warmup, MAX_BATCH))
        collect()
        start = time.perf_counter()
        writer.write(batch_sizes)
    finally:
        writer.close()
    return time.perf_counter() - start


def _chunks(count: int, size: int) -> list[int]:
    return [size] * (count // size) + ([count % size] if count % size else [])


def _metric(mode: str, publishers: int, count: int, ours: float, raw: float) -> Metric:
    plural = "publisher" if publishers == 1 else "publishers"
    batches = "same batches" if mode == "commit" else f"batches of {MAX_BATCH:,}"
    return Metric(
        name=f"{mode}_p{publishers}",
        label=f'durability="{mode}", {publishers} {plural} '
        f"(raw: synchronous={SYNCHRONOUS[mode]}, {batches})",
        unit="appends/s",
        better="higher",
        actorbus=count / ours,
        baseline=count / raw,
    )


def _measure_one(args: ChildArgs, tmp: Path, mode: actorbus.Durability, p: int) -> Metric:
    count, warmup = sizes(args.messages, mode, p)
    path = tmp / f"log-{mode}-{p}.db"
    # actorbus first: the commit baseline replays the batch sizes it produced.
    seconds, found = run_actorbus(args.backend, lambda: actorbus_run(path, mode, count, warmup, p))
    batch_sizes = found if mode == "commit" else _chunks(count, MAX_BATCH)
    raw = raw_seconds(tmp / f"raw-{mode}-{p}.db", mode, batch_sizes, warmup)
    return _metric(mode, p, count, seconds, raw)


def measure(args: ChildArgs) -> ScenarioResult:
    """Run both sides for each mode and publisher count; appends/s for each."""
    with tempfile.TemporaryDirectory(prefix="actorbus-bench-durability-") as tmp:
        metrics = [_measure_one(args, Path(tmp), m, p) for m in MODES for p in PUBLISHERS]
    workload = {
        f"appends_{m}_p{p}": sizes(args.messages, m, p)[0] for m in MODES for p in PUBLISHERS
    }
    title = "SqliteLog durability modes"
    return ScenarioResult("durability", title, args.backend, workload, metrics)


if __name__ == "__main__":
    run_child(measure)
