"""Cost accounting and budgets.

Every call reserves its worst-case cost (prompt estimate plus ``max_tokens`` of
output) against the run's budget and its actor's before it is sent, and is refused
with `BudgetExceeded` if that could overspend: concurrent calls cannot all slip
under a budget at once. When the call ends the reservation is replaced by the real
cost (or released, if it failed).
"""

from __future__ import annotations

from typing import final

import msgspec

from .._errors import BudgetExceeded
from ._chat import Usage
from ._config import Budgets

__all__ = ["CostReport", "Ledger", "Reservation", "Spend"]


class Spend(msgspec.Struct, kw_only=True):
    """Totals for one actor, one model, or the run.

    Version added: 0.1
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, usage: Usage, cost: float) -> None:
        """Count one call."""
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
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
        """Return the report as a small text table."""
        lines = [f"{'':<24} {'calls':>6} {'in tok':>9} {'out tok':>9} {'cost $':>11}"]

        def row(label: str, s: Spend) -> str:
            return (
                f"{label:<24} {s.calls:>6} {s.prompt_tokens:>9} {s.completion_tokens:>9} "
                f"{s.cost:>11.6f}"
            )

        lines += [row(f"actor {name}", s) for name, s in sorted(self.by_actor.items())]
        lines += [row(f"model {name}", s) for name, s in sorted(self.by_model.items())]
        lines.append(row("total", self.total))
        return "\n".join(lines)


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

    def reserve(self, model: str, actor: str | None, amount: float) -> Reservation:
        """Hold ``amount`` dollars for a call, or refuse it.

        Raises:
            BudgetExceeded: the run's or the actor's budget cannot cover it.
        """
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

    def _spent(self, actor: str) -> float:
        spend = self._by_actor.get(actor)
        return (0.0 if spend is None else spend.cost) + self._reserved_by_actor.get(actor, 0.0)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose call failed (nothing is charged)."""
        if reservation.settled:
            return
        reservation.settled = True
        self._reserved -= reservation.amount
        if reservation.actor is not None:
            self._reserved_by_actor[reservation.actor] -= reservation.amount

    def settle(self, reservation: Reservation, model: str, usage: Usage, cost: float) -> None:
        """Replace a reservation with the call's real cost."""
        self.release(reservation)
        self.charge(reservation.actor, model, usage, cost)

    def charge(self, actor: str | None, model: str, usage: Usage, cost: float) -> None:
        """Count a call's usage and cost in the totals."""
        self._total.add(usage, cost)
        self._by_model.setdefault(model, Spend()).add(usage, cost)
        self._by_actor.setdefault(actor or "(no actor)", Spend()).add(usage, cost)

    def report(self) -> CostReport:
        """Return a snapshot of the totals."""
        copy = msgspec.structs.replace
        return CostReport(
            total=copy(self._total),
            by_actor={k: copy(v) for k, v in self._by_actor.items()},
            by_model={k: copy(v) for k, v in self._by_model.items()},
        )
