"""`State`: a versioned key-value store shared by a bus's actors.

`State` is the front: it checks keys, keeps values as msgpack and hands out
fresh decoded copies (so no caller, handler or subscriber can change the state
by mutating a value it was given), retries `update`, and publishes every change
as a `StateUpdate` on ``_state.<key>`` through the bus's log, so actors can
subscribe to changes and the log holds the state's history. Entries are kept by
a storage (see ``_storage``): `LocalStorage` in this process, or the KV bucket
of a `JetStreamLog`, shared by every bus on that stream.

A method returns once its change is stored and its `StateUpdate` is logged:
with a `SqliteLog` in ``"commit"`` mode, once it is durable, and a bus opened on
that file later rebuilds the local state from those records (`rebuild`).

Compare-and-swap compares revisions, never values, so a value that goes A -> B
-> A is still seen as changed. The local storage needs no lock: it checks the
revision and applies the change in one step of the event loop; the KV bucket
checks it on the server (the key's last sequence). Should the `StateUpdate`
publish fail (the log is closed, or a write failed), a local change is rolled
back if nothing changed the key since, and the error propagates; a change in
the KV bucket stands (other processes may have read it already). A cancellation
is not a failure: the bus appends without suspending, so a change can only be
cancelled once its `StateUpdate` is in the log (a `SqliteLog` writes what it
admitted even if the caller goes away), and rolling it back would make the
store disagree with the log and hand its revision out twice.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, final

import msgspec

from .._backoff import backoff_delay
from .._errors import StateConflict
from .._message import Envelope, Receipt, StateUpdate
from .._topic import validate_topic
from ._entry import StateEntry
from ._storage import PREFIX, LocalStorage, StateStorage, Stored

__all__ = ["PREFIX", "Publish", "State", "StateView"]

Publish = Callable[[str, StateUpdate, str | None], Awaitable[Receipt]]
"""How the store publishes a change: (topic, message, sender)."""

ReadPrefix = Callable[[str], Awaitable[list[Envelope]]]
"""How a durable log hands back every record under a topic prefix."""

Sleep = Callable[[float], Awaitable[None]]


@final
class State:
    """The shared state of a bus: ``bus.state`` (and ``ctx.state`` in handlers).

    Values must be msgspec-encodable; they are stored, and returned, as JSON-like
    builtins (dicts, lists, str, numbers, bool, None).

    Version added: 0.1
    """

    __slots__ = ("_publish", "_sleep", "_storage")

    def __init__(self, publish: Publish, sleep: Sleep, storage: StateStorage | None = None) -> None:
        self._publish = publish
        self._sleep = sleep
        self._storage: StateStorage = LocalStorage() if storage is None else storage

    def __repr__(self) -> str:
        return f"State(keys={len(self._storage.keys(''))})"

    # -- reading ----------------------------------------------------------------------

    async def get(self, key: str) -> StateEntry | None:
        """Return ``key``'s entry (its value a copy of its own), or None if it does not exist."""
        stored = await self._storage.get(key)
        return None if stored is None else _out(key, stored)

    def keys(self, prefix: str = "") -> list[str]:
        """Return the keys that exist and start with ``prefix``, sorted.

        On a `JetStreamLog` the keys come from a copy kept up to date by a watch of
        the KV bucket: a key another process just created or deleted may show up,
        or go, a moment later (this bus's own changes show at once).
        """
        return self._storage.keys(prefix)

    async def items(self, prefix: str = "") -> list[StateEntry]:
        """Return the entries whose keys start with ``prefix``, sorted by key."""
        found: list[StateEntry] = []
        for key in self._storage.keys(prefix):
            stored = await self._storage.get(key)
            if stored is not None:  # deleted by another process since
                found.append(_out(key, stored))
        return found

    # -- changing ---------------------------------------------------------------------

    async def put(self, key: str, value: Any, *, by: str | None = None) -> StateEntry:
        """Set ``key`` to ``value`` whatever its revision; return the new entry."""
        return await self._change(key, value, None, by)

    async def create(self, key: str, value: Any, *, by: str | None = None) -> StateEntry:
        """Create ``key``.

        Raises:
            StateConflict: the key exists.
        """
        return await self._change(key, value, 0, by)

    async def cas(
        self, key: str, value: Any, expected_revision: int, *, by: str | None = None
    ) -> StateEntry:
        """Set ``key`` to ``value`` if its revision is ``expected_revision`` (0: missing).

        Raises:
            StateConflict: the key's revision is another (someone changed it first).
        """
        if expected_revision < 0:
            raise ValueError(f"expected_revision must be >= 0, got {expected_revision}")
        return await self._change(key, value, expected_revision, by)

    async def update(
        self,
        key: str,
        fn: Callable[[Any], Any],
        *,
        retries: int = 10,
        by: str | None = None,
    ) -> StateEntry:
        """Set ``key`` to ``fn(current value or None)``, retrying when others got there first.

        ``fn`` may be a plain or an async function; it may run more than once, so it
        should only compute. After a conflict it waits (exponential backoff with full
        jitter from 1 ms) and tries again with the new value, ``retries`` times.

        Raises:
            StateConflict: every try lost to a concurrent change.
        """
        _check_key(key)
        attempt = 0
        while True:
            current = await self._storage.get(key)
            value = fn(None if current is None else _decode(current[0]))
            if inspect.isawaitable(value):
                value = await value
            try:
                return await self.cas(key, value, 0 if current is None else current[1], by=by)
            except StateConflict:
                attempt += 1
                if attempt > retries:
                    raise
                await self._sleep(backoff_delay(attempt, 0.001, 0.1))

    async def delete(
        self, key: str, *, expected_revision: int | None = None, by: str | None = None
    ) -> None:
        """Delete ``key`` (if its revision is ``expected_revision``, when given).

        Deleting a missing key does nothing (with ``expected_revision`` None or 0).

        Raises:
            StateConflict: the key's revision is another, or it is missing while a
                revision was expected.
        """
        _check_key(key)
        while True:
            current = await self._storage.get(key)
            if current is None:
                if expected_revision:
                    raise StateConflict(key, expected_revision, 0)
                return  # already gone: nothing to change, nothing to publish
            # Without an expected revision, delete the revision just read: a
            # conflict means another change came first, so look again.
            expected = current[1] if expected_revision is None else expected_revision
            try:
                await self._change(key, None, expected, by, deleted=True)
            except StateConflict:
                if expected_revision is not None:
                    raise
            else:
                return

    async def _change(
        self, key: str, value: Any, expected: int | None, by: str | None, deleted: bool = False
    ) -> StateEntry:
        topic = _check_key(key)
        raw = None if deleted else _encode(key, value)
        at = time.time()
        revision, undo = await self._storage.write(key, raw, expected, by, at)
        plain = None if raw is None else _decode(raw)
        update = StateUpdate(
            key=key, value=plain, revision=revision, updated_by=by, deleted=deleted
        )
        try:
            await self._publish(topic, update, by)
        except Exception:  # not BaseException: a cancelled change is logged, so it stands
            if undo is not None:
                undo()
            raise
        return StateEntry(
            key=key,
            value=None if raw is None else _decode(raw),  # a copy of the caller's own
            revision=revision,
            updated_by=by,
            updated_at=at,
        )

    # -- rebuilding -------------------------------------------------------------------

    async def rebuild(self, read_prefix: ReadPrefix) -> None:
        """Rebuild a local store from a durable log's `StateUpdate` records.

        A shared store (a `JetStreamLog`'s KV bucket) holds the state itself: the
        log is not read.
        """
        if isinstance(self._storage, LocalStorage):
            self._storage.replay(await read_prefix(PREFIX))


@final
class StateView:
    """``ctx.state``: the bus's `State`, with changes made by the handling actor.

    Version added: 0.1
    """

    __slots__ = ("_by", "_state")

    def __init__(self, state: State, by: str) -> None:
        self._state = state
        self._by = by

    def __repr__(self) -> str:
        return f"StateView(by={self._by!r}, {self._state!r})"

    async def get(self, key: str) -> StateEntry | None:
        """See `State.get`."""
        return await self._state.get(key)

    def keys(self, prefix: str = "") -> list[str]:
        """See `State.keys`."""
        return self._state.keys(prefix)

    async def items(self, prefix: str = "") -> list[StateEntry]:
        """See `State.items`."""
        return await self._state.items(prefix)

    async def put(self, key: str, value: Any) -> StateEntry:
        """See `State.put`."""
        return await self._state.put(key, value, by=self._by)

    async def create(self, key: str, value: Any) -> StateEntry:
        """See `State.create`."""
        return await self._state.create(key, value, by=self._by)

    async def cas(self, key: str, value: Any, expected_revision: int) -> StateEntry:
        """See `State.cas`."""
        return await self._state.cas(key, value, expected_revision, by=self._by)

    async def update(self, key: str, fn: Callable[[Any], Any], *, retries: int = 10) -> StateEntry:
        """See `State.update`."""
        return await self._state.update(key, fn, retries=retries, by=self._by)

    async def delete(self, key: str, *, expected_revision: int | None = None) -> None:
        """See `State.delete`."""
        await self._state.delete(key, expected_revision=expected_revision, by=self._by)


def _check_key(key: str) -> str:
    topic = PREFIX + key
    validate_topic(topic)
    return topic


_decode = msgspec.msgpack.Decoder().decode


def _out(key: str, stored: Stored) -> StateEntry:
    # A storage keeps the value's msgpack: give the caller a copy of its own.
    raw, revision, by, at = stored
    return StateEntry(key=key, value=_decode(raw), revision=revision, updated_by=by, updated_at=at)


def _encode(key: str, value: Any) -> bytes:
    # Refuses what cannot be stored, and detaches the stored value from the
    # caller's (possibly mutable) object.
    try:
        return msgspec.msgpack.encode(value)
    except (TypeError, OverflowError, msgspec.EncodeError) as exc:
        raise TypeError(
            f"the value for state key {key!r} cannot be stored: {exc}; use JSON-like "
            "values (dict, list, str, int, float, bool, None) or msgspec Structs"
        ) from None
