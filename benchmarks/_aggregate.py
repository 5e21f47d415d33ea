"""Combine the repeats of a scenario: median and min..max of each figure, then targets.

Each figure is the median over repeats (for latency, each repeat's own p50/p99
first). The ratio is the ratio of those medians, so a reader can check it from
the two figures beside it; its range is the min..max of the per-repeat ratios
(both sides of a repeat ran in the same process, a moment apart). Targets are
judged on the medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._results import Better, Metric, ScenarioResult, Target

__all__ = ["MetricSummary", "ScenarioSummary", "Spread", "failed", "summarize"]


@dataclass(frozen=True)
class Spread:
    """The median and the range of one figure over the repeats."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarize ``values`` (at least one)."""
        return cls(statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class MetricSummary:
    """One metric over all repeats.

    Attributes:
        passed: whether the medians meet the target; None without a target.
    """

    name: str
    label: str
    unit: str
    better: Better
    actorbus: Spread
    baseline: Spread
    ratio: Spread
    target: Target | None
    passed: bool | None


@dataclass(frozen=True)
class ScenarioSummary:
    """One scenario over all repeats, or the error that stopped it.

    Attributes:
        runs: each repeat's raw result, for the JSON report.
    """

    scenario: str
    title: str
    backend: str
    workload: dict[str, int]
    metrics: list[MetricSummary]
    runs: list[ScenarioResult] = field(default_factory=list)
    error: str | None = None

    def extra_median(self, key: str) -> float | None:
        """Return the median over repeats of a numeric ``extra`` entry, if present."""
        values = [r.extra[key] for r in self.runs if isinstance(r.extra.get(key), int | float)]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        """Return the summary, with every repeat, as plain JSON types."""
        return {
            "scenario": self.scenario,
            "title": self.title,
            "backend": self.backend,
            "workload": self.workload,
            "error": self.error,
            "metrics": [_metric_json(m) for m in self.metrics],
            "repeats": [r.to_json() for r in self.runs],
        }


def _metric_json(m: MetricSummary) -> dict[str, Any]:
    target = None if m.target is None else {**vars(m.target)}
    data = {**vars(m), "target": target}
    for key in ("actorbus", "baseline", "ratio"):
        data[key] = {**vars(getattr(m, key))}
    return data


def _summarize_metric(repeats: list[Metric]) -> MetricSummary:
    first = repeats[0]
    ours = Spread.of([m.actorbus for m in repeats])
    raw = Spread.of([m.baseline for m in repeats])
    ratios = [m.ratio for m in repeats]
    middle = ours.median / raw.median if raw.median else float("inf")
    ratio = Spread(middle, min(ratios), max(ratios))
    passed = None if first.target is None else first.target.met(ours.median, ratio.median)
    return MetricSummary(
        first.name, first.label, first.unit, first.better, ours, raw, ratio, first.target, passed
    )


def summarize(runs: list[ScenarioResult]) -> ScenarioSummary:
    """Combine the repeats of one scenario (at least one)."""
    first = runs[0]
    metrics = [
        _summarize_metric([run.metrics[i] for run in runs]) for i in range(len(first.metrics))
    ]
    return ScenarioSummary(
        first.scenario, first.title, first.backend, first.workload, metrics, list(runs)
    )


def failed(scenario: str, backend: str, error: str) -> ScenarioSummary:
    """Return the summary of a scenario that could not run."""
    return ScenarioSummary(scenario, scenario, backend, {}, [], [], error)
