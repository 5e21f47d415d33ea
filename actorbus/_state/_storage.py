"""Where `State` keeps its entries: the storage protocol, and the local store.

`State` is the front (key checks, msgpack copies, retries, the published
`StateUpdate`); a storage only keeps entries and decides conflicts. Two satisfy
the protocol: `LocalStorage` (a dict in this process, rebuilt from the log's
`StateUpdate` records) for `MemoryLog` and `SqliteLog`, and the JetStream log's
KV bucket (`StateBucket`, from ``shared_storage(log)``), which processes on one
server share. An entry is a `Stored` tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, final

import msgspec

from .._errors import StateConflict
from .._message import Envelope, StateUpdate

__all__ = ["PREFIX", "LocalStorage", "StateStorage", "Stored", "Undo"]

PREFIX = "_state."
"""State changes are published on ``_state.<key>``."""

Stored = tuple[bytes, int, str | None, float]
"""A key's entry as a storage keeps it: (msgpack of the value, revision, updated_by, updated_at)."""

Undo = Callable[[], None]
"""Takes back a change whose `StateUpdate` could not be published."""


class StateStorage(Protocol):
    """What `State` needs from a storage. Keys arrive checked; values as msgpack."""

    def keys(self, prefix: str) -> list[str]:
        """Return the keys that exist and start with ``prefix``, sorted (never blocks)."""
        ...

    async def get(self, key: str) -> Stored | None:
        """Return ``key``'s entry, or None if it does not exist."""
        ...

    async def write(
        self, key: str, raw: bytes | None, expected: int | None, by: str | None, at: float
    ) -> tuple[int, Undo | None]:
        """Set ``key`` to ``raw`` (None: delete it) if its revision is ``expected``.

        ``expected`` None means whatever the revision; 0 means the key must be
        missing. Returns the change's revision, and how to take it back (None: it
        cannot be, as when others may have seen it already).

        Raises:
            StateConflict: the key's revision is another.
        """
        ...


@final
class LocalStorage:
    """The entries of one bus, in this process: revisions 1, 2, 3... per key.

    A write checks the revision and applies the change with no await in between,
    so it needs no lock; `replay` rebuilds the entries from the log.
    """

    __slots__ = ("_entries", "_last")

    def __init__(self) -> None:
        self._entries: dict[str, Stored] = {}
        self._last: dict[str, int] = {}  # the highest revision each key ever had

    def keys(self, prefix: str) -> list[str]:
        """See `StateStorage.keys`."""
        return sorted(k for k in self._entries if k.startswith(prefix))

    async def get(self, key: str) -> Stored | None:
        """See `StateStorage.get`."""
        return self._entries.get(key)

    async def write(
        self, key: str, raw: bytes | None, expected: int | None, by: str | None, at: float
    ) -> tuple[int, Undo | None]:
        """See `StateStorage.write`: the next revision of the key, and an undo."""
        before = self._entries.get(key)
        actual = 0 if before is None else before[1]
        if expected is not None and expected != actual:
            raise StateConflict(key, expected, actual)
        revision = self._last.get(key, 0) + 1
        self._apply(key, None if raw is None else (raw, revision, by, at), revision)
        return revision, lambda: self._roll_back(key, revision, before)

    def replay(self, records: list[Envelope]) -> None:
        """Apply logged `StateUpdate` records (in seq order) to rebuild the entries."""
        for env in records:
            msg = env.message
            if not isinstance(msg, StateUpdate) or not env.topic.startswith(PREFIX):
                continue
            stored = None
            if not msg.deleted:
                raw = msgspec.msgpack.encode(msg.value)
                stored = (raw, msg.revision, msg.updated_by, env.timestamp)
            self._apply(msg.key, stored, msg.revision)

    def _apply(self, key: str, stored: Stored | None, revision: int) -> None:
        self._last[key] = revision
        if stored is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = stored

    def _roll_back(self, key: str, revision: int, before: Stored | None) -> None:
        if self._last.get(key) != revision:
            return  # changed again since: that change was based on ours and stands
        self._last[key] = revision - 1
        if before is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = before
