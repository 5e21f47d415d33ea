"""The examples in examples/ run as written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

import actorbus as ab
from actorbus.testing import FakeOpenAI, Reply, ToolCall

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=60,
        check=False, env={"PATH": "", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_custom_actor_fits_in_20_lines_and_answers() -> None:
    source = (EXAMPLES / "custom_actor.py").read_text()
    code = [line for line in source.splitlines() if line.strip() and not line.startswith('"""')]
    assert len(code) <= 20
    assert _run("custom_actor.py").strip() == "Counted(words=4)"


def test_the_trio_program_runs_on_trio() -> None:
    assert _run("trio_program.py").strip() == "[1, 2, 3]"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_asgi_app_opens_its_bus_in_the_lifespan_and_answers_requests(
    anyio_backend: str,
) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from examples.asgi_lifespan import App
    finally:
        sys.path.remove(str(ROOT))
    app = App()
    to_app, from_server = anyio.create_memory_object_stream[MutableMapping[str, Any]](4)
    to_server, from_app = anyio.create_memory_object_stream[MutableMapping[str, Any]](4)
    async with to_app, from_server, to_server, from_app, anyio.create_task_group() as tg:
        tg.start_soon(app, {"type": "lifespan"}, from_server.receive, to_server.send)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            response = await client.get("/ada")
        assert response.json()["greeting"].startswith("hello, ada (message seq ")
        await to_app.send({"type": "lifespan.shutdown"})
        assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"
    assert app.bus is not None
    with pytest.raises(ab.BusClosed):
        await app.bus.publish("greet", ab.Request())


def test_the_tracing_example_prints_one_trace_tree() -> None:
    pytest.importorskip(
        "opentelemetry.sdk", reason="needs pip install 'actorbus[otel]' and the SDK"
    )
    assert _run("tracing.py").splitlines() == [
        "publish questions",
        "  handle asker",
        "    publish to-model",
        "      handle thinker",
        "        chat echo",
        "        publish answers",
        "          handle printer",
    ]


def test_the_research_agent_prints_its_typed_report_tool_calls_and_costs_offline() -> None:
    lines = _run("research_agent.py").splitlines()
    assert lines[0] == "Report: Orders service throughput, March to June"
    assert lines[1].startswith("  - Throughput rose 25.0% (from 1,200 to 1,500 requests/s)")
    assert lines[3] == "  sources: 3 notes"
    assert lines[4].startswith('tool search_notes({"query": "orders"}) -> {"type":"SearchResults"')
    assert lines[5] == 'tool percent_change({"old": 1200.0, "new": 1500.0}) -> 25.0'
    costs = {line.split()[1]: line.split()[2:] for line in lines if line.startswith("actor ")}
    assert costs["researcher"][0] == "3"  # three model turns
    assert float(costs["researcher"][-1]) > 0  # priced as gpt-4.1-mini
    assert lines[-1].startswith("total ")


def _research_agent() -> ModuleType:
    sys.path.insert(0, str(ROOT))
    try:
        import examples.research_agent as module
    finally:
        sys.path.remove(str(ROOT))
    return module


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_research_agent_runs_over_http_against_an_endpoint_from_the_environment(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = _research_agent()

    def model(body: dict[str, Any]) -> str | Reply:  # the same script, over HTTP
        answer = agent.offline_model(body)
        if isinstance(answer, str):
            return answer
        calls = [ToolCall(c.name, c.arguments, id=c.id) for c in answer.tool_calls or ()]
        return Reply(tool_calls=calls)

    async with FakeOpenAI(api_key="sk-example-key") as fake:
        fake.reply_with(model)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-example-key")
        monkeypatch.setenv("ACTORBUS_MODEL", "gpt-4.1-mini")
        await agent.main()
    assert [r.status for r in fake.requests] == [200, 200, 200]  # the fake checked each
    bodies = [r.body for r in fake.requests if r.body is not None]
    assert all(body["model"] == "gpt-4.1-mini" for body in bodies)
    names = [{t["function"]["name"] for t in body["tools"]} for body in bodies]
    assert names == [{"percent_change", "search_notes"}] * 3
    assert all(body["response_format"]["json_schema"]["name"] == "Report" for body in bodies)
    out = capsys.readouterr().out
    assert "Report: Orders service throughput, March to June" in out
    assert "tool percent_change" in out
