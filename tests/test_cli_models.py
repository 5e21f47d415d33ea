"""The command line and models: costs after a run, a configured endpoint, fake-openai."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from actorbus.testing import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *args], capture_output=True, text=True, timeout=60,
        check=False, cwd=cwd, env={"PATH": "", "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


def test_an_offline_run_prints_what_each_actor_and_model_cost(tmp_path: Path) -> None:
    result = _run("run", "compare ordering guarantees", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "model calls, through the offline echo provider" in out
    for row in ("actor researcher", "actor writer", "model deepseek-v3", "model gpt-4.1", "total"):
        assert row in out


def test_a_run_on_trio_says_it_made_no_model_calls(tmp_path: Path) -> None:
    result = _run("run", "plan", "--backend", "trio", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no model calls (they need asyncio" in result.stdout


def test_a_run_calls_the_configured_endpoint(tmp_path: Path) -> None:
    with FakeOpenAI(api_key="sk-cli-test") as server:
        server.reply_with(lambda body: "the server's answer")
        config = tmp_path / "actorbus.toml"
        config.write_text(
            f'[[providers]]\nname = "gw"\nbase_url = "{server.base_url}"\n'
            'api_key_env = "CLI_TEST_KEY"\n\n[assignments]\nwriter = "claude-sonnet-4"\n'
        )
        result = _run(
            "run", "plan a release", "--models", str(config), cwd=tmp_path,
            env={"CLI_TEST_KEY": "sk-cli-test"},
        )  # fmt: skip
        models = sorted({r.body["model"] for r in server.requests if r.body})
    assert result.returncode == 0, result.stderr
    assert "the server's answer" in result.stdout
    assert f"model calls, through gw ({server.base_url})" in result.stdout
    assert models == ["claude-sonnet-4", "deepseek-v3"]  # researcher's own, writer's assigned


def test_a_missing_key_variable_is_one_line_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "actorbus.toml"
    config.write_text(
        '[[providers]]\nname = "gw"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "NOT_SET_KEY"\n'
    )
    result = _run("run", "x", "--models", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "NOT_SET_KEY" in result.stderr


def test_a_bad_models_file_is_one_line(tmp_path: Path) -> None:
    result = _run("run", "x", "--models", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("actorbus: cannot read model configuration")


def test_fake_openai_serves_until_stopped(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "actorbus", "fake-openai", "--latency", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path) as process:
        assert process.stdout is not None
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            assert url.endswith("/v1")
            body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
            answer = httpx.post(f"{url}/chat/completions", json=body, timeout=10).json()
            assert answer["choices"][0]["message"]["content"] == "echo: ping"
        finally:
            process.terminate()
        assert process.wait(timeout=10) is not None
