"""PNG charts of a run, written next to the Markdown report (needs matplotlib).

``chart-messaging.png`` puts actorbus, the raw asyncio floor and every peer side by
side: 1->1 and 1->10 throughput, ask latency percentiles and memory per idle
actor. Every other scenario gets ``chart-<scenario>.png``: actorbus against its
baseline, one panel per unit. matplotlib is optional (the ``bench`` extra);
without it `write_charts` writes nothing and says so.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._aggregate import MetricSummary, ScenarioSummary
from ._report import ratio_text
from .peers import PEER_SCENARIOS
from .peers._run import PeerSummary

__all__ = ["MESSAGING", "missing_matplotlib", "write_charts"]

MESSAGING = "chart-messaging.png"
FLOOR = "raw asyncio"
COLORS = {"actorbus": "#1f6feb", FLOOR: "#8b949e"}
PEER_COLORS = ("#d1242f", "#bf8700", "#8250df", "#1a7f37")
_PANEL = {"throughput": 0, "fanout": 1, "ask": 2, "actors": 3}


def missing_matplotlib() -> str | None:
    """Return a note if matplotlib is not installed, else None."""
    if importlib.util.find_spec("matplotlib") is None:
        return "charts skipped: matplotlib is not installed (pip install 'actorbus[bench]')"
    return None


def _short(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1e3:,.0f}k"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _color(name: str, peers: Sequence[str]) -> str:
    if name in COLORS:
        return COLORS[name]
    return PEER_COLORS[list(peers).index(name) % len(PEER_COLORS)]


def _sides(
    s: ScenarioSummary, m: MetricSummary, peers: Sequence[PeerSummary]
) -> list[tuple[str, float]]:
    theirs = [
        (p.peer, p.metrics[m.name].median)
        for p in peers
        if p.scenario == s.scenario and m.name in p.metrics
    ]
    return [("actorbus", m.actorbus.median), (FLOOR, m.baseline.median), *theirs]


def _bar_panel(ax: Any, title: str, m: MetricSummary, sides: list[tuple[str, float]]) -> None:
    names = [n for n, _ in sides]
    values = [v for _, v in sides]
    ours = values[0]
    bars = ax.bar(names, values, color=[_color(n, names) for n in names])
    for bar, value in zip(bars, values, strict=True):
        ratio = "" if value == ours else f"\n{ratio_text(ours / value)}"
        ax.annotate(f"{_short(value)}{ratio}", (bar.get_x() + bar.get_width() / 2, value),
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_yscale("log")
    ax.set_title(f"{title}: {m.label} ({'higher' if m.better == 'higher' else 'lower'} "
                 "is better)", fontsize=10)  # fmt: skip
    ax.set_ylabel(m.unit)
    ax.margins(y=0.25)
    ax.tick_params(axis="x", labelsize=8)


def _latency_panel(ax: Any, s: ScenarioSummary, peers: Sequence[PeerSummary]) -> None:
    by_pct = {m.name: _sides(s, m, peers) for m in s.metrics}
    names = [n for n, _ in next(iter(by_pct.values()))]
    width = 0.8 / len(by_pct)
    for i, (pct, sides) in enumerate(by_pct.items()):
        xs = [j + (i - (len(by_pct) - 1) / 2) * width for j in range(len(sides))]
        values = [v for _, v in sides]
        bars = ax.bar(xs, values, width, label=pct, alpha=1.0 if i == 0 else 0.55,
                      color=[_color(n, names) for n, _ in sides])  # fmt: skip
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(_short(value), (bar.get_x() + bar.get_width() / 2, value),
                        ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("us")
    ax.margins(y=0.2)
    ax.set_title(f"{s.title}: latency {' / '.join(by_pct)} (solid / light; lower is better)",
                 fontsize=10)  # fmt: skip


def _messaging(plt: Any, summaries: Sequence[ScenarioSummary], peers: Sequence[PeerSummary],
               path: Path) -> Path | None:  # fmt: skip
    shown = [s for s in summaries if s.scenario in PEER_SCENARIOS and s.metrics]
    if not shown:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax in axes.flat:
        ax.set_visible(False)
    for s in shown:
        ax = axes.flat[_PANEL[s.scenario]]
        ax.set_visible(True)
        if s.scenario == "ask":
            _latency_panel(ax, s, peers)
        else:
            _bar_panel(ax, s.title, s.metrics[0], _sides(s, s.metrics[0], peers))
    fig.suptitle("actorbus vs raw asyncio and peers, same run (ratio = actorbus / other)")
    return _save(plt, fig, path)


def _scenario_chart(plt: Any, s: ScenarioSummary, path: Path) -> Path:
    units = list(dict.fromkeys(m.unit for m in s.metrics))
    fig, axes = plt.subplots(len(units), 1, figsize=(10, 1.2 + 1.1 * len(s.metrics)),
                             squeeze=False)  # fmt: skip
    for ax, unit in zip(axes[:, 0], units, strict=True):
        metrics = [m for m in s.metrics if m.unit == unit]
        ys = range(len(metrics))
        ax.barh([y + 0.2 for y in ys], [m.actorbus.median for m in metrics], 0.4,
                color=COLORS["actorbus"], label="actorbus")  # fmt: skip
        ax.barh([y - 0.2 for y in ys], [m.baseline.median for m in metrics], 0.4,
                color=COLORS[FLOOR], label="baseline")  # fmt: skip
        ax.set_yticks(list(ys), [f"{m.label}\n{m.ratio.median:.2f}x" for m in metrics],
                      fontsize=8)  # fmt: skip
        ax.set_xlabel(unit)
        ax.invert_yaxis()
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{s.title}: actorbus vs its baseline (median of repeats)")
    return _save(plt, fig, path)


_POINT = re.compile(r"(?P<curve>[a-z]+)_(?P<variant>[a-z]+)_n(?P<n>\d+)\Z")
_CURVES = {"actors": "number of actors", "subs": "unrelated subscriptions (patterns)"}


def _curves(s: ScenarioSummary) -> dict[str, dict[str, list[tuple[int, MetricSummary]]]]:
    """Group metrics named ``<curve>_<variant>_n<N>`` into curves: curve -> variant -> points."""
    found: dict[str, dict[str, list[tuple[int, MetricSummary]]]] = {}
    for m in s.metrics:
        point = _POINT.match(m.name)
        if point is None:
            return {}  # not a scenario of curves
        variants = found.setdefault(point["curve"], {})
        variants.setdefault(point["variant"], []).append((int(point["n"]), m))
    return found


def _curve_chart(plt: Any, s: ScenarioSummary, curves: dict[str, Any], path: Path) -> Path:
    # One panel per curve: actorbus (solid) and its baseline (dashed) per variant,
    # against the point count on a log scale, so a flat line is a cost that does
    # not grow with the count.
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4.8), squeeze=False)
    for ax, (curve, variants) in zip(axes[0], curves.items(), strict=True):
        for i, (variant, points) in enumerate(variants.items()):
            points.sort(key=lambda point: point[0])
            xs = [n for n, _ in points]
            color = f"C{i}"
            ax.plot(xs, [m.actorbus.median for _, m in points], "o-", color=color,
                    label=f"actorbus, {variant}")  # fmt: skip
            ax.plot(xs, [m.baseline.median for _, m in points], "s--", color=color,
                    alpha=0.6, label=f"baseline, {variant}")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(_CURVES.get(curve, curve))
        ax.set_ylabel(points[0][1].unit)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{s.title}: actorbus (solid) vs its baseline (dashed), median of repeats")
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_charts(
    directory: Path, summaries: Sequence[ScenarioSummary], peers: Sequence[PeerSummary]
) -> list[Path]:
    """Write the charts into ``directory``; return their paths (none without matplotlib)."""
    if missing_matplotlib() is not None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = [_messaging(plt, summaries, peers, directory / MESSAGING)]
    for s in summaries:
        if s.scenario in PEER_SCENARIOS or not s.metrics:
            continue
        path = directory / f"chart-{s.scenario}.png"
        curves = _curves(s)
        written.append(
            _curve_chart(plt, s, curves, path) if curves else _scenario_chart(plt, s, path)
        )
    return [p for p in written if p is not None]
