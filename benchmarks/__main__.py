"""``python -m benchmarks``: run the scenarios and report actorbus against raw asyncio.

Examples (from the repository root)::

    python -m benchmarks                      # every scenario, 5 repeats
    python -m benchmarks -b ask -b actors     # some scenarios
    python -m benchmarks --quick              # a smoke run in a few seconds
    python -m benchmarks --markdown benchmarks/RESULTS.md --json benchmarks/out/results.json
    python -m benchmarks --versions           # the machine and versions, then exit

The table goes to stdout, progress to stderr. The exit status is 1 if a scenario
failed to run; a missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._child import DEFAULT_MESSAGES
from ._machine import machine_info
from ._progress import Progress
from ._report import markdown_report, text_table, write_json, write_markdown
from ._runner import SCENARIOS, RunSettings, run_all, scenario_names

QUICK_MESSAGES = 10_000
QUICK_REPEAT = 1
DEFAULT_REPEAT = 5


def _scenario(value: str) -> str:
    name = value.removesuffix(".py")
    modules = {module: scenario for scenario, module in SCENARIOS.items()}
    name = modules.get(name, modules.get(f"bench_{name}", name))
    if name not in SCENARIOS:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {value!r}; choose from {', '.join(SCENARIOS)}"
        )
    return name


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark actorbus against raw asyncio baselines, in the same run.",
    )
    _add_workload_options(parser)
    _add_output_options(parser)
    return parser


def _add_workload_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-b",
        "--bench-name",
        action="append",
        type=_scenario,
        metavar="NAME",
        help=f"a scenario to run (repeatable; default all): {', '.join(SCENARIOS)}",
    )
    add(
        "--repeat",
        type=_positive,
        default=None,
        help=f"repeats per scenario (default {DEFAULT_REPEAT}; {QUICK_REPEAT} with --quick)",
    )
    add(
        "-n",
        "--messages",
        type=_positive,
        default=None,
        help=f"workload scale (default {DEFAULT_MESSAGES:,}): 1->1 messages and fan-out "
        "deliveries; asks = N/10; actors = N/20; durable appends = N/100, N/10, N/2 "
        "for 1, 10, 100 publishers",
    )
    add(
        "--quick",
        action="store_true",
        help=f"a smoke run: -n {QUICK_MESSAGES:,} and {QUICK_REPEAT} repeat unless given",
    )
    add(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="async library for the actorbus side (baselines always use asyncio)",
    )
    add("--timeout", type=float, default=600.0, help="seconds one subprocess may take")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--json", type=Path, metavar="PATH", help="write machine-readable results here")
    add("--markdown", type=Path, metavar="PATH", help="write a Markdown report here")
    add("--versions", action="store_true", help="print the machine and versions, then exit")


def settings_from(args: argparse.Namespace) -> RunSettings:
    """Turn parsed arguments into run settings, applying ``--quick`` defaults."""
    repeat = args.repeat or (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    messages = args.messages or (QUICK_MESSAGES if args.quick else DEFAULT_MESSAGES)
    return RunSettings(
        scenarios=scenario_names(args.bench_name),
        repeat=repeat,
        messages=messages,
        backend=args.backend,
        timeout=args.timeout,
    )


def _print_machine(machine: dict[str, Any]) -> None:
    for key, value in machine.items():
        shown = (
            ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        )
        print(f"{key}: {shown}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness; return the exit status."""
    args = build_parser().parse_args(argv)
    settings = settings_from(args)
    machine = machine_info(settings.backend)
    _print_machine(machine)
    if args.versions:
        return 0
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    progress = Progress(len(settings.scenarios) * settings.repeat)
    summaries = run_all(settings, progress)
    print()
    print(text_table(summaries))
    report_settings = {**vars(settings), "scenarios": list(settings.scenarios)}
    if args.json is not None:
        write_json(args.json, summaries, machine, report_settings, command)
    if args.markdown is not None:
        generated = markdown_report(summaries, machine, report_settings, command)
        write_markdown(args.markdown, generated)
    return 1 if any(s.error is not None for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
