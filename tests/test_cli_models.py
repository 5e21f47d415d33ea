"""The command line and models: a configured endpoint, --base-url, fake-openai.

The offline run and its cost table are in test_cli.py.
"""

from __future__ import annotations

import json
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
    # "the server's answer" is no verdict: not approved, and no revision without one
    assert "answer (round 1 has no verdict):" in result.stdout
    assert "  - round 1: the validator gave no valid verdict (3 answer(s)" in result.stdout
    assert "REVISE" not in result.stdout


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
    assert "\nanswer (approved after 2 review rounds):" in result.stdout
    assert "scripted" not in result.stdout
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
    assert result.stderr.startswith(
        "actorbus: unfinished: the run failed: research failed on every angle"
    )
    assert result.stderr.count("\n") == 1
    assert "no draft was written before it stopped" in result.stdout
    assert "logged to actorbus.db" in result.stdout  # what it did is still reported


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


def _row(out: str, label: str) -> list[str]:
    """Return the cells of the cost table's row ``label`` (label first, as one cell)."""
    line = next(line for line in out.splitlines() if line.startswith(label))
    return [label, *line[len(label) :].split()]


def test_a_run_on_an_unpriced_model_says_unpriced_and_how_to_add_prices(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        server.reply_with(actors.offline_reply)
        result = _run(
            "run", "plan a release", "--base-url", server.base_url, "--model", "local-model",
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert progress[-1].endswith("tokens, $0.0000 + 7 unpriced")  # said as it happens
    assert _row(result.stdout, "model local-model")[-1] == "unpriced"
    assert _row(result.stdout, "actor writer")[-1] == "unpriced"
    total = next(line for line in result.stdout.splitlines() if line.startswith("total"))
    assert total.endswith("0.000000 (excludes 7 unpriced calls)")
    assert (
        "7 calls to unpriced models (local-model): add prices with --prices FILE or "
        "[prices] in actorbus.toml"
    ) in result.stdout


LITELLM_PRICES = {
    "sample_spec": {"litellm_provider": "one of ...", "mode": "one of: chat, embedding"},
    "local-model": {
        "input_cost_per_token": 0.001,
        "output_cost_per_token": 0.002,
        "litellm_provider": "openai",
        "mode": "chat",
        "supports_vision": False,
    },
}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("prices.json", '{"local-model": {"input": 1000, "output": 2000}}', id="ours"),
        pytest.param(
            "model_prices_and_context_window.json", json.dumps(LITELLM_PRICES), id="litellm"
        ),
    ],
)
def test_prices_from_a_file_price_the_run(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with FakeOpenAI() as server:
        server.reply_with(actors.offline_reply)
        result = _run(
            "run", "plan a release", "--base-url", server.base_url, "--model", "local-model",
            "--prices", name, cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "unpriced" not in result.stdout
    _, calls, prompt, completion, cost = _row(result.stdout, "model local-model")  # no retries
    assert int(calls) == 7
    # $1,000 and $2,000 per million tokens: a tenth of a cent a token in, a fifth out
    assert float(cost) == pytest.approx(int(prompt) * 0.001 + int(completion) * 0.002)


def test_a_bad_prices_file_is_one_line(tmp_path: Path) -> None:
    result = _run("run", "x", "--prices", "missing.json", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("actorbus: cannot read prices file 'missing.json'")
    assert result.stderr.count("\n") == 1
