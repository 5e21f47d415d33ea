"""Model configuration: providers, prices, per-actor assignments, fallbacks, budgets.

A `Provider` is one OpenAI-compatible gateway: a base URL, the environment variable
its API key is read from (the key itself is never stored in the configuration, so
it cannot leak through a repr or a dump of it), the models it serves and its
limits. `ModelsConfig` is the whole configuration, built in code, from the
environment, or from a TOML file (``actorbus.toml``)::

    [[providers]]
    name = "gateway"
    base_url = "https://api.example.com/v1"
    api_key_env = "GATEWAY_API_KEY"
    models = ["gpt-4.1", "deepseek-v3"]
    requests_per_minute = 600
    tokens_per_minute = 200000
    max_concurrent = 32

    [assignments]          # actor name -> model: overrides the actor's own `model`
    researcher = "deepseek-v3"
    writer = "gpt-4.1"

    [fallbacks]            # model -> models tried in order when it is exhausted
    "gpt-4.1" = ["deepseek-v3"]

    [prices."my-model"]    # $ per million tokens; adds to or overrides the defaults
    input = 1.0
    output = 2.0
    cached_input = 0.25    # optional: prompt tokens the provider served from its cache

    [budget]
    run = 5.00             # dollars for the whole run
    actors = { writer = 2.00 }
    allow_unpriced = false # true: let calls to models without a price run, uncounted

Instead of a ``[prices]`` table, ``prices = "prices.json"`` names a prices file (our
format or LiteLLM's ``model_prices_and_context_window.json``; see docs/models.md),
relative to the TOML file's directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec

from .._errors import ModelsConfigError
from ._prices import Price

__all__ = ["ECHO_MODEL", "Budgets", "ModelsConfig", "Provider", "StructuredOutput"]

StructuredOutput: TypeAlias = Literal["json_schema", "json_object", "prompt"]
"""How a provider is asked for a structured output; see `Provider.structured_output`."""

ECHO_MODEL = "echo"
"""The model the offline echo provider serves: it answers without any network."""


class Provider(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One OpenAI-compatible endpoint and its limits.

    Attributes:
        name: how logs, errors and cost reports name it.
        base_url: the API root; requests go to ``{base_url}/chat/completions``.
            ``"echo:"`` is the offline echo provider (no network).
        api_key_env: the environment variable holding the API key (None: no key).
        models: the models it serves; ``["*"]`` serves any model name.
        requests_per_minute: the most requests it is sent per minute (None: no limit).
        tokens_per_minute: the most tokens (prompt estimate + ``max_tokens``) per minute.
        max_concurrent: the most requests in flight at once.
        timeout: seconds to wait for the next bytes of an answer: for a plain call,
            the whole answer; for a stream, the silence between two pieces (the
            first included), so a slow model can stream for longer, within ``deadline``.
        connect_timeout: seconds to wait for a connection.
        max_attempts: requests per model call, the first included, before giving up.
        retry_base: the cap of the first retry's delay (doubling after, full jitter).
        retry_cap: the longest delay between attempts (a longer ``Retry-After`` is
            honoured up to the deadline).
        deadline: seconds a model call may take in all, from the first request to the
            last byte of the answer (limits, retries and streaming included).
        max_response_bytes: answers larger than this are refused.
        structured_output: how a structured output (``output=``) is asked for:
            ``"json_schema"`` (a ``response_format`` with the schema: OpenAI, and
            most servers of open models), ``"json_object"`` (JSON mode, the schema
            in the instructions) or ``"prompt"`` (the schema in the instructions
            only, for a gateway that takes no ``response_format``).

    Version added: 0.1
    """

    name: str
    base_url: str
    api_key_env: str | None = None
    models: list[str] = msgspec.field(default_factory=lambda: ["*"])
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_concurrent: int | None = None
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_attempts: int = 5
    retry_base: float = 0.5
    retry_cap: float = 30.0
    deadline: float = 300.0
    max_response_bytes: int = 8_000_000
    structured_output: StructuredOutput = "json_schema"

    def __post_init__(self) -> None:
        if not self.name:
            raise ModelsConfigError("a provider needs a name")
        if self.base_url != "echo:" and not self.base_url.startswith(("http://", "https://")):
            raise ModelsConfigError(
                f"provider {self.name!r}: base_url must start with http:// or https:// "
                f"(or be 'echo:' for the offline echo provider), got {self.base_url!r}"
            )
        for field in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, field)
            if value is not None and value <= 0:
                raise ModelsConfigError(f"provider {self.name!r}: {field} must be > 0, got {value}")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ModelsConfigError(f"provider {self.name!r}: max_concurrent must be >= 1")
        if self.max_attempts < 1:
            raise ModelsConfigError(f"provider {self.name!r}: max_attempts must be >= 1")
        if self.timeout <= 0 or self.deadline <= 0 or self.max_response_bytes < 1:
            raise ModelsConfigError(
                f"provider {self.name!r}: timeout, deadline and max_response_bytes must be > 0"
            )

    @property
    def offline(self) -> bool:
        """True for the echo provider, which answers without any network."""
        return self.base_url == "echo:"

    def serves(self, model: str) -> bool:
        """Tell whether this provider serves ``model``."""
        return "*" in self.models or model in self.models


class Budgets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Dollar budgets: for the whole run and per actor name (None: unlimited).

    A call a budget applies to (the run's, or its actor's) must be priced to be held
    to it: a call to a model without a price is refused with `UnpricedModel` before
    it is sent, unless ``allow_unpriced`` is set, when it runs and is counted as
    unpriced (its cost unknown, outside every budget).

    Attributes:
        run: dollars for the whole run.
        actors: actor name -> dollars for that actor.
        allow_unpriced: let calls to unpriced models run although a budget applies.

    Version added: 0.1
    """

    run: float | None = None
    actors: dict[str, float] = msgspec.field(default_factory=dict)
    allow_unpriced: bool = False


class ModelsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything `Models` needs; see the module docs for the TOML form.

    Attributes:
        providers: the endpoints, tried in this order for a model several serve.
        default_model: the model for actors that declare none.
        assignments: actor name -> model, overriding what the actor declares.
        fallbacks: model -> models tried in order once it is exhausted.
        prices: model -> `Price`, added to (and overriding) the prices file and the
            default table.
        prices_file: a prices file (our format or LiteLLM's JSON),
            added to (and overriding) the default table. In TOML, ``prices = "path"``,
            relative to the TOML file's directory.
        budget: dollar budgets.

    Version added: 0.1
    """

    providers: list[Provider] = msgspec.field(default_factory=list)
    default_model: str | None = None
    assignments: dict[str, str] = msgspec.field(default_factory=dict)
    fallbacks: dict[str, list[str]] = msgspec.field(default_factory=dict)
    prices: dict[str, Price] = msgspec.field(default_factory=dict)
    prices_file: str | None = None
    budget: Budgets = msgspec.field(default_factory=Budgets)

    @classmethod
    def from_toml(cls, path: str | Path) -> ModelsConfig:
        """Read a configuration from a TOML file.

        Raises:
            ModelsConfigError: the file is missing, is not TOML, or has a wrong setting.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelsConfigError(
                f"cannot read model configuration {str(path)!r}: {exc}"
            ) from exc
        try:
            raw = msgspec.toml.decode(data)
            return msgspec.convert(_prices_path(raw, path), type=cls)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ModelsConfigError(f"model configuration {str(path)!r} is invalid: {exc}") from exc

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ModelsConfig:
        """Build a configuration from environment variables.

        * ``ACTORBUS_MODELS_CONFIG``: a TOML file; when set, the others are ignored.
        * ``ACTORBUS_BASE_URL`` (or ``OPENAI_BASE_URL``): one provider at that URL,
          its key in ``ACTORBUS_API_KEY_ENV`` (the *name* of the variable holding
          it; default ``OPENAI_API_KEY``), serving any model; limits from
          ``ACTORBUS_REQUESTS_PER_MINUTE`` and ``ACTORBUS_TOKENS_PER_MINUTE``, the
          default model from ``ACTORBUS_MODEL``.
        * Neither: the offline echo provider, serving every model with no network.

        Raises:
            ModelsConfigError: a variable holds a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        if path := env.get("ACTORBUS_MODELS_CONFIG"):
            return cls.from_toml(path)
        base_url = env.get("ACTORBUS_BASE_URL") or env.get("OPENAI_BASE_URL")
        if not base_url:
            return cls.offline(default_model=env.get("ACTORBUS_MODEL"))
        provider = Provider(
            name="default",
            base_url=base_url,
            api_key_env=env.get("ACTORBUS_API_KEY_ENV", "OPENAI_API_KEY"),
            requests_per_minute=_number(env, "ACTORBUS_REQUESTS_PER_MINUTE"),
            tokens_per_minute=_number(env, "ACTORBUS_TOKENS_PER_MINUTE"),
        )
        return cls(providers=[provider], default_model=env.get("ACTORBUS_MODEL"))

    @classmethod
    def offline(cls, *, default_model: str | None = None) -> ModelsConfig:
        """Return a configuration with only the offline echo provider, serving any model."""
        return cls(providers=[Provider(name="echo", base_url="echo:")], default_model=default_model)


def _prices_path(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """Turn ``prices = "file"`` into ``prices_file``, relative to the TOML file ``path``."""
    if isinstance(raw.get("prices"), str):
        if "prices_file" in raw:
            raise ModelsConfigError(
                f'model configuration {str(path)!r} gives both prices = "..." and '
                "prices_file: give one"
            )
        raw["prices_file"] = raw.pop("prices")
    if isinstance(file := raw.get("prices_file"), str):
        raw["prices_file"] = str(path.parent / file)  # an absolute file stays as it is
    return raw


def _number(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ModelsConfigError(f"{name} must be a number, got {raw!r}") from None
