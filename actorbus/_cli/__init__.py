"""The ``actorbus`` command: run a team on a task, inspect a log, serve a fake endpoint."""

from __future__ import annotations

from ._main import main as main

__all__ = ["main"]
