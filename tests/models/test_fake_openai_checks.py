"""FakeOpenAI's request checks and tool-call deltas as pure functions (issue 13, point 8).

`request_problem` (tools, tool_choice, response_format, tool messages) and
`schema_problem` (JSON Schema shape and OpenAI's strict mode) on good and bad
bodies, and `call_deltas` reassembling to the arguments for any text and chunk size.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorbus.testing._fake_openai._checks import Problem, request_problem
from actorbus.testing._fake_openai._schema import MAX_DEPTH, json_type, schema_problem
from actorbus.testing._fake_openai._wire import call_deltas

STRICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["yes", "no"]},
        "score": {"type": ["number", "null"]},
        "place": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["verdict", "score", "place", "items", "either"],
    "additionalProperties": False,
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        }
    },
}


def tool(name: object = "f", **function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **function}}


def body(*messages: object, **extra: Any) -> dict[str, Any]:
    history = list(messages) or [{"role": "user", "content": "hi"}]
    return {"model": "m", "messages": history, **extra}


def calling(*ids: str) -> dict[str, Any]:
    calls = [
        {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in ids
    ]
    return {"role": "assistant", "tool_calls": calls}


def answer(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "done"}


USER = {"role": "user", "content": "hi"}


def json_schema(schema: object, *, strict: bool = True, name: str = "Out") -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": strict},
    }


def strict_without(path: list[str], key: str) -> dict[str, Any]:
    """`STRICT_SCHEMA` with ``key`` removed from the node at ``path``."""
    schema = copy.deepcopy(STRICT_SCHEMA)
    node = schema
    for step in path:
        node = node[step]
    del node[key]
    return schema


GOOD = [
    pytest.param(body(), id="plain"),
    pytest.param(body(tools=[tool("get_weather"), tool("get-time_2")]), id="tools"),
    pytest.param(body(tools=[tool(description=None, strict=None)]), id="nulls-are-absent"),
    pytest.param(body(tools=[tool(parameters={"type": "object"})]), id="object-parameters"),
    pytest.param(body(tools=[tool(parameters=STRICT_SCHEMA, strict=True)]), id="strict-parameters"),
    pytest.param(
        body(tools=[tool(parameters={"type": "object", "properties": {"a": {}}})]),
        id="open-parameters-not-strict",
    ),
    *[
        pytest.param(body(tools=[tool()], tool_choice=choice), id=f"choice-{choice}")
        for choice in ("none", "auto", "required")
    ],
    pytest.param(
        body(
            tools=[tool("g"), tool()], tool_choice={"type": "function", "function": {"name": "f"}}
        ),
        id="choice-named",
    ),
    pytest.param(body(tools=[tool()], parallel_tool_calls=False), id="parallel-off"),
    pytest.param(body(response_format={"type": "text"}), id="format-text"),
    pytest.param(
        body(
            {"role": "system", "content": [{"type": "text", "text": "Reply in JSON"}]},
            USER,
            response_format={"type": "json_object"},
        ),
        id="format-json-object",
    ),
    pytest.param(body(response_format=json_schema(STRICT_SCHEMA)), id="format-strict"),
    pytest.param(
        body(response_format=json_schema({"properties": {"a": {}}}, strict=False)),
        id="format-open-not-strict",
    ),
    pytest.param(
        body(
            USER,
            calling("a", "b"),
            answer("b"),
            answer("a"),
            {"role": "assistant", "content": "ok"},
            USER,
            calling("a"),
            answer("a"),
        ),
        id="tool-loop-two-rounds",
    ),
    pytest.param(
        body(USER, {**calling("a"), "content": "Let me look."}, answer("a")), id="text-and-calls"
    ),
    pytest.param(body(USER, {"role": "assistant", "content": "x", "tool_calls": None}), id="none"),
    pytest.param(body({"role": "developer", "content": "d"}, USER), id="developer"),
    pytest.param(
        body(USER, calling("a"), {**answer("a"), "content": [{"type": "text", "text": "x"}]}),
        id="tool-content-parts",
    ),
]


@pytest.mark.parametrize("request_body", GOOD)
def test_well_formed_requests_pass(request_body: dict[str, Any]) -> None:
    assert request_problem(request_body) is None


BAD = [
    pytest.param(body(tools="f"), "tools", "invalid_type", id="tools-not-a-list"),
    pytest.param(body(tools=[]), "tools", "empty_array", id="tools-empty"),
    pytest.param(body(tools=[3]), "tools[0]", "invalid_type", id="tool-not-an-object"),
    pytest.param(
        body(tools=[{"type": "function", "function": "f"}]),
        "tools[0].function",
        "invalid_type",
        id="function-not-an-object",
    ),
    pytest.param(
        body(tools=[{"type": "function", "function": {}}]),
        "tools[0].function.name",
        "missing_required_parameter",
        id="no-name",
    ),
    pytest.param(body(tools=[tool(7)]), "tools[0].function.name", "invalid_type", id="name-int"),
    pytest.param(
        body(tools=[tool("")]), "tools[0].function.name", "invalid_value", id="name-empty"
    ),
    pytest.param(
        body(tools=[tool("a.b")]), "tools[0].function.name", "invalid_value", id="name-dot"
    ),
    pytest.param(
        body(tools=[tool(strict="yes")]), "tools[0].function.strict", "invalid_type", id="strict"
    ),
    pytest.param(
        body(tools=[tool(parameters={})]),
        "tools[0].function.parameters",
        "invalid_function_parameters",
        id="parameters-without-type",
    ),
    pytest.param(body(tool_choice="none"), "tool_choice", "invalid_value", id="choice-no-tools"),
    pytest.param(
        body(tools=[tool()], tool_choice=["auto"]), "tool_choice", "invalid_type", id="choice-list"
    ),
    pytest.param(
        body(tools=[tool()], tool_choice={"type": "allowed_tools"}),
        "tool_choice.type",
        "invalid_value",
        id="choice-other-type",
    ),
    pytest.param(
        body(tools=[tool()], tool_choice={"type": "function", "function": {"name": "g"}}),
        "tool_choice.function.name",
        "invalid_value",
        id="choice-unknown",
    ),
    pytest.param(
        body(tools=[tool()], parallel_tool_calls="no"),
        "parallel_tool_calls",
        "invalid_type",
        id="parallel-not-a-boolean",
    ),
    pytest.param(
        body(parallel_tool_calls=True),
        "parallel_tool_calls",
        "invalid_value",
        id="parallel-without-tools",
    ),
    pytest.param(
        body(response_format="json"), "response_format", "invalid_type", id="format-string"
    ),
    pytest.param(
        body(response_format={"type": "json_schema", "json_schema": "V"}),
        "response_format.json_schema",
        "invalid_type",
        id="json-schema-string",
    ),
    pytest.param(
        body(response_format=json_schema({}, name="x" * 65)),
        "response_format.json_schema.name",
        "invalid_value",
        id="json-schema-long-name",
    ),
    pytest.param(
        body(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "V", "schema": {}, "strict": 1},
            }
        ),
        "response_format.json_schema.strict",
        "invalid_type",
        id="json-schema-strict-int",
    ),
    pytest.param(
        body(response_format=json_schema({"type": "string"})),
        "response_format",
        "invalid_json_schema",
        id="strict-root-string",
    ),
    pytest.param(body("hi"), "messages[0]", "invalid_type", id="message-not-an-object"),
    pytest.param(body({"content": "x"}), "messages[0]", "invalid_value", id="no-role"),
    pytest.param(
        body(USER, calling("a"), answer("a"), answer("a")),
        "messages[3]",
        "invalid_value",
        id="answered-twice",
    ),
    pytest.param(
        body(USER, calling("a"), {"role": "tool", "tool_call_id": 1, "content": "x"}),
        "messages[2].tool_call_id",
        "invalid_type",
        id="tool-call-id-int",
    ),
    pytest.param(
        body(USER, calling("a"), {"role": "tool", "tool_call_id": "a"}),
        "messages[2].content",
        "invalid_type",
        id="tool-message-no-content",
    ),
    pytest.param(
        body(USER, calling("a"), USER, answer("a")),
        "messages[1].tool_calls",
        "invalid_value",
        id="user-between-call-and-answer",
    ),
    pytest.param(
        body(USER, calling("a"), answer("a"), USER, answer("a")),
        "messages[4].role",
        "invalid_value",
        id="answer-after-another-turn",
    ),
    pytest.param(
        body(USER, {"role": "assistant", "tool_calls": []}),
        "messages[1].tool_calls",
        "empty_array",
        id="history-calls-empty",
    ),
    pytest.param(
        body(USER, {"role": "assistant", "tool_calls": {}}),
        "messages[1].tool_calls",
        "invalid_type",
        id="history-calls-object",
    ),
    pytest.param(
        body(USER, calling("a", "a"), answer("a")),
        "messages[1].tool_calls",
        "invalid_value",
        id="history-duplicate-ids",
    ),
    pytest.param(
        body(USER, {"role": "assistant", "tool_calls": [{"type": "function"}]}),
        "messages[1].tool_calls[0].id",
        "missing_required_parameter",
        id="history-call-no-id",
    ),
    pytest.param(
        body(USER, {"role": "assistant", "tool_calls": [{"id": "a", "type": "custom"}]}),
        "messages[1].tool_calls[0].type",
        "invalid_value",
        id="history-call-type",
    ),
    pytest.param(
        body(USER, {"role": "assistant", "tool_calls": [{"id": "a", "type": "function"}]}),
        "messages[1].tool_calls[0].function",
        "invalid_type",
        id="history-call-no-function",
    ),
    pytest.param(
        body(
            USER,
            {
                "role": "assistant",
                "tool_calls": [{"id": "a", "type": "function", "function": {"arguments": "{}"}}],
            },
        ),
        "messages[1].tool_calls[0].function.name",
        "invalid_type",
        id="history-call-no-name",
    ),
]


@pytest.mark.parametrize(("request_body", "param", "code"), BAD)
def test_malformed_requests_name_the_param(
    request_body: dict[str, Any], param: str, code: str
) -> None:
    problem = request_problem(request_body)
    assert isinstance(problem, Problem)
    assert (problem.param, problem.code) == (param, code)


class TestSchemaShape:
    @pytest.mark.parametrize(
        ("schema", "context", "phrase"),
        [
            pytest.param([], (), "must be a JSON object, got array", id="root-array"),
            pytest.param({"type": "str"}, (), "'type' must be one of", id="type-word"),
            pytest.param({"type": []}, (), "'type' must be one of", id="type-empty-list"),
            pytest.param({"properties": []}, (), "'properties' must be an object", id="props"),
            pytest.param(
                {"properties": {"a": 1}}, ("properties", "a"), "got integer", id="prop-not-schema"
            ),
            pytest.param({"required": "a"}, (), "'required' must be an array", id="required"),
            pytest.param({"anyOf": []}, (), "non-empty array", id="anyof-empty"),
            pytest.param({"anyOf": [{"type": "x"}]}, ("anyOf", "0"), "'type'", id="anyof-member"),
            pytest.param({"enum": []}, (), "'enum' must be a non-empty array", id="enum"),
            pytest.param({"$ref": 1}, (), "'$ref' must be a string", id="ref"),
            pytest.param(
                {"items": [{"type": "string"}, {"type": 1}]},
                ("items", "1"),
                "'type'",
                id="tuple-items",
            ),
            pytest.param(
                {"$defs": {"A": {"items": {"type": "nope"}}}},
                ("$defs", "A", "items"),
                "'type'",
                id="defs-items",
            ),
            pytest.param(
                {"additionalProperties": "no"},
                ("additionalProperties",),
                "got string",
                id="additional-string",
            ),
        ],
    )
    def test_a_malformed_schema_is_located(
        self, schema: object, context: tuple[str, ...], phrase: str
    ) -> None:
        found = schema_problem(schema, strict=False)
        assert found is not None
        assert found[0] == context
        assert phrase in found[1]

    def test_boolean_subschemas_are_schemas(self) -> None:
        schema = {"properties": {"anything": True, "nothing": False}, "additionalProperties": True}
        assert schema_problem(schema, strict=False) is None

    def test_a_schema_nested_too_deeply_is_refused_without_recursing_forever(self) -> None:
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(MAX_DEPTH + 1):
            schema = {"type": "array", "items": schema}
        found = schema_problem(schema, strict=False)
        assert found is not None
        assert f"nested more than {MAX_DEPTH} levels" in found[1]

    @pytest.mark.parametrize(
        ("value", "name"),
        [
            (None, "null"),
            (True, "boolean"),
            (1, "integer"),
            (1.5, "number"),
            ("", "string"),
            ([], "array"),
            ({}, "object"),
        ],
    )
    def test_json_type_names(self, value: object, name: str) -> None:
        assert json_type(value) == name


class TestStrictMode:
    def test_a_strict_schema_passes(self) -> None:
        assert schema_problem(STRICT_SCHEMA, strict=True) is None

    @pytest.mark.parametrize(
        ("path", "key", "context", "phrase"),
        [
            pytest.param([], "additionalProperties", (), "'additionalProperties'", id="root"),
            pytest.param(
                ["properties", "place"],
                "additionalProperties",
                ("properties", "place"),
                "'additionalProperties'",
                id="nested",
            ),
            pytest.param(
                ["$defs", "Item"],
                "additionalProperties",
                ("$defs", "Item"),
                "'additionalProperties'",
                id="defs",
            ),
            pytest.param([], "required", (), "'required' is required", id="no-required"),
            pytest.param(
                ["properties", "place"],
                "required",
                ("properties", "place"),
                "Missing 'city'",
                id="nested-required",
            ),
        ],
    )
    def test_open_or_optional_objects_are_refused_where_they_are(
        self, path: list[str], key: str, context: tuple[str, ...], phrase: str
    ) -> None:
        found = schema_problem(strict_without(path, key), strict=True)
        assert found is not None
        assert found[0] == context
        assert phrase in found[1]
        assert schema_problem(strict_without(path, key), strict=False) is None

    def test_a_nullable_object_is_an_object(self) -> None:
        schema = {
            "type": "object",
            "properties": {"a": {"type": ["object", "null"]}},
            "required": ["a"],
            "additionalProperties": False,
        }
        found = schema_problem(schema, strict=True)
        assert found is not None
        assert found[0] == ("properties", "a")
        assert "'additionalProperties'" in found[1]

    @pytest.mark.parametrize(
        "root",
        [
            pytest.param({"$ref": "#/$defs/A", "$defs": {"A": STRICT_SCHEMA}}, id="ref"),
            pytest.param({"anyOf": [STRICT_SCHEMA]}, id="anyof"),
            pytest.param({"type": ["object", "null"]}, id="nullable"),
        ],
    )
    def test_the_root_must_be_a_plain_object(self, root: dict[str, Any]) -> None:
        found = schema_problem(root, strict=True)
        assert found is not None
        assert found[0] == ()
        assert """schema must be a JSON Schema of 'type: "object"'""" in found[1]

    def test_the_request_message_has_openais_context_form(self) -> None:
        schema = strict_without(["properties", "place"], "additionalProperties")
        problem = request_problem(body(response_format=json_schema(schema)))
        assert problem is not None
        assert problem.message == (
            "Invalid schema for response_format 'Out': In context=('properties', 'place'), "
            "'additionalProperties' is required to be supplied and to be false."
        )


class TestCallDeltas:
    @given(arguments=st.text(max_size=200), chunk=st.integers(min_value=1, max_value=50))
    def test_fragments_join_to_the_arguments(self, arguments: str, chunk: int) -> None:
        call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
        deltas = call_deltas([call], chunk)
        assert deltas[0] == [
            {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
        ]
        fragments = [d[0]["function"]["arguments"] for d in deltas[1:]]
        assert "".join(fragments) == arguments
        assert all(0 < len(f) <= chunk for f in fragments)
        assert all(d[0]["index"] == 0 and set(d[0]) == {"index", "function"} for d in deltas[1:])

    def test_calls_stream_one_after_another_with_their_index(self) -> None:
        calls = [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": "[1]"}},
        ]
        indexes = [d[0]["index"] for d in call_deltas(calls, 2)]
        assert indexes == [0, 0, 1, 1, 1]

    def test_a_call_without_string_arguments_goes_whole(self) -> None:
        odd = {"id": "a", "function": {"name": "f", "arguments": {"x": 1}}}
        assert call_deltas([odd], 4) == [[{"index": 0, **odd}]]
