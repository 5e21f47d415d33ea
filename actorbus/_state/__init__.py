"""Shared state: a versioned key-value store with compare-and-swap, kept in the log."""

from ._entry import StateEntry
from ._store import PREFIX, Publish, State, StateView

__all__ = ["PREFIX", "Publish", "State", "StateEntry", "StateView"]
