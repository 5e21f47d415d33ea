"""The child side of a scenario: its command line, and helpers every scenario shares.

Each ``bench_*`` module ends with ``run_child(measure)``. The parent starts it as
``python -m benchmarks.bench_x --json-out PATH --messages N --backend B
--repeat-index I``; run by hand without ``--json-out`` it prints its JSON instead.

Both sides of a scenario run in the same process, one after the other. Which goes
first alternates with the repeat index, so a trend across a run (CPU frequency,
allocator warm-up) does not always favour the same side.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio

from ._results import ScenarioResult

__all__ = [
    "DEFAULT_MESSAGES",
    "ChildArgs",
    "collect",
    "parse_child_args",
    "percentile",
    "run_actorbus",
    "run_baseline",
    "run_child",
    "run_isolated",
    "run_pair",
]

T = TypeVar("T")

DEFAULT_MESSAGES = 200_000
"""The workload scale: 1->1 messages; other scenarios derive their sizes from it."""


@dataclass(frozen=True)
class ChildArgs:
    """The child's settings.

    Attributes:
        json_out: where to write the result, or None to print it.
        messages: the workload scale (see `DEFAULT_MESSAGES`).
        backend: the async library actorbus runs on (``asyncio`` or ``trio``).
        repeat_index: which repeat this is (0-based); picks which side runs first.
    """

    json_out: Path | None
    messages: int
    backend: str
    repeat_index: int


def parse_child_args(argv: Sequence[str] | None = None) -> ChildArgs:
    """Parse a scenario module's command line."""
    parser = argparse.ArgumentParser(description="Run one benchmark scenario once.")
    parser.add_argument("--json-out", type=Path, default=None, help="write the result here")
    parser.add_argument("-n", "--messages", type=int, default=DEFAULT_MESSAGES)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--repeat-index", type=int, default=0)
    ns = parser.parse_args(argv)
    if ns.messages < 100:
        parser.error("--messages must be at least 100")
    return ChildArgs(ns.json_out, ns.messages, ns.backend, ns.repeat_index)


def run_child(measure: Callable[[ChildArgs], ScenarioResult]) -> None:
    """Parse the command line, measure, and write (or print) the result as JSON."""
    args = parse_child_args()
    text = json.dumps(measure(args).to_json(), indent=2)
    if args.json_out is None:
        sys.stdout.write(text + "\n")
    else:
        args.json_out.write_text(text + "\n", encoding="utf-8")


def collect() -> None:
    """Collect garbage before a timed section (gc itself stays enabled while timing)."""
    gc.collect()


def run_actorbus(backend: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run the actorbus side of a scenario on ``backend`` in a fresh event loop."""
    return anyio.run(fn, backend=backend)


def run_baseline(fn: Callable[[], Awaitable[T]]) -> T:
    """Run the raw baseline in a fresh asyncio event loop (always asyncio)."""

    async def main() -> T:
        return await fn()

    return asyncio.run(main())


def run_pair(
    repeat_index: int, actorbus: Callable[[], T], baseline: Callable[[], T]
) -> tuple[T, T]:
    """Run both sides, baseline first on even repeats; return (actorbus, baseline)."""
    if repeat_index % 2 == 0:
        raw = baseline()
        ours = actorbus()
    else:
        ours = actorbus()
        raw = baseline()
    return ours, raw


def run_isolated(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` in a fresh interpreter and return its (picklable) result.

    For memory figures: one side's allocations (or the tables they grow) must not
    be left in the process the other side is measured in. ``fn`` must be a
    module-level function.
    """
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def percentile(samples: Sequence[float], pct: float) -> float:
    """Return the nearest-rank percentile ``pct`` (0-100] of ``samples``."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
