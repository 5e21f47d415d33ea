"""Render results: plain-text tables for the terminal, JSON, and a Markdown report.

Two tables: actorbus against its raw baseline for every scenario, and, for the
scenarios peers also run, actorbus beside the raw asyncio floor and each peer,
every figure with the ratio actorbus / that figure.

The Markdown report is generated whole, except for a hand-written reading of the
numbers: everything after the `KEEP_MARKER` line of an existing report is kept
when the report is written again.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._aggregate import MetricSummary, ScenarioSummary, Spread
from .peers import PEERS
from .peers._run import PeerSummary

__all__ = [
    "KEEP_MARKER",
    "markdown_report",
    "peer_table",
    "ratio_text",
    "text_table",
    "write_json",
    "write_markdown",
]

KEEP_MARKER = "<!-- Hand-written below this line; kept when the report is regenerated. -->"
HEADERS = ("scenario", "metric", "actorbus", "raw baseline", "ratio a/b", "better", "target")
_HERE = Path(__file__).resolve().parent


def _number(value: float, unit: str) -> str:
    if unit.endswith("/s"):
        return f"{value / 1e3:,.0f}k" if value >= 10_000 else f"{value:,.0f}"
    if unit in ("us", "ms"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _spread(spread: Spread, unit: str) -> str:
    low, high = _number(spread.low, unit), _number(spread.high, unit)
    return f"{_number(spread.median, unit)} {unit} ({low}..{high})"


def _ratio(spread: Spread) -> str:
    return f"{spread.median:.2f}x ({spread.low:.2f}..{spread.high:.2f})"


def _verdict(m: MetricSummary) -> str:
    if m.target is None:
        return "-"
    return f"{m.target.describe(m.unit)}: {'PASS' if m.passed else 'MISS'}"


def _rows(summaries: Sequence[ScenarioSummary]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for s in summaries:
        if s.error is not None:
            rows.append((s.title, "ERROR", s.error.splitlines()[-1][:60], "", "", "", ""))
        rows.extend(
            (
                s.title,
                m.label,
                _spread(m.actorbus, m.unit),
                _spread(m.baseline, m.unit),
                _ratio(m.ratio),
                m.better,
                _verdict(m),
            )
            for m in s.metrics
        )
    return rows


def _aligned(headers: tuple[str, ...], body: list[tuple[str, ...]]) -> str:
    rows = [headers, *body]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def text_table(summaries: Sequence[ScenarioSummary]) -> str:
    """Return the results as an aligned plain-text table."""
    return _aligned(HEADERS, _rows(summaries))


def _markdown(headers: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return lines


def _markdown_table(summaries: Sequence[ScenarioSummary]) -> list[str]:
    return _markdown(HEADERS, _rows(summaries))


def _peer_headers() -> tuple[str, ...]:
    return ("scenario", "metric", "actorbus", "raw asyncio (floor)", *(p.name for p in PEERS))


def ratio_text(ratio: float) -> str:
    """Return a ratio as ``0.38x``, ``7.2x`` or ``110x`` (never in exponent form)."""
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def _versus(ours: float, theirs: float, unit: str) -> str:
    ratio = ours / theirs if theirs else float("inf")
    return f"{_number(theirs, unit)} {unit} ({ratio_text(ratio)})"


def _peer_cell(
    s: ScenarioSummary, m: MetricSummary, name: str, peers: Sequence[PeerSummary]
) -> str:
    found = next((p for p in peers if p.peer == name and p.scenario == s.scenario), None)
    if found is None:
        return "-"
    if found.version is None:
        return "not installed"
    if found.error is not None:
        return "ERROR " + found.error.splitlines()[-1][:50]
    spread = found.metrics.get(m.name)
    return "-" if spread is None else _versus(m.actorbus.median, spread.median, m.unit)


def _peer_rows(
    summaries: Sequence[ScenarioSummary], peers: Sequence[PeerSummary]
) -> list[tuple[str, ...]]:
    scenarios = {p.scenario for p in peers}
    return [
        (
            s.title,
            m.label,
            f"{_number(m.actorbus.median, m.unit)} {m.unit}",
            _versus(m.actorbus.median, m.baseline.median, m.unit),
            *(_peer_cell(s, m, peer.name, peers) for peer in PEERS),
        )
        for s in summaries
        if s.scenario in scenarios
        for m in s.metrics
    ]


def peer_table(summaries: Sequence[ScenarioSummary], peers: Sequence[PeerSummary]) -> str:
    """Return actorbus beside the floor and each peer as an aligned plain-text table."""
    return _aligned(_peer_headers(), _peer_rows(summaries, peers))


def _how(peers: Sequence[PeerSummary]) -> list[str]:
    lines: list[str] = []
    for peer in PEERS:
        runs = [p for p in peers if p.peer == peer.name]
        version = next((p.version for p in runs if p.version), None)
        if version is None:
            lines.append(f"- **{peer.name}**: not installed (`pip install 'actorbus[bench]'`)")
            continue
        lines.append(f"- **{peer.name} {version}**")
        lines += [f"  - {p.scenario}: {p.how or p.error}" for p in runs]
    return lines


def _peer_section(summaries: Sequence[ScenarioSummary], peers: Sequence[PeerSummary]) -> list[str]:
    if not peers:
        return []
    lines = ["", "## Peers", "", "The same work on other runtimes, in the same run, each "]
    lines[-1] += "repeat in a fresh interpreter. Each cell: median over repeats (actorbus / "
    lines[-1] += "that figure). The floor is the raw asyncio baseline of each scenario."
    lines += ["", *_markdown(_peer_headers(), _peer_rows(summaries, peers)), ""]
    lines += ["How each peer is driven (public API, fastest documented way):", "", *_how(peers)]
    return lines


def _chart_section(charts: Sequence[str]) -> list[str]:
    if not charts:
        return []
    lines = ["", "## Charts", ""]
    for chart in charts:
        lines += [f"![{chart}]({chart})", ""] if chart.endswith(".png") else [f"- {chart}", ""]
    return lines


def _backend_note(backend: str) -> list[str]:
    if backend == "asyncio":
        return []
    return [
        f"- Note: the ratios compare actorbus on {backend} with raw asyncio, so they include "
        f"{backend}'s own scheduling cost, not only actorbus's"
    ]


def _machine_lines(machine: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    return [
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; {machine['os']}",
        f"- Python: {machine['python']}; {versions}",
        f"- actorbus source: git {machine['actorbus_source']}",
        f"- Load average at start: {machine['load_average']}; run at {machine['date']}",
        f"- actorbus backend: {settings['backend']} (the raw baselines always run on asyncio)",
        f"- Repeats: {settings['repeat']} (one fresh subprocess each); workload scale "
        f"-n {settings['messages']:,}",
        "- Timing: `time.perf_counter`; gc left enabled (a `gc.collect()` before each "
        "timed section); memory: `tracemalloc` snapshots",
        *_backend_note(settings["backend"]),
    ]


def _details(summaries: Sequence[ScenarioSummary]) -> list[str]:
    lines: list[str] = []
    for s in summaries:
        if s.error is not None or not s.runs:
            continue
        lines += _scenario_details(s)
    return lines


def _scenario_details(s: ScenarioSummary) -> list[str]:
    workload = ", ".join(f"{k} {v:,}" for k, v in s.workload.items())
    lines = [f"- **{s.title}** ({workload})"]
    for key, value in s.runs[0].extra.items():
        median = s.extra_median(key)
        if median is not None:
            lines.append(f"  - {key.replace('_', ' ')}: {median:,.1f} (median)")
        elif key.endswith("top_sites") and isinstance(value, list):
            lines += _sites(key, value)
    return lines


def _sites(key: str, sites: list[dict[str, Any]]) -> list[str]:
    side = key.removesuffix("_top_sites")
    parts = [f"`{d['site']}` {d['bytes_per_actor']:,.0f} B" for d in sites]
    return [f"  - {side} biggest allocation sites per actor (first repeat): " + ", ".join(parts)]


def _method(summaries: Sequence[ScenarioSummary]) -> list[str]:
    lines: list[str] = []
    for s in summaries:
        path = _HERE / f"bench_{s.scenario.replace('-', '_')}.py"
        if not path.exists():
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        lines += [f"### {s.title} (`benchmarks/{path.name}`)", "", doc, ""]
    return lines


def markdown_report(
    summaries: Sequence[ScenarioSummary],
    machine: dict[str, Any],
    settings: dict[str, Any],
    command: str,
    peers: Sequence[PeerSummary] = (),
    charts: Sequence[str] = (),
) -> str:
    """Return the generated part of the Markdown report.

    ``charts`` are chart file names next to the report (or a note why there are none).
    """
    lines = ["# actorbus benchmarks", "", "Command (from the repository root):", ""]
    lines += ["```", command, "```", "", "## Machine", "", *_machine_lines(machine, settings)]
    lines += ["", "## Results", "", "Each cell: median over repeats (min..max). The ratio "]
    lines[-1] += "is actorbus / raw baseline of those medians (range: the per-repeat ratios)."
    lines += ["", *_markdown_table(summaries), *_peer_section(summaries, peers)]
    lines += [*_chart_section(charts), "", "## Details", "", *_details(summaries)]
    lines += ["", "## Method", "", *_method(summaries)]
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(path: Path, generated: str) -> None:
    """Write the report, keeping a hand-written reading after `KEEP_MARKER`."""
    kept = f"\n{KEEP_MARKER}\n"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if KEEP_MARKER in old:
            kept = "\n" + KEEP_MARKER + old.split(KEEP_MARKER, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generated + kept, encoding="utf-8")


def write_json(
    path: Path,
    summaries: Sequence[ScenarioSummary],
    machine: dict[str, Any],
    settings: dict[str, Any],
    command: str,
    peers: Sequence[PeerSummary] = (),
) -> None:
    """Write machine-readable results: machine, settings, every scenario, repeat and peer."""
    data = {
        "command": command,
        "machine": machine,
        "settings": settings,
        "scenarios": [s.to_json() for s in summaries],
        "peers": [p.to_json() for p in peers],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
