"""What one scenario run measures: metrics with their baseline and target, as JSON.

A child process builds a `ScenarioResult` and writes it with `ScenarioResult.to_json`;
the parent reads it back with `ScenarioResult.from_json`. Only plain JSON types
cross the process boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Better", "Metric", "ScenarioResult", "Target", "TargetKind"]

Better = Literal["higher", "lower"]
TargetKind = Literal["ratio_min", "ratio_max", "actorbus_max", "actorbus_min"]


@dataclass(frozen=True)
class Target:
    """A goal for one metric.

    Attributes:
        kind: ``ratio_min`` (actorbus/baseline must be at least ``value``),
            ``ratio_max`` (at most ``value``), ``actorbus_max`` (the actorbus
            figure itself must be at most ``value``, in the metric's unit), or
            ``actorbus_min`` (the actorbus figure must be more than ``value``).
        value: the threshold.
    """

    kind: TargetKind
    value: float

    def describe(self, unit: str) -> str:
        """Return the target as a short phrase, such as ``>= 0.5x raw``."""
        if self.kind == "ratio_min":
            return f">= {self.value:g}x raw"
        if self.kind == "ratio_max":
            return f"<= {self.value:g}x raw"
        if self.kind == "actorbus_min":
            return f"> {self.value:,g} {unit}"
        return f"<= {self.value:g} {unit}"

    def met(self, actorbus: float, ratio: float) -> bool:
        """Tell whether the given actorbus figure and ratio meet the target."""
        if self.kind == "ratio_min":
            return ratio >= self.value
        if self.kind == "ratio_max":
            return ratio <= self.value
        if self.kind == "actorbus_min":
            return actorbus > self.value
        return actorbus <= self.value


@dataclass(frozen=True)
class Metric:
    """One figure measured on actorbus and on the raw baseline in the same process.

    Attributes:
        name: a short key, such as ``rate`` or ``p99``.
        label: what it is, for the table.
        unit: the unit of both figures.
        better: whether a higher or a lower figure is better.
        actorbus: the actorbus figure.
        baseline: the raw baseline figure.
        target: the goal, if there is one.
    """

    name: str
    label: str
    unit: str
    better: Better
    actorbus: float
    baseline: float
    target: Target | None = None

    @property
    def ratio(self) -> float:
        """actorbus / baseline (inf if the baseline is 0)."""
        return self.actorbus / self.baseline if self.baseline else float("inf")

    def to_json(self) -> dict[str, Any]:
        """Return the metric as plain JSON types."""
        target = None if self.target is None else {**vars(self.target)}
        return {**vars(self), "target": target, "ratio": self.ratio}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metric:
        """Rebuild a metric written by `to_json`."""
        raw = data.get("target")
        target = None if raw is None else Target(raw["kind"], float(raw["value"]))
        return cls(
            name=data["name"],
            label=data["label"],
            unit=data["unit"],
            better=data["better"],
            actorbus=float(data["actorbus"]),
            baseline=float(data["baseline"]),
            target=target,
        )


@dataclass(frozen=True)
class ScenarioResult:
    """Everything one repeat of one scenario measured.

    Attributes:
        scenario: the scenario's key, such as ``throughput``.
        title: a short human title, such as ``1->1 publish``.
        backend: the async library actorbus ran on (the baseline is always asyncio).
        workload: the sizes used (messages, asks, actors...).
        metrics: the measured figures.
        extra: scenario-specific details for the JSON and Markdown reports.
    """

    scenario: str
    title: str
    backend: str
    workload: dict[str, int]
    metrics: list[Metric]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the result as plain JSON types."""
        return {**vars(self), "metrics": [m.to_json() for m in self.metrics]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioResult:
        """Rebuild a result written by `to_json`."""
        return cls(
            scenario=data["scenario"],
            title=data["title"],
            backend=data["backend"],
            workload={k: int(v) for k, v in data["workload"].items()},
            metrics=[Metric.from_json(m) for m in data["metrics"]],
            extra=dict(data.get("extra", {})),
        )
