"""The log viewer on a big log: its first page and its filters, against raw sqlite3.

The log: a `SqliteLog` file of 5 x N records (1,000,000 at the default N), built
once with raw sqlite3 in the log's own format and kept in the temporary directory
(see ``_big_log``): conversations of 20 records across 12 actors and 32 topics,
with a dead letter every 997 records.

actorbus: the viewer's Starlette app (`viewer_app`), asked through httpx's ASGI
transport, in process, as the page asks it: the first page is ``/api/summary``
then ``/api/records`` (the newest 100), timed from a viewer that has not yet
opened the file; each filter is one ``/api/records`` call for its newest 100
matches (JSON encoding included). Filters: a topic pattern (``tasks.*``), a rare
topic pattern (``_dead.>``), a type, an actor (sender) and a correlation id.

Baseline: raw sqlite3 on the same file, in the same process: one connection
opened read-only, then one SELECT per question, the same rows (every column,
newest 100), with the plainest SQL a person would write: ``WHERE topic GLOB ?``,
``WHERE type = ?``... and ``ORDER BY seq DESC LIMIT 100``; the first page is
``count(*)`` plus the newest 100.

Each figure is the median of 5 calls (the first page: one call, cold). Targets:
each actorbus figure under 1 s (the issue's budget on this 2-core machine).
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

import actorbus
from actorbus._ui._app import viewer_app
from actorbus._ui._viewer import Viewer

from ._big_log import ACTORS, CONVERSATION, big_log
from ._child import ChildArgs, collect, run_actorbus, run_child
from ._results import Metric, ScenarioResult, Target

RECORDS_PER_MESSAGE = 5  # the log holds 5 x --messages records
CALLS = 5
TARGET_MS = 1000.0
_COLUMNS = "seq, id, topic, type, sender, timestamp, correlation_id, reply_to, causation, payload"


def _filters(records: int) -> dict[str, tuple[dict[str, str], str, tuple[Any, ...]]]:
    # name -> (API query, raw WHERE clause, its arguments)
    middle = records // 2 // CONVERSATION * CONVERSATION + 1
    correlation = f"0190b5a2c3d4e5f6{middle:016x}"
    return {
        "topic": ({"topic": "tasks.*"}, "topic GLOB ?", ("tasks.*",)),
        "rare_topic": ({"topic": "_dead.>"}, "topic GLOB ?", ("_dead.*",)),
        "type": ({"type": "TaskDelegation"}, "type = ?", ("TaskDelegation",)),
        "actor": ({"sender": ACTORS[3]}, "sender = ?", (ACTORS[3],)),
        "correlation": (
            {"correlation": correlation}, "correlation_id = ?", (correlation,)
        ),
    }  # fmt: skip


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    got = await call()
    return (time.perf_counter() - start) * 1000, got


async def actorbus_side(path: Path, records: int) -> dict[str, float]:
    """Time the viewer's API: the first page (cold), then each filter (median)."""
    viewer = Viewer(actorbus.SqliteLog(path).reader, shown=path.name)
    transport = httpx.ASGITransport(app=viewer_app(viewer))
    times: dict[str, float] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:

        async def first_page() -> Any:
            summary = (await http.get("/api/summary")).json()
            page = (await http.get("/api/records")).json()
            assert summary["count"] == records, summary
            return page

        times["first_page"], page = await _timed(first_page)
        assert len(page["records"]) == 100, page
        for name, (query, _, _) in _filters(records).items():

            async def ask(query: dict[str, str] = query) -> Any:
                got = (await http.get("/api/records", params=query)).json()
                assert got["records"], (query, got)
                return got

            samples = [(await _timed(ask))[0] for _ in range(CALLS)]
            times[name] = statistics.median(samples)
    await viewer.aclose()
    return times


def raw_side(path: Path, records: int) -> dict[str, float]:
    """Time raw sqlite3 answering the same questions."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        newest = f"SELECT {_COLUMNS} FROM records ORDER BY seq DESC LIMIT 100"
        rows = conn.execute(newest).fetchall()
        times["first_page"] = (time.perf_counter() - start) * 1000
        assert count == records
        assert len(rows) == 100
        for name, (_, where, args) in _filters(records).items():
            sql = f"SELECT {_COLUMNS} FROM records WHERE {where} ORDER BY seq DESC LIMIT 100"
            samples = []
            for _ in range(CALLS):
                began = time.perf_counter()
                found = conn.execute(sql, args).fetchall()
                samples.append((time.perf_counter() - began) * 1000)
                assert found, name
            times[name] = statistics.median(samples)
    finally:
        conn.close()
    return times


LABELS = {
    "first_page": "first page (summary + newest 100, cold)",
    "topic": "filter: topic pattern tasks.*",
    "rare_topic": "filter: topic pattern _dead.> (1 in 997)",
    "type": "filter: type",
    "actor": "filter: actor (sender)",
    "correlation": "filter: correlation id",
}


def measure(args: ChildArgs) -> ScenarioResult:
    """Build (or reuse) the big log, then time both sides on it."""
    records = args.messages * RECORDS_PER_MESSAGE
    started = time.perf_counter()
    path = big_log(records)
    built = time.perf_counter() - started
    collect()
    ours = run_actorbus(args.backend, lambda: actorbus_side(path, records))
    collect()
    raw = raw_side(path, records)
    target = Target("actorbus_max", TARGET_MS)
    metrics = [
        Metric(name, label, "ms", "lower", ours[name], raw[name], target)
        for name, label in LABELS.items()
    ]
    extra = {"log_bytes": path.stat().st_size, "log_ready_seconds": built}
    return ScenarioResult(
        "viewer", "log viewer on a big log", args.backend, {"records": records}, metrics, extra
    )


if __name__ == "__main__":
    run_child(measure)
