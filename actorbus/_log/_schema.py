"""The SQLite file of a `SqliteLog`: recognising it, creating it, and its schema.

A file is only written to once it is known to be an actorbus log of a schema this
version understands, or a new, empty file. Anything else raises `LogFileError` and
is left exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .._errors import LogFileError

__all__ = ["APPLICATION_ID", "SCHEMA", "SCHEMA_VERSION", "connect"]

APPLICATION_ID = 0x41425553  # "ABUS", in the SQLite header's application_id
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

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
            f"BEGIN; {SCHEMA} PRAGMA application_id={APPLICATION_ID}; "
            f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )
        return
    if application_id != APPLICATION_ID:
        raise LogFileError(
            str(path),
            "it is an SQLite database of another application, not an actorbus log; "
            "pass a new path for the log",
        )
    if version != SCHEMA_VERSION:
        newer = version > SCHEMA_VERSION
        raise LogFileError(
            str(path),
            f"its schema is version {version}, and this actorbus reads version "
            f"{SCHEMA_VERSION}; "
            + ("upgrade actorbus to read it" if newer else "it cannot be read by this version"),
        )
