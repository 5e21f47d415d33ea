"""Checking a chat request's tools, tool_choice, response_format and tool messages.

`request_problem` returns the first reason the real API would refuse a request
body with 400, as a `Problem` carrying an OpenAI-style message and the ``param``
it is about, or ``None``. It checks only what tool calling and structured output
add; ``model`` and ``messages`` being present is checked before (``_routes``).
Where the fake is stricter than OpenAI (a ``json_schema`` without a ``schema``,
two tools of one name), the message says it is FakeOpenAI's rule. Pure functions,
no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ._schema import json_type, schema_problem
from ._wire import text_of

__all__ = ["NAME", "Problem", "request_problem"]

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""What a function's or a JSON schema's name must match, in full."""

_CHOICES = ("none", "auto", "required")
_FORMATS = ("text", "json_object", "json_schema")
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class Problem(NamedTuple):
    """Why a request is refused: the error's ``message``, ``param`` and ``code``."""

    message: str
    param: str
    code: str = "invalid_value"


def request_problem(body: dict[str, Any]) -> Problem | None:
    """The first problem of ``body``'s tool and structured-output fields, or ``None``.

    ``body`` must already be known to have a ``messages`` list.
    """
    checks: tuple[Callable[[dict[str, Any]], Problem | None], ...] = (
        _tools_problem,
        _tool_choice_problem,
        _parallel_problem,
        _response_format_problem,
        _messages_problem,
    )
    for check in checks:
        problem = check(body)
        if problem is not None:
            return problem
    return None


def _wrong_type(param: str, expected: str, value: object) -> Problem:
    got = json_type(value)
    return Problem(
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param,
        "invalid_type",
    )


def _missing(param: str) -> Problem:
    return Problem(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _bad_name(param: str, name: str) -> Problem:
    return Problem(
        f"Invalid '{param}': {name!r} does not match the pattern '^{NAME.pattern}$' "
        "(letters, digits, '_' and '-', at most 64 characters).",
        param,
    )


# -- tools ----------------------------------------------------------------------------


def _tools_problem(body: dict[str, Any]) -> Problem | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _wrong_type("tools", "an array of tools", tools)
    if not tools:
        message = "Invalid 'tools': empty array. Give at least one tool, or leave 'tools' out."
        return Problem(message, "tools", "empty_array")
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        problem = _tool_problem(tool, f"tools[{i}]", seen)
        if problem is not None:
            return problem
    return None


def _tool_problem(tool: object, param: str, seen: set[str]) -> Problem | None:
    if not isinstance(tool, dict):
        return _wrong_type(param, "an object", tool)
    if tool.get("type") != "function":
        message = f"Invalid value for '{param}.type': FakeOpenAI supports only 'function' tools"
        return Problem(f"{message}, got {tool.get('type')!r}.", f"{param}.type")
    function = tool.get("function")
    if function is None:
        return _missing(f"{param}.function")
    if not isinstance(function, dict):
        return _wrong_type(f"{param}.function", "an object", function)
    return _function_problem(function, f"{param}.function", seen)


def _function_problem(function: dict[str, Any], param: str, seen: set[str]) -> Problem | None:
    name = function.get("name")
    if name is None:
        return _missing(f"{param}.name")
    if not isinstance(name, str):
        return _wrong_type(f"{param}.name", "a string", name)
    if not NAME.fullmatch(name):
        return _bad_name(f"{param}.name", name)
    if name in seen:
        message = f"Invalid '{param}.name': two tools are named {name!r} (a FakeOpenAI rule)."
        return Problem(message, f"{param}.name")
    seen.add(name)
    for key, kind, expected in (("description", str, "a string"), ("strict", bool, "a boolean")):
        if function.get(key) is not None and not isinstance(function[key], kind):
            return _wrong_type(f"{param}.{key}", expected, function[key])
    if function.get("parameters") is None:
        return None
    strict = function.get("strict") is True
    found = schema_problem(function["parameters"], strict=strict, object_root=True)
    if found is None:
        return None
    context, what = found
    message = f"Invalid schema for function '{name}': In context={context!r}, {what}"
    return Problem(message, f"{param}.parameters", "invalid_function_parameters")


# -- tool_choice ----------------------------------------------------------------------


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools") or []]


def _tool_choice_problem(body: dict[str, Any]) -> Problem | None:
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if not body.get("tools"):
        message = "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
        return Problem(message + "are specified.", "tool_choice")
    if isinstance(choice, str):
        if choice in _CHOICES:
            return None
        message = f"Invalid value for 'tool_choice': {choice!r}. Supported values are: "
        return Problem(message + ", ".join(map(repr, _CHOICES)) + ", or a function.", "tool_choice")
    if not isinstance(choice, dict):
        return _wrong_type("tool_choice", "a string or an object", choice)
    if choice.get("type") != "function":
        message = "Invalid value for 'tool_choice.type': FakeOpenAI supports only 'function'"
        return Problem(f"{message}, got {choice.get('type')!r}.", "tool_choice.type")
    function = choice.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return _missing("tool_choice.function.name")
    name, names = function["name"], _tool_names(body)
    if name not in names:
        message = f"Invalid value for 'tool_choice': no function named {name!r} in 'tools' "
        return Problem(f"{message}(they are {names}).", "tool_choice.function.name")
    return None


def _parallel_problem(body: dict[str, Any]) -> Problem | None:
    parallel = body.get("parallel_tool_calls")
    if parallel is None:
        return None
    if not isinstance(parallel, bool):
        return _wrong_type("parallel_tool_calls", "a boolean", parallel)
    if not body.get("tools"):
        message = "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only "
        return Problem(message + "allowed when 'tools' are specified.", "parallel_tool_calls")
    return None


# -- response_format ------------------------------------------------------------------


def _response_format_problem(body: dict[str, Any]) -> Problem | None:
    form = body.get("response_format")
    if form is None:
        return None
    if not isinstance(form, dict):
        return _wrong_type("response_format", "an object", form)
    kind = form.get("type")
    if kind not in _FORMATS:
        message = f"Invalid value for 'response_format.type': {kind!r}. Supported values are: "
        return Problem(message + ", ".join(map(repr, _FORMATS)) + ".", "response_format.type")
    if kind == "json_object" and not _mentions_json(body["messages"]):
        message = (
            "'messages' must contain the word 'json' in some form, to use 'response_format' "
            "of type 'json_object'."
        )
        return Problem(message, "messages")
    if kind == "json_schema":
        return _json_schema_problem(form.get("json_schema"))
    return None


def _mentions_json(messages: list[Any]) -> bool:
    return any(
        "json" in text_of(message.get("content")).lower()
        for message in messages
        if isinstance(message, dict)
    )


def _json_schema_problem(spec: object) -> Problem | None:
    param = "response_format.json_schema"
    if spec is None:
        return _missing(param)
    if not isinstance(spec, dict):
        return _wrong_type(param, "an object", spec)
    name = spec.get("name")
    if name is None:
        return _missing(f"{param}.name")
    if not isinstance(name, str):
        return _wrong_type(f"{param}.name", "a string", name)
    if not NAME.fullmatch(name):
        return _bad_name(f"{param}.name", name)
    for key, kind, expected in (("description", str, "a string"), ("strict", bool, "a boolean")):
        if spec.get(key) is not None and not isinstance(spec[key], kind):
            return _wrong_type(f"{param}.{key}", expected, spec[key])
    if spec.get("schema") is None:
        message = f"Missing required parameter: '{param}.schema' (a FakeOpenAI rule)."
        return Problem(message, f"{param}.schema", "missing_required_parameter")
    found = schema_problem(spec["schema"], strict=spec.get("strict") is True)
    if found is None:
        return None
    context, what = found
    message = f"Invalid schema for response_format '{name}': In context={context!r}, {what}"
    return Problem(message, "response_format", "invalid_json_schema")


# -- messages -------------------------------------------------------------------------


class _Calls:
    """The tool calls of the last assistant message, and which are still unanswered."""

    __slots__ = ("at", "ids", "open")

    def __init__(self, at: int, ids: list[str]) -> None:
        self.at = at
        self.ids = ids
        self.open = list(ids)

    def unanswered(self) -> Problem:
        message = (
            f"An assistant message with 'tool_calls' (messages[{self.at}]) must be followed "
            "by tool messages responding to each 'tool_call_id'. The following "
            f"tool_call_ids did not have response messages: {', '.join(self.open)}"
        )
        return Problem(message, f"messages[{self.at}].tool_calls")


def _messages_problem(body: dict[str, Any]) -> Problem | None:
    calls: _Calls | None = None
    for at, message in enumerate(body["messages"]):
        param = f"messages[{at}]"
        if not isinstance(message, dict):
            return _wrong_type(param, "an object", message)
        role = message.get("role")
        if role not in _ROLES:
            roles = ", ".join(sorted(map(repr, _ROLES)))
            return Problem(f"Invalid value for '{param}.role': {role!r}; use {roles}.", param)
        if calls is not None and calls.open and role != "tool":
            return calls.unanswered()
        if role == "tool":
            problem = _tool_message_problem(message, param, calls)
        elif role == "assistant" and message.get("tool_calls") is not None:
            problem, calls = _assistant_calls(message["tool_calls"], at)
        else:
            problem, calls = None, None
        if problem is not None:
            return problem
    return calls.unanswered() if calls is not None and calls.open else None


def _tool_message_problem(
    message: dict[str, Any], param: str, calls: _Calls | None
) -> Problem | None:
    call_id = message.get("tool_call_id")
    if call_id is None:
        return _missing(f"{param}.tool_call_id")
    if not isinstance(call_id, str):
        return _wrong_type(f"{param}.tool_call_id", "a string", call_id)
    content = message.get("content")
    if not isinstance(content, str | list):
        return _wrong_type(f"{param}.content", "a string or an array of parts", content)
    if calls is None:
        text = (
            f"Invalid parameter: messages with role 'tool' must be a response to a preceding "
            f"message with 'tool_calls' ({param} follows none)."
        )
        return Problem(text, f"{param}.role")
    if call_id not in calls.ids:
        text = f"Invalid parameter: 'tool_call_id' {call_id!r} of {param} is not one of"
        return Problem(f"{text} messages[{calls.at}].tool_calls {calls.ids}.", param)
    if call_id not in calls.open:
        text = f"Invalid parameter: {param} answers tool call {call_id!r} a second time."
        return Problem(text, param)
    calls.open.remove(call_id)
    return None


def _assistant_calls(tool_calls: object, at: int) -> tuple[Problem | None, _Calls | None]:
    param = f"messages[{at}].tool_calls"
    if not isinstance(tool_calls, list):
        return _wrong_type(param, "an array", tool_calls), None
    if not tool_calls:
        return Problem(f"Invalid '{param}': empty array.", param, "empty_array"), None
    ids: list[str] = []
    for i, call in enumerate(tool_calls):
        found = _call_id(call, f"{param}[{i}]")
        if isinstance(found, Problem):
            return found, None
        if found in ids:
            return Problem(f"Invalid '{param}[{i}].id': duplicate id {found!r}.", param), None
        ids.append(found)
    return None, _Calls(at, ids)


def _call_id(call: object, param: str) -> str | Problem:
    """The id of one tool call an assistant message in the history made, or its problem."""
    if not isinstance(call, dict):
        return _wrong_type(param, "an object", call)
    if "id" not in call:
        return _missing(f"{param}.id")
    if not isinstance(call["id"], str):
        return _wrong_type(f"{param}.id", "a string", call["id"])
    if call.get("type") != "function":
        return Problem(f"Invalid value for '{param}.type': expected 'function'.", f"{param}.type")
    function = call.get("function")
    if not isinstance(function, dict):
        return _wrong_type(f"{param}.function", "an object", function)
    for key, expected in (("name", "a string"), ("arguments", "a string (JSON text)")):
        if not isinstance(function.get(key), str):
            return _wrong_type(f"{param}.function.{key}", expected, function.get(key))
    return call["id"]
