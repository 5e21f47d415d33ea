"""One HTTP/1.1 server connection: h11's state machine over asyncio streams.

`Connection` reads whole requests and writes whole, streamed or deliberately broken
responses. It knows nothing about OpenAI. Persistent connections work the h11 way:
after a response, `next_cycle` starts the next request/response cycle if both sides
finished cleanly, and reports whether the connection can go on.
"""

from __future__ import annotations

import asyncio
import time

import h11

from ._state import Incoming
from ._wire import error_body

__all__ = ["Connection"]

_READ = 65_536
Headers = list[tuple[str, str]]


class Connection:
    """The server side of one client connection."""

    __slots__ = ("_h11", "_max_body", "_reader", "_writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_body: int
    ) -> None:
        self._h11 = h11.Connection(h11.SERVER)
        self._reader = reader
        self._writer = writer
        self._max_body = max_body

    @property
    def head_sent(self) -> bool:
        """Whether a response has begun, so no other status can be sent for this request."""
        return self._h11.our_state is not h11.SEND_RESPONSE

    async def _next_event(self) -> object:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._h11.receive_data(await self._reader.read(_READ))

    async def receive(self) -> Incoming | None:
        """Read the next request, or return ``None`` if the client is done or broken.

        A body larger than ``max_body`` is read and thrown away (so the connection
        stays usable for the 413 answer) and the request's ``body`` is ``None``.

        Raises:
            OSError: If the client hangs up in the middle of a request.
        """
        try:
            request = await self._next_event()
            if not isinstance(request, h11.Request):
                return None
            body = await self._read_body()
        except h11.RemoteProtocolError as exc:
            await self._refuse(exc)
            return None
        return Incoming(
            request.method.decode("ascii", "replace"),
            request.target.decode("ascii", "replace"),
            list(request.headers),
            body,
            time.monotonic(),
        )

    async def _read_body(self) -> bytes | None:
        """The body, or ``None`` if it is bigger than ``max_body``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size <= self._max_body:
                    chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks) if size <= self._max_body else None
            else:
                raise ConnectionAbortedError("the client left in the middle of a request")

    async def _refuse(self, exc: h11.RemoteProtocolError) -> None:
        """Answer a request h11 could not parse with 400, if a response can still go."""
        if self._h11.our_state is h11.SEND_RESPONSE or self._h11.our_state is h11.IDLE:
            status, message = exc.error_status_hint, f"Malformed HTTP request: {exc}"
            headers = [("content-type", "application/json"), ("connection", "close")]
            await self.send(status, headers, error_body(status, message))

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``, returning ``False`` early if the client hangs up meanwhile.

        Bytes that arrive during the wait (a pipelined request) are kept for the next
        cycle. Cancellation is not swallowed.
        """
        if seconds <= 0:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            read = asyncio.ensure_future(self._reader.read(_READ))
            done, _ = await asyncio.wait({read}, timeout=left)
            if not done:
                read.cancel()
                # Let the read unwind before anyone reads this stream again.
                await asyncio.wait({read})
                if not read.cancelled() and read.exception() is None:
                    self._h11.receive_data(read.result())  # finished just before cancel
                return True
            if read.exception() is not None or not read.result():
                return False
            self._h11.receive_data(read.result())
        return True

    async def send(self, status: int, headers: Headers, body: bytes) -> None:
        """Send a whole response with a ``content-length``."""
        head = [*headers, ("content-length", str(len(body)))]
        data = self._h11.send(h11.Response(status_code=status, headers=head))
        data_body = self._h11.send(h11.Data(data=body)) if body else b""
        end = self._h11.send(h11.EndOfMessage())
        self._writer.write(b"".join((data or b"", data_body or b"", end or b"")))
        await self._writer.drain()

    async def send_partial(self, status: int, headers: Headers, body: bytes, part: int) -> None:
        """Announce all of ``body`` but send only its first ``part`` bytes, then close."""
        head = [*headers, ("content-length", str(len(body)))]
        self._writer.write(self._h11.send(h11.Response(status_code=status, headers=head)) or b"")
        self._writer.write(self._h11.send(h11.Data(data=body[:part])) or b"")
        await self._writer.drain()
        self.close()

    async def start(self, status: int, headers: Headers) -> None:
        """Send a response head with no length: the body goes out in chunks."""
        self._writer.write(self._h11.send(h11.Response(status_code=status, headers=headers)) or b"")
        await self._writer.drain()

    async def write(self, data: bytes) -> None:
        """Send one chunk of a body begun with `start`."""
        self._writer.write(self._h11.send(h11.Data(data=data)) or b"")
        await self._writer.drain()

    async def finish(self) -> None:
        """End a body begun with `start`."""
        self._writer.write(self._h11.send(h11.EndOfMessage()) or b"")
        await self._writer.drain()

    def next_cycle(self) -> bool:
        """Get ready for the next request on this connection, if it can have one."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        """Close the connection now (idempotent); the client sees whatever was sent."""
        self._writer.close()
