"""Acting out a `Plan` on a `Connection`: replies, streams and each kind of `Fault`.

Each function records the status on the exchange as soon as the response head is
on its way, so a recording says what the client saw even when the body is then cut
off. Nothing here catches errors: a client that hangs up surfaces as `OSError`,
which the connection's loop treats as the end of the connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from ._http import Connection, Headers
from ._routes import Plan
from ._spec import Fault, FaultKind, Reply
from ._state import Exchange, ServerState
from ._wire import (
    DONE,
    Answering,
    completion_body,
    error_body,
    event,
    stream_events,
    to_json,
)

__all__ = ["respond"]

_JSON: Headers = [("content-type", "application/json")]
_EVENTS: Headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]


async def respond(conn: Connection, exchange: Exchange, plan: Plan, state: ServerState) -> None:
    """Send the answer ``plan`` describes for ``exchange``."""
    if isinstance(plan.action, Reply):
        await _reply(conn, exchange, plan.action, _answering(plan))
    else:
        await _FAULTS[plan.action.kind](conn, exchange, plan, plan.action, state)


def _answering(plan: Plan) -> Answering:
    # Only chat completions carry a Reply or a scripted Fault, and they always have one.
    assert plan.answering is not None
    return plan.answering


async def _reply(conn: Connection, exchange: Exchange, reply: Reply, answering: Answering) -> None:
    if not answering.stream:
        exchange.status = 200
        await conn.send(200, _JSON, completion_body(reply, answering))
        return
    head, tail = stream_events(reply, answering)
    await _stream(conn, exchange, [*head, *tail])


async def _stream(conn: Connection, exchange: Exchange, events: list[bytes]) -> None:
    exchange.status = 200
    await conn.start(200, _EVENTS)
    for data in events:
        await conn.write(data)
    await conn.finish()


async def _status(
    conn: Connection, exchange: Exchange, plan: Plan, fault: Fault, state: ServerState
) -> None:
    headers = list(_JSON)
    if fault.retry_after is not None:
        headers.append(("retry-after", fault.retry_after))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", str(fault.retry_after_ms)))
    body = error_body(fault.code) if fault.body is None else fault.body.encode()
    exchange.status = fault.code
    await conn.send(fault.code, headers, body)


async def _hang(
    conn: Connection, exchange: Exchange, plan: Plan, fault: Fault, state: ServerState
) -> None:
    if not await conn.pause(fault.seconds):
        conn.close()  # the client gave up: nothing to answer
        return
    assert plan.body is not None
    await respond(conn, exchange, plan._replace(action=state.default_step(plan.body)), state)


async def _malformed(
    conn: Connection, exchange: Exchange, plan: Plan, fault: Fault, state: ServerState
) -> None:
    body = (fault.body or "").encode()
    if _answering(plan).stream:
        await _stream(conn, exchange, [b"data: " + body + b"\n\n", DONE])
    else:
        exchange.status = 200
        await conn.send(200, _JSON, body)


async def _inconsistent(
    conn: Connection, exchange: Exchange, plan: Plan, fault: Fault, state: ServerState
) -> None:
    answering = _answering(plan)
    shape = {"id": answering.id, "created": int(time.time()), "model": answering.model}
    if answering.stream:
        await _stream(conn, exchange, [event({**shape, "object": "chat.completion.chunk"}), DONE])
    else:
        exchange.status = 200
        await conn.send(200, _JSON, to_json({**shape, "object": "chat.completion", "choices": []}))


async def _truncated(
    conn: Connection, exchange: Exchange, plan: Plan, fault: Fault, state: ServerState
) -> None:
    answering = _answering(plan)
    assert plan.body is not None
    reply = state.default_step(plan.body)
    if not isinstance(reply, Reply):
        reply = Reply(text="this answer is cut off before it ends")
    exchange.status = 200
    if answering.stream:
        head, _ = stream_events(reply, answering)
        await conn.start(200, _EVENTS)
        for data in head[: 1 + fault.after_chunks]:
            await conn.write(data)
        conn.close()
    else:
        body = completion_body(reply, answering)
        await conn.send_partial(200, _JSON, body, len(body) // 2)


async def _disconnect(
    conn: Connection, exchange: Exchange, plan: Plan, fault: Fault, state: ServerState
) -> None:
    conn.close()


_FaultFn = Callable[[Connection, Exchange, Plan, Fault, ServerState], Awaitable[None]]
_FAULTS: dict[FaultKind, _FaultFn] = {
    "status": _status,
    "hang": _hang,
    "malformed": _malformed,
    "inconsistent": _inconsistent,
    "truncated_stream": _truncated,
    "disconnect": _disconnect,
}
