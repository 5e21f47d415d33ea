"""The benchmark harness runs end to end (a smoke run: it measures nothing here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_reports_every_scenario_with_its_baseline(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    report = tmp_path / "report.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out),
         "--markdown", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    scenarios = {s["scenario"]: s for s in json.loads(out.read_text())["scenarios"]}
    assert set(scenarios) == {
        "throughput", "fanout", "ask", "actors", "sqlite", "durable-e2e", "models",
        "state", "coordinator", "jetstream", "jetstream-e2e",
    }  # fmt: skip
    for name, scenario in scenarios.items():
        assert scenario["error"] is None, name
        for metric in scenario["metrics"]:
            assert metric["actorbus"]["median"] > 0, (name, metric["name"])
            assert metric["baseline"]["median"] > 0, (name, metric["name"])
            assert metric["ratio"]["median"] > 0, (name, metric["name"])
    table = report.read_text()
    assert "1->1" in table or "1→1" in table
