"""Reading extra prices from a file: our own format (TOML or JSON) or LiteLLM's JSON.

Our format maps a model name to its `Price`, in dollars per million tokens; a
``.toml`` file is read as TOML, any other as JSON::

    ["my-model"]
    input = 1.0
    output = 2.0
    cached_input = 0.1      # optional

    {"my-model": {"input": 1.0, "output": 2.0, "cached_input": 0.1}}

LiteLLM's ``model_prices_and_context_window.json`` maps a model name to dollars per
token (``input_cost_per_token``, ``output_cost_per_token``,
``cache_read_input_token_cost``) among many other fields. A JSON file is read as
LiteLLM's when it has LiteLLM's ``sample_spec`` entry, or an entry with a
``litellm_provider``, ``input_cost_per_token`` or ``output_cost_per_token`` field.
Its ``sample_spec``, the entries whose ``mode`` is not ``chat`` (images,
embeddings, audio, models served only by the Responses API) and the entries
without both token prices are skipped; other fields are ignored. Names are kept as
LiteLLM spells them (``gemini/gemini-2.5-flash``); a call's name finds them as
`price_names` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from .._errors import ModelsConfigError
from ._config import ModelsConfig
from ._prices import Price, PriceTable

__all__ = ["load_prices", "price_table"]

_MTOK = 1_000_000
_LITELLM_FIELDS = ("litellm_provider", "input_cost_per_token", "output_cost_per_token")


class _LiteLLMEntry(msgspec.Struct, kw_only=True):
    """The fields of a LiteLLM entry that make a price (dollars per token)."""

    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    input_cost_per_token_cache_hit: float | None = None  # DeepSeek's entries name it so


def price_table(config: ModelsConfig) -> PriceTable:
    """Return the prices ``config`` calls for: its ``prices`` over its ``prices_file``.

    Raises:
        ModelsConfigError: the prices file cannot be read or has a bad entry.
    """
    extra = {} if config.prices_file is None else load_prices(config.prices_file)
    return PriceTable(config.prices, extra)


def load_prices(path: str | Path) -> dict[str, Price]:
    """Read a prices file, in our format or LiteLLM's (see the module docs).

    Raises:
        ModelsConfigError: the file is missing, is not TOML or JSON, is not a table
            of model names, or an entry is not a valid price (the error names it).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelsConfigError(f"cannot read prices file {str(path)!r}: {exc}") from exc
    toml = path.suffix.lower() == ".toml"
    try:
        raw: Any = msgspec.toml.decode(data) if toml else msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        kind = "TOML" if toml else "JSON (a .toml file is read as TOML, any other as JSON)"
        raise ModelsConfigError(f"prices file {str(path)!r} is not valid {kind}: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelsConfigError(
            f"prices file {str(path)!r} must map model names to prices, got {type(raw).__name__}"
        )
    if not toml and _is_litellm(raw):
        return _litellm(path, raw)
    return {name: _ours(path, name, entry) for name, entry in raw.items()}


def _is_litellm(raw: dict[str, Any]) -> bool:
    return "sample_spec" in raw or any(
        isinstance(entry, dict) and any(field in entry for field in _LITELLM_FIELDS)
        for entry in raw.values()
    )


def _ours(path: Path, name: str, entry: object) -> Price:
    try:
        return msgspec.convert(entry, Price)
    except msgspec.ValidationError as exc:
        raise _bad(path, name, f"{exc} (give input and output, and optionally cached_input, "
                   "in dollars per million tokens)") from None  # fmt: skip


def _litellm(path: Path, raw: dict[str, Any]) -> dict[str, Price]:
    prices: dict[str, Price] = {}
    for name, entry in raw.items():
        if name == "sample_spec":
            continue
        if not isinstance(entry, dict):
            raise _bad(path, name, f"expected an object, got {type(entry).__name__}")
        if entry.get("mode", "chat") != "chat":
            continue
        try:
            item = msgspec.convert(entry, _LiteLLMEntry)
        except msgspec.ValidationError as exc:
            raise _bad(path, name, str(exc)) from None
        if item.input_cost_per_token is None or item.output_cost_per_token is None:
            continue  # no token prices: not something a chat call can be priced by
        cached = item.cache_read_input_token_cost
        if cached is None:
            cached = item.input_cost_per_token_cache_hit
        try:
            prices[name] = Price(
                input=_per_mtok(item.input_cost_per_token),
                output=_per_mtok(item.output_cost_per_token),
                cached_input=None if cached is None else _per_mtok(cached),
            )
        except ModelsConfigError as exc:
            raise _bad(path, name, exc.problem) from None
    return prices


def _per_mtok(per_token: float) -> float:
    # Rounded so that 2e-06 per token reads back as 2.0 per million, not 1.9999999999999998.
    return round(per_token * _MTOK, 9)


def _bad(path: Path, name: str, problem: str) -> ModelsConfigError:
    return ModelsConfigError(f"prices file {str(path)!r}: entry {name!r} is invalid: {problem}")
