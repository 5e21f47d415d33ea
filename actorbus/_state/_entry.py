"""One key's current value in the shared state, with its revision."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["StateEntry"]


class StateEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A key's value and who changed it last, when, and to which revision.

    Attributes:
        key: the key.
        value: the value, as JSON-like builtins (it went through msgspec).
        revision: grows with every change of the key and never repeats, even
            when the key is deleted and created again. A bus's own store counts
            1, 2, 3...; on a `JetStreamLog` it is the KV entry's revision, which
            grows but skips (every key of the bucket shares the counter).
        updated_by: the actor (or client) that made the change, if it said.
        updated_at: when, as ``time.time()``.

    Version added: 0.1
    """

    key: str
    value: Any
    revision: int
    updated_by: str | None
    updated_at: float
