"""A bus embedded in an ASGI app: opened in the lifespan, used by request handlers.

Plain ASGI, so it runs under any ASGI server (uvicorn, hypercorn) and the same
pattern fits a FastAPI or Starlette ``lifespan``: open the bus on startup, spawn
the actors, close it on shutdown (which lets actors finish what is queued).

    uvicorn examples.asgi_lifespan:app
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import actorbus as ab

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Greet(ab.Message):
    name: str


class Greeting(ab.Message):
    text: str


class Greeter(ab.Actor):
    subscribe = ("greet",)

    async def on_greet(self, msg: Greet, ctx: ab.Context) -> Greeting:
        return Greeting(text=f"hello, {msg.name} (message seq {ctx.seq})")


class App:
    """An ASGI app that owns a bus for its lifetime."""

    def __init__(self) -> None:
        self.bus: ab.Bus | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                self.bus = ab.Bus()
                await self.bus.__aenter__()
                await self.bus.spawn(Greeter, name="greeter")
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                if self.bus is not None:
                    await self.bus.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, send: Send) -> None:
        assert self.bus is not None, "the lifespan did not run"
        name = scope["path"].strip("/") or "world"
        reply = await self.bus.ask("greet", Greet(name=name), timeout=5)
        assert isinstance(reply, Greeting)
        body = json.dumps({"greeting": reply.text}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


app = App()
