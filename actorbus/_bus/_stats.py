"""Statistics snapshots: frozen, so a caller can keep and compare them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._models import ProviderStatistics

__all__ = ["ActorStatistics", "BusStatistics"]


@dataclass(frozen=True, slots=True)
class ActorStatistics:
    """One actor's counters at the time of the snapshot."""

    name: str
    """The actor's name."""
    mailbox_depth: int
    """Messages waiting in its mailbox, counting publishers waiting for room."""
    mailbox_size: int
    """The mailbox's capacity."""
    handled: int
    """Messages its handlers finished without raising."""
    failed: int
    """Handler runs that raised (each attempt counts)."""
    retried: int
    """Handler runs that were retries."""
    dead_lettered: int
    """Messages given up on and published to ``_dead.<name>``."""
    dropped: int
    """Messages dropped by the ``drop_oldest`` overflow policy."""
    cursor: int
    """The seq of the last message it finished handling."""
    busy: bool
    """Whether a task is draining its mailbox now."""


@dataclass(frozen=True, slots=True)
class BusStatistics:
    """The bus's counters at the time of the snapshot."""

    last_seq: int
    """The seq of the newest message in the log."""
    published: int
    """Messages accepted by this bus's publishes (duplicates not counted)."""
    duplicates: int
    """Publishes dropped as duplicates."""
    pending_asks: int
    """Asks waiting for a reply."""
    actors: dict[str, ActorStatistics] = field(default_factory=dict)
    """Per-actor statistics, by actor name."""
    models: dict[str, ProviderStatistics] = field(default_factory=dict)
    """Per-provider model call statistics, by provider name (empty without models)."""
