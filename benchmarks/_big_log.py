"""A big `SqliteLog` file for the viewer benchmark, built once and kept in the temp directory.

The rows are written with raw ``sqlite3`` in the log's own format (its schema,
indexes, application id and version; payloads the msgpack of real messages), in
big transactions, which takes seconds where a million appends would take
minutes. The mix imitates a long run of a team: conversations of 20 records
(one correlation id each, every record caused by the one before it) across a
dozen actors and a few dozen topics, with replies, state updates and a dead
letter now and then.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import msgspec

import actorbus
from actorbus._log import _schema as log_schema

__all__ = ["ACTORS", "CONVERSATION", "TOPICS", "big_log", "build"]

ACTORS = tuple(f"worker-{n}" for n in range(12))
TOPICS = (
    *(f"tasks.{skill}" for skill in ("research", "write", "review", "plan", "search", "sum")),
    *(f"reports.{actor}" for actor in ACTORS),
    "state.team",
    "_reply.0bus",
)
CONVERSATION = 20  # records per correlation id
_CHUNK = 20_000  # rows per transaction
_INSERT = (
    "INSERT INTO records (seq, id, topic, type, sender, timestamp, correlation_id, "
    "reply_to, causation, payload) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def _id(seq: int) -> str:
    return f"0190b5a2c3d4e5f6{seq:016x}"  # the shape of a log-made id, unique per seq


def _messages() -> list[tuple[str, bytes]]:
    made = [
        actorbus.Request(action="research", content="what the market did in " + "x" * 60),
        actorbus.Response(content="a summary of the findings " + "y" * 80),
        actorbus.TaskDelegation(task_id="t-1", capability="write", description="draft it"),
        actorbus.StateUpdate(key="progress", value={"done": 3, "of": 10}),
    ]
    encode = msgspec.msgpack.encode
    return [(type(m).__name__, encode(m)) for m in made]


def _row(seq: int, start: float, messages: list[tuple[str, bytes]]) -> tuple[object, ...]:
    n = seq - 1
    place = n % CONVERSATION
    first = n - place + 1  # the conversation's first seq
    if n % 997 == 0:  # a dead letter now and then
        actor = ACTORS[n % len(ACTORS)]
        topic, tag, payload = f"_dead.{actor}", "DeadLetter", messages[1][1]
    else:
        topic = TOPICS[(n // CONVERSATION * 7 + place) % len(TOPICS)]
        tag, payload = messages[n % len(messages)]
    sender = None if place == 0 else ACTORS[(n // 3) % len(ACTORS)]
    cause = None if place == 0 else _id(seq - 1)
    correlation = _id(first)
    return (seq, _id(seq), topic, tag, sender, start + n * 0.001, correlation, None, cause, payload)


def build(path: Path, records: int) -> None:
    """Write a log of ``records`` records to ``path`` (a new file), as `SqliteLog` would."""
    messages = _messages()
    start = time.time() - records * 0.001
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(
            f"BEGIN; {log_schema.SCHEMA} {log_schema.FILTER_INDEXES} "
            f"PRAGMA application_id={log_schema.APPLICATION_ID}; "
            f"PRAGMA user_version={log_schema.SCHEMA_VERSION}; COMMIT;"
        )
        for low in range(1, records + 1, _CHUNK):
            high = min(low + _CHUNK, records + 1)
            conn.execute("BEGIN")
            conn.executemany(_INSERT, (_row(seq, start, messages) for seq in range(low, high)))
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):  # at rest, as a log closed by its writer
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def big_log(records: int) -> Path:
    """Return the path of a log of ``records`` records, building it the first time."""
    folder = Path(tempfile.gettempdir()) / "actorbus-bench-viewer"
    folder.mkdir(exist_ok=True)
    path = folder / f"log-{records}-v{log_schema.SCHEMA_VERSION}.db"
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        build(partial, records)
        partial.rename(path)  # whole or not at all: an interrupted build is not reused
    return path
