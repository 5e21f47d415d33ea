"""The ``actorbus`` command: run the built-in team on a task, and more to come."""

from __future__ import annotations

from ._main import main as main

__all__ = ["main"]
