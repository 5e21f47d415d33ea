"""The viewer's JSON API: every endpoint reads the log through the `Viewer`'s reader.

``/api/summary``   the log's name, record count, first and last records, budget
``/api/records``   a page of records (``after=``/``before=`` a seq, ``limit=``)
                   filtered by ``topic=`` (a pattern), ``type=``, ``sender=``,
                   ``correlation=``; newest page when neither seq is given
``/api/facets``    counts per topic, type and sender (what the filters offer)
``/api/message``   one record (``id=`` or ``seq=``): its payload, masked, and
                   the model and tool calls of each handling of it
``/api/tree``      the causation tree around a message (``id=``): up to its
                   root, then down, depth first, bounded
``/api/actors``    each actor's activity, and model usage per actor and model
``/api/dead``      dead letters, newest first (``before=``, ``limit=``)

A request the log cannot answer gets a JSON ``{"error": ...}``: 400 for a bad
argument (a malformed topic pattern, a seq that is not a number), 404 for a
message that is not there, 503 when the log cannot be read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from .._errors import ActorbusError, InvalidTopic
from .._log import LogReader, Record, RecordFilter, actor_names, caused_by, handlings
from ._shapes import (
    activity_shape,
    dead_letter_shape,
    handling_shape,
    payload_of,
    record_shape,
    usage_shape,
)
from ._viewer import Viewer

__all__ = ["ENDPOINTS", "PAGE_LIMIT"]

PAGE_LIMIT = 500
"""The most records one page may ask for."""
_DEFAULT_LIMIT = 100
_UP = 100  # causes followed up from a message to find its tree's root
_NODES = 1_000  # the most messages a tree shows

Endpoint = Callable[[Request], Awaitable[Response]]


class BadRequest(ActorbusError, ValueError):
    """An API argument cannot be used; the message says which and why."""


class JsonResponse(Response):
    """A JSON response encoded with msgspec."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def _viewer(request: Request) -> Viewer:
    viewer: Viewer = request.app.state.viewer
    return viewer


def _int(request: Request, name: str, default: int | None = None, low: int = 0) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {text!r}") from None
    if value < low:
        raise BadRequest(f"{name} must be at least {low}, not {value}")
    return value


def _filter(request: Request) -> RecordFilter | None:
    params = request.query_params
    fields = {
        "topic": params.get("topic") or None,
        "type": params.get("type") or None,
        "sender": params.get("sender") or None,
        "correlation_id": params.get("correlation") or None,
    }
    if all(value is None for value in fields.values()):
        return None
    return RecordFilter(**fields)


def _guarded(endpoint: Callable[[Request, Viewer], Awaitable[Any]]) -> Endpoint:
    async def answer(request: Request) -> Response:
        try:
            return JsonResponse(await endpoint(request, _viewer(request)))
        except (BadRequest, InvalidTopic) as exc:
            return JsonResponse({"error": str(exc)}, status_code=400)
        except _NotFound as exc:
            return JsonResponse({"error": str(exc)}, status_code=404)
        except ActorbusError as exc:  # the log cannot be read: missing, damaged, unreachable
            return JsonResponse({"error": str(exc)}, status_code=503)

    answer.__name__ = endpoint.__name__
    return answer


class _NotFound(Exception):
    pass


async def summary(request: Request, viewer: Viewer) -> dict[str, Any]:
    reader = await viewer.reader()
    found = await reader.summary()
    return {
        **viewer.about(),
        "count": found.count,
        "first": None if found.first is None else record_shape(found.first),
        "last": None if found.last is None else record_shape(found.last),
        "last_seq": await reader.last_seq(),
    }


async def records(request: Request, viewer: Viewer) -> dict[str, Any]:
    reader = await viewer.reader()
    where = _filter(request)
    limit = _int(request, "limit", _DEFAULT_LIMIT, low=1)
    assert limit is not None
    limit = min(limit, PAGE_LIMIT)
    after = _int(request, "after")
    if after is not None:
        page = await reader.records(after + 1, where=where, limit=limit)
        found = page.records
    else:
        before = _int(request, "before", low=1)
        top = None if before is None else before - 1
        if top is not None and top < 1:
            return {"records": [], "more": False}
        page = await reader.records(1, top, where=where, limit=limit, newest_first=True)
        found = page.records[::-1]
    return {"records": [record_shape(r) for r in found], "more": page.next_seq is not None}


async def facets(request: Request, viewer: Viewer) -> dict[str, Any]:
    reader = await viewer.reader()
    return {
        "topics": await reader.counts("topic"),
        "types": await reader.counts("type"),
        "senders": await reader.counts("sender"),
    }


async def _lookup(request: Request, reader: LogReader) -> Record:
    msg_id = request.query_params.get("id")
    seq = _int(request, "seq", low=1)
    found = await reader.record(msg_id) if msg_id else None
    if found is None and seq is not None:
        found = await reader.at(seq)
    if found is None:
        raise _NotFound(f"no record with id {msg_id!r}" if msg_id else "no record at that seq")
    return found


async def message(request: Request, viewer: Viewer) -> dict[str, Any]:
    reader = await viewer.reader()
    record = await _lookup(request, reader)
    payload, problem = payload_of(record)
    found = await handlings(reader, record.id, await actor_names(reader))
    return {
        "record": record_shape(record),
        "payload": payload,
        "payload_error": problem,
        "handlings": [handling_shape(h) for h in found],
    }


async def tree(request: Request, viewer: Viewer) -> dict[str, Any]:
    reader = await viewer.reader()
    focus = await _lookup(request, reader)
    root = focus
    for _ in range(_UP):  # up to the first message, or as far as the log holds
        if root.causation is None:
            break
        parent = await reader.record(root.causation)
        if parent is None or parent.seq >= root.seq:
            break
        root = parent
    nodes, truncated = await _below(reader, root)
    return {"focus": focus.id, "root": root.id, "nodes": nodes, "truncated": truncated}


async def _below(reader: LogReader, root: Record) -> tuple[list[dict[str, Any]], bool]:
    # Depth first, children in seq order, each message once; iterative, so a
    # long chain cannot exhaust the recursion limit.
    nodes: list[dict[str, Any]] = []
    seen = {root.id}
    stack: list[tuple[Record, str | None, int]] = [(root, None, 0)]
    while stack:
        if len(nodes) == _NODES:
            return nodes, True
        record, parent, depth = stack.pop()
        nodes.append({**record_shape(record), "parent": parent, "depth": depth})
        children = [c for c in await caused_by(reader, record.id) if c.id not in seen]
        seen.update(c.id for c in children)
        stack.extend((child, record.id, depth + 1) for child in reversed(children))
    return nodes, False


async def actors(request: Request, viewer: Viewer) -> dict[str, Any]:
    found = await viewer.activity()
    usage = await viewer.usage()
    return {**viewer.about(), "actors": activity_shape(found), "usage": usage_shape(usage)}


async def dead(request: Request, viewer: Viewer) -> dict[str, Any]:
    reader = await viewer.reader()
    limit = min(_int(request, "limit", _DEFAULT_LIMIT, low=1) or 1, PAGE_LIMIT)
    before = _int(request, "before", low=1)
    top = None if before is None else before - 1
    if top is not None and top < 1:
        return {"letters": [], "more": False}
    where = RecordFilter(topic="_dead.>")
    page = await reader.records(1, top, where=where, limit=limit, newest_first=True)
    return {
        "letters": [dead_letter_shape(r) for r in page.records],
        "more": page.next_seq is not None,
    }


ENDPOINTS: dict[str, Endpoint] = {
    "/api/summary": _guarded(summary),
    "/api/records": _guarded(records),
    "/api/facets": _guarded(facets),
    "/api/message": _guarded(message),
    "/api/tree": _guarded(tree),
    "/api/actors": _guarded(actors),
    "/api/dead": _guarded(dead),
}
"""Path -> endpoint, each answering GET (and HEAD)."""
