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
    cursor_lag: int = 0
    """How far its cursor trails the log (``last_seq - cursor``) while it has work
    queued or running; 0 when it is idle with an empty mailbox, since then nothing
    it subscribes to waits. Counts the seqs of every topic in between, not only its
    own: read it as "how far behind the log", and `mailbox_depth` as "how much to do"."""
    timed: int = 0
    """Handlings timed for the percentiles below: every one of a slow actor
    (handlings of 20 us or more), and of any actor's first 64; then, of a fast
    actor, one in 8 taken one at a time and one in 128 of a backlog, so timing
    costs its hot loop next to nothing."""
    handler_p50: float = 0.0
    """Seconds within which half of the timed handlings finished (handler, retries
    and reply included; from a histogram, within 12.5% above the true value)."""
    handler_p90: float = 0.0
    """Seconds within which 90% of the timed handlings finished."""
    handler_p99: float = 0.0
    """Seconds within which 99% of the timed handlings finished."""
    handler_max: float = 0.0
    """The longest timed handling, in seconds: exact, except that an actor's first
    timed handling is kept by its bucket (so, when it is the longest, this is up to
    12.5% above it); untimed ones are not seen."""
    model_calls: int = 0
    """Model requests its handlers made (each turn of a tool loop is one; turns
    replayed from the journal are not counted: they were paid for before). The
    same count as ``bus.costs().by_actor[name].calls``."""
    cost: float = 0.0
    """Dollars its priced model requests cost, from the price table."""
    unpriced_calls: int = 0
    """Its model requests to models without a price: what they cost is unknown,
    and not in `cost`."""
    tool_calls: int = 0
    """Tool calls its tool loops ran (results replayed from the journal not counted)."""
    tool_errors: int = 0
    """Those of its tool calls that gave the model an error result (invalid
    arguments, an unknown tool, a tool that raised or timed out)."""


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
