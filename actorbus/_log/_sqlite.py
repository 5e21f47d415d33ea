"""`SqliteLog`: the embedded durable log, one SQLite file, no server.

Appends are admitted in the event loop (seq, id, dedup: no I/O) and written by one
flusher task, which hands each batch to a worker thread: every append that arrives
while a batch is being written joins the next one, so many publishes share one
transaction and one fsync (group commit), and the event loop never waits on disk.

Durability (``durability=``):

* ``"commit"`` (default): `append` returns once its batch is committed and fsynced
  (SQLite ``synchronous=FULL`` in WAL mode); nothing acknowledged is lost.
* ``"batch"``: `append` returns at once and the record is written with the next
  batch; a crash loses at most the records admitted since the last commit (one
  batch, bounded by ``max_batch`` records and the time one write takes).
* ``"none"``: as ``"batch"``, and commits are not fsynced (``synchronous=OFF``):
  an operating-system crash may also lose recent commits; a process crash does not.

Cursors and journal entries ride in the same transactions. The dedup window is not
stored apart: on open it is rebuilt from the ids of the newest ``dedup_entries``
records younger than ``dedup_window`` seconds, so it holds across restarts and needs
no pruning (records themselves are never deleted).

Size: a record (its encoded message plus its envelope's text fields) or a journal
entry over ``max_message_bytes`` raises `MessageTooLarge` in the event loop, before
it gets a seq (see `_rows`): nothing is written and the log goes on.

When a write fails, what happens depends on why:

* The file is failing (an I/O error, a full or read-only disk, damage, another
  writer that took a seq this log gave out): every record admitted but not yet
  written fails with `LogFileError`, and the log accepts nothing more until it is
  reopened. Later records are never written past the failed ones.
* SQLite refused what the batch carried (a value it cannot store, which the checks
  in the event loop did not foresee; see `_rows.refused`): only that batch fails. Its
  publishes, cursor commits and journal puts raise `LogUnavailable` (nothing of the
  batch was stored; publishing again is safe: the batch's keys are free again), and
  the log goes on with the next batch. The failed batch's seqs are never written: the
  log has a gap there, which readers and cursors skip like any other (`read` returns
  the records that exist, in seq order; a cursor names the last seq handled, not a
  count), and a reopened log starts after the highest seq in the file or in a cursor,
  so a seq an actor has moved past is never given out again. Each refused batch is
  logged (logger ``actorbus.sqlite``): a warning, or an error with ``"batch"`` or
  ``"none"`` durability, where the batch's publishes had returned already and its
  records were delivered: they are lost, as in a crash.

  Going on past the gap is deliberate: the refusal is about what one batch
  carried, later batches write fine, and stopping would turn one bad value into a
  dead log. With ``"commit"`` nothing refused was acknowledged or delivered, so
  every acknowledged record is still in the file, in seq order.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, final

import anyio
from anyio.abc import TaskGroup

from .._backend import Gate, Pending, Worker, gate, primitives, worker
from .._codec import MessageCodec
from .._errors import LogFileError, LogUnavailable, MessageTooLarge, UndecodableRecord
from .._message import Envelope, Receipt, Undecodable
from ._admit import Admission
from ._rows import (
    DEFAULT_MAX_MESSAGE_BYTES,
    SETTING,
    check_room,
    encode_record,
    entry_size,
    refused,
)
from ._schema import connect, damaged
from ._sqlite_reader import SqliteReader

__all__ = ["Durability", "SqliteLog"]

Durability = Literal["commit", "batch", "none"]
"""How durable an acknowledged append is: see `SqliteLog`."""

_SYNCHRONOUS = {"commit": "FULL", "batch": "NORMAL", "none": "OFF"}
_COLUMNS = "seq, id, topic, type, sender, timestamp, correlation_id, reply_to, causation, payload"
Deliver = Callable[[Envelope], None]
_CHUNK = 64  # the most rows one INSERT statement carries
# Publishers (per pair of batches) from which taking turns in two cohorts beats
# one shared batch; measured with `python -m benchmarks -b sqlite` (RESULTS.md).
_SPLIT_AT = 64

logger = logging.getLogger("actorbus.sqlite")


@functools.lru_cache(maxsize=_CHUNK)
def _insert(rows: int) -> str:
    """Return an INSERT of ``rows`` records (one statement text per size: SQLite caches them)."""
    values = ",".join(["(?,?,?,?,?,?,?,?,?,?)"] * rows)
    return f"INSERT INTO records ({_COLUMNS}) VALUES {values}"


@final
class _Batch:
    """Envelopes (and cursor and journal updates) written in one transaction."""

    __slots__ = ("_done", "cursors", "envelopes", "error", "journal", "payloads")

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.payloads: list[bytes] = []  # the envelopes' encoded messages, in order
        self.cursors: dict[str, int] = {}  # taken when the batch is written
        self.journal: dict[str, bytes] = {}  # likewise
        self._done: Gate | None = None  # made in the event loop, on first use
        self.error: BaseException | None = None

    def _gate(self) -> Gate:
        if self._done is None:
            self._done = gate()
        return self._done

    def wait(self) -> Awaitable[None]:
        """Return an awaitable done once the batch is written (or failed: see `error`)."""
        return self._gate().waiter()

    def finish(self) -> None:
        """Release everyone waiting on the batch."""
        self._gate().open()


def _contents(batch: _Batch) -> str:
    """Say what ``batch`` holds, for an error message."""
    envelopes = batch.envelopes
    parts = [f"records {envelopes[0].seq} to {envelopes[-1].seq}"] if envelopes else []
    if batch.cursors:
        parts.append(f"cursors of {', '.join(map(repr, batch.cursors))}")
    if batch.journal:
        parts.append(f"{len(batch.journal)} journal entries")
    return ", ".join(parts)


@final
class SqliteLog(Admission):
    """An event log in an SQLite file: durable, de-duplicating across restarts.

    Args:
        path: the log file; created (mode 0600) if missing.
        durability: ``"commit"``, ``"batch"`` or ``"none"``; see the module docs.
        dedup_window: seconds an id is remembered for de-duplication.
        dedup_entries: how many of the newest messages' ids are remembered.
        max_batch: the most records one transaction writes.
        max_message_bytes: the largest record accepted, in bytes: the encoded
            message plus the envelope's text fields (id, topic, type tag, sender,
            correlation id, reply-to, causation), or a journal entry's key and
            value. Larger ones raise `MessageTooLarge` before they get a seq. The
            default, 16 MiB, is far above what messages between actors and
            models carry, and far below SQLite's limit of about 1 GB per row
            (a larger setting raises `ValueError`). A program meant to move to
            `JetStreamLog` should keep to its server's ``max_payload`` (1 MB by
            default) instead.

    Version added: 0.1
    """

    __slots__ = (
        "_batch",
        "_checkpoint",
        "_closing",
        "_codec",
        "_conn",
        "_cursors",
        "_deliver",
        "_dirty_cursors",
        "_durability",
        "_failure",
        "_journal",
        "_journal_pending",
        "_max_batch",
        "_max_message_bytes",
        "_path",
        "_pending",
        "_sealed",
        "_stopped",
        "_target",
        "_tg",
        "_wake",
        "_worker",
        "_writing",
    )

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = "commit",
        dedup_window: float = 120.0,
        dedup_entries: int = 100_000,
        max_batch: int = 4096,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be one of {tuple(_SYNCHRONOUS)}, not {durability!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        check_room(max_message_bytes)
        self._batch = _Batch()  # the open batch: appends join it
        self._sealed: deque[_Batch] = deque()  # full batches waiting to be written
        super().__init__(self._batch.envelopes, dedup_entries, dedup_window)
        self._path = Path(path)
        self._durability: Durability = durability
        self._max_batch = max_batch
        self._max_message_bytes = max_message_bytes
        self._codec = MessageCodec()
        self._conn: sqlite3.Connection | None = None
        self._worker: Worker  # made by open(), in the event loop
        self._tg: TaskGroup | None = None
        self._wake: anyio.Event | None = None
        self._writing: _Batch | None = None  # the batch being written
        self._pending: Pending[None] | None = None  # its write
        self._target = 1  # the size at which the open batch goes if nothing is in flight
        self._checkpoint: Callable[[], Awaitable[None]]  # made by open()
        self._deliver: Deliver | None = None
        self._cursors: dict[str, int] = {}
        self._dirty_cursors: dict[str, int] = {}
        self._journal: dict[str, bytes] = {}
        self._journal_pending: dict[str, bytes] = {}
        self._failure: LogFileError | None = None
        self._closing = False

    def __repr__(self) -> str:
        return (
            f"SqliteLog({str(self._path)!r}, durability={self._durability!r}, last_seq={self._seq})"
        )

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    @property
    def durability(self) -> Durability:
        """How durable an acknowledged append is."""
        return self._durability

    @property
    def max_message_bytes(self) -> int:
        """The largest record accepted, in bytes (see the class docs)."""
        return self._max_message_bytes

    def reader(self) -> SqliteReader:
        """Return a `LogReader` of this log's file, which opens it read-only.

        It needs no open log: it reads the file at rest, or while this log (or
        another process) writes it.
        """
        return SqliteReader(self._path)

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the file, load the seq, cursors and dedup window, start writing.

        Raises:
            LogFileError: the file is not an actorbus log this version can use.
        """
        if self._conn is not None:
            raise RuntimeError("this SqliteLog is already open")
        self._closing = False
        self._worker = worker()
        self._checkpoint = primitives().checkpoint
        try:
            self._conn = await self._worker.run(connect, self._path, _SYNCHRONOUS[self._durability])
        except BaseException:
            self._worker.stop()
            raise
        try:
            await self._worker.run(self._load)
        except sqlite3.DatabaseError as exc:
            await self._close_connection()
            raise LogFileError(str(self._path), damaged(exc)) from exc
        self._stopped = anyio.Event()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._flush_forever, name="actorbus:sqlite-flusher")

    async def aclose(self) -> None:
        """Write what is pending, stop the writer, close the file. Closing twice does nothing."""
        tg, self._tg = self._tg, None
        if tg is None:
            return
        self._closing = True
        self._poke()
        # Shielded: a caller being cancelled (a bus torn down) must still write
        # what was acknowledged, close the file and stop the worker thread.
        try:
            with anyio.CancelScope(shield=True):
                await self._stopped.wait()  # the flusher writes what is pending first
            await tg.__aexit__(None, None, None)  # in the scope it was entered in
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_connection()

    async def __aenter__(self) -> SqliteLog:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._worker.run(conn.close)
        self._worker.stop()

    def _load(self) -> None:
        conn = self._connection()
        last = conn.execute("SELECT max(seq) FROM records").fetchone()[0] or 0
        self._cursors = dict(conn.execute("SELECT consumer, seq FROM cursors").fetchall())
        # A refused batch leaves no record, but maybe a cursor past it: never give
        # out a seq again that an actor has moved past.
        last = max(last, *self._cursors.values(), 0)
        self._withdrawn.clear()
        rows = conn.execute(
            "SELECT seq, id, timestamp FROM records WHERE seq > ? AND timestamp > ? ORDER BY seq",
            (last - self._dedup.max_entries, time.time() - self._dedup.max_age),
        ).fetchall()
        for seq, msg_id, timestamp in rows:
            self._dedup.check(msg_id, seq, timestamp)
        self._dedup.last_seq = self._seq = last

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("this SqliteLog is not open; use it inside `async with`")
        return self._conn

    # -- appending ------------------------------------------------------------------

    def attach(self, deliver: Deliver) -> None:
        """Have ``deliver`` called for each appended envelope, in seq order, once durable."""
        self._deliver = deliver

    async def append(self, env: Envelope) -> Receipt:
        """See `EventLog.append`; with ``"commit"`` it returns once the record is fsynced.

        Raises:
            MessageTooLarge: the record is over ``max_message_bytes``; nothing was
                appended and the log goes on.
            TypeError: the message cannot be encoded; nothing was appended.
            ValueError: a text field (a key, a correlation id) is not valid Unicode.
            LogUnavailable: SQLite refused the batch the record was written in
                (see the module docs); nothing of it was stored, publishing again
                is safe.
            LogFileError: the log cannot write (it is closed, or the file failed).
        """
        if self._failure is not None:
            raise self._failure
        if self._tg is None or self._closing:
            raise LogFileError(str(self._path), "the log is closed")
        payload = encode_record(env, self._max_message_bytes)
        batch = self._batch
        receipt = self.admit(env)
        if receipt.duplicate:
            return receipt
        batch.payloads.append(payload)
        if len(batch.envelopes) >= self._max_batch:
            self._seal()
        if self._pending is None and len(batch.envelopes) >= self._target:
            self._start_write()
        else:
            self._poke()
        if self._durability != "commit":
            if self._deliver is not None:
                self._deliver(env)
            return receipt
        await batch.wait()
        if batch.error is not None:
            raise batch.error
        return receipt

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None:  # once per sleep: the flusher is woken, not re-woken
            self._wake = None
            wake.set()

    # Group commit keeps one write in flight. With many publishers (`_SPLIT_AT`
    # or more records across the batch just written and the one that filled
    # meanwhile) they settle into two cohorts that take turns, one being written
    # while the other appends: the batch that filled goes at once if it holds
    # half of them, otherwise when it reaches half (from `append`) or when the
    # publishers just released have all run (the flusher's checkpoint). With few,
    # a transaction's fixed cost (the fsync) outweighs the loop's work, so they
    # share one batch: the open batch goes when all of them are in it.

    async def _flush_forever(self) -> None:
        # Shielded: cancelling whoever opened the log must not stop the writer
        # with acknowledged records unwritten; `aclose` stops it.
        with anyio.CancelScope(shield=True):
            await self._flush_until_closed()

    async def _flush_until_closed(self) -> None:
        checkpoint = self._checkpoint
        while True:
            pending = self._pending
            if pending is not None:
                try:
                    await pending.result()
                except Exception as exc:  # whatever it is, the writer must go on
                    self._complete(exc)
                else:
                    self._complete(None)
                if self._pending is None:
                    await checkpoint()  # the released publishers append first
                continue
            if self._has_work():
                self._start_write()
                continue
            if self._closing:
                self._stopped.set()
                return
            self._wake = anyio.Event()
            await self._wake.wait()

    def _has_work(self) -> bool:
        return bool(
            self._sealed or self._batch.envelopes or self._dirty_cursors or self._journal_pending
        )

    def _seal(self) -> None:
        # The open batch is full (or about to be written): later appends go to a new one.
        self._sealed.append(self._batch)
        self._batch = _Batch()
        self._records = self._batch.envelopes

    def _start_write(self) -> None:
        if not self._sealed:
            self._seal()
        batch = self._sealed.popleft()
        batch.cursors, self._dirty_cursors = self._dirty_cursors, {}
        batch.journal, self._journal_pending = self._journal_pending, {}
        self._writing = batch
        self._pending = self._worker.submit(self._write, batch, handoff=True)
        self._poke()

    def _complete(self, exc: Exception | None) -> None:
        batch = self._writing
        assert batch is not None
        self._writing = self._pending = None
        if exc is not None:
            if refused(exc):
                self._refuse(batch, exc)
            else:
                self._fail(batch, exc)
            return
        if self._durability == "commit" and self._deliver is not None:
            for env in batch.envelopes:
                self._deliver(env)
        waiting = len(self._sealed[0].envelopes) if self._sealed else len(self._batch.envelopes)
        publishers = len(batch.envelopes) + waiting
        self._target = max(1, (publishers + 1) // 2 if publishers >= _SPLIT_AT else publishers)
        if waiting and (waiting >= self._target or self._sealed) and self._failure is None:
            self._start_write()
        batch.finish()

    def _refuse(self, batch: _Batch, exc: Exception) -> None:
        # SQLite refused what this batch carried; the file is fine, and the log goes
        # on with the next batch (the module docs say why the gap is acceptable).
        envelopes = batch.envelopes
        self.withdraw(envelopes)
        for key in batch.journal:
            self._journal.pop(key, None)  # not recorded: a later put must write it
        what = f"{type(exc).__name__}: {exc}"
        error = LogUnavailable(
            repr(self),
            f"SQLite refused a batch ({_contents(batch)}; {what}); nothing of it was "
            "stored, and the log goes on: publishing again is safe",
        )
        error.__cause__ = exc
        # Said in the log too: commit_cursor_nowait has no caller to raise to, and
        # with early acknowledgement the records' publishers have returned.
        lost = bool(envelopes) and self._durability != "commit"
        logger.log(
            logging.ERROR if lost else logging.WARNING,
            "%s: SQLite refused a batch (%s; %s)%s",
            self._path, _contents(batch), what,
            "; its records were acknowledged already and are not in the log" if lost else "",
        )  # fmt: skip
        batch.error = error
        batch.finish()

    def _fail(self, batch: _Batch, exc: BaseException) -> None:
        # The file is failing. Every record admitted but not written fails with it,
        # not just this batch: the log cannot know that later batches would fare
        # better, and is better stopped than writing on past a failing disk.
        self._failure = LogFileError(
            str(self._path),
            f"writing records failed ({type(exc).__name__}: {exc}); those publishes "
            "raised, and the log accepts no more until reopened: check the disk (space, "
            "permissions) and that no other process writes this file, then restart",
        )
        self._failure.__cause__ = exc
        failed = [batch, *self._sealed, self._batch]
        self._sealed.clear()
        self._batch = _Batch()
        self._records = self._batch.envelopes
        self._dirty_cursors.clear()
        self._journal_pending.clear()
        for each in failed:
            each.error = self._failure
            each.finish()

    def _write(self, batch: _Batch) -> None:
        # Each statement releases the GIL while SQLite runs it and must win it back
        # from the busy event loop afterwards, so a batch goes in as few statements
        # as possible: multi-row INSERTs, and no BEGIN/COMMIT when one statement
        # is the whole transaction.
        conn = self._connection()
        cursors, journal = batch.cursors, batch.journal
        rows = [
            (e.seq, e.id, e.topic, e.type, e.sender, e.timestamp, e.correlation_id,
             e.reply_to, e.causation, payload)
            for e, payload in zip(batch.envelopes, batch.payloads, strict=True)
        ]  # fmt: skip
        if len(rows) <= _CHUNK and not cursors and not journal:
            if rows:
                conn.execute(_insert(len(rows)), [v for row in rows for v in row])
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                conn.execute(_insert(len(chunk)), [v for row in chunk for v in row])
            conn.executemany(
                "INSERT INTO cursors (consumer, seq) VALUES (?, ?) "
                "ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
                cursors.items(),
            )
            now = time.time()
            conn.executemany(
                "INSERT OR IGNORE INTO journal (key, value, created) VALUES (?, ?, ?)",
                [(key, value, now) for key, value in journal.items()],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- reading --------------------------------------------------------------------

    async def read(self, from_seq: int, limit: int = 1000) -> list[Envelope]:
        """See `EventLog.read`.

        Records that cannot be decoded in this process come back as `Undecodable`
        messages (the record itself stays as it is). With ``"batch"`` or ``"none"``
        durability, acknowledged records not yet written are included.

        Raises:
            LogFileError: the file turned out to be damaged.
        """
        from_seq = max(from_seq, 1)
        # Taken before the SELECT: a batch that commits meanwhile is then in one
        # or the other (or both, and counted once).
        unwritten = self._unwritten(from_seq) if self._durability != "commit" else []
        try:
            found = await self._worker.run(self._select, from_seq, limit)
        except sqlite3.DatabaseError as exc:
            raise LogFileError(str(self._path), damaged(exc)) from exc
        if len(found) < limit:
            last = found[-1].seq if found else from_seq - 1
            found.extend(env for env in unwritten if env.seq > last)
            del found[limit:]
        return found

    def _unwritten(self, from_seq: int) -> list[Envelope]:
        pending = [
            env
            for batch in (self._writing, *self._sealed, self._batch)
            if batch is not None
            for env in batch.envelopes
        ]
        return [env for env in pending if env.seq >= from_seq]

    def _select(self, from_seq: int, limit: int) -> list[Envelope]:
        rows = self._connection().execute(
            f"SELECT {_COLUMNS} FROM records WHERE seq >= ? ORDER BY seq LIMIT ?",
            (from_seq, limit),
        )
        return [self._envelope(row) for row in rows]

    def _envelope(self, row: tuple[Any, ...]) -> Envelope:
        seq, msg_id, topic, tag, sender, timestamp, correlation, reply_to, causation, payload = row
        try:
            message = self._codec.decode(tag, payload, seq)
        except UndecodableRecord as exc:
            message = Undecodable(type_tag=tag, error=exc.reason)
        return Envelope(
            msg_id, topic, message, timestamp, sender, correlation, reply_to, causation, seq
        )

    async def read_topic_prefix(self, prefix: str) -> list[Envelope]:
        """Return every record whose topic starts with ``prefix``, in seq order.

        For rebuilding derived data on open (the shared state): SQLite scans the
        table, and only the matching records are decoded.
        """
        where = "substr(topic, 1, ?) = ?"  # exact, unlike LIKE (case-blind for ASCII)
        return await self._worker.run(self._select_where, where, (len(prefix), prefix))

    async def find(self, msg_id: str) -> Envelope | None:
        """Return the newest record with id ``msg_id``, or None."""
        rows = await self._worker.run(self._select_where, "id = ?", (msg_id,))
        return rows[-1] if rows else None

    async def caused_by(self, msg_id: str) -> list[Envelope]:
        """Return the records published while handling the message ``msg_id``, in seq order."""
        return await self._worker.run(self._select_where, "causation = ?", (msg_id,))

    def _select_where(self, where: str, args: tuple[Any, ...]) -> list[Envelope]:
        rows = self._connection().execute(
            f"SELECT {_COLUMNS} FROM records WHERE {where} ORDER BY seq", args
        )
        return [self._envelope(row) for row in rows]

    # -- cursors and journal --------------------------------------------------------

    async def cursor(self, consumer: str) -> int:
        """See `EventLog.cursor`."""
        return self._cursors.get(consumer, 0)

    def has_cursor(self, consumer: str) -> bool:
        """Tell whether ``consumer`` has ever committed a cursor."""
        return consumer in self._cursors

    def cursors(self) -> dict[str, int]:
        """Return every consumer's cursor."""
        return dict(self._cursors)

    def commit_cursor_nowait(self, consumer: str, seq: int) -> None:
        """Record ``consumer``'s cursor; it is written with the next batch."""
        self._cursors[consumer] = seq
        self._dirty_cursors[consumer] = seq
        self._poke()

    async def commit_cursor(self, consumer: str, seq: int) -> None:
        """See `EventLog.commit_cursor`: returns once written (with ``"commit"``).

        Raises:
            LogUnavailable: SQLite refused the batch it was written in.
        """
        self.commit_cursor_nowait(consumer, seq)
        await self._written()

    async def journal_get(self, key: str) -> bytes | None:
        """See `EventLog.journal_get`."""
        found = self._journal.get(key)
        if found is None:
            row = await self._worker.run(self._journal_row, key)
            if row is not None:
                found = self._journal[key] = row
        return found

    def _journal_row(self, key: str) -> bytes | None:
        row = (
            self._connection().execute("SELECT value FROM journal WHERE key = ?", (key,)).fetchone()
        )
        return None if row is None else bytes(row[0])

    async def journal_put(self, key: str, value: bytes) -> None:
        """See `EventLog.journal_put`: returns once written (with ``"commit"``).

        Raises:
            MessageTooLarge: the entry is over ``max_message_bytes`` (its topic is
                ``_journal.<key>``); nothing was recorded.
            LogUnavailable: SQLite refused the batch it was written in.
        """
        if key in self._journal:
            return
        size = entry_size(key, value)
        if size > self._max_message_bytes:
            raise MessageTooLarge(f"_journal.{key}", size, self._max_message_bytes, setting=SETTING)
        self._journal[key] = value
        self._journal_pending[key] = value
        self._poke()
        await self._written()

    async def _written(self) -> None:
        # Everything queued so far is in the next batch: wait for it.
        if self._durability != "commit":
            return
        batch = self._batch
        self._seal()
        self._poke()
        await batch.wait()
        if batch.error is not None:
            raise batch.error
