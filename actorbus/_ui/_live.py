"""``/api/events``: server-sent events that tell the page the log grew.

Each connection looks at the log's last seq every `Viewer.interval` seconds and
sends ``event: seq`` with ``{"last_seq": N}`` when it moved (and once at the
start), until the client goes away or the server stops. The event carries no
record: the page asks ``/api/records`` for what is new, with its own filters, so
what it shows always comes through the same endpoint. A comment line every 15 s
keeps idle connections open through proxies.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .._errors import ActorbusError
from ._viewer import Viewer

__all__ = ["events"]

_KEEPALIVE = 15.0


async def events(request: Request) -> Response:
    """Stream ``seq`` events until the client goes away."""
    viewer: Viewer = request.app.state.viewer
    return StreamingResponse(
        _stream(viewer),
        media_type="text/event-stream",
        headers={"x-accel-buffering": "no"},
    )


async def _stream(viewer: Viewer) -> AsyncGenerator[bytes, None]:
    seen = -1
    quiet_since = time.monotonic()
    while not viewer.stopping:
        try:
            last = await (await viewer.reader()).last_seq()
        except ActorbusError as exc:  # say it once, then try again
            yield _event("problem", {"error": str(exc)})
            last = seen
        if last != seen:
            seen = last
            yield _event("seq", {"last_seq": last})
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > _KEEPALIVE:
            yield b": still here\n\n"
            quiet_since = time.monotonic()
        await anyio.sleep(viewer.interval)


def _event(name: str, data: object) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"
