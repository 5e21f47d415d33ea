"""Cost accounting and budgets.

Every call reserves its worst-case cost (prompt estimate plus ``max_tokens`` of
output) against the run's budget and its actor's before it is sent, and is refused
with `BudgetExceeded` if that could overspend: concurrent calls cannot all slip
under a budget at once. When the call ends the reservation is replaced by the real
cost (or released, if it failed).

A call to a model without a price costs an unknown amount, not $0: it is counted
in ``unpriced_calls`` rather than in ``cost``, shown as "unpriced" in the report,
and logged once per model (a WARNING on ``actorbus.models``). A budget cannot hold
such a call, so one a budget applies to is refused with `UnpricedModel` unless the
budgets allow unpriced calls.
"""

from __future__ import annotations

import logging
from typing import final

import msgspec

from .._errors import BudgetExceeded, UnpricedModel
from ._chat import Usage
from ._config import Budgets

__all__ = ["CostReport", "Ledger", "Reservation", "Spend"]

log = logging.getLogger("actorbus.models")

PRICES_HINT = "add prices with --prices FILE or [prices] in actorbus.toml"
"""What to do about unpriced models, as the cost report and the warning say it."""


class Spend(msgspec.Struct, kw_only=True):
    """Totals for one actor, one model, or the run.

    Attributes:
        calls: model calls counted (answers settled), priced or not.
        requests: requests sent: every attempt, including ones retried, abandoned
            or cut short, which are not in ``calls`` (a server counts these).
        prompt_tokens: their prompt tokens.
        completion_tokens: their completion tokens.
        cost: dollars the priced calls cost.
        unpriced_calls: calls to models without a price: what they cost is unknown
            and not in ``cost``.
        tool_calls: tool calls run by tool loops (replays from the journal not counted).
        tool_errors: those that gave the model an error result.

    Version added: 0.1
    """

    calls: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    unpriced_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0

    def add(self, usage: Usage, cost: float | None) -> None:
        """Count one call; ``cost`` None: it was unpriced."""
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        if cost is None:
            self.unpriced_calls += 1
        else:
            self.cost += cost


class CostReport(msgspec.Struct, frozen=True, kw_only=True):
    """What model calls cost so far: in all, per actor, per model (dollars and tokens).

    Calls replayed from the journal are not counted: they were paid for before.

    Version added: 0.1
    """

    total: Spend
    by_actor: dict[str, Spend]
    by_model: dict[str, Spend]

    def format(self) -> str:
        """Return the report as a small text table.

        Rows whose calls were all unpriced say "unpriced" instead of a cost; a row
        with some says how many its cost leaves out; a last line names the unpriced
        models and how to price them. When requests were sent that no answer was
        counted for (retried, abandoned, cut short), a ``requests`` column counts
        every request sent, as the server saw them. When any tool loop ran a tool,
        a ``tools`` and an ``errors`` column count the tool calls (and error
        results) of each actor and in all (``-`` on model rows: tools are counted
        per actor).
        """
        columns = _Columns(
            requests=self.total.requests > self.total.calls, tools=self.total.tool_calls > 0
        )
        lines = [columns.header()]
        lines += [_row(f"actor {name}", s, columns) for name, s in sorted(self.by_actor.items())]
        lines += [
            _row(f"model {name}", s, columns, per_model=True)
            for name, s in sorted(self.by_model.items())
        ]
        lines.append(_row("total", self.total, columns, total=True))
        unpriced = sorted(name for name, s in self.by_model.items() if s.unpriced_calls)
        if unpriced:
            n = self.total.unpriced_calls
            lines.append(
                f"{n} call{'' if n == 1 else 's'} to unpriced models ({', '.join(unpriced)}): "
                f"{PRICES_HINT}"
            )
        return "\n".join(lines)


class _Columns(msgspec.Struct, frozen=True):
    # Which of the cost table's optional columns it shows.
    requests: bool
    tools: bool

    def header(self) -> str:
        requests = f" {'requests':>8}" if self.requests else ""
        tools = f" {'tools':>6} {'errors':>6}" if self.tools else ""
        return f"{'':<24} {'calls':>6}{requests} {'in tok':>9} {'out tok':>9}{tools} {'cost $':>11}"


def _row(
    label: str, s: Spend, columns: _Columns, *, total: bool = False, per_model: bool = False
) -> str:
    requests = f" {s.requests:>8}" if columns.requests else ""
    head = f"{label:<24} {s.calls:>6}{requests} {s.prompt_tokens:>9} {s.completion_tokens:>9}"
    if columns.tools:
        calls, errors = ("-", "-") if per_model else (str(s.tool_calls), str(s.tool_errors))
        head += f" {calls:>6} {errors:>6}"
    if s.unpriced_calls and s.unpriced_calls == s.calls and not total:
        return f"{head} {'unpriced':>11}"
    cost = f"{head} {s.cost:>11.6f}"
    if not s.unpriced_calls:
        return cost
    if total:
        n = s.unpriced_calls
        return f"{cost} (excludes {n} unpriced call{'' if n == 1 else 's'})"
    return f"{cost} (+{s.unpriced_calls} unpriced)"


@final
class Reservation:
    """Budget held for one call until it is settled."""

    __slots__ = ("actor", "amount", "settled")

    def __init__(self, actor: str | None, amount: float) -> None:
        self.actor = actor
        self.amount = amount
        self.settled = False


@final
class Ledger:
    """Totals and budgets for one `Models` (one run)."""

    __slots__ = ("_budgets", "_by_actor", "_by_model", "_reserved", "_reserved_by_actor", "_total")

    def __init__(self, budgets: Budgets) -> None:
        self._budgets = budgets
        self._total = Spend()
        self._by_actor: dict[str, Spend] = {}
        self._by_model: dict[str, Spend] = {}
        self._reserved = 0.0
        self._reserved_by_actor: dict[str, float] = {}

    def reserve(self, model: str, actor: str | None, amount: float | None) -> Reservation:
        """Hold ``amount`` dollars for a call, or refuse it; ``amount`` None: unpriced.

        Raises:
            BudgetExceeded: the run's or the actor's budget cannot cover it.
            UnpricedModel: the call is unpriced, a budget applies to it, and the
                budgets do not allow unpriced calls.
        """
        if amount is None:
            return self._reserve_unpriced(model, actor)
        run = self._budgets.run
        if run is not None and self._total.cost + self._reserved + amount > run:
            raise BudgetExceeded(model, "run", run, self._total.cost + self._reserved, amount)
        if actor is not None and (limit := self._budgets.actors.get(actor)) is not None:
            spent = self._spent(actor)
            if spent + amount > limit:
                raise BudgetExceeded(model, actor, limit, spent, amount)
        self._reserved += amount
        if actor is not None:
            self._reserved_by_actor[actor] = self._reserved_by_actor.get(actor, 0.0) + amount
        return Reservation(actor, amount)

    def _reserve_unpriced(self, model: str, actor: str | None) -> Reservation:
        budgets = self._budgets
        if not budgets.allow_unpriced:
            if (run := budgets.run) is not None:
                raise UnpricedModel(model, "run", run, self._total.cost + self._reserved)
            if actor is not None and (limit := budgets.actors.get(actor)) is not None:
                raise UnpricedModel(model, actor, limit, self._spent(actor))
        return Reservation(actor, 0.0)  # no budget holds it: it runs, counted as unpriced

    def _spent(self, actor: str) -> float:
        spend = self._by_actor.get(actor)
        return (0.0 if spend is None else spend.cost) + self._reserved_by_actor.get(actor, 0.0)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose call failed (nothing is charged)."""
        if reservation.settled:
            return
        reservation.settled = True
        self._reserved -= reservation.amount
        if reservation.actor is not None and reservation.amount:  # an unpriced call held none
            self._reserved_by_actor[reservation.actor] -= reservation.amount

    def settle(
        self, reservation: Reservation, model: str, usage: Usage, cost: float | None
    ) -> None:
        """Replace a reservation with the call's real cost (None: unpriced)."""
        self.release(reservation)
        self.charge(reservation.actor, model, usage, cost)

    def charge(self, actor: str | None, model: str, usage: Usage, cost: float | None) -> None:
        """Count a call's usage and cost (None: unpriced) in the totals.

        The first unpriced call of each model is logged as a WARNING.
        """
        self._total.add(usage, cost)
        by_model = self._by_model.setdefault(model, Spend())
        by_model.add(usage, cost)
        self._by_actor.setdefault(actor or "(no actor)", Spend()).add(usage, cost)
        if cost is None and by_model.unpriced_calls == 1:
            log.warning(
                "model %r has no price: its calls are counted as unpriced, not as $0; %s",
                model, PRICES_HINT, extra={"model": model, "actor": actor},
            )  # fmt: skip

    def requested(self, actor: str | None, model: str) -> None:
        """Count one request sent to ``model`` for ``actor`` (answered or not)."""
        spends = (self._total, self._by_model.setdefault(model, Spend()))
        for spend in (*spends, self._by_actor.setdefault(actor or "(no actor)", Spend())):
            spend.requests += 1

    def tool_ran(self, actor: str | None, *, error: bool) -> None:
        """Count one tool call run by ``actor``'s tool loop."""
        for spend in (self._total, self._by_actor.setdefault(actor or "(no actor)", Spend())):
            spend.tool_calls += 1
            spend.tool_errors += error

    def report(self) -> CostReport:
        """Return a snapshot of the totals."""
        copy = msgspec.structs.replace
        return CostReport(
            total=copy(self._total),
            by_actor={k: copy(v) for k, v in self._by_actor.items()},
            by_model={k: copy(v) for k, v in self._by_model.items()},
        )
