"""The parent side of the peers: run each installed peer on each peer scenario.

Every repeat of every peer runs in a fresh interpreter, as the actorbus scenarios
do, so one runtime's threads, tables and caches never touch another's figures.
A peer that is not installed, or that fails, is reported in its place; the run
goes on.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .._aggregate import Spread
from .._progress import Progress
from .._runner import ChildFailed, RunSettings, run_json_child
from . import PEER_SCENARIOS, PEERS, Peer, installed

__all__ = ["PeerSummary", "peer_steps", "run_peers", "selected"]

INSTALL_HINT = "not installed (pip install 'actorbus[bench]')"


@dataclass(frozen=True)
class PeerSummary:
    """One peer on one scenario over all repeats.

    Attributes:
        peer: the peer's name.
        scenario: the actorbus scenario it mirrors.
        version: its installed version, or None if it is not installed.
        how: how the adapter drives it (from the adapter's ``HOW``).
        metrics: metric name -> median and range over repeats.
        error: why it has no figures (not installed, or the failure), else None.
    """

    peer: str
    scenario: str
    version: str | None
    how: str = ""
    metrics: dict[str, Spread] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the summary as plain JSON types."""
        metrics = {name: {**vars(s)} for name, s in self.metrics.items()}
        return {**vars(self), "metrics": metrics}


def selected(settings: RunSettings) -> tuple[str, ...]:
    """Return the selected scenarios that peers also run."""
    return tuple(s for s in settings.scenarios if s in PEER_SCENARIOS)


def peer_steps(settings: RunSettings) -> int:
    """Return how many subprocesses `run_peers` will start (for the progress bar)."""
    return len(selected(settings)) * sum(installed(p) for p in PEERS) * settings.repeat


def _command(peer: Peer, scenario: str, settings: RunSettings, out: Path) -> list[str]:
    return [
        sys.executable, "-m", f"{__package__}._child", "--peer", peer.name,
        "--scenario", scenario, "--messages", str(settings.messages), "--json-out", str(out),
    ]  # fmt: skip


def _run_once(peer: Peer, scenario: str, settings: RunSettings, out: Path) -> dict[str, Any]:
    return run_json_child(_command(peer, scenario, settings, out), out, settings.timeout)


def _run_peer(
    peer: Peer, scenario: str, settings: RunSettings, progress: Progress, tmp: Path
) -> PeerSummary:
    version = metadata.version(peer.dist)
    runs: list[dict[str, Any]] = []
    for index in range(settings.repeat):
        label = f"{scenario} on {peer.name} {index + 1}/{settings.repeat}"
        progress.start(label)
        began = time.perf_counter()
        try:
            runs.append(_run_once(peer, scenario, settings, tmp / f"{peer.module}-{index}.json"))
        except ChildFailed as exc:
            progress.step(label, time.perf_counter() - began, ok=False)
            progress.done += settings.repeat - index - 1
            return PeerSummary(peer.name, scenario, version, error=str(exc))
        progress.step(label, time.perf_counter() - began)
    names = runs[0]["metrics"]
    metrics = {n: Spread.of([float(r["metrics"][n]) for r in runs]) for n in names}
    return PeerSummary(peer.name, scenario, version, runs[0]["how"], metrics)


def run_peers(settings: RunSettings, progress: Progress) -> list[PeerSummary]:
    """Run every peer on every selected peer scenario, ``settings.repeat`` times each."""
    summaries: list[PeerSummary] = []
    with tempfile.TemporaryDirectory(prefix="actorbus-peers-") as tmp:
        for scenario in selected(settings):
            for peer in PEERS:
                if not installed(peer):
                    summaries.append(PeerSummary(peer.name, scenario, None, error=INSTALL_HINT))
                    continue
                summaries.append(_run_peer(peer, scenario, settings, progress, Path(tmp)))
    return summaries
