"""Serving one connection: read a request, record it, plan, wait, answer, repeat.

This is the loop each accepted connection runs in its own task on the server's
event loop. It keeps the server alive whatever happens: a client that hangs up ends
its connection quietly, and any other exception is logged and, when no response has
begun, answered with a 500 that the recording shows.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ._http import Connection
from ._respond import respond
from ._routes import Plan, decode_body, route
from ._spec import Fault
from ._state import Exchange, Incoming, ServerState
from ._wire import error_body

__all__ = ["serve_connection"]

logger = logging.getLogger("actorbus.testing")


async def serve_connection(
    state: ServerState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve requests on one connection until either side closes it."""
    conn = Connection(reader, writer, state.max_body)
    state.connections_accepted += 1  # only the server thread writes it
    try:
        while (incoming := await conn.receive()) is not None:
            await _answer(state, conn, incoming)
            if not conn.next_cycle():
                break
    except OSError:
        pass  # the client hung up: closing our side is all there is to do
    except Exception:
        logger.exception("FakeOpenAI: unexpected error; closing the connection")
    finally:
        conn.close()


async def _answer(state: ServerState, conn: Connection, incoming: Incoming) -> None:
    exchange = state.record(incoming, decode_body(incoming.body))
    try:
        await _plan_and_respond(state, conn, incoming, exchange)
    finally:
        exchange.ended = time.monotonic()  # answered, or the client hung up


async def _plan_and_respond(
    state: ServerState, conn: Connection, incoming: Incoming, exchange: Exchange
) -> None:
    try:
        plan = route(state, exchange, incoming)
    except Exception as exc:
        plan = _failed(exc)
    if not await conn.pause(state.latency):
        return  # the client gave up waiting
    try:
        await respond(conn, exchange, plan, state)
    except OSError:
        raise
    except Exception as exc:
        if conn.head_sent:
            raise
        exchange.status = 500
        await respond(conn, exchange, _failed(exc), state)


def _failed(exc: Exception) -> Plan:
    logger.error("FakeOpenAI: answering 500 after an error", exc_info=exc)
    message = f"FakeOpenAI could not answer: {type(exc).__name__}: {exc}"
    return Plan(Fault.status(500, body=error_body(500, message).decode()))
