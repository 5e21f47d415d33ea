"""Run scenarios: one fresh subprocess per scenario and repeat, results read from JSON.

A fresh interpreter per repeat keeps memory figures clean (nothing left from an
earlier scenario) and makes repeats independent. A child that fails or times out
stops its scenario, not the run: the error is reported in its place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._aggregate import ScenarioSummary, failed, summarize
from ._progress import Progress
from ._results import ScenarioResult

__all__ = [
    "SCENARIOS",
    "ChildFailed",
    "RunSettings",
    "run_all",
    "run_json_child",
    "run_once",
    "scenario_names",
]

SCENARIOS = {
    "throughput": "bench_throughput",
    "fanout": "bench_fanout",
    "ask": "bench_ask",
    "actors": "bench_actors",
    "sqlite": "bench_sqlite",
    "durability": "bench_durability",
    "durable-e2e": "bench_durable_e2e",
    "models": "bench_models",
    "tools": "bench_tools",
    "state": "bench_state",
    "coordinator": "bench_coordinator",
    "pipeline": "bench_pipeline",
    "scaling": "bench_scaling",
    "jetstream": "bench_jetstream",
    "jetstream-e2e": "bench_jetstream_e2e",
    "viewer": "bench_viewer",
}
"""Scenario name -> module in this package, in the order they run."""

ROOT = Path(__file__).resolve().parent.parent


class ChildFailed(Exception):
    """A scenario's subprocess failed."""


@dataclass(frozen=True)
class RunSettings:
    """What to run and how.

    Attributes:
        scenarios: scenario names, in order.
        repeat: repeats per scenario.
        messages: the workload scale passed to every scenario.
        backend: the async library actorbus runs on.
        timeout: seconds one child may take.
    """

    scenarios: tuple[str, ...]
    repeat: int
    messages: int
    backend: str
    timeout: float


def _command(module: str, out: Path, settings: RunSettings, index: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        f"{__package__}.{module}",
        "--json-out",
        str(out),
        "--messages",
        str(settings.messages),
        "--backend",
        settings.backend,
        "--repeat-index",
        str(index),
    ]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_once(scenario: str, settings: RunSettings, index: int, tmp: Path) -> ScenarioResult:
    """Run one repeat of ``scenario`` in a subprocess and return its result."""
    out = tmp / f"{scenario}-{index}.json"
    cmd = _command(SCENARIOS[scenario], out, settings, index)
    return ScenarioResult.from_json(run_json_child(cmd, out, settings.timeout))


def run_json_child(cmd: list[str], out: Path, timeout: float) -> dict[str, Any]:
    """Run a child that writes its result as JSON to ``out``; return that JSON.

    Raises:
        ChildFailed: it timed out or exited non-zero (with the tail of its stderr).
    """
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"timed out after {timeout:g}s") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"exit status {proc.returncode}:\n{tail}")
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def _run_scenario(
    scenario: str, settings: RunSettings, progress: Progress, tmp: Path
) -> ScenarioSummary:
    runs: list[ScenarioResult] = []
    for index in range(settings.repeat):
        label = f"{scenario} {index + 1}/{settings.repeat}"
        progress.start(label)
        began = time.perf_counter()
        try:
            runs.append(run_once(scenario, settings, index, tmp))
        except ChildFailed as exc:
            progress.step(label, time.perf_counter() - began, ok=False)
            progress.done += settings.repeat - index - 1
            return failed(scenario, settings.backend, str(exc))
        progress.step(label, time.perf_counter() - began)
    return summarize(runs)


def run_all(
    settings: RunSettings, progress: Progress | None = None, *, close: bool = True
) -> list[ScenarioSummary]:
    """Run every selected scenario ``settings.repeat`` times; summarize each.

    ``close=False`` leaves the progress bar open for more steps (the peers).
    """
    progress = progress or Progress(len(settings.scenarios) * settings.repeat)
    with tempfile.TemporaryDirectory(prefix="actorbus-bench-") as tmp:
        summaries = [
            _run_scenario(name, settings, progress, Path(tmp)) for name in settings.scenarios
        ]
    if close:
        progress.close()
    return summaries


def scenario_names(requested: Sequence[str] | None) -> tuple[str, ...]:
    """Return the scenarios to run, in run order (all when none are requested)."""
    if not requested:
        return tuple(SCENARIOS)
    wanted = set(requested)
    return tuple(name for name in SCENARIOS if name in wanted)
