"""FakeOpenAI speaks tool calls and structured output over real HTTP (issue 13, point 8).

Scripted tool calls (one, several in parallel, malformed arguments, an unknown tool),
structured answers (valid, invalid JSON, a schema violation), tool calls streamed as
argument fragments a client must join, and 400 answers to malformed ``tools``,
``tool_choice``, ``response_format`` and tool messages.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actorbus.testing import FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
VERDICT = {
    "type": "json_schema",
    "json_schema": {
        "name": "Verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "reason": {"type": "string"}},
            "required": ["ok", "reason"],
            "additionalProperties": False,
        },
    },
}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    history = list(messages) or [{"role": "user", "content": "Weather in Paris?"}]
    return {"model": "gpt-test", "messages": history, **extra}


def with_tools(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return chat(*messages, tools=[WEATHER, TIME], **extra)


def call(call_id: str, name: str = "get_weather", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant_calling(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def tool_answer(call_id: str, content: str = "sunny") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


USER = {"role": "user", "content": "Weather in Paris and Rome?"}


def chunks_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON chunks of a streamed answer, checking it ends with ``[DONE]``."""
    payloads = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


def assemble_tool_calls(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join streamed tool-call deltas by index, as a client must."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for delta in choice["delta"].get("tool_calls") or []:
                built = calls.setdefault(
                    delta["index"],
                    {"id": "", "type": "", "function": {"name": "", "arguments": ""}},
                )
                built["id"] += delta.get("id", "")
                built["type"] += delta.get("type", "")
                function = delta.get("function", {})
                built["function"]["name"] += function.get("name", "")
                built["function"]["arguments"] += function.get("arguments", "")
    return [calls[index] for index in sorted(calls)]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, timeout=5) as http:
        yield http


def answer_of(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    choice: dict[str, Any] = response.json()["choices"][0]
    return choice


class TestScriptedToolCalls:
    def test_one_tool_call(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        fake.script(Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_a")]))
        choice = answer_of(client, with_tools())
        assert choice["finish_reason"] == "tool_calls"
        assert choice["message"] == {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("call_a", arguments='{"city":"Paris"}')],
        }

    def test_several_calls_in_parallel_get_distinct_predictable_ids(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        calls = [
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_weather", {"city": "Rome"}),
        ]
        fake.script(Reply(tool_calls=calls), Reply(tool_calls=calls[:1]))
        first = answer_of(client, with_tools())["message"]["tool_calls"]
        second = answer_of(client, with_tools())["message"]["tool_calls"]
        assert [c["id"] for c in first] == ["call_1_0", "call_1_1"]
        assert [c["id"] for c in second] == ["call_2_0"]
        assert [json.loads(c["function"]["arguments"]) for c in first] == [
            {"city": "Paris"},
            {"city": "Rome"},
        ]

    def test_malformed_arguments_are_sent_as_they_are(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Reply(tool_calls=[ToolCall("get_weather", '{"city": "Par')]))
        arguments = answer_of(client, with_tools())["message"]["tool_calls"][0]["function"][
            "arguments"
        ]
        assert arguments == '{"city": "Par'
        with pytest.raises(json.JSONDecodeError):
            json.loads(arguments)

    def test_an_unknown_tool_name_is_sent_all_the_same(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Reply(tool_calls=[ToolCall("launch_rockets")]))
        choice = answer_of(client, with_tools())
        assert choice["message"]["tool_calls"][0]["function"] == {
            "name": "launch_rockets",
            "arguments": "{}",
        }

    def test_text_and_tool_calls_together_keep_the_text(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Reply(text="Let me look.", tool_calls=[ToolCall("get_time")]))
        choice = answer_of(client, with_tools())
        assert choice["message"]["content"] == "Let me look."
        assert choice["finish_reason"] == "tool_calls"

    def test_a_given_finish_reason_wins(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        fake.script(Reply(tool_calls=[ToolCall("get_time")], finish_reason="length"))
        assert answer_of(client, with_tools())["finish_reason"] == "length"

    def test_the_tool_loop_round_trip_is_accepted_and_recorded(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(
            Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time")]),
            "It is sunny in Paris at noon.",
        )
        message = answer_of(client, with_tools(USER))["message"]
        ids = [c["id"] for c in message["tool_calls"]]
        follow_up = with_tools(USER, message, tool_answer(ids[0]), tool_answer(ids[1], "12:00"))
        assert answer_of(client, follow_up)["message"]["content"] == "It is sunny in Paris at noon."
        recorded = fake.requests[-1].body
        assert recorded is not None
        assert [m["role"] for m in recorded["messages"]] == ["user", "assistant", "tool", "tool"]
        assert recorded["tools"] == [WEATHER, TIME]


class TestStructuredAnswers:
    def test_a_structured_answer_is_json_text(self, fake: FakeOpenAI, client: httpx.Client) -> None:
        fake.script(Reply.json({"ok": True, "reason": "fine"}))
        content = answer_of(client, chat(response_format=VERDICT))["message"]["content"]
        assert json.loads(content) == {"ok": True, "reason": "fine"}

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param('{"ok": true, "reason": ', id="invalid-json"),
            pytest.param('{"ok": "maybe"}', id="schema-violation"),
        ],
    )
    def test_a_bad_structured_answer_is_sent_as_scripted(
        self, fake: FakeOpenAI, client: httpx.Client, text: str
    ) -> None:
        fake.script(Reply(text=text))
        choice = answer_of(client, chat(response_format=VERDICT))
        assert choice["message"]["content"] == text
        assert choice["finish_reason"] == "stop"

    def test_json_object_mode_is_accepted_when_the_messages_say_json(
        self, client: httpx.Client
    ) -> None:
        body = chat({"role": "user", "content": "Answer in JSON."})
        choice = answer_of(client, {**body, "response_format": {"type": "json_object"}})
        assert choice["message"]["content"] == "echo: Answer in JSON."


class TestStreamedToolCalls:
    def test_arguments_arrive_in_fragments_the_client_joins(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        arguments = {"city": "Paris", "unit": "celsius", "days": 3}
        calls = [ToolCall("get_weather", arguments), ToolCall("get_time", id="call_t")]
        fake.script(Reply(tool_calls=calls, arguments_chunk=5))
        body = with_tools(stream=True, stream_options={"include_usage": True})
        with client.stream("POST", "/chat/completions", json=body) as response:
            chunks = chunks_of(response)
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
        deltas = [
            d
            for c in chunks
            if c["choices"]
            for d in c["choices"][0]["delta"].get("tool_calls", [])
        ]
        first = deltas[0]
        assert first == {
            "index": 0,
            "id": "call_1_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        fragments = [d for d in deltas if d["index"] == 0][1:]
        assert len(fragments) > 3
        assert all(set(d) == {"index", "function"} for d in fragments)
        assert all(set(d["function"]) == {"arguments"} for d in fragments)
        assert all(len(d["function"]["arguments"]) <= 5 for d in fragments)
        assembled = assemble_tool_calls(chunks)
        assert [c["id"] for c in assembled] == ["call_1_0", "call_t"]
        assert json.loads(assembled[0]["function"]["arguments"]) == arguments
        assert assembled[1]["function"] == {"name": "get_time", "arguments": "{}"}
        assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"]["completion_tokens"] > 0

    def test_streamed_calls_match_the_plain_answer(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        calls = [
            ToolCall("get_weather", {"city": "Zürich ☀"}, id="c1"),
            ToolCall("x", "{bad", id="c2"),
        ]
        fake.script(Reply(tool_calls=calls), Reply(tool_calls=calls))
        plain = answer_of(client, with_tools())["message"]["tool_calls"]
        with client.stream("POST", "/chat/completions", json=with_tools(stream=True)) as response:
            streamed = assemble_tool_calls(chunks_of(response))
        assert streamed == plain

    def test_a_dict_call_streams_in_fragments_too(
        self, fake: FakeOpenAI, client: httpx.Client
    ) -> None:
        fake.script(Reply(tool_calls=[call("c9", arguments='{"city":"Oslo"}')], arguments_chunk=3))
        with client.stream("POST", "/chat/completions", json=with_tools(stream=True)) as response:
            chunks = chunks_of(response)
        assert assemble_tool_calls(chunks) == [call("c9", arguments='{"city":"Oslo"}')]
        assert sum("tool_calls" in c["choices"][0]["delta"] for c in chunks) == 1 + 5

    def test_arguments_that_cannot_be_json_are_refused_when_scripted(self) -> None:
        with pytest.raises(TypeError, match="unsupported"):
            ToolCall("f", {"when": object()})

    def test_arguments_chunk_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="arguments_chunk must be >= 1"):
            Reply(tool_calls=[ToolCall("f")], arguments_chunk=0)


# Each malformed request, the param the 400 names, and a phrase of its message.
MALFORMED = [
    pytest.param(chat(tools={"x": 1}), "tools", "expected an array", id="tools-not-a-list"),
    pytest.param(chat(tools=[]), "tools", "empty array", id="tools-empty"),
    pytest.param(
        chat(tools=[{"type": "retrieval"}]), "tools[0].type", "only 'function'", id="tool-type"
    ),
    pytest.param(
        chat(tools=[{"type": "function"}]), "tools[0].function", "Missing", id="no-function"
    ),
    pytest.param(
        chat(tools=[{"type": "function", "function": {"name": "get weather!"}}]),
        "tools[0].function.name",
        "does not match the pattern",
        id="bad-tool-name",
    ),
    pytest.param(
        chat(tools=[{"type": "function", "function": {"name": "n" * 65}}]),
        "tools[0].function.name",
        "at most 64",
        id="tool-name-too-long",
    ),
    pytest.param(
        chat(tools=[WEATHER, WEATHER]), "tools[1].function.name", "two tools", id="duplicate-tool"
    ),
    pytest.param(
        chat(tools=[{"type": "function", "function": {"name": "f", "description": 3}}]),
        "tools[0].function.description",
        "expected a string",
        id="description-not-a-string",
    ),
    pytest.param(
        chat(tools=[{"type": "function", "function": {"name": "f", "parameters": "city"}}]),
        "tools[0].function.parameters",
        "a schema must be a JSON object",
        id="parameters-not-a-schema",
    ),
    pytest.param(
        chat(
            tools=[
                {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}
            ]
        ),
        "tools[0].function.parameters",
        """'type: "object"'""",
        id="parameters-not-an-object",
    ),
    pytest.param(
        chat(
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "strict": True,
                        "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
                    },
                }
            ]
        ),
        "tools[0].function.parameters",
        "'additionalProperties' is required",
        id="strict-parameters-open",
    ),
    pytest.param(
        chat(tool_choice="auto"), "tool_choice", "only allowed when", id="choice-no-tools"
    ),
    pytest.param(with_tools(tool_choice="always"), "tool_choice", "'always'", id="choice-word"),
    pytest.param(
        with_tools(tool_choice={"type": "function", "function": {"name": "launch_rockets"}}),
        "tool_choice.function.name",
        "no function named 'launch_rockets'",
        id="choice-unknown-tool",
    ),
    pytest.param(
        with_tools(tool_choice={"type": "function"}),
        "tool_choice.function.name",
        "Missing",
        id="choice-no-name",
    ),
    pytest.param(
        chat(response_format={"type": "yaml"}),
        "response_format.type",
        "'yaml'",
        id="format-type",
    ),
    pytest.param(
        chat(response_format={"type": "json_object"}),
        "messages",
        "must contain the word 'json'",
        id="json-object-without-json",
    ),
    pytest.param(
        chat(response_format={"type": "json_schema"}),
        "response_format.json_schema",
        "Missing",
        id="json-schema-missing",
    ),
    pytest.param(
        chat(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        "response_format.json_schema.name",
        "Missing",
        id="json-schema-no-name",
    ),
    pytest.param(
        chat(response_format={"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}),
        "response_format.json_schema.name",
        "does not match",
        id="json-schema-bad-name",
    ),
    pytest.param(
        chat(response_format={"type": "json_schema", "json_schema": {"name": "V"}}),
        "response_format.json_schema.schema",
        "Missing",
        id="json-schema-no-schema",
    ),
    pytest.param(
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "V",
                    "strict": True,
                    "schema": {"$ref": "#/$defs/V", "$defs": {"V": {"type": "object"}}},
                },
            }
        ),
        "response_format",
        """got 'type: "None"'""",
        id="strict-root-ref",
    ),
    pytest.param(
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "V",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"ok": {"type": "boolean"}, "why": {"type": "string"}},
                        "required": ["ok"],
                        "additionalProperties": False,
                    },
                },
            }
        ),
        "response_format",
        "Missing 'why'",
        id="strict-not-all-required",
    ),
    pytest.param(
        with_tools(tool_answer("call_x")),
        "messages[0].role",
        "must be a response to a preceding message with 'tool_calls'",
        id="tool-message-without-call",
    ),
    pytest.param(
        with_tools(USER, assistant_calling(call("c1")), tool_answer("c2")),
        "messages[2]",
        "'c2'",
        id="tool-message-wrong-id",
    ),
    pytest.param(
        with_tools(USER, assistant_calling(call("c1")), {"role": "tool", "content": "x"}),
        "messages[2].tool_call_id",
        "Missing",
        id="tool-message-no-id",
    ),
    pytest.param(
        with_tools(USER, assistant_calling(call("c1"), call("c2")), tool_answer("c1"), USER),
        "messages[1].tool_calls",
        "did not have response messages: c2",
        id="call-left-unanswered",
    ),
    pytest.param(
        with_tools(USER, assistant_calling(call("c1"))),
        "messages[1].tool_calls",
        "did not have response messages: c1",
        id="call-last-unanswered",
    ),
    pytest.param(
        with_tools(
            USER,
            assistant_calling(
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {}}}
            ),
            tool_answer("c1"),
        ),
        "messages[1].tool_calls[0].function.arguments",
        "expected a string",
        id="history-arguments-not-text",
    ),
    pytest.param(
        chat({"role": "robot", "content": "hi"}), "messages[0]", "'robot'", id="unknown-role"
    ),
]


class TestMalformedRequests:
    @pytest.mark.parametrize(("body", "param", "phrase"), MALFORMED)
    def test_a_malformed_request_gets_400_naming_the_problem(
        self, fake: FakeOpenAI, client: httpx.Client, body: dict[str, Any], param: str, phrase: str
    ) -> None:
        fake.script("kept for the next good request")
        response = client.post("/chat/completions", json=body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["param"] == param
        assert phrase in error["message"]
        assert fake.requests[-1].body == body
        assert fake.requests[-1].status == 400
        assert answer_of(client, chat())["message"]["content"] == "kept for the next good request"

    def test_a_streaming_request_is_refused_before_the_stream(self, client: httpx.Client) -> None:
        response = client.post("/chat/completions", json=chat(tools=[], stream=True))
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"


class TestDocs:
    def test_the_guides_fake_openai_example_runs(self, tmp_path: Path) -> None:
        guide = (ROOT / "docs" / "models.md").read_text()
        blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
        [block] = [b for b in blocks if "ToolCall(" in b]
        script = tmp_path / "fake_tools.py"
        script.write_text(block)
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
