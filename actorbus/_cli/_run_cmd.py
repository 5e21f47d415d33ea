"""``actorbus run TASK``: run a team on a task and show it working.

The team comes from the ``actorbus.teams`` entry points (see `load_team`). Models
come from ``--models TOML``, or ``--base-url`` (one OpenAI-compatible endpoint),
or the environment (`ModelsConfig.from_env`); with none of them the team's own
offline provider answers, with no network. ``--prices FILE`` adds prices to any
of them (the configuration's own ``[prices]`` still win). The run is logged to the ``--log``
(a `SqliteLog` file, or a `JetStreamLog` for a ``nats://`` URL: see `LogTarget`),
shows live progress (`StatusLine`), and ends with the answer, the review rounds,
what the model calls cost, and ``actorbus log trace`` commands for its requests.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import textwrap
import time
from typing import Any

import anyio
import msgspec

from .._bus import Bus
from .._errors import ActorbusError, ModelsConfigError
from .._log import EventLog
from .._models import CostReport, Models, ModelsConfig, Provider
from ._log_target import add_log_options, log_target
from ._progress import StatusLine
from ._team import TeamOutcome, TeamRunner, load_team

__all__ = ["add_run_parser"]


def add_run_parser(commands: Any) -> None:
    """Add the ``run`` command to the ``actorbus`` parser."""
    run: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="run the team on a task (offline unless an endpoint is configured)",
        description="Run the team (researchers, a writer and a validator under a "
        "coordinator) on a task, showing what each actor does, and print the answer.",
    )
    run.add_argument("task", help="the task, in plain words")
    run.add_argument("--quiet", action="store_true", help="print only the answer")
    run.add_argument(
        "--timeout", type=float, default=300.0, help="seconds the run may take (default 300)"
    )
    run.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="async library; the team calls models, which need asyncio",
    )
    add_log_options(run, default="actorbus.db")
    run.add_argument("--team", default="default", help="the installed team to run")
    _add_model_options(run)
    run.set_defaults(handler=_run)


def _add_model_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--models",
        metavar="TOML",
        help="model configuration file (default: from the environment; with nothing "
        "configured, the team's offline provider)",
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


def _run(args: argparse.Namespace) -> int:
    target = log_target(args)
    if args.backend != "asyncio" and target.nats:
        print(
            "actorbus: a nats:// log is a JetStreamLog, and nats-py (the NATS client) is "
            "asyncio-only: run it without --backend trio",
            file=sys.stderr,
        )
        return 2
    if args.backend != "asyncio":
        print(
            "actorbus: the team calls models, which need asyncio (aiolimiter is "
            "asyncio-only): run it without --backend trio",
            file=sys.stderr,
        )
        return 2
    runner = load_team(args.team)
    models, where = _models(args, runner)
    started = time.perf_counter()
    log = target.open_log()  # a missing nats-py is said before the run starts
    outcome, costs, published = anyio.run(_session, args, log, runner, models)
    elapsed = time.perf_counter() - started
    if args.quiet:
        print(outcome.answer)
        return 0
    print(_report(outcome))
    print(f"\nmodel calls, through {where}:\n{costs.format()}")
    print(f"\n{published} messages in {elapsed:.2f} s, logged to {target.shown}")
    print("see how each step was handled (one causation tree per request):")
    trace = ["actorbus", "log", "trace", *target.log_args()]
    for step, message_id in outcome.traces:
        print(f"  {step}: {shlex.join([*trace, message_id])}")
    note = target.paste_note()
    if note is not None:
        print(note)
    return 0


def _models(args: argparse.Namespace, runner: TeamRunner) -> tuple[Models, str]:
    """Return the run's models and how the report names where calls went."""
    config = _config(args)
    if args.prices is not None:
        config = msgspec.structs.replace(config, prices_file=args.prices)
    providers = config.providers
    if providers and all(p.offline for p in providers):
        where = "the team's offline provider (no network), priced as the models it stands in for"
        return runner.offline_models(config), where
    return Models(config), ", ".join(f"{p.name} ({p.base_url})" for p in providers)


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


async def _session(
    args: argparse.Namespace, log: EventLog, runner: TeamRunner, models: Models
) -> tuple[TeamOutcome, CostReport, int]:
    async with Bus(log=log, models=models) as bus:
        progress = StatusLine(sys.stdout, bus.costs, tty=sys.stdout.isatty())
        say = _silent if args.quiet else progress
        outcome: TeamOutcome | None = None
        try:
            with anyio.move_on_after(args.timeout):
                outcome = await runner.run(bus, args.task, say, model=args.model)
        finally:
            progress.close()
        if outcome is None:
            raise _TimedOut(args.timeout)
        published = bus.statistics().published
    return outcome, bus.costs(), published


def _silent(text: str, *, done: int, total: int, lasting: bool = False) -> None:
    return None


class _TimedOut(ActorbusError):
    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"the team did not finish within {timeout:g} s: allow more with --timeout, "
            "or look at the log for the step that hung"
        )


def _report(outcome: TeamOutcome) -> str:
    verdict = "approved" if outcome.approved else "not approved"
    rounds = f"{outcome.rounds} review round{'s' if outcome.rounds != 1 else ''}"
    lines = [f"\nanswer ({verdict} after {rounds}):", _indent(outcome.answer), ""]
    lines.append("review rounds:")
    lines += [f"  {i}. {review}" for i, review in enumerate(outcome.reviews, 1)]
    if not outcome.reviews:
        lines.append("  (no draft was reviewed)")
    if outcome.problems:
        lines += ["", "problems along the way:", *(f"  - {p}" for p in outcome.problems)]
    return "\n".join(lines)


def _indent(text: str, width: int = 88) -> str:
    out: list[str] = []
    for line in text.strip().splitlines() or [""]:
        out += textwrap.wrap(line, width, initial_indent="  ", subsequent_indent="  ") or [""]
    return "\n".join(out)
