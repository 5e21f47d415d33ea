"""Shared state: a versioned key-value store with compare-and-swap, kept in the log."""

from __future__ import annotations

from ._entry import StateEntry
from ._jetstream import shared_storage
from ._storage import PREFIX, LocalStorage, StateStorage, Stored
from ._store import Publish, State, StateView

__all__ = [
    "PREFIX",
    "LocalStorage",
    "Publish",
    "State",
    "StateEntry",
    "StateStorage",
    "StateView",
    "Stored",
    "shared_storage",
]
