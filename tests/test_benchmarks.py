"""The benchmark harness runs end to end (a smoke run: it measures nothing here)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)  # 10-20 s here, in 14 subprocesses: safety nets far above
def test_quick_run_reports_every_scenario_with_its_baseline(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    report = tmp_path / "report.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out),
         "--markdown", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    scenarios = {s["scenario"]: s for s in json.loads(out.read_text())["scenarios"]}
    assert set(scenarios) == {
        "throughput", "fanout", "ask", "actors", "sqlite", "durability", "durable-e2e",
        "models", "tools", "state", "coordinator", "pipeline", "scaling", "jetstream",
        "jetstream-e2e", "viewer",
    }  # fmt: skip
    for name, scenario in scenarios.items():
        assert scenario["error"] is None, name
        for metric in scenario["metrics"]:
            assert metric["actorbus"]["median"] > 0, (name, metric["name"])
            assert metric["baseline"]["median"] > 0, (name, metric["name"])
            assert metric["ratio"]["median"] > 0, (name, metric["name"])
    assert "peers" in json.loads(out.read_text())
    table = report.read_text()
    assert "1->1" in table or "1→1" in table


PEERS = {"autogen-core": "autogen_core", "pykka": "pykka", "thespian": "thespian"}
PEER_SCENARIOS = ("throughput", "fanout", "ask", "actors")


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False, env=env,
    )  # fmt: skip


def test_actorbus_bench_runs_the_harness_with_peers_or_says_they_are_missing(
    tmp_path: Path,
) -> None:
    out, report = tmp_path / "results.json", tmp_path / "report.md"
    result = _run("-m", "actorbus", "bench", "--quick", "-b", "throughput",
                  "--json", str(out), "--markdown", str(report))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    assert [s["scenario"] for s in data["scenarios"]] == ["throughput"]
    assert data["command"].startswith("actorbus bench --quick")
    peers = {p["peer"]: p for p in data["peers"]}
    assert set(peers) == set(PEERS)
    for name, module in PEERS.items():
        if importlib.util.find_spec(module) is None:
            assert peers[name]["error"].startswith("not installed"), peers[name]
        else:
            assert peers[name]["error"] is None, peers[name]
            assert peers[name]["metrics"]["rate"]["median"] > 0
            assert peers[name]["how"]
    text = report.read_text()
    assert "## Peers" in text
    assert "raw asyncio (floor)" in text
    if importlib.util.find_spec("matplotlib") is None:
        assert "charts skipped: matplotlib is not installed" in text
    else:
        assert (tmp_path / "chart-messaging.png").stat().st_size > 0
        assert "![chart-messaging.png](chart-messaging.png)" in text


def test_the_cli_does_not_import_the_harness_until_bench_runs() -> None:
    code = (
        "import sys, actorbus._cli._main\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('benchmarks', 'actorbus_benchmarks', 'autogen_core', 'pykka', 'thespian')]\n"
        "assert not loaded, loaded\n"
    )
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("actorbus_benchmarks") is not None,
    reason="the harness is installed as a package here; the checkout is not consulted",
)
def test_actorbus_bench_says_how_to_get_the_harness_when_only_a_foreign_one_is_found(
    tmp_path: Path,
) -> None:
    foreign = tmp_path / "benchmarks"
    foreign.mkdir()
    (foreign / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    # Run outside the checkout: `python -m` puts the working directory first on sys.path.
    result = _run("-m", "actorbus", "bench", "--quick", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "benchmark harness is not installed" in result.stderr
    assert "actorbus[bench]" in result.stderr


@pytest.mark.parametrize("scenario", PEER_SCENARIOS)
@pytest.mark.parametrize("peer", list(PEERS))
def test_peer_adapter_does_the_scenarios_work(peer: str, scenario: str) -> None:
    if importlib.util.find_spec(PEERS[peer]) is None:
        pytest.skip(f"{peer} is not installed (pip install 'actorbus[bench]')")
    result = _run("-m", "benchmarks.peers._child", "--peer", peer, "--scenario", scenario,
                  "--messages", "2000")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["how"]
    assert data["metrics"]
    assert all(value > 0 for value in data["metrics"].values()), data
