"""Deciding how to answer a request: routing, the API key, validation, the script.

`route` does no I/O. It turns a recorded request into a `Plan`: the `Reply` or
`Fault` to act out and, for chat completions, what the answer must look like. Errors
the real API would send (unknown URL, wrong key, unknown model, bad body) become
`Fault.status` answers with OpenAI-style bodies, and consume no scripted step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from ._checks import request_problem
from ._spec import Fault, Reply
from ._state import Exchange, Incoming, ServerState
from ._wire import Answering, error_body, estimate_prompt_tokens, to_json

__all__ = ["Plan", "decode_body", "route"]

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
MODELS_PATHS = frozenset({"/v1/models", "/models"})

_decode = msgspec.json.Decoder().decode


class Plan(NamedTuple):
    """How to answer one request."""

    action: Reply | Fault
    """What to send (error answers are `Fault.status` with a ready body)."""
    answering: Answering | None = None
    """For chat completions: the answer's id, model, streaming and token estimate."""
    body: dict[str, Any] | None = None
    """The request body, for faults that fall back to the default reply."""


def decode_body(raw: bytes | None) -> dict[str, Any] | None:
    """The JSON object in ``raw``, or ``None`` if it is missing, too big or not one."""
    if not raw:
        return None
    try:
        body = _decode(raw)
    except (msgspec.DecodeError, RecursionError):  # msgspec's answer to very deep nesting
        return None
    return body if isinstance(body, dict) else None


def _error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> Plan:
    body = error_body(status, message, code=code, param=param)
    return Plan(Fault.status(status, body=body.decode()))


def route(state: ServerState, exchange: Exchange, incoming: Incoming) -> Plan:
    """Decide the answer to ``incoming``, recorded as ``exchange``.

    Raises:
        Exception: Whatever the `FakeOpenAI.reply_with` function raises; the server
            answers 500.
    """
    path, method = exchange.path, exchange.method
    if path not in CHAT_PATHS and path not in MODELS_PATHS:
        return _error(404, f"Invalid URL ({method} {path})", code="unknown_url")
    authorized = state.authorized(incoming.header(b"authorization"))
    if not authorized:
        missing = ": no 'Authorization: Bearer' header was sent" if authorized is None else ""
        return _error(401, f"Incorrect API key provided{missing}.", code="invalid_api_key")
    if incoming.body is None:
        limit = f"The request body is larger than this server's limit of {state.max_body} bytes."
        return _error(413, limit, code="request_too_large")
    if path in MODELS_PATHS:
        return _models(state) if method == "GET" else _not_allowed(method, path)
    if method != "POST":
        return _not_allowed(method, path)
    return _chat(state, exchange.body)


def _not_allowed(method: str, path: str) -> Plan:
    return _error(405, f"Method {method} is not allowed on {path}.", code="method_not_allowed")


def _models(state: ServerState) -> Plan:
    data = [
        {"id": model, "object": "model", "created": 0, "owned_by": "actorbus"}
        for model in state.models or []
    ]
    return Plan(Fault.status(200, body=to_json({"object": "list", "data": data}).decode()))


def _invalid(body: dict[str, Any] | None) -> str | None:
    if body is None:
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str):
        return "You must provide a model parameter (a string)."
    if not isinstance(body.get("messages"), list):
        return "'messages' is a required property and must be a list."
    return None


def _chat(state: ServerState, body: dict[str, Any] | None) -> Plan:
    problem = _invalid(body)
    if problem is not None or body is None:
        return _error(400, problem or "", code="invalid_request")
    checked = request_problem(body)
    if checked is not None:
        return _error(400, checked.message, code=checked.code, param=checked.param)
    model: str = body["model"]
    if state.models is not None and model not in state.models:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return _error(404, message, code="model_not_found")
    stream = body.get("stream") is True
    options = body.get("stream_options")
    number = state.next_id()
    answering = Answering(
        id=f"chatcmpl-{number}",
        model=model,
        call_id_prefix=f"call_{number}_",
        stream=stream,
        include_usage=stream and isinstance(options, dict) and options.get("include_usage") is True,
        prompt_tokens=estimate_prompt_tokens(body["messages"]),
    )
    return Plan(state.next_step(body), answering, body)
