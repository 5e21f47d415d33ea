"""The SQLite file of a `SqliteLog`: recognising it, creating it, and its schema.

A file is only written to once it is known to be an actorbus log of a schema this
version understands, or a new, empty file. Anything else raises `LogFileError` and
is left exactly as it was.

Schema versions: 1 is the records, cursors and journal tables with the records
indexed by id and by cause; 2 adds an index per column a reader filters on
(topic, type, sender, correlation id), so a filtered page of a big log is an
index walk in seq order (every index ends in the seq, the rowid). A file of an
older version is migrated (`MIGRATIONS`) when a log opens it for writing, in
one transaction; a reader (which opens read-only) never migrates, and reads
every version in `READABLE_VERSIONS`, only slower without the indexes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from .._errors import LogFileError

__all__ = [
    "APPLICATION_ID",
    "FILTER_INDEXES",
    "MIGRATIONS",
    "READABLE_VERSIONS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "connect",
]

APPLICATION_ID = 0x41425553  # "ABUS", in the SQLite header's application_id
SCHEMA_VERSION = 2
READABLE_VERSIONS = frozenset((1, 2))
"""The schema versions a reader reads (without migrating: see the module docs)."""
_SQLITE_MAGIC = b"SQLite format 3\x00"

logger = logging.getLogger("actorbus.sqlite")

SCHEMA = """
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    topic TEXT NOT NULL,
    type TEXT NOT NULL,
    sender TEXT,
    timestamp REAL NOT NULL,
    correlation_id TEXT,
    reply_to TEXT,
    causation TEXT,
    payload BLOB NOT NULL
);
CREATE INDEX records_id ON records(id);
CREATE INDEX records_causation ON records(causation);
CREATE TABLE cursors (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE journal (key TEXT PRIMARY KEY, value BLOB NOT NULL, created REAL NOT NULL);
"""

FILTER_INDEXES = """
CREATE INDEX IF NOT EXISTS records_topic ON records(topic);
CREATE INDEX IF NOT EXISTS records_type ON records(type);
CREATE INDEX IF NOT EXISTS records_sender ON records(sender);
CREATE INDEX IF NOT EXISTS records_correlation ON records(correlation_id)
    WHERE correlation_id IS NOT NULL;
"""
"""Version 2's indexes: one per column a `RecordFilter` matches (the correlation id
only where set; the sender everywhere, so that counting per sender walks it)."""

MIGRATIONS: dict[int, str] = {1: FILTER_INDEXES}
"""Version -> the statements that bring a file of that version to the next one."""


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """Open (creating if missing, mode 0600) and check the log file at ``path``.

    Raises:
        LogFileError: the file is not an SQLite database, not an actorbus log, of a
            newer schema, or damaged.
    """
    try:
        if not _create(path):
            _check_header(path)
    except OSError as exc:
        raise LogFileError(str(path), f"it cannot be opened as a file ({exc})") from exc
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            _check_or_create(conn, path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
        except BaseException:
            conn.close()
            raise
    except sqlite3.DatabaseError as exc:
        raise LogFileError(str(path), damaged(exc)) from exc
    return conn


def damaged(exc: Exception) -> str:
    """Say what a database error on the log file means and what to do."""
    return (
        f"the database is damaged or truncated ({exc}); restore it from a backup, or "
        "salvage its records with `sqlite3 FILE .recover` into a new file"
    )


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _check_header(path: Path) -> None:
    with path.open("rb") as file:
        header = file.read(len(_SQLITE_MAGIC))
    if header and header != _SQLITE_MAGIC:
        raise LogFileError(str(path), "it is not an SQLite database (wrong header)")


def _check_or_create(conn: sqlite3.Connection, path: Path) -> None:
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id == 0 and tables == 0 and version == 0:
        conn.executescript(
            f"BEGIN; {SCHEMA} {FILTER_INDEXES} PRAGMA application_id={APPLICATION_ID}; "
            f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )
        return
    if application_id != APPLICATION_ID:
        raise LogFileError(
            str(path),
            "it is an SQLite database of another application, not an actorbus log; "
            "pass a new path for the log",
        )
    if version < SCHEMA_VERSION and version in MIGRATIONS:
        _migrate(conn, path, version)
    elif version != SCHEMA_VERSION:
        newer = version > SCHEMA_VERSION
        raise LogFileError(
            str(path),
            f"its schema is version {version}, and this actorbus reads version "
            f"{SCHEMA_VERSION}; "
            + ("upgrade actorbus to read it" if newer else "it cannot be read by this version"),
        )


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring the file from ``version`` to `SCHEMA_VERSION`, all in one transaction."""
    started = time.perf_counter()
    statements = "".join(MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE; {statements} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )
    except BaseException:
        if conn.in_transaction:  # nothing of it stays
            conn.execute("ROLLBACK")
        raise
    logger.info(
        "migrated the log %s from schema version %d to %d in %.2fs",
        path, version, SCHEMA_VERSION, time.perf_counter() - started,
    )  # fmt: skip
