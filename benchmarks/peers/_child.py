"""One peer, one scenario, one repeat, in a fresh interpreter: the peer's side of a run.

The parent starts ``python -m benchmarks.peers._child --peer NAME --scenario S
--messages N --json-out PATH``; run by hand without ``--json-out`` it prints the
JSON. The metric names and units match the actorbus scenario's, so the parent can
put the two side by side.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from . import PEER_SCENARIOS, PEERS
from ._work import workload

__all__ = ["measure", "main"]

MICROS = 1e6


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def measure(adapter: ModuleType, scenario: str, messages: int) -> dict[str, float]:
    """Run ``scenario`` on the peer ``adapter``; return metric name -> figure."""
    w = workload(messages)
    if scenario == "throughput":
        return {"rate": w.messages / adapter.one_to_one(w.messages, w.warmup)}
    if scenario == "fanout":
        deliveries = w.publishes * 10
        return {"rate": deliveries / adapter.fan_out(w.publishes, w.publish_warmup)}
    if scenario == "ask":
        samples = adapter.ask(w.asks, w.ask_warmup)
        return {
            "p50": _percentile(samples, 50) * MICROS,
            "p99": _percentile(samples, 99) * MICROS,
        }
    if scenario == "actors":
        return {"bytes": adapter.idle_actors(w.actors)}
    raise ValueError(f"no peer scenario {scenario!r}; choose from {', '.join(PEER_SCENARIOS)}")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run one peer on one scenario once.")
    parser.add_argument("--peer", required=True, choices=[p.name for p in PEERS])
    parser.add_argument("--scenario", required=True, choices=PEER_SCENARIOS)
    parser.add_argument("-n", "--messages", type=int, default=200_000)
    parser.add_argument("--json-out", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, measure, and write (or print) the figures as JSON."""
    args = _parse(argv)
    peer = next(p for p in PEERS if p.name == args.peer)
    adapter = importlib.import_module(f"{__package__}.{peer.module}")
    data: dict[str, Any] = {
        "peer": peer.name,
        "scenario": args.scenario,
        "metrics": measure(adapter, args.scenario, args.messages),
        "how": adapter.HOW[args.scenario],
    }
    text = json.dumps(data) + "\n"
    if args.json_out is None:
        sys.stdout.write(text)
    else:
        args.json_out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
