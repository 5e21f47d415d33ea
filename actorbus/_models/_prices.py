"""Prices in dollars per million tokens, the default table, and how a model name finds its price.

A `Price` has separate input, output and (where the vendor lists one) cached-input
figures; a call costs its uncached prompt tokens at ``input``, the prompt tokens the
provider reports as cached (``usage.prompt_tokens_details.cached_tokens``) at
``cached_input`` (``input`` when None), and its completion tokens at ``output``.
Long-context tiers (higher prices past 200K or 272K prompt tokens), batch, flex and
priority tiers, and cache writes are not modelled: the standard tier is used.

`DEFAULT_PRICES` holds the major vendors' list prices, read on 2026-12-03 (input,
cached input, output; $/MTok):

=========================  =======  ======  =======  ======
model                      input    cached  output   source
=========================  =======  ======  =======  ======
gpt-5.5                    5.00     0.50    30.00    [L]
gpt-5.4                    2.50     0.25    15.00    [L]
gpt-5.4-mini               0.75     0.075   4.50     [L]
gpt-5.4-nano               0.20     0.02    1.25     [L]
gpt-5.2                    1.75     0.175   14.00    [L]
gpt-5.1                    1.25     0.125   10.00    [L]
gpt-5                      1.25     0.125   10.00    [L]
gpt-5-mini                 0.25     0.025   2.00     [L]
gpt-5-nano                 0.05     0.005   0.40     [L]
gpt-4.1                    2.00     0.50    8.00     [L]
gpt-4.1-mini               0.40     0.10    1.60     [L]
gpt-4.1-nano               0.10     0.025   0.40     [L]
gpt-4o                     2.50     1.25    10.00    [L]
gpt-4o-2024-05-13          5.00     -       15.00    [L]
gpt-4o-mini                0.15     0.075   0.60     [L]
o3                         2.00     0.50    8.00     [L]
o4-mini                    1.10     0.275   4.40     [L]
claude-opus-4-8            5.00     0.50    25.00    [A]
claude-opus-4-7            5.00     0.50    25.00    [A]
claude-opus-4-6            5.00     0.50    25.00    [A]
claude-opus-4-5            5.00     0.50    25.00    [A]
claude-opus-4-1            15.00    1.50    75.00    [A]
claude-opus-4              15.00    1.50    75.00    [A]
claude-sonnet-4-6          3.00     0.30    15.00    [A]
claude-sonnet-4-5          3.00     0.30    15.00    [A]
claude-sonnet-4            3.00     0.30    15.00    [A]
claude-haiku-4-5           1.00     0.10    5.00     [A]
claude-3-5-haiku           0.80     0.08    4.00     [A]
gemini-3.1-pro-preview     2.00     0.20    12.00    [L]
gemini-3.1-flash-lite      0.25     0.025   1.50     [L]
gemini-2.5-pro             1.25     0.125   10.00    [L]
gemini-2.5-flash           0.30     0.03    2.50     [L]
gemini-2.5-flash-lite      0.10     0.01    0.40     [L]
deepseek-chat              0.28     0.028   0.42     [L], [D]
deepseek-reasoner          0.28     0.028   0.42     [L], [D]
deepseek-v3                0.28     0.028   0.42     as deepseek-chat
echo                       0        0       0        the offline echo provider
=========================  =======  ======  =======  ======

Sources:

* [L] LiteLLM's ``model_prices_and_context_window.json``, commit 00035b69f416
  (https://github.com/BerriAI/litellm), whose entries cite the vendors' pages:
  https://openai.com/api/pricing,
  https://cloud.google.com/vertex-ai/generative-ai/pricing,
  https://ai.google.dev/gemini-api/docs/pricing and
  https://api-docs.deepseek.com/quick_start/pricing. The OpenAI entries are LiteLLM's
  ``litellm_provider: openai`` ones (``gpt-5.5`` from its ``gpt-5.5-2026-04-23``
  snapshot), the Gemini ones its ``vertex_ai-language-models`` ones (prompts up
  to 200K tokens), the DeepSeek ones ``deepseek/deepseek-chat`` and
  ``deepseek/deepseek-reasoner``.
* [A] Anthropic's pricing page, https://platform.claude.com/docs/en/about-claude/pricing
  ("Base input tokens", "Cache hits and refreshes", "Output tokens").
* [D] DeepSeek's pricing page, https://api-docs.deepseek.com/quick_start/pricing:
  both names serve DeepSeek-V3.2 at one price.

The source article's names stay priced: ``gpt-4.1``, ``claude-sonnet-4``,
``gemini-2.5-flash`` and ``deepseek-v3`` (priced as ``deepseek-chat``, which serves
the V3 line). The article gave one figure per model (8.00, 15.00, 2.50, 0.42): each
is that model's output price, which it charged for input too; the table above
splits them.

A model name finds its price by `price_names`: the name as it is first, then
without its provider prefixes (``openai/gpt-4.1``), then without a date suffix
(``gpt-4.1-2025-04-14``, ``claude-sonnet-4-20250514``); the first name the table
holds wins, so an entry for the exact name (a snapshot priced differently, such as
``gpt-4o-2024-05-13``) beats the base entry. Names are case-sensitive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import msgspec

from .._errors import ModelsConfigError
from ._chat import Usage

__all__ = ["DEFAULT_PRICES", "FREE", "Price", "PriceTable", "price_names"]

_MTOK = 1_000_000


class Price(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Dollars per million input (prompt), output (completion) and cached-input tokens.

    Attributes:
        input: dollars per million prompt tokens that were not served from a cache.
        output: dollars per million completion tokens.
        cached_input: dollars per million prompt tokens the provider reports as
            cached (None: the vendor lists no cache price, so they cost ``input``).

    Raises:
        ModelsConfigError: a price is negative or not a finite number.

    Version added: 0.1
    """

    input: float
    output: float
    cached_input: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ModelsConfigError(
                    f"a price's {name} must be a finite number of dollars >= 0, got {value}"
                )

    def cost(self, usage: Usage) -> float:
        """Return the dollars ``usage`` costs at this price.

        Cached prompt tokens cost ``cached_input`` (or ``input``), the rest ``input``,
        completion tokens ``output``. A provider reporting more cached tokens than
        prompt tokens is taken to have cached them all.
        """
        cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        dollars = (
            (usage.prompt_tokens - cached) * self.input
            + cached * cached_price
            + usage.completion_tokens * self.output
        )
        return dollars / _MTOK


FREE = Price(input=0.0, output=0.0, cached_input=0.0)
"""What a call to the offline echo provider costs when its model has no price."""


def _p(input: float, cached_input: float | None, output: float) -> Price:
    return Price(input=input, output=output, cached_input=cached_input)


DEFAULT_PRICES: Mapping[str, Price] = {
    # OpenAI, through LiteLLM's table [L]
    "gpt-5.5": _p(5.00, 0.50, 30.00),
    "gpt-5.4": _p(2.50, 0.25, 15.00),
    "gpt-5.4-mini": _p(0.75, 0.075, 4.50),
    "gpt-5.4-nano": _p(0.20, 0.02, 1.25),
    "gpt-5.2": _p(1.75, 0.175, 14.00),
    "gpt-5.1": _p(1.25, 0.125, 10.00),
    "gpt-5": _p(1.25, 0.125, 10.00),
    "gpt-5-mini": _p(0.25, 0.025, 2.00),
    "gpt-5-nano": _p(0.05, 0.005, 0.40),
    "gpt-4.1": _p(2.00, 0.50, 8.00),
    "gpt-4.1-mini": _p(0.40, 0.10, 1.60),
    "gpt-4.1-nano": _p(0.10, 0.025, 0.40),
    "gpt-4o": _p(2.50, 1.25, 10.00),
    "gpt-4o-2024-05-13": _p(5.00, None, 15.00),
    "gpt-4o-mini": _p(0.15, 0.075, 0.60),
    "o3": _p(2.00, 0.50, 8.00),
    "o4-mini": _p(1.10, 0.275, 4.40),
    # Anthropic's pricing page [A]
    "claude-opus-4-8": _p(5.00, 0.50, 25.00),
    "claude-opus-4-7": _p(5.00, 0.50, 25.00),
    "claude-opus-4-6": _p(5.00, 0.50, 25.00),
    "claude-opus-4-5": _p(5.00, 0.50, 25.00),
    "claude-opus-4-1": _p(15.00, 1.50, 75.00),
    "claude-opus-4": _p(15.00, 1.50, 75.00),
    "claude-sonnet-4-6": _p(3.00, 0.30, 15.00),
    "claude-sonnet-4-5": _p(3.00, 0.30, 15.00),
    "claude-sonnet-4": _p(3.00, 0.30, 15.00),
    "claude-haiku-4-5": _p(1.00, 0.10, 5.00),
    "claude-3-5-haiku": _p(0.80, 0.08, 4.00),
    # Google, through LiteLLM's table [L]
    "gemini-3.1-pro-preview": _p(2.00, 0.20, 12.00),
    "gemini-3.1-flash-lite": _p(0.25, 0.025, 1.50),
    "gemini-2.5-pro": _p(1.25, 0.125, 10.00),
    "gemini-2.5-flash": _p(0.30, 0.03, 2.50),
    "gemini-2.5-flash-lite": _p(0.10, 0.01, 0.40),
    # DeepSeek [L], [D]; deepseek-v3 is the source article's name for deepseek-chat
    "deepseek-chat": _p(0.28, 0.028, 0.42),
    "deepseek-reasoner": _p(0.28, 0.028, 0.42),
    "deepseek-v3": _p(0.28, 0.028, 0.42),
    "echo": FREE,
}
"""The default price table: the major vendors' list prices, with sources in the module docs."""

# A snapshot's date at the end of a model name: OpenAI's -2025-04-14, Anthropic's -20250514.
_DATED = re.compile(r"^(.+?)-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


def price_names(model: str) -> list[str]:
    """Return the names ``model``'s price is looked up under, first match wins.

    ``model`` itself; then each shorter name left by dropping provider prefixes
    (``openrouter/openai/gpt-4o``: ``openai/gpt-4o``, then ``gpt-4o``); then each of
    those without a trailing snapshot date (``-2025-04-14`` or ``-20250514``). No
    duplicates and no empty names.
    """
    names: list[str] = [model]
    rest = model
    while "/" in rest:
        rest = rest.split("/", 1)[1]
        if rest:
            names.append(rest)
    undated = [m.group(1) for name in names if (m := _DATED.match(name))]
    return list(dict.fromkeys(names + undated))


class PriceTable:
    """Looks up a model's price: configured prices over a prices file over the defaults."""

    __slots__ = ("_prices",)

    def __init__(
        self, overrides: Mapping[str, Price], extra: Mapping[str, Price] | None = None
    ) -> None:
        self._prices: dict[str, Price] = {**DEFAULT_PRICES, **(extra or {}), **overrides}

    def price(self, model: str, *, offline: bool = False) -> Price | None:
        """Return ``model``'s price (see `price_names`), or None when it has none.

        ``offline``: the call goes to the offline echo provider, which costs nothing,
        so an unpriced model is `FREE` there rather than unpriced.
        """
        for name in price_names(model):
            if (found := self._prices.get(name)) is not None:
                return found
        return FREE if offline else None

    def worst_case(
        self, model: str, prompt_tokens: int, max_tokens: int, *, offline: bool = False
    ) -> float | None:
        """Return the most a call could cost, or None when ``model`` has no price.

        The worst case is the whole prompt uncached and ``max_tokens`` of output.
        """
        price = self.price(model, offline=offline)
        if price is None:
            return None
        return price.cost(Usage(prompt_tokens=prompt_tokens, completion_tokens=max_tokens))
