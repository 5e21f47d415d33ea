"""The models ``actorbus run`` uses: from ``--models``, ``--base-url``, or the environment.

With none of them configuring an endpoint, the team's own offline provider
answers (scripted, no network), and the run says so first. ``--prices FILE``
adds prices to any of them; ``--request-timeout S`` sets every provider's
``timeout``: with the roles streaming, the longest silence allowed between two
pieces of an answer (time to the first one included), not the time of the whole
answer, which the provider's ``deadline`` bounds (raised to at least S).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import msgspec

from .._errors import ModelsConfigError
from .._models import Models, ModelsConfig, Provider
from ._team import TeamRunner

__all__ = ["RunModels", "add_model_options", "run_models"]


@dataclass(frozen=True)
class RunModels:
    """The run's models, and how the report names where its calls went."""

    models: Models
    where: str
    offline: bool


def add_model_options(run: argparse.ArgumentParser) -> None:
    """Add the options choosing the run's models to ``run``."""
    run.add_argument(
        "--models",
        metavar="TOML",
        help="model configuration file (default: from the environment; with nothing "
        "configured, the team's offline provider, whose replies are scripted)",
    )
    run.add_argument(
        "--base-url",
        metavar="URL",
        help="an OpenAI-compatible endpoint (POST URL/chat/completions) serving every model",
    )
    run.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="with --base-url: the environment variable holding the API key "
        "(default: OPENAI_API_KEY when it is set, else no key)",
    )
    run.add_argument(
        "--model", metavar="NAME", help="the model every role calls (default: each role's own)"
    )
    run.add_argument(
        "--prices",
        metavar="FILE",
        help="a prices file adding to the default prices: our format (TOML, or JSON "
        "{model: {input, output, cached_input}} in $ per million tokens) or LiteLLM's "
        'model_prices_and_context_window.json; replaces prices = "..." of --models',
    )
    run.add_argument(
        "--request-timeout",
        type=float,
        metavar="S",
        help="seconds a model may stay silent: before its answer starts, or between two "
        "pieces of it (answers are streamed); sets every provider's timeout, and raises its "
        "deadline to at least S (default: each provider's own, 60 unless actorbus.toml "
        "says otherwise)",
    )


def run_models(args: argparse.Namespace, runner: TeamRunner) -> RunModels:
    """Return the run's models, as ``args`` choose them.

    Raises:
        ModelsConfigError: options that do not go together, a bad file or value.
    """
    config = _config(args)
    if args.prices is not None:
        config = msgspec.structs.replace(config, prices_file=args.prices)
    if args.request_timeout is not None:
        config = _with_timeout(config, args.request_timeout)
    providers = config.providers
    if providers and all(p.offline for p in providers):
        where = "the team's offline provider (no network), priced as the models it stands in for"
        return RunModels(runner.offline_models(config), where, offline=True)
    where = ", ".join(f"{p.name} ({p.base_url})" for p in providers)
    return RunModels(Models(config), where, offline=False)


def _config(args: argparse.Namespace) -> ModelsConfig:
    if args.base_url is None:
        if args.api_key_env is not None:
            raise ModelsConfigError("--api-key-env goes with --base-url")
        return ModelsConfig.from_toml(args.models) if args.models else ModelsConfig.from_env()
    if args.models:
        raise ModelsConfigError("give --models or --base-url, not both")
    key_env = args.api_key_env
    if key_env is None and os.environ.get("OPENAI_API_KEY"):
        key_env = "OPENAI_API_KEY"
    return ModelsConfig(
        providers=[Provider(name="endpoint", base_url=args.base_url, api_key_env=key_env or None)]
    )


def _with_timeout(config: ModelsConfig, timeout: float) -> ModelsConfig:
    if not timeout > 0:
        raise ModelsConfigError(f"--request-timeout must be positive, not {timeout:g}")
    providers = [
        msgspec.structs.replace(p, timeout=timeout, deadline=max(p.deadline, timeout))
        for p in config.providers
    ]
    return msgspec.structs.replace(config, providers=providers)
