"""What the model calls recorded in a log's journal cost, per actor and model, over time.

Each model turn a handling asked for leaves a journal entry (see ``_calls``)
that says which actor asked, when the answer came, the model, its tokens and
its cost. A replayed turn leaves none (it was paid for once), so the entries are
exactly the requests paid for. `model_turns` reads them in the order written,
from any position on; `UsageTally` sums them per actor and model, and keeps each
actor's running cost over time, a bounded number of points each. It is
incremental: `UsageTally.update` reads only the entries written since the last
update, so a viewer following a live run stays cheap. Entries written before
turns recorded who asked and when (or entries of other kinds: tool results,
replay marks, a handler's own entries) are passed over.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import final

import msgspec

from ._reading import LogReader

__all__ = ["ModelTotals", "ModelTurn", "UsagePoint", "UsageTally", "model_turns"]

_PAGE = 500
_POINTS = 1_000  # the most points an actor's series keeps (then every other one goes)


@final
class ModelTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One model request a handling paid for, as its journal entry records it.

    Version added: 0.1
    """

    position: int
    """The entry's position in the journal (see `LogReader.journal_entries`)."""
    actor: str | None
    """The actor that asked (None outside a handler)."""
    at: float
    """When the answer came (seconds since the epoch)."""
    model: str
    """The model that answered."""
    prompt_tokens: int
    """Input tokens."""
    completion_tokens: int
    """Output tokens."""
    cost: float | None
    """Dollars; None for a model with no price."""


@final
class ModelTotals(msgspec.Struct, kw_only=True):
    """The sums of one actor's requests to one model.

    Version added: 0.1
    """

    calls: int = 0
    """Requests."""
    prompt_tokens: int = 0
    """Input tokens."""
    completion_tokens: int = 0
    """Output tokens."""
    cost: float = 0.0
    """Dollars, of the priced requests."""
    unpriced: int = 0
    """Requests to a model with no price (what they cost is not in `cost`)."""


@final
class UsagePoint(msgspec.Struct, frozen=True, array_like=True):
    """Where an actor's running totals stood after one of its requests.

    Version added: 0.1
    """

    at: float
    """When the request's answer came."""
    cost: float
    """Dollars so far."""
    tokens: int
    """Tokens (input and output) so far."""


class _Usage(msgspec.Struct, frozen=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Entry(msgspec.Struct, frozen=True):
    # The fields read from a turn's entry; model, at and usage are required, so
    # entries of other kinds (and turns written before `at`) fail to decode.
    model: str
    at: float
    usage: _Usage
    actor: str | None = None
    cost: float | None = None


_decoder = msgspec.msgpack.Decoder(_Entry)


async def model_turns(reader: LogReader, after: int = 0) -> AsyncGenerator[ModelTurn, None]:
    """Yield each model turn recorded in the journal after position ``after``, in order."""
    while True:
        page = await reader.journal_entries(after, limit=_PAGE)
        for entry in page.entries:
            try:
                found = _decoder.decode(entry.value)
            except msgspec.DecodeError:
                continue
            if not found.model:
                continue
            yield ModelTurn(
                position=entry.position, actor=found.actor, at=found.at, model=found.model,
                prompt_tokens=found.usage.prompt_tokens,
                completion_tokens=found.usage.completion_tokens, cost=found.cost,
            )  # fmt: skip
        if page.entries:
            after = page.entries[-1].position
        if page.next_position is None:
            return
        after = page.next_position


@final
class UsageTally:
    """Running sums of a log's model turns, per actor and model; updated incrementally.

    Actors are keyed by name (``"-"`` for calls made outside a handler).

    Version added: 0.1
    """

    __slots__ = ("_series", "by_actor", "first_at", "last_at", "position")

    def __init__(self) -> None:
        self.position = 0
        """The journal position read up to."""
        self.by_actor: dict[str, dict[str, ModelTotals]] = {}
        """Actor -> model -> sums."""
        self.first_at: float | None = None
        """When the first request answered (None: no request yet)."""
        self.last_at: float | None = None
        """When the latest request answered."""
        self._series: dict[str, list[UsagePoint]] = {}

    async def update(self, reader: LogReader) -> int:
        """Read the turns written since the last update; return how many there were."""
        count = 0
        async for turn in model_turns(reader, self.position):
            self.add(turn)
            count += 1
        return count

    def add(self, turn: ModelTurn) -> None:
        """Count one turn (and move the position past it)."""
        self.position = max(self.position, turn.position)
        actor = turn.actor or "-"
        sums = self.by_actor.setdefault(actor, {}).setdefault(turn.model, ModelTotals())
        sums.calls += 1
        sums.prompt_tokens += turn.prompt_tokens
        sums.completion_tokens += turn.completion_tokens
        if turn.cost is None:
            sums.unpriced += 1
        else:
            sums.cost += turn.cost
        self.first_at = turn.at if self.first_at is None else min(self.first_at, turn.at)
        self.last_at = turn.at if self.last_at is None else max(self.last_at, turn.at)
        series = self._series.setdefault(actor, [])
        before = series[-1] if series else UsagePoint(turn.at, 0.0, 0)
        tokens = turn.prompt_tokens + turn.completion_tokens
        series.append(UsagePoint(turn.at, before.cost + (turn.cost or 0.0), before.tokens + tokens))
        if len(series) > _POINTS:  # keep every other point, the first and the latest
            series[:] = series[::2] if len(series) % 2 else [*series[::2], series[-1]]

    def series(self, actor: str) -> list[UsagePoint]:
        """Return ``actor``'s running totals over time, oldest first (at most 1,000 points)."""
        return list(self._series.get(actor, ()))

    def total_cost(self) -> float:
        """Return the dollars of every priced request."""
        return sum(t.cost for models in self.by_actor.values() for t in models.values())
