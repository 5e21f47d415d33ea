"""The command line and models: a configured endpoint, --base-url, fake-openai.

The offline run and its cost table are in test_cli.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import actors
from actorbus.testing import FakeOpenAI, Fault

ROOT = Path(__file__).resolve().parent.parent


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorbus", *args], capture_output=True, text=True, timeout=60,
        check=False, cwd=cwd, env={"PATH": "", "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


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
    # the researchers' and the validator's own models, the writer's assigned one
    assert models == ["claude-sonnet-4", "deepseek-v3", "gemini-2.5-flash"]
    # "the server's answer" is no verdict: never approved, and the rounds stop at 3
    assert "answer (not approved after 3 review rounds):" in result.stdout
    assert "  3. REVISE: the server's answer" in result.stdout


def test_base_url_runs_the_team_against_an_endpoint_with_one_model(tmp_path: Path) -> None:
    with FakeOpenAI(api_key="sk-cli-test") as server:
        server.reply_with(actors.offline_reply)  # each role answers as offline
        result = _run(
            "run", "plan a release", "--base-url", server.base_url, "--api-key-env",
            "CLI_TEST_KEY", "--model", "local-model", cwd=tmp_path,
            env={"CLI_TEST_KEY": "sk-cli-test"},
        )  # fmt: skip
        requests = server.requests
    assert result.returncode == 0, result.stderr
    assert "answer (approved after 2 review rounds):" in result.stdout
    assert f"model calls, through endpoint ({server.base_url})" in result.stdout
    assert "model local-model" in result.stdout
    assert {r.body["model"] for r in requests if r.body} == {"local-model"}
    assert all(r.status == 200 for r in requests)
    assert len(requests) == 7  # 3 research, 2 writes, 2 validations


def test_base_url_sends_no_key_when_none_is_set(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        server.reply_with(actors.offline_reply)
        result = _run("run", "plan", "--base-url", server.base_url, cwd=tmp_path)
        headers = [r.headers for r in server.requests]
    assert result.returncode == 0, result.stderr
    assert headers
    assert all("authorization" not in h for h in headers)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        pytest.param(["--api-key-env", "X"], "--api-key-env goes with --base-url", id="key-alone"),
        pytest.param(
            ["--base-url", "http://127.0.0.1:9/v1", "--models", "a.toml"],
            "give --models or --base-url, not both",
            id="both",
        ),
        pytest.param(["--base-url", "ftp://x"], "base_url must start with http://", id="bad-url"),
    ],
)
def test_model_options_that_do_not_go_together_are_one_line(
    tmp_path: Path, args: list[str], problem: str
) -> None:
    result = _run("run", "x", *args, cwd=tmp_path)
    assert result.returncode == 1
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unreachable_model_fails_the_run_in_one_line(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        server.reply_with(lambda body: Fault.status(400))
        result = _run("run", "plan", "--base-url", server.base_url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("actorbus: research failed on every angle")
    assert result.stderr.count("\n") == 1


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
