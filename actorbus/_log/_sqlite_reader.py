"""`SqliteReader`: a `LogReader` of a `SqliteLog` file, which it never writes to.

The reader checks the header, then opens the file through SQLite's read-only
mode and checks the application id and schema version before it reads a record;
anything else raises `LogFileError`, with the file left as it was.

A log at rest (no writer: no ``-wal`` or ``-journal`` file beside it) is opened
``immutable``, because a read-only connection to a WAL database would otherwise
create ``-wal`` and ``-shm`` files next to it and could not remove them. While a
writer runs those files exist already, and the reader joins them as an ordinary
read-only connection, so it sees each commit as it lands. An immutable reader
would not see a writer that starts after it opened (and would be unsafe once
that writer checkpoints), so before each query the reader looks again and
reopens the file if a writer came or went, or if the file changed since it was
opened at rest (a writer that came and went between two queries: its last
checkpoint changed the file's size or time). `follow` lets the file go between its
polls, so a writer that stops can remove its ``-wal`` and ``-shm`` files; a
reader held open meanwhile keeps them there (harmless: the next writer to open
the file removes them).

Queries run in a thread of the reader's own, one at a time, so the event loop
never waits on the disk. Pages are SQL queries on the seq (the primary key), and
ids and causes are indexed: nothing is loaded beyond the page asked for. In a
file of schema version 2, topic, type, sender and correlation id are indexed
too, so a filtered page walks an index in seq order however rare the matches
are; a topic pattern with wildcards is first turned into the topics it matches
(read from the topic index, a few lookups per topic), then matched as a list.
An older file is read as it is, without those indexes: the same answers, with
filters that scan (see ``_schema``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator
from pathlib import Path
from types import TracebackType
from typing import Any, final
from urllib.parse import quote

import anyio

from .._backend import Worker, worker
from .._errors import LogFileError
from .._topic import topic_matches
from ._reading import CountColumn, JournalEntry, JournalPage, RecordFilter, RecordPage
from ._record import LogSummary, Record
from ._scan import checked_column, checked_limit, poll, sorted_counts
from ._schema import APPLICATION_ID, READABLE_VERSIONS, SCHEMA_VERSION, damaged

__all__ = ["SqliteReader"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_COLUMNS = "seq, id, topic, type, sender, timestamp, correlation_id, reply_to, causation, payload"
_TOP = 2**63 - 1  # the highest seq SQLite holds
_SIDE_FILES = ("-wal", "-journal")
_EQUAL = ("type", "sender", "correlation_id", "causation")  # fields matched as they are
_MOST_TOPICS = 500  # a pattern matching more is matched row by row, not as a list
# The distinct topics from a first one on, read from the topic index (a "loose index
# scan": one lookup per topic, where SELECT DISTINCT would walk every entry).
_TOPICS_FROM = """
WITH RECURSIVE t(topic) AS (
    SELECT min(topic) FROM records WHERE topic >= :low
    UNION ALL
    SELECT (SELECT min(topic) FROM records WHERE topic > t.topic) FROM t
    WHERE t.topic IS NOT NULL AND (:high IS NULL OR t.topic < :high)
)
SELECT topic FROM t WHERE topic IS NOT NULL AND (:high IS NULL OR topic < :high) LIMIT :most
"""


def _record(row: tuple[Any, ...]) -> Record:
    seq, msg_id, topic, tag, sender, timestamp, correlation, reply_to, causation, payload = row
    return Record(
        seq, msg_id, topic, tag, sender, timestamp, correlation, reply_to, causation, _blob(payload)
    )


def _blob(value: object) -> bytes:
    # A payload is a BLOB, but SQLite stores whatever a hand (or a bug) put there:
    # text is taken as its UTF-8 bytes, anything else as nothing (undecodable).
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else b""


def _glob_prefix(pattern: str) -> str:
    # The literal tokens before the first wildcard, as a GLOB prefix ('' if none).
    literal = []
    for token in pattern.split("."):
        if token in ("*", ">"):
            break
        literal.append(token)
    if not literal:
        return ""
    escaped = "".join(f"[{c}]" if c in "*?[" else c for c in ".".join(literal))
    return escaped + ".*"


def _literal_prefix(pattern: str) -> str:
    # The literal tokens before the first wildcard, with their dot ('' if none).
    literal = []
    for token in pattern.split("."):
        if token in ("*", ">"):
            break
        literal.append(token + ".")
    return "".join(literal)


def _wild(pattern: str | None) -> bool:
    return pattern is not None and pattern != ">" and ("*" in pattern or ">" in pattern)


def _where(
    low: int, high: int, where: RecordFilter | None, topics: list[str] | None = None
) -> tuple[str, list[Any]]:
    """Return the WHERE clause and its arguments for a page.

    ``topics``: the topics a wildcard pattern matches, when they were listed.
    """
    clauses: list[str] = ["seq BETWEEN ? AND ?"]
    args: list[Any] = [low, high]
    if where is None:
        return clauses[0], args
    for column in _EQUAL:  # each is indexed: SQLite then walks that index, in seq order
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    pattern = where.topic
    if pattern is not None and pattern != ">":
        if "*" not in pattern and ">" not in pattern:
            clauses.append("topic = ?")
            args.append(pattern)
        elif topics is not None:
            # SQLite walks the topic index once per topic, each in seq order, and
            # stops each walk once the page is full (its ORDER BY ... LIMIT early-out).
            clauses.append(f"topic IN ({','.join('?' * len(topics))})")
            args += topics
        else:
            prefix = _glob_prefix(pattern)
            if prefix:
                clauses.append("topic GLOB ?")  # cheap, before the exact match below
                args.append(prefix)
            clauses.append("topic_matches(?, topic)")
            args.append(pattern)
    return " AND ".join(clauses), args


@final
class SqliteReader:
    """Reads a `SqliteLog` file without changing it (see `LogReader`).

    Made by `SqliteLog.reader` (``SqliteLog(path).reader()``).

    Args:
        path: the log file.

    Version added: 0.1
    """

    __slots__ = ("_conn", "_immutable", "_indexed", "_path", "_stamp", "_worker")

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._immutable = False
        self._stamp: tuple[int, int] | None = None  # the file's (size, mtime) when at rest
        self._indexed = False  # the file has the topic index (schema version 2)
        self._worker: Worker | None = None

    def __repr__(self) -> str:
        return f"SqliteReader({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    # -- opening and closing ---------------------------------------------------------

    async def open(self) -> None:
        """See `LogReader.open`.

        Raises:
            LogFileError: the file is missing, unreadable, not an actorbus log, of
                another schema version, or damaged.
        """
        if self._worker is not None:
            raise RuntimeError("this SqliteReader is already open")
        self._worker = worker()
        try:
            await self._worker.run(self._connect)
        except BaseException:
            self._worker.stop()
            self._worker = None
            raise

    async def aclose(self) -> None:
        """See `LogReader.aclose`."""
        running, self._worker = self._worker, None
        if running is not None:
            try:
                with anyio.CancelScope(shield=True):  # a cancelled caller still lets go
                    await running.run(self._disconnect)
            finally:
                running.stop()

    async def __aenter__(self) -> SqliteReader:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _connect(self) -> None:
        # In the worker's thread, as is every use of the connection.
        self._disconnect()
        self._check_header()
        at_rest = self._at_rest()
        stamp = self._file_stamp() if at_rest else None
        uri = f"file:{quote(str(self._path.resolve()))}?mode=ro"
        try:
            conn = sqlite3.connect(
                uri + ("&immutable=1" if at_rest else ""), uri=True, isolation_level=None
            )
        except sqlite3.DatabaseError as exc:
            raise LogFileError(str(self._path), damaged(exc)) from exc
        try:
            self._check_schema(conn)
            conn.create_function("topic_matches", 2, topic_matches, deterministic=True)
            self._indexed = bool(
                conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?",
                    ("records_topic",),
                ).fetchone()[0]
            )
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LogFileError(str(self._path), damaged(exc)) from exc
        except BaseException:
            conn.close()
            raise
        self._conn, self._immutable, self._stamp = conn, at_rest, stamp

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            found = self._path.stat()
        except OSError:
            return None
        return found.st_size, found.st_mtime_ns

    def _stale(self) -> bool:
        # Whether the connection no longer fits the file (see the module docs).
        if self._conn is None or self._immutable != self._at_rest():
            return True
        return self._immutable and self._file_stamp() != self._stamp

    def _at_rest(self) -> bool:
        path = self._path
        return not any(path.with_name(path.name + suffix).exists() for suffix in _SIDE_FILES)

    def _check_header(self) -> None:
        path = str(self._path)
        try:
            with self._path.open("rb") as file:
                header = file.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            raise LogFileError(path, "there is no such file") from None
        except IsADirectoryError:
            raise LogFileError(path, "it is a directory, not a log file") from None
        except OSError as exc:
            raise LogFileError(path, f"it cannot be read ({exc.strerror})") from exc
        if header != _SQLITE_MAGIC:
            what = "an empty file" if not header else "not an SQLite database (wrong header)"
            raise LogFileError(path, f"it is {what}, not an actorbus log")

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if application_id != APPLICATION_ID:
            raise LogFileError(
                str(self._path),
                "it is an SQLite database of another application, not an actorbus log",
            )
        if version not in READABLE_VERSIONS:
            newer = version > SCHEMA_VERSION
            raise LogFileError(
                str(self._path),
                f"its schema is version {version}, and this actorbus reads versions "
                f"{', '.join(map(str, sorted(READABLE_VERSIONS)))}"
                + ("; upgrade actorbus to read it" if newer else ""),
            )

    # -- querying --------------------------------------------------------------------

    async def _query(
        self, sql: str, args: tuple[Any, ...] | list[Any] | dict[str, Any] = ()
    ) -> list[Any]:
        running = self._worker
        if running is None:
            raise RuntimeError("this SqliteReader is not open; use it inside `async with`")
        return await running.run(self._rows, sql, args)

    def _rows(self, sql: str, args: tuple[Any, ...] | list[Any] | dict[str, Any]) -> list[Any]:
        # In the worker's thread. Joins a writer that started since the file was
        # opened at rest, and lets go of one that has stopped (see the module docs).
        if self._stale():
            self._connect()
        assert self._conn is not None
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise LogFileError(str(self._path), damaged(exc)) from exc

    async def _select(self, where: str, args: Any, order: str = "seq", limit: int = -1) -> Any:
        sql = f"SELECT {_COLUMNS} FROM records WHERE {where} ORDER BY {order} LIMIT {limit:d}"
        return [_record(row) for row in await self._query(sql, args)]

    # -- the LogReader protocol ------------------------------------------------------

    async def last_seq(self) -> int:
        """See `LogReader.last_seq`."""
        return int((await self._query("SELECT coalesce(max(seq), 0) FROM records"))[0][0])

    async def summary(self) -> LogSummary:
        """See `LogReader.summary`."""
        count = int((await self._query("SELECT count(*) FROM records"))[0][0])
        first = await self._select("1", (), "seq", 1)
        last = await self._select("1", (), "seq DESC", 1)
        return LogSummary(
            count=count, first=first[0] if first else None, last=last[0] if last else None
        )

    async def records(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        *,
        where: RecordFilter | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> RecordPage:
        """See `LogReader.records`: one query, walking the seq (or cause) index."""
        checked_limit(limit)
        topics = None
        if where is not None and _wild(where.topic) and where.causation is None:
            assert where.topic is not None
            topics = await self._topics_matching(where.topic)
            if topics == []:
                return RecordPage([], None)
        low, high = max(from_seq, 1), _TOP if to_seq is None else to_seq
        clause, args = _where(low, high, where, topics)
        order = "seq DESC" if newest_first else "seq"
        found = await self._select(clause, args, order, limit + 1)  # one more: is there a next?
        if len(found) > limit:
            return RecordPage(found[:limit], found[limit].seq)
        return RecordPage(found, None)

    async def _topics_matching(self, pattern: str) -> list[str] | None:
        """Return the topics ``pattern`` matches, or None: too many, or no topic index."""
        if not self._indexed:
            return None
        low = _literal_prefix(pattern)
        # Past every topic starting with `low`: its last character, one code point up.
        high = low[:-1] + chr(ord(low[-1]) + 1) if low else None
        found = await self._query(_TOPICS_FROM, {"low": low, "high": high, "most": _MOST_TOPICS})
        topics = [str(topic) for (topic,) in found]
        if len(topics) == _MOST_TOPICS:
            return None
        return [topic for topic in topics if topic_matches(pattern, topic)]

    async def record(self, msg_id: str) -> Record | None:
        """See `LogReader.record`."""
        found = await self._select("id = ?", (msg_id,), "seq DESC", 1)
        return found[0] if found else None

    async def at(self, seq: int) -> Record | None:
        """See `LogReader.at`."""
        found = await self._select("seq = ?", (seq,))
        return found[0] if found else None

    async def counts(self, column: CountColumn) -> dict[str, int]:
        """See `LogReader.counts`."""
        checked_column(column)
        sql = f"SELECT coalesce({column}, '-'), count(*) FROM records GROUP BY {column}"
        return sorted_counts({str(name): int(n) for name, n in await self._query(sql)})

    async def cursors(self) -> dict[str, int]:
        """See `LogReader.cursors`."""
        rows = await self._query("SELECT consumer, seq FROM cursors ORDER BY consumer")
        return {str(name): int(seq) for name, seq in rows}

    async def journal(self, key: str) -> bytes | None:
        """See `LogReader.journal`."""
        rows = await self._query("SELECT value FROM journal WHERE key = ?", (key,))
        return _blob(rows[0][0]) if rows else None

    async def journal_entries(self, after: int = 0, *, limit: int = 100) -> JournalPage:
        """See `LogReader.journal_entries`: the position is the entry's rowid."""
        checked_limit(limit)
        rows = await self._query(
            "SELECT rowid, key, value FROM journal WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit + 1),
        )
        entries = [JournalEntry(int(row), str(key), _blob(value)) for row, key, value in rows]
        if len(entries) > limit:
            return JournalPage(entries[:limit], entries[limit - 1].position)
        return JournalPage(entries, None)

    def follow(
        self, after_seq: int, *, where: RecordFilter | None = None, interval: float = 0.2
    ) -> AsyncGenerator[Record, None]:
        """See `LogReader.follow`: the file is let go between polls (see the module docs)."""
        return poll(self, after_seq, where, interval, self._let_go)

    async def _let_go(self) -> None:
        if self._worker is not None:
            await self._worker.run(self._disconnect)
