"""Prices, the cost ledger and budgets, as pure bookkeeping."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import actorbus as ab
from actorbus._models._costs import Ledger
from actorbus._models._prices import PriceTable


def usage(prompt: int, completion: int) -> ab.Usage:
    return ab.Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


class TestPrices:
    def test_the_defaults_are_the_source_articles_table(self) -> None:
        per_mtok = {model: price.input for model, price in ab.DEFAULT_PRICES.items()}
        assert per_mtok == {
            "gpt-4.1": 8.00,
            "claude-sonnet-4": 15.00,
            "gemini-2.5-flash": 2.50,
            "deepseek-v3": 0.42,
            "echo": 0.0,
        }

    def test_cost_is_tokens_times_price_per_million(self) -> None:
        price = ab.Price(input=2.0, output=6.0)
        assert math.isclose(price.cost(usage(1_000_000, 500_000)), 2.0 + 3.0)

    def test_configured_prices_override_and_extend_the_defaults(self) -> None:
        table = PriceTable(
            {"gpt-4.1": ab.Price(input=2.0, output=8.0), "mine": ab.Price(input=1, output=1)}
        )
        assert table.price("gpt-4.1") == ab.Price(input=2.0, output=8.0)
        assert table.price("mine") is not None
        assert table.price("deepseek-v3") == ab.DEFAULT_PRICES["deepseek-v3"]

    def test_a_model_without_a_price_costs_nothing(self) -> None:
        assert PriceTable({}).cost("unpriced", usage(1000, 1000)) == 0.0


class TestLedger:
    def test_totals_per_actor_model_and_run(self) -> None:
        ledger = Ledger(ab.Budgets())
        ledger.charge("a", "m1", usage(10, 5), 0.5)
        ledger.charge("a", "m2", usage(1, 1), 0.25)
        ledger.charge("b", "m1", usage(2, 2), 1.0)
        report = ledger.report()
        assert report.total == ab.Spend(calls=3, prompt_tokens=13, completion_tokens=8, cost=1.75)
        assert report.by_actor["a"].cost == 0.75
        assert report.by_actor["b"].calls == 1
        assert report.by_model["m1"] == ab.Spend(
            calls=2, prompt_tokens=12, completion_tokens=7, cost=1.5
        )
        text = report.format()
        assert "actor a" in text
        assert "model m2" in text
        assert "total" in text

    def test_a_report_is_a_snapshot(self) -> None:
        ledger = Ledger(ab.Budgets())
        report = ledger.report()
        ledger.charge("a", "m", usage(1, 1), 1.0)
        assert report.total.calls == 0

    def test_a_call_that_could_overspend_the_run_is_refused_before_it_is_made(self) -> None:
        ledger = Ledger(ab.Budgets(run=1.0))
        held = ledger.reserve("m", "a", 0.75)
        with pytest.raises(ab.BudgetExceeded) as caught:
            ledger.reserve("m", "b", 0.5)  # 0.75 reserved + 0.5 > 1.0
        assert caught.value.scope == "run"
        assert caught.value.needed == 0.5
        assert "raise the budget" in str(caught.value)
        ledger.settle(held, "m", usage(1, 1), 0.25)  # it cost less than reserved
        ledger.reserve("m", "b", 0.5)  # now there is room

    def test_an_actor_budget_binds_only_that_actor(self) -> None:
        ledger = Ledger(ab.Budgets(actors={"writer": 1.0}))
        ledger.charge("writer", "m", usage(1, 1), 0.9)
        with pytest.raises(ab.BudgetExceeded) as caught:
            ledger.reserve("m", "writer", 0.2)
        assert caught.value.scope == "writer"
        ledger.reserve("m", "researcher", 100.0)

    def test_a_released_reservation_is_not_charged(self) -> None:
        ledger = Ledger(ab.Budgets(run=1.0))
        held = ledger.reserve("m", "a", 1.0)
        ledger.release(held)
        ledger.release(held)  # twice does nothing
        assert ledger.report().total.cost == 0.0
        ledger.reserve("m", "a", 1.0)

    @given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=30))
    def test_settled_spending_never_exceeds_the_budget(
        self, calls: list[tuple[float, float]]
    ) -> None:
        # Each call reserves a worst case and then costs at most that.
        ledger = Ledger(ab.Budgets(run=3.0))
        for worst, fraction in calls:
            try:
                held = ledger.reserve("m", "a", worst)
            except ab.BudgetExceeded:
                continue
            ledger.settle(held, "m", usage(1, 1), worst * fraction)
        assert ledger.report().total.cost <= 3.0 + 1e-9
