"""``python -m benchmarks`` (or ``actorbus bench``): actorbus against raw asyncio and peers.

Examples (from the repository root; ``actorbus bench`` takes the same options)::

    python -m benchmarks                      # every scenario, 5 repeats, with peers
    python -m benchmarks -b ask -b actors     # some scenarios
    python -m benchmarks --quick              # a smoke run in a few seconds
    python -m benchmarks --markdown benchmarks/RESULTS.md --json benchmarks/out/results.json
    python -m benchmarks --versions           # the machine and versions, then exit

The tables go to stdout, progress to stderr. With ``--markdown PATH`` the PNG
charts are written next to PATH (when matplotlib is installed). The exit status
is 1 if a scenario or an installed peer failed to run; a missed target is
reported, not an error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._aggregate import ScenarioSummary
from ._charts import missing_matplotlib, write_charts
from ._child import DEFAULT_MESSAGES
from ._machine import machine_info
from ._progress import Progress
from ._report import markdown_report, peer_table, text_table, write_json, write_markdown
from ._runner import SCENARIOS, RunSettings, run_all, scenario_names
from .peers import PEER_SCENARIOS
from .peers._run import PeerSummary, peer_steps, run_peers

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


def build_parser(prog: str = "python -m benchmarks") -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Benchmark actorbus against raw asyncio baselines and peer runtimes "
        "(autogen-core, pykka, thespian; pip install 'actorbus[bench]'), in the same run.",
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
    add(
        "--no-peers",
        action="store_true",
        help=f"skip the peer runtimes (they run the {', '.join(PEER_SCENARIOS)} scenarios)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--json", type=Path, metavar="PATH", help="write machine-readable results here")
    add(
        "--markdown",
        type=Path,
        metavar="PATH",
        help="write a Markdown report here, and its PNG charts in the same directory",
    )
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


def _run(settings: RunSettings, peers: bool) -> tuple[list[ScenarioSummary], list[PeerSummary]]:
    steps = len(settings.scenarios) * settings.repeat
    progress = Progress(steps + (peer_steps(settings) if peers else 0))
    summaries = run_all(settings, progress, close=False)
    peer_results = run_peers(settings, progress) if peers else []
    progress.close()
    return summaries, peer_results


def _charts(path: Path, summaries: list[ScenarioSummary], peers: list[PeerSummary]) -> list[str]:
    note = missing_matplotlib()
    if note is not None:
        print(note, file=sys.stderr)
        return [note]
    written = write_charts(path.parent, summaries, peers)
    return [p.name for p in written]


def main(argv: Sequence[str] | None = None, prog: str = "python -m benchmarks") -> int:
    """Run the harness; return the exit status."""
    args = build_parser(prog).parse_args(argv)
    settings = settings_from(args)
    machine = machine_info(settings.backend)
    _print_machine(machine)
    if args.versions:
        return 0
    command = shlex.join([*shlex.split(prog), *(sys.argv[1:] if argv is None else argv)])
    summaries, peers = _run(settings, peers=not args.no_peers)
    print()
    print(text_table(summaries))
    if peers:
        print()
        print(peer_table(summaries, peers))
    report_settings = {**vars(settings), "scenarios": list(settings.scenarios)}
    if args.json is not None:
        write_json(args.json, summaries, machine, report_settings, command, peers)
    if args.markdown is not None:
        charts = _charts(args.markdown, summaries, peers)
        generated = markdown_report(summaries, machine, report_settings, command, peers, charts)
        write_markdown(args.markdown, generated)
    failures = [s.error for s in summaries] + [p.error for p in peers if p.version]
    return 1 if any(e is not None for e in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
