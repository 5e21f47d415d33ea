"""`LogReader`: a read-only look into a `SqliteLog` file, for inspection tools.

The reader never writes to the file. It checks the header, then opens the file
through SQLite's read-only mode and checks the application id and schema version
before it reads a record; anything else raises `LogFileError`, with the file left
as it was.

A log at rest (no writer: no ``-wal`` or ``-journal`` file beside it) is opened
``immutable``, because a read-only connection to a WAL database would otherwise
create ``-wal`` and ``-shm`` files next to it and could not remove them. While a
writer runs those files exist already, and the reader joins them as an ordinary
read-only connection, so it sees each commit as it lands. An immutable reader
does not see a writer that starts after it opened, and is safe only while that
writer has not checkpointed into the file: keep its reads short, and call `reopen`
(which makes the choice again) to follow a log over time.

Payloads are handed out as stored (msgpack bytes) or, through `plain_payload`, as
plain data with every secret-looking value replaced by ``"***"``: decoding needs
no message class, so it works on any log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, final
from urllib.parse import quote

import msgspec

from .._errors import LogFileError
from ._schema import APPLICATION_ID, SCHEMA_VERSION, damaged

__all__ = ["REDACTED", "LogReader", "LogSummary", "Record", "plain_payload", "redact"]

REDACTED = "***"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_COLUMNS = "seq, id, topic, type, sender, timestamp, correlation_id, reply_to, causation, payload"
_PAGE = 500
# Keys whose values are never shown, compared lower-cased with '-' read as '_':
# these, and any key ending in one of the suffixes (``access_token``, ``x_api_key``).
_SECRET_KEYS = frozenset(("api_key", "apikey", "authorization", "token", "secret", "password"))
_SECRET_SUFFIXES = ("_key", "_token", "_secret", "_password")


@final
class Record(msgspec.Struct, frozen=True, gc=False):
    """One stored record, as the file holds it (the payload still encoded).

    Field meanings are those of `Envelope`; ``type`` is the message's type tag and
    ``payload`` its msgpack encoding.
    """

    seq: int
    id: str
    topic: str
    type: str
    sender: str | None
    timestamp: float
    correlation_id: str | None
    reply_to: str | None
    causation: str | None
    payload: bytes


@final
class LogSummary(msgspec.Struct, frozen=True):
    """How many records a log holds, and its first and last."""

    count: int
    """The number of records."""
    first: Record | None
    """The oldest record (None for an empty log)."""
    last: Record | None
    """The newest record (None for an empty log)."""


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


def redact(data: Any) -> Any:
    """Return ``data`` with the value of every secret-looking key replaced by ``"***"``.

    Looks into nested dicts and lists. A key looks secret if, lower-cased and with
    ``-`` read as ``_``, it is ``api_key``, ``apikey``, ``authorization``, ``token``,
    ``secret`` or ``password``, or ends in ``_key``, ``_token``, ``_secret`` or
    ``_password``. A bare ``key`` is not secret: `StateUpdate.key` names a state key.
    """
    if isinstance(data, dict):
        return {k: REDACTED if _secret(k) else redact(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact(item) for item in data]
    return data


def _secret(key: object) -> bool:
    if not isinstance(key, str):
        return False
    name = key.lower().replace("-", "_")
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def plain_payload(payload: bytes) -> Any:
    """Decode a stored payload to plain data (dicts, lists, str...), secrets redacted.

    Needs no message class: the msgpack is read as it is.

    Raises:
        msgspec.DecodeError: the payload is not valid msgpack.
    """
    return redact(msgspec.msgpack.decode(payload))


@final
class LogReader:
    """Reads a `SqliteLog` file without changing it; the sync API of inspection tools.

    Use it as a context manager, or call `close`. Methods block on file I/O: they
    are for command-line tools and tests, not for an event loop.

    Args:
        path: the log file.

    Raises:
        LogFileError: the file is missing, unreadable, not an actorbus log, of
            another schema version, or damaged.

    Version added: 0.1
    """

    __slots__ = ("_conn", "_path")

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self.reopen()

    def __repr__(self) -> str:
        return f"LogReader({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    def __enter__(self) -> LogReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file. Closing twice does nothing."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def reopen(self) -> None:
        """(Re)open and check the file: see the module docs for how it is opened.

        Raises:
            LogFileError: as for the constructor.
        """
        self.close()
        self._check_header()
        try:
            self._conn = sqlite3.connect(self._uri(), uri=True, isolation_level=None)
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LogFileError(str(self._path), damaged(exc)) from exc
        except BaseException:
            self.close()
            raise

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

    def _uri(self) -> str:
        # See the module docs: immutable only while no writer has side files open.
        at_rest = not any(
            self._path.with_name(self._path.name + suffix).exists()
            for suffix in ("-wal", "-journal")
        )
        uri = f"file:{quote(str(self._path.resolve()))}?mode=ro"
        return uri + "&immutable=1" if at_rest else uri

    def _check_schema(self) -> None:
        conn = self._connection()
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if application_id != APPLICATION_ID:
            raise LogFileError(
                str(self._path),
                "it is an SQLite database of another application, not an actorbus log",
            )
        if version != SCHEMA_VERSION:
            raise LogFileError(
                str(self._path),
                f"its schema is version {version}, and this actorbus reads version "
                f"{SCHEMA_VERSION}",
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("this LogReader is closed")
        return self._conn

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._connection().execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise LogFileError(str(self._path), damaged(exc)) from exc

    def _select(
        self, where: str, args: tuple[Any, ...], order: str = "seq", limit: int = -1
    ) -> list[Record]:
        sql = f"SELECT {_COLUMNS} FROM records WHERE {where} ORDER BY {order} LIMIT {limit:d}"
        rows = self._rows(sql, args)
        return [_record(row) for row in rows]

    # -- reading --------------------------------------------------------------------

    def last_seq(self) -> int:
        """Return the seq of the newest record (0 for an empty log)."""
        return int(self._rows("SELECT coalesce(max(seq), 0) FROM records")[0][0])

    def records(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        *,
        type: str | None = None,
        newest_first: bool = False,
    ) -> Iterator[Record]:
        """Yield the records with ``from_seq <= seq <= to_seq``, in seq order.

        Reads in pages, so a caller that stops early reads little.

        Args:
            from_seq: the first seq.
            to_seq: the last seq; None for the newest.
            type: only records of this type tag.
            newest_first: yield in descending seq order instead.
        """
        low, high = from_seq, to_seq if to_seq is not None else 2**63 - 1
        where = "seq BETWEEN ? AND ?" + (" AND type = ?" if type is not None else "")
        order = "seq DESC" if newest_first else "seq"
        while low <= high:
            args = (low, high, type) if type is not None else (low, high)
            page = self._select(where, args, order, _PAGE)
            yield from page
            if len(page) < _PAGE:
                return
            if newest_first:
                high = page[-1].seq - 1
            else:
                low = page[-1].seq + 1

    def find(self, msg_id: str) -> Record | None:
        """Return the newest record with id ``msg_id``, or None."""
        found = self._select("id = ?", (msg_id,))
        return found[-1] if found else None

    def at(self, seq: int) -> Record | None:
        """Return the record at ``seq``, or None."""
        found = self._select("seq = ?", (seq,))
        return found[0] if found else None

    def caused_by(self, msg_id: str) -> list[Record]:
        """Return the records published while handling message ``msg_id``, in seq order."""
        return self._select("causation = ?", (msg_id,))

    def summary(self) -> LogSummary:
        """Return the number of records and the first and last of them."""
        count = int(self._rows("SELECT count(*) FROM records")[0][0])
        first = next(self.records(), None)
        last = next(self.records(newest_first=True), None)
        return LogSummary(count=count, first=first, last=last)

    def counts(self, column: Literal["topic", "type", "sender"]) -> dict[str, int]:
        """Return how many records there are per topic, type or sender, most first.

        Records with no sender count under ``"-"``.
        """
        if column not in ("topic", "type", "sender"):
            raise ValueError(f"cannot count by {column!r}")
        sql = (
            f"SELECT coalesce({column}, '-'), count(*) FROM records "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column}"
        )
        return {str(name): int(count) for name, count in self._rows(sql)}

    def cursors(self) -> dict[str, int]:
        """Return every consumer's committed cursor (the last seq it handled), by name."""
        rows = self._rows("SELECT consumer, seq FROM cursors ORDER BY consumer")
        return {str(name): int(seq) for name, seq in rows}

    def journal(self, key: str) -> bytes | None:
        """Return the journal entry under ``key`` (as stored), or None.

        Keys are derived (see `handling_calls`, which finds a handling's model
        calls by them).
        """
        rows = self._rows("SELECT value FROM journal WHERE key = ?", (key,))
        return _blob(rows[0][0]) if rows else None
