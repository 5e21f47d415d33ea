"""Prices, model names, the cost ledger and budgets, as pure bookkeeping."""

from __future__ import annotations

import datetime
import logging
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import actorbus as ab
from actorbus._models._costs import Ledger
from actorbus._models._prices import FREE, PriceTable, price_names


def usage(prompt: int, completion: int) -> ab.Usage:
    return ab.Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


ARTICLE = {"gpt-4.1": 8.00, "claude-sonnet-4": 15.00, "gemini-2.5-flash": 2.50, "deepseek-v3": 0.42}
"""The source article's table: one figure per model, in $/MTok."""


def cached(prompt: int, cached_tokens: int, completion: int) -> ab.Usage:
    return ab.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=ab.PromptTokensDetails(cached_tokens=cached_tokens),
    )


class TestPrices:
    def test_the_source_articles_models_have_split_prices(self) -> None:
        # The article's single figure was each model's output price; input is cheaper.
        for model, figure in ARTICLE.items():
            price = ab.DEFAULT_PRICES[model]
            assert price.output == figure, model
            assert price.input < price.output, model
        assert ab.DEFAULT_PRICES["echo"] == ab.Price(input=0.0, output=0.0, cached_input=0.0)

    def test_every_default_price_is_split_and_its_cache_price_is_a_discount(self) -> None:
        assert len(ab.DEFAULT_PRICES) > 30  # the major vendors, not five models
        for model, price in ab.DEFAULT_PRICES.items():
            if model == "echo":
                continue
            assert 0 < price.input < price.output, model
            assert price.cached_input is None or price.cached_input < price.input, model

    def test_cost_is_tokens_times_price_per_million(self) -> None:
        price = ab.Price(input=2.0, output=6.0)
        assert price.cached_input is None
        assert math.isclose(price.cost(usage(1_000_000, 500_000)), 2.0 + 3.0)

    def test_cached_prompt_tokens_cost_the_cached_price(self) -> None:
        price = ab.Price(input=2.0, output=8.0, cached_input=0.5)
        # 600k uncached at 2.00 + 400k cached at 0.50 + 100k out at 8.00
        assert math.isclose(price.cost(cached(1_000_000, 400_000, 100_000)), 1.2 + 0.2 + 0.8)

    def test_without_a_cached_price_cached_tokens_cost_the_input_price(self) -> None:
        price = ab.Price(input=2.0, output=8.0)
        assert math.isclose(price.cost(cached(1_000_000, 400_000, 0)), 2.0)

    def test_more_cached_tokens_than_prompt_tokens_count_as_all_cached(self) -> None:
        price = ab.Price(input=2.0, output=8.0, cached_input=0.5)
        assert math.isclose(price.cost(cached(1_000_000, 3_000_000, 0)), 0.5)

    @given(
        st.integers(0, 10**9),
        st.integers(0, 10**9),
        st.integers(0, 10**9),
        st.floats(0, 100),
        st.floats(0, 1),
        st.floats(0, 100),
    )
    def test_caching_never_costs_more_and_cost_is_bounded_by_the_worst_case(
        self, prompt: int, hit: int, out: int, inp: float, discount: float, outp: float
    ) -> None:
        price = ab.Price(input=inp, output=outp, cached_input=inp * discount)
        worst = price.cost(usage(prompt, out))
        assert 0 <= price.cost(cached(prompt, hit, out)) <= worst * (1 + 1e-12) + 1e-12

    @pytest.mark.parametrize("field", ["input", "output", "cached_input"])
    @pytest.mark.parametrize("value", [-1.0, math.inf, math.nan])
    def test_a_price_that_is_not_a_finite_amount_is_refused(self, field: str, value: float) -> None:
        settings = {"input": 1.0, "output": 1.0, field: value}
        with pytest.raises(ab.ModelsConfigError, match=field):
            ab.Price(**settings)

    def test_configured_prices_override_the_file_which_overrides_the_defaults(self) -> None:
        table = PriceTable(
            {"gpt-4.1": ab.Price(input=1.0, output=1.0), "mine": ab.Price(input=1, output=1)},
            {"gpt-4.1": ab.Price(input=9.0, output=9.0), "o3": ab.Price(input=7.0, output=7.0)},
        )
        assert table.price("gpt-4.1") == ab.Price(input=1.0, output=1.0)
        assert table.price("o3") == ab.Price(input=7.0, output=7.0)
        assert table.price("mine") is not None
        assert table.price("deepseek-v3") == ab.DEFAULT_PRICES["deepseek-v3"]

    def test_a_model_without_a_price_has_none_except_on_the_offline_provider(self) -> None:
        table = PriceTable({})
        assert table.price("mystery") is None
        assert table.worst_case("mystery", 1000, 1000) is None
        assert table.price("mystery", offline=True) == FREE
        assert table.worst_case("mystery", 1000, 1000, offline=True) == 0.0


SNAPSHOT_DATES = st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31))


class TestPriceNames:
    @pytest.mark.parametrize(
        ("called", "priced_as"),
        [
            pytest.param("gpt-4.1", "gpt-4.1", id="exact"),
            pytest.param("openai/gpt-4.1", "gpt-4.1", id="provider-prefix"),
            pytest.param("openrouter/openai/gpt-4o", "gpt-4o", id="two-prefixes"),
            pytest.param("gpt-4.1-2025-04-14", "gpt-4.1", id="openai-snapshot"),
            pytest.param("claude-sonnet-4-20250514", "claude-sonnet-4", id="anthropic-snapshot"),
            pytest.param("anthropic/claude-3-5-haiku-20241022", "claude-3-5-haiku", id="both"),
            pytest.param("gpt-4o-2024-05-13", "gpt-4o-2024-05-13", id="exact-snapshot-wins"),
        ],
    )
    def test_a_name_finds_its_base_entry(self, called: str, priced_as: str) -> None:
        assert PriceTable({}).price(called) == ab.DEFAULT_PRICES[priced_as]

    def test_an_exact_snapshot_entry_beats_its_base(self) -> None:
        assert ab.DEFAULT_PRICES["gpt-4o-2024-05-13"] != ab.DEFAULT_PRICES["gpt-4o"]

    @pytest.mark.parametrize("name", ["GPT-4.1", "gpt-4.1-mini-high", "gpt-4.1-2025", "gpt4.1"])
    def test_other_spellings_stay_unpriced(self, name: str) -> None:
        assert PriceTable({}).price(name) is None

    @given(st.text())
    def test_the_name_itself_comes_first_and_no_name_repeats_or_is_empty(self, name: str) -> None:
        names = price_names(name)
        assert names[0] == name
        assert len(names) == len(set(names))
        assert all(names[1:])
        assert all(n in name for n in names)

    @given(
        st.sampled_from(sorted(ab.DEFAULT_PRICES)),
        st.lists(st.from_regex(r"[a-z_.-]{1,10}", fullmatch=True), max_size=3),
        st.one_of(
            st.just(""),
            SNAPSHOT_DATES.map(lambda d: d.strftime("-%Y-%m-%d")),
            SNAPSHOT_DATES.map(lambda d: d.strftime("-%Y%m%d")),
        ),
    )
    def test_any_prefix_and_snapshot_date_resolve_to_the_base_entry(
        self, base: str, prefixes: list[str], date: str
    ) -> None:
        assume(date == "" or base + date not in ab.DEFAULT_PRICES)
        called = "/".join([*prefixes, base + date])
        assert PriceTable({}).price(called) == ab.DEFAULT_PRICES[base]


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


class TestUnpriced:
    def test_an_unpriced_call_is_counted_as_unpriced_not_as_free(self) -> None:
        ledger = Ledger(ab.Budgets())
        ledger.charge("a", "mystery", usage(10, 5), None)
        ledger.charge("a", "gpt-4.1", usage(10, 5), 0.25)
        report = ledger.report()
        assert report.total == ab.Spend(
            calls=2, prompt_tokens=20, completion_tokens=10, cost=0.25, unpriced_calls=1
        )
        assert report.by_model["mystery"] == ab.Spend(
            calls=1, prompt_tokens=10, completion_tokens=5, cost=0.0, unpriced_calls=1
        )

    def test_the_report_says_unpriced_and_how_to_add_prices(self) -> None:
        ledger = Ledger(ab.Budgets())
        ledger.charge("writer", "mystery", usage(10, 5), None)
        ledger.charge("writer", "other-mystery", usage(10, 5), None)
        ledger.charge("researcher", "gpt-4.1", usage(10, 5), 0.25)
        ledger.charge("mixed", "gpt-4.1", usage(10, 5), 0.25)
        ledger.charge("mixed", "mystery", usage(10, 5), None)
        lines = ledger.report().format().splitlines()
        rows = {line[:24].strip(): line[24:] for line in lines[1:-1]}
        assert rows["actor writer"].endswith("unpriced")
        assert rows["model mystery"].endswith("unpriced")
        assert rows["actor researcher"].endswith("0.250000")
        assert rows["actor mixed"].endswith("0.250000 (+1 unpriced)")
        assert rows["total"].endswith("0.500000 (excludes 3 unpriced calls)")
        assert lines[-1] == (
            "3 calls to unpriced models (mystery, other-mystery): add prices with "
            "--prices FILE or [prices] in actorbus.toml"
        )

    def test_a_report_without_unpriced_calls_has_no_hint(self) -> None:
        ledger = Ledger(ab.Budgets())
        ledger.charge("a", "gpt-4.1", usage(10, 5), 0.25)
        text = ledger.report().format()
        assert "unpriced" not in text
        assert text.splitlines()[-1].startswith("total")

    def test_each_unpriced_model_is_warned_about_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="actorbus.models")
        ledger = Ledger(ab.Budgets())
        for model in ("mystery", "mystery", "other", "mystery", "other"):
            ledger.charge("a", model, usage(1, 1), None)
        ledger.charge("a", "gpt-4.1", usage(1, 1), 0.1)
        warnings = [r.getMessage() for r in caplog.records if r.name == "actorbus.models"]
        assert len(warnings) == 2
        assert "'mystery' has no price" in warnings[0]
        assert "'other' has no price" in warnings[1]
        assert all("--prices FILE" in w for w in warnings)

    @pytest.mark.parametrize(
        ("budgets", "scope"),
        [
            pytest.param(ab.Budgets(run=5.0), "run", id="run"),
            pytest.param(ab.Budgets(actors={"writer": 5.0}), "writer", id="actor"),
        ],
    )
    def test_a_budget_refuses_an_unpriced_call(self, budgets: ab.Budgets, scope: str) -> None:
        ledger = Ledger(budgets)
        with pytest.raises(ab.UnpricedModel) as caught:
            ledger.reserve("mystery", "writer", None)
        assert isinstance(caught.value, ab.BudgetExceeded)  # a budget refused it
        assert caught.value.scope == scope
        assert caught.value.budget == 5.0
        assert caught.value.needed == math.inf
        assert caught.value.model == "mystery"
        message = str(caught.value)
        assert "'mystery' has no price" in message
        assert "allow_unpriced" in message
        assert "--prices FILE" in message

    def test_an_actor_budget_does_not_refuse_other_actors_unpriced_calls(self) -> None:
        ledger = Ledger(ab.Budgets(actors={"writer": 5.0}))
        held = ledger.reserve("mystery", "researcher", None)
        assert held.amount == 0.0
        ledger.reserve("mystery", None, None)

    def test_allow_unpriced_lets_the_call_run_outside_the_budget(self) -> None:
        ledger = Ledger(ab.Budgets(run=1.0, actors={"writer": 1.0}, allow_unpriced=True))
        held = ledger.reserve("mystery", "writer", None)
        assert held.amount == 0.0
        ledger.settle(held, "mystery", usage(1000, 1000), None)
        ledger.reserve("gpt-4.1", "writer", 1.0)  # the whole budget is still there
        assert ledger.report().total.unpriced_calls == 1

    def test_without_budgets_unpriced_calls_run(self) -> None:
        Ledger(ab.Budgets()).reserve("mystery", "writer", None)
