"""The models guide's examples do what the guide says, offline, as written.

The first runs as a program; the "Structured output" and "Tools" sections define
actors, which these tests spawn on a bus whose model is scripted through the
echo provider. (Every block of the guide also runs and goes through ``mypy
--strict`` in tests/docs/test_code_blocks.py.)
"""

from __future__ import annotations

import importlib.util
import logging
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import actorbus as ab

ROOT = Path(__file__).resolve().parents[2]


def test_the_guides_first_example_runs_offline(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "models.md").read_text()
    block = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)[0]
    script = tmp_path / "example.py"
    script.write_text(block + "\nimport asyncio\nasyncio.run(main())\n")
    env = {"PATH": "", "PYTHONPATH": str(ROOT)}  # no endpoint configured: offline echo
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Report(text='echo: actors')" in result.stdout
    assert "actor researcher" in result.stdout
    assert "total" in result.stdout


def _blocks(guide: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)


def _section_block(heading: str) -> str:
    """Return the first Python block of the guide's section ``heading``."""
    guide = (ROOT / "docs" / "models.md").read_text()
    section = guide.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return _blocks(section)[0]


def _load(heading: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import a section's block as a module of its own, as a reader would save it."""
    name = "guide_" + re.sub(r"\W+", "_", heading.lower())
    path = tmp_path / f"{name}.py"
    path.write_text(_section_block(heading))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


class Script:
    """A scripted model for the echo provider: the next reply, and every request body seen."""

    def __init__(self, *replies: str | ab.ChatMessage) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> str | ab.ChatMessage:
        self.bodies.append(body)
        return self.replies.pop(0)

    def models(self) -> ab.Models:
        transport = ab.EchoTransport(respond=self)
        return ab.Models(ab.ModelsConfig.offline(), transports={"echo": transport})


def _call(call_id: str, name: str, arguments: str) -> ab.ToolCall:
    return ab.ToolCall(id=call_id, function=ab.FunctionCall(name=name, arguments=arguments))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_structured_output_example_logs_a_verdict_asked_for_again_until_valid(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    guide = _load("Structured output", tmp_path, monkeypatch)
    script = Script('{"approved": "maybe"}', '{"approved": false, "issues": ["too long"]}')
    caplog.set_level(logging.INFO, logger="actorbus.actor")
    async with ab.Bus(models=script.models()) as bus:
        await bus.spawn(guide.Reviewer, name="reviewer")
        await bus.publish("drafts", ab.Request(content="a very long draft"))
        await bus.drain()
        spend = bus.costs().by_actor["reviewer"]
    assert "approved=False, issues=['too long']" in caplog.text
    assert spend.calls == 2  # the invalid answer was a request like any other
    first, second = script.bodies
    assert first["model"] == "gpt-4.1-mini"
    format_ = first["response_format"]
    assert format_["type"] == "json_schema"
    assert format_["json_schema"]["name"] == "Verdict"
    assert format_["json_schema"]["strict"] is True
    schema = format_["json_schema"]["schema"]
    assert (schema["required"], schema["additionalProperties"]) == (["approved", "issues"], False)
    feedback = second["messages"][-1]["content"]
    assert "Expected `bool`, got `str` - at `$.approved`" in feedback


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_tools_example_runs_a_function_and_an_actor_in_one_turn(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = _load("Tools", tmp_path, monkeypatch)
    both = ab.assistant("", tool_calls=[
        _call("call_add", "add", '{"a": 2, "b": 3}'),
        _call("call_search", "tools_search", '{"query": "actors"}'),
    ])  # fmt: skip
    script = Script(both, "answered")
    async with ab.Bus(models=script.models()) as bus:
        await bus.spawn(guide.Notes, name="notes")
        await bus.spawn(guide.Analyst, name="analyst")
        reply = await bus.ask("questions", ab.Request(content="what is 2 + 3?"), timeout=30)
        spend = bus.costs().by_actor["analyst"]
    assert reply == ab.Response(content="answered")
    assert (spend.calls, spend.tool_calls, spend.tool_errors) == (2, 2, 0)
    tools = {t["function"]["name"]: t["function"] for t in script.bodies[0]["tools"]}
    assert set(tools) == {"add", "tools_search"}
    assert tools["add"]["description"] == "Add two numbers."
    assert set(tools["tools_search"]["parameters"]["properties"]) == {"query"}  # no type tag
    results = {m["tool_call_id"]: m["content"] for m in script.bodies[1]["messages"][2:]}
    assert results == {
        "call_add": "5.0",
        "call_search": '{"type":"SearchResults","notes":["a note on actors"]}',
    }
