"""`FakeOpenAI`: a real OpenAI-compatible HTTP server on a loopback port, for tests.

The server runs its own asyncio event loop in a daemon thread, so the same object
works from sync code, asyncio tests and Trio tests, and a slow answer never blocks
the test's own loop. Each connection is one task on that loop; keep-alive, streaming
and faults are handled per connection (see ``_serving``), while the script and the
recordings are shared with the test's thread under a lock (see ``_state``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, final

import anyio.to_thread

from ._serving import serve_connection
from ._spec import RecordedRequest, Step
from ._state import ServerState, as_action

__all__ = ["FakeOpenAI", "serve_forever"]

logger = logging.getLogger("actorbus.testing")

_Phase = Literal["new", "running", "stopped"]


@final
class FakeOpenAI:
    """An HTTP server that speaks the OpenAI chat completions API, on a random port.

    It answers ``POST /v1/chat/completions`` (and ``/chat/completions``), plain or
    streamed, with the next step queued by `script`, or else the `reply_with`
    function (by default ``"echo: "`` and the last user message). ``GET /v1/models``
    lists ``models``. Every request is recorded (see `requests`).

    Use it as a context manager, sync or async, or call `start` and `stop`::

        with FakeOpenAI(latency=0.02) as fake:
            fake.script("hello", Fault.status(429, retry_after="1"))
            client = httpx.Client(base_url=fake.base_url)

    Args:
        latency: Seconds to wait before every answer. Requests overlap: one slow
            answer does not delay another.
        api_key: If set, requests without ``Authorization: Bearer <api_key>`` get 401.
            The key appears in no answer, log or repr.
        models: If set, ``GET /v1/models`` lists them and a request for any other
            model gets 404 with code ``model_not_found``.
        host: The address to listen on; keep it a loopback address.
        port: The port; 0 picks a free one.
        max_body: The largest request body in bytes; bigger ones get 413.

    Raises:
        ValueError: If ``latency`` or ``max_body`` is negative.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = 1_000_000,
    ) -> None:
        if latency < 0 or max_body < 0:
            raise ValueError(f"latency and max_body must be >= 0, got {latency} and {max_body}")
        self._state = ServerState(
            latency=latency, api_key=api_key, models=models, max_body=max_body
        )
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._phase: _Phase = "new"
        self._phase_lock = threading.Lock()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what tests read -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on.

        Raises:
            RuntimeError: If the server was never started.
        """
        if self._port is None:
            raise RuntimeError("FakeOpenAI is not started: call start() or use `with`")
        return self._port

    @property
    def base_url(self) -> str:
        """The API's base URL, such as ``http://127.0.0.1:5123/v1``.

        Raises:
            RuntimeError: If the server was never started.
        """
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received since the start or `reset`, in arrival order."""
        return self._state.recorded()

    @property
    def request_count(self) -> int:
        """How many requests were received since the start or `reset`."""
        return self._state.request_count()

    @property
    def connections_accepted(self) -> int:
        """How many TCP connections the server has accepted (keep-alive reuses one)."""
        return self._state.connections_accepted

    def __repr__(self) -> str:
        where = repr(self.base_url) if self._port is not None else "not started"
        stopped = ", stopped" if self._phase == "stopped" else ""
        return f"FakeOpenAI({where}{stopped}, requests={self.request_count})"

    # -- what tests tell it ----------------------------------------------------------

    def script(self, *steps: Step) -> None:
        """Queue behaviours for the next chat completion requests, in arrival order.

        A string means ``Reply(text=...)``. Once the queue is empty, the `reply_with`
        function answers. Requests refused before reaching the script (wrong key,
        unknown model, bad body, other paths) do not use up a step.

        Raises:
            TypeError: If a step is not a str, `Reply` or `Fault`.
        """
        self._state.script([as_action(step) for step in steps])

    def reply_with(self, fn: Callable[[dict[str, Any]], Step]) -> None:
        """Answer with ``fn(request_body)`` whenever the script is empty.

        ``fn`` runs in the server's thread. If it raises, the request gets a 500
        and the error is logged to the ``actorbus.testing`` logger.
        """
        self._state.reply_with(fn)

    def reset(self) -> None:
        """Forget the queued script and the recorded requests."""
        self._state.reset()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Start listening and serving in a daemon thread; return ``self``.

        Blocks only until the socket is bound.

        Raises:
            RuntimeError: If the server was started before.
            OSError: If the address cannot be bound.
        """
        with self._phase_lock:
            if self._phase != "new":
                raise RuntimeError("a FakeOpenAI starts only once: create a new one instead")
            self._phase = "running"
        self._thread = threading.Thread(target=self._run, name="FakeOpenAI", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._phase = "stopped"
            self._thread.join()
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Close the listener and every connection, and wait for the thread to end.

        Idempotent; a server never started just becomes unusable.

        Raises:
            RuntimeError: If called from the server's own thread (a `reply_with`
                function), where it would wait for itself.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("FakeOpenAI.stop() cannot run in the server's own thread")
        with self._phase_lock:
            was, self._phase = self._phase, "stopped"
        if was != "running" or self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop may have ended already
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAI:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)

    # -- the server thread -----------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            if self._ready.is_set():
                logger.exception("FakeOpenAI: the server thread failed")
            else:
                self._startup_error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._on_connect, self._host, self._requested_port, backlog=1024
        )
        self._loop = asyncio.get_running_loop()
        self._port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that starts our own task: asyncio would wrap a coroutine in a
        # task whose cancellation at stop() it then reports as an error.
        task = asyncio.get_running_loop().create_task(serve_connection(self._state, reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wait_stopped(self) -> None:
        if self._thread is not None:
            self._thread.join()


def serve_forever(*, host: str, port: int, latency: float, api_key: str | None) -> None:
    """Serve a `FakeOpenAI` in the foreground until Ctrl-C (for ``actorbus fake-openai``).

    The first line on stdout is the base URL, flushed at once, so a script or a
    test can start the process and read where to connect. Ctrl-C stops the server
    and returns normally.
    """
    with FakeOpenAI(latency=latency, api_key=api_key, host=host, port=port) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            server._wait_stopped()
