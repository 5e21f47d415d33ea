"""Cursors and journal of a `JetStreamLog`, each in a JetStream KV bucket.

Cursors are written behind: the bus commits one after every handled message
(`Cursors.set_nowait`), and a flusher task writes the newest value of each
cursor changed since its last round, so a busy actor costs one KV write per
round, not per message. `Cursors.set` waits for the round that carries it. A
failed round is retried (a cursor is a plain value: writing it twice is
harmless) until the log closes. Cursor and journal names become KV keys with
`name_key`.

Journal entries are written once: `Journal.put` creates the key, and a key that
exists already keeps its first value.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, final

import anyio

from ..._backend import Gate, gate
from ..._errors import LogUnavailable
from ._wire import name_key

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

__all__ = ["Cursors", "Journal"]

logger = logging.getLogger("actorbus.jetstream")

_RETRY = (0.1, 0.25, 0.5, 1.0)  # seconds between attempts at a failed round


@final
class _Round:
    """One write of the cursors changed since the last."""

    __slots__ = ("_gate", "error")

    def __init__(self) -> None:
        self._gate: Gate | None = None
        self.error: BaseException | None = None

    async def wait(self) -> None:
        if self._gate is None:
            self._gate = gate()
        await self._gate.waiter()
        if self.error is not None:
            raise self.error

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        if self._gate is None:
            self._gate = gate()
        self._gate.open()


@final
class Cursors:
    """Every consumer's cursor, held in memory and written behind to a KV bucket."""

    __slots__ = ("_dirty", "_flushed", "_kv", "_round", "_shown_as", "_values", "_wake")

    def __init__(self, kv: KeyValue, values: dict[str, int], shown_as: str) -> None:
        self._kv = kv
        self._values = dict(values)
        self._dirty: dict[str, int] = {}
        self._round = _Round()  # the round that will carry what is dirty now
        self._wake: anyio.Event | None = None
        self._flushed: anyio.Event | None = None  # set when the round being written ends
        self._shown_as = shown_as

    def get(self, name: str) -> int:
        """Return ``name``'s cursor (0 if none)."""
        return self._values.get(name, 0)

    def has(self, name: str) -> bool:
        """Tell whether ``name`` has ever committed a cursor."""
        return name in self._values

    def snapshot(self) -> dict[str, int]:
        """Return every cursor, by consumer name."""
        return dict(self._values)

    def set_nowait(self, name: str, seq: int) -> None:
        """Set ``name``'s cursor; it is written with the next round."""
        self._values[name] = seq
        self._dirty[name] = seq
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set()

    async def set(self, name: str, seq: int) -> None:
        """Set ``name``'s cursor and return once it is written.

        Raises:
            LogUnavailable: the log closed before the write succeeded.
        """
        self.set_nowait(name, seq)
        await self._round.wait()

    async def run(self) -> None:
        """Write rounds until cancelled."""
        while True:
            if not self._dirty:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            await self._flush()

    async def close(self, timeout: float) -> None:
        """Write what is dirty, trying for up to ``timeout`` seconds; then fail waiters."""
        with anyio.move_on_after(timeout):
            while True:  # a round the flusher has under way is waited for, not cut off
                if self._flushed is not None:
                    await self._flushed.wait()
                elif self._dirty:
                    await self._flush()
                else:
                    break
        self._round.finish(self._closed())

    async def _flush(self) -> None:
        batch, self._dirty = self._dirty, {}
        done, self._round = self._round, _Round()
        error: BaseException | None = self._closed()
        flushed = self._flushed = anyio.Event()
        try:
            await self._write(batch)
            error = None
        finally:
            self._flushed = None
            flushed.set()
            done.finish(error)  # with an error if cancelled (the log closing)

    async def _write(self, batch: dict[str, int]) -> None:
        attempt = 0
        while True:
            try:
                for name, seq in batch.items():
                    await self._kv.put(name_key(name), str(seq).encode())
            except Exception as exc:  # retried: writing a cursor twice is harmless
                logger.warning("%s: writing cursors failed (%s); retrying", self._shown_as, exc)
                await anyio.sleep(_RETRY[min(attempt, len(_RETRY) - 1)])
                attempt += 1
            else:
                return

    def _closed(self) -> LogUnavailable:
        return LogUnavailable(self._shown_as, "the log closed before a cursor was written")


@final
class Journal:
    """Journal entries (see `Context.once`), written once each to a KV bucket."""

    __slots__ = ("_cache", "_kv", "_shown_as")

    def __init__(self, kv: KeyValue, shown_as: str) -> None:
        self._kv = kv
        self._cache: dict[str, bytes] = {}
        self._shown_as = shown_as

    async def get(self, key: str) -> bytes | None:
        """Return the value recorded under ``key``, or None.

        Raises:
            LogUnavailable: the server did not answer.
        """
        found = self._cache.get(key)
        if found is not None:
            return found
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self._kv.get(name_key(key))
        except KeyNotFoundError:  # KeyDeletedError is one too
            return None
        except Exception as exc:
            raise self._unavailable("reading", exc) from exc
        value = self._cache[key] = entry.value or b""
        return value

    async def put(self, key: str, value: bytes) -> None:
        """Record ``value`` under ``key`` unless something is recorded there already.

        Raises:
            LogUnavailable: the server did not answer.
        """
        if key in self._cache:
            return
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            await self._kv.create(name_key(key), value)
        except KeyWrongLastSequenceError:
            return  # recorded before: the first value stands
        except Exception as exc:
            raise self._unavailable("writing", exc) from exc
        self._cache[key] = value

    def _unavailable(self, doing: str, exc: Exception) -> LogUnavailable:
        return LogUnavailable(
            self._shown_as, f"{doing} a journal entry failed ({type(exc).__name__}: {exc})"
        )
