"""`State`: a versioned key-value store shared by a bus's actors, kept in its log.

Every change gets the key's next revision and is published as a `StateUpdate`
on ``_state.<key>`` through the bus's log, so actors can subscribe to changes
(in revision order) and the log holds the state's whole history. A method returns
once its `StateUpdate` is logged: with a `SqliteLog` in ``"commit"`` mode, once
it is durable, and a bus opened on that file later rebuilds the state from those
records.

Compare-and-swap compares revisions, never values, so a value that goes A -> B
-> A is still seen as changed. It needs no lock: the revision is checked and the
change applied in one step of the event loop (no await between them), and the
`StateUpdate` is published afterwards. Should that publish fail (the log is
closed, or a write failed), the change is rolled back if nothing changed the key
since, and the error propagates. A cancellation is not a failure: the bus
appends without suspending, so a change can only be cancelled once its
`StateUpdate` is in the log (a `SqliteLog` writes what it admitted even if the
caller goes away), and rolling it back would make the store disagree with the log
and hand its revision out twice.

The store keeps each value as its msgpack encoding and hands out a fresh decoded
copy on every read, so no caller, handler or subscriber can change the state by
mutating a value it was given.
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

__all__ = ["PREFIX", "Publish", "State", "StateView"]

PREFIX = "_state."
"""State changes are published on ``_state.<key>``."""

Publish = Callable[[str, StateUpdate, str | None], Awaitable[Receipt]]
"""How the store publishes a change: (topic, message, sender)."""

Sleep = Callable[[float], Awaitable[None]]


@final
class State:
    """The shared state of a bus: ``bus.state`` (and ``ctx.state`` in handlers).

    Values must be msgspec-encodable; they are stored, and returned, as JSON-like
    builtins (dicts, lists, str, numbers, bool, None).

    Version added: 0.1
    """

    __slots__ = ("_entries", "_last", "_publish", "_sleep")

    def __init__(self, publish: Publish, sleep: Sleep) -> None:
        self._publish = publish
        self._sleep = sleep
        self._entries: dict[str, StateEntry] = {}
        self._last: dict[str, int] = {}  # the highest revision each key ever had

    def __repr__(self) -> str:
        return f"State(keys={len(self._entries)})"

    # -- reading ----------------------------------------------------------------------

    async def get(self, key: str) -> StateEntry | None:
        """Return ``key``'s entry (its value a copy of its own), or None if it does not exist."""
        entry = self._entries.get(key)
        return None if entry is None else _out(entry)

    def keys(self, prefix: str = "") -> list[str]:
        """Return the keys that exist and start with ``prefix``, sorted."""
        return sorted(k for k in self._entries if k.startswith(prefix))

    async def items(self, prefix: str = "") -> list[StateEntry]:
        """Return the entries whose keys start with ``prefix``, sorted by key."""
        return [_out(self._entries[k]) for k in self.keys(prefix)]

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
        attempt = 0
        while True:
            current = self._entries.get(key)
            value = fn(None if current is None else _decode(current.value))
            if inspect.isawaitable(value):
                value = await value
            try:
                return await self.cas(key, value, 0 if current is None else current.revision, by=by)
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
        current = self._entries.get(key)
        if current is None:
            _check_key(key)
            if expected_revision:
                raise StateConflict(key, expected_revision, 0)
            return  # already gone: nothing to change, nothing to publish
        await self._change(key, None, expected_revision, by, deleted=True)

    async def _change(
        self, key: str, value: Any, expected: int | None, by: str | None, deleted: bool = False
    ) -> StateEntry:
        topic = _check_key(key)
        raw = None if deleted else _encode(key, value)
        # Check and apply in one step: no await until the change is in place.
        current = self._entries.get(key)
        actual = 0 if current is None else current.revision
        if expected is not None and expected != actual:
            raise StateConflict(key, expected, actual)
        revision = self._last.get(key, 0) + 1
        # Stored entries hold the value's msgpack; `_out` hands out decoded copies.
        entry = StateEntry(
            key=key, value=raw, revision=revision, updated_by=by, updated_at=time.time()
        )
        self._apply(entry, deleted)
        plain = None if raw is None else _decode(raw)
        update = StateUpdate(
            key=key, value=plain, revision=revision, updated_by=by, deleted=deleted
        )
        try:
            await self._publish(topic, update, by)
        except Exception:  # not BaseException: a cancelled change is logged, so it stands
            self._roll_back(key, entry, current)
            raise
        return _out(entry)

    def _apply(self, entry: StateEntry, deleted: bool) -> None:
        self._last[entry.key] = entry.revision
        if deleted:
            self._entries.pop(entry.key, None)
        else:
            self._entries[entry.key] = entry

    def _roll_back(self, key: str, ours: StateEntry, before: StateEntry | None) -> None:
        if self._last.get(key) != ours.revision:
            return  # changed again since: that change was based on ours and stands
        self._last[key] = ours.revision - 1
        if before is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = before

    # -- rebuilding -------------------------------------------------------------------

    def replay(self, records: list[Envelope]) -> None:
        """Apply logged `StateUpdate` records (in seq order) to rebuild the state."""
        for env in records:
            msg = env.message
            if not isinstance(msg, StateUpdate) or not env.topic.startswith(PREFIX):
                continue
            entry = StateEntry(
                key=msg.key,
                value=None if msg.deleted else _encode(msg.key, msg.value),
                revision=msg.revision,
                updated_by=msg.updated_by,
                updated_at=env.timestamp,
            )
            self._apply(entry, msg.deleted)


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


def _out(entry: StateEntry) -> StateEntry:
    # A stored entry holds its value's msgpack (None: deleted): give the caller a
    # copy of its own.
    raw = entry.value
    return msgspec.structs.replace(entry, value=None if raw is None else _decode(raw))


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
