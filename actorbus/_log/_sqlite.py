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
"""

from __future__ import annotations

import functools
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
from .._errors import LogFileError, UndecodableRecord
from .._message import Envelope, Receipt, Undecodable
from ._admit import Admission
from ._schema import connect, damaged

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


@functools.lru_cache(maxsize=_CHUNK)
def _insert(rows: int) -> str:
    """Return an INSERT of ``rows`` records (one statement text per size: SQLite caches them)."""
    values = ",".join(["(?,?,?,?,?,?,?,?,?,?)"] * rows)
    return f"INSERT INTO records ({_COLUMNS}) VALUES {values}"


@final
class _Batch:
    """Envelopes (and cursor and journal updates) written in one transaction."""

    __slots__ = ("_done", "envelopes", "error")

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
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


@final
class SqliteLog(Admission):
    """An event log in an SQLite file: durable, de-duplicating across restarts.

    Args:
        path: the log file; created (mode 0600) if missing.
        durability: ``"commit"``, ``"batch"`` or ``"none"``; see the module docs.
        dedup_window: seconds an id is remembered for de-duplication.
        dedup_entries: how many of the newest messages' ids are remembered.
        max_batch: the most records one transaction writes.

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
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be one of {tuple(_SYNCHRONOUS)}, not {durability!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._batch = _Batch()  # the open batch: appends join it
        self._sealed: deque[_Batch] = deque()  # full batches waiting to be written
        super().__init__(self._batch.envelopes, dedup_entries, dedup_window)
        self._path = Path(path)
        self._durability: Durability = durability
        self._max_batch = max_batch
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
            LogFileError: the log cannot write (it is closed, or a write failed).
        """
        if self._failure is not None:
            raise self._failure
        if self._tg is None or self._closing:
            raise LogFileError(str(self._path), "the log is closed")
        batch = self._batch
        receipt = self.admit(env)
        if receipt.duplicate:
            return receipt
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
                except (sqlite3.Error, OSError) as exc:
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
        cursors, self._dirty_cursors = self._dirty_cursors, {}
        journal, self._journal_pending = self._journal_pending, {}
        self._writing = batch
        self._pending = self._worker.submit(
            self._write, batch.envelopes, cursors, journal, handoff=True
        )
        self._poke()

    def _complete(self, exc: BaseException | None) -> None:
        batch = self._writing
        assert batch is not None
        self._writing = self._pending = None
        if exc is not None:
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

    def _fail(self, batch: _Batch, exc: BaseException) -> None:
        # Every record admitted but not written fails with it, not just this batch:
        # writing later batches would leave a gap in the seqs and acknowledge records
        # admitted after ones that were refused.
        self._failure = LogFileError(
            str(self._path),
            f"writing records failed ({exc}); those publishes raised, the log accepts no "
            "more until reopened: check the disk, then restart",
        )
        failed = [batch, *self._sealed, self._batch]
        self._sealed.clear()
        self._batch = _Batch()
        self._records = self._batch.envelopes
        self._dirty_cursors.clear()
        self._journal_pending.clear()
        for each in failed:
            each.error = self._failure
            each.finish()

    def _write(
        self, envelopes: list[Envelope], cursors: dict[str, int], journal: dict[str, bytes]
    ) -> None:
        # Each statement releases the GIL while SQLite runs it and must win it back
        # from the busy event loop afterwards, so a batch goes in as few statements
        # as possible: multi-row INSERTs, and no BEGIN/COMMIT when one statement
        # is the whole transaction.
        conn = self._connection()
        encode = self._codec.encode
        rows = [
            (e.seq, e.id, e.topic, e.type, e.sender, e.timestamp, e.correlation_id,
             e.reply_to, e.causation, encode(e.message))
            for e in envelopes
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
        """See `EventLog.commit_cursor`: returns once written (with ``"commit"``)."""
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
        """See `EventLog.journal_put`: returns once written (with ``"commit"``)."""
        if key in self._journal:
            return
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
