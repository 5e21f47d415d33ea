"""Shared state: a versioned key-value store with compare-and-swap, kept in the log."""

from ._entry import StateEntry
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
]
