"""Where a handling's model calls sit in the journal: one naming, for writers and readers.

While an actor handles a message, its n-th model call (`Context.complete` or
`Context.stream`) is the step ``complete:{n}`` (`call_step`) of that handling.
The call's loop records each turn and each tool result as an entry named by its
place in the loop (`turn_entry`, `tool_entry`); when a re-run of the handler (a
retry, or a restart after a crash) reads an entry back, it also records a mark
beside it (`replay_mark`), so a reader can tell a replayed turn from one the
handling asked for. Every entry's journal key is
``derived_id(actor, message id, f"{step}/{entry}")`` (`entry_key`): keys are
hashes, so a reader (``actorbus log trace``) finds a handling's entries by
computing them again.
"""

from __future__ import annotations

from ._ids import derived_id

__all__ = ["CALL_STEP", "call_step", "entry_key", "replay_mark", "tool_entry", "turn_entry"]

CALL_STEP = "complete"
"""The step name a handling counts its model calls under (``complete:0``, ``complete:1``...)."""


def call_step(n: int) -> str:
    """Return the step of a handling's ``n``-th model call (from 0)."""
    return f"{CALL_STEP}:{n}"


def turn_entry(k: int) -> str:
    """Return the entry name of a call's ``k``-th turn (from 0): its `Completion`."""
    return f"turn:{k}"


def tool_entry(k: int, i: int) -> str:
    """Return the entry name of the ``i``-th tool call of turn ``k``: its `ToolRun`."""
    return f"turn:{k}:tool:{i}"


def replay_mark(entry: str) -> str:
    """Return the name of the mark a replay of ``entry`` leaves (written once)."""
    return f"{entry}:replayed"


def entry_key(actor: str, message_id: str, step: str, entry: str) -> str:
    """Return the journal key of ``entry`` of step ``step`` of ``actor`` handling a message."""
    return derived_id(actor, message_id, f"{step}/{entry}")
