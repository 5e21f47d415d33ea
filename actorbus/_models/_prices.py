"""Prices in dollars per million tokens, and the default table.

The defaults are the source article's comparison table ($/MTok through an
OpenAI-compatible gateway): GPT-4.1 8.00, Claude Sonnet 4 15.00, Gemini 2.5 Flash
2.50, DeepSeek V3 0.42. The article gives one figure per model, so it is used for
input and output alike; real price lists usually charge more for output, so set
your own in the configuration (`ModelsConfig.prices`).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from ._chat import Usage

__all__ = ["DEFAULT_PRICES", "Price", "PriceTable"]


class Price(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Dollars per million input (prompt) and output (completion) tokens.

    Version added: 0.1
    """

    input: float
    output: float

    def cost(self, usage: Usage) -> float:
        """Return the dollars ``usage`` costs at this price."""
        return (usage.prompt_tokens * self.input + usage.completion_tokens * self.output) / 1e6


DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-4.1": Price(input=8.00, output=8.00),
    "claude-sonnet-4": Price(input=15.00, output=15.00),
    "gemini-2.5-flash": Price(input=2.50, output=2.50),
    "deepseek-v3": Price(input=0.42, output=0.42),
    "echo": Price(input=0.0, output=0.0),
}
"""The default price table (the source article's figures); see the module docs."""


class PriceTable:
    """Looks up a model's price: the configured prices over the defaults."""

    __slots__ = ("_prices",)

    def __init__(self, overrides: Mapping[str, Price]) -> None:
        self._prices = {**DEFAULT_PRICES, **overrides}

    def price(self, model: str) -> Price | None:
        """Return ``model``'s price, or None when the table has none (its calls cost 0)."""
        return self._prices.get(model)

    def cost(self, model: str, usage: Usage) -> float:
        """Return the dollars ``usage`` of ``model`` costs (0.0 without a price)."""
        price = self._prices.get(model)
        return 0.0 if price is None else price.cost(usage)

    def worst_case(self, model: str, prompt_tokens: int, max_tokens: int) -> float:
        """Return the most a call could cost: its prompt and ``max_tokens`` of output."""
        return self.cost(model, Usage(prompt_tokens=prompt_tokens, completion_tokens=max_tokens))
