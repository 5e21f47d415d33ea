"""Actors: the `Actor` base class, handler dispatch, `Context`, and supervision."""

from __future__ import annotations

from ._actor import Actor as Actor
from ._cell import Cell as Cell
from ._context import Context as Context
from ._runtime import Runtime as Runtime
from ._timing import time_summary as time_summary

__all__ = ["Actor", "Cell", "Context", "Runtime", "time_summary"]
