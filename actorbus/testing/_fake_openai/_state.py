"""The state a FakeOpenAI shares between the test's thread and its server thread.

The test thread scripts behaviours and reads recordings while the server thread
consumes the script and records requests, so both the script and the recordings
sit behind one lock. The API key lives here only as the bytes to compare against,
and nothing here has a repr that could show it.
"""

from __future__ import annotations

import hmac
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._spec import Fault, RecordedRequest, Reply, Step
from ._wire import echo

__all__ = ["DefaultFn", "Exchange", "Incoming", "ServerState", "as_action"]

DefaultFn = Callable[[dict[str, Any]], Step]


class Incoming:
    """One request as read off the wire: head, body (``None`` if too big) and time."""

    __slots__ = ("body", "headers", "method", "target", "time")

    def __init__(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        time: float,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.time = time

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower case), or ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Exchange:
    """A request being answered: what `RecordedRequest` snapshots, with a settable status."""

    __slots__ = ("body", "ended", "headers", "method", "path", "status", "time")

    def __init__(self, incoming: Incoming, body: dict[str, Any] | None) -> None:
        self.time = incoming.time
        self.method = incoming.method
        self.path = incoming.target.partition("?")[0]
        self.headers = _recorded_headers(incoming.headers)
        self.body = body
        self.status = 0
        self.ended: float | None = None

    def snapshot(self) -> RecordedRequest:
        """A frozen copy, as `FakeOpenAI.requests` hands out."""
        return RecordedRequest(
            self.time,
            self.method,
            self.path,
            dict(self.headers),
            self.body,
            self.status,
            self.ended,
        )


def _recorded_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in raw:
        name, text = key.decode("latin-1"), value.decode("latin-1")
        if name == "authorization":
            # Whatever key a client sends, real or not, must not reach test output.
            text = text.split(" ", 1)[0] + " [redacted]"
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


def as_action(step: object) -> Reply | Fault:
    """Turn a scripted step into a `Reply` or `Fault`, refusing anything else."""
    if isinstance(step, str):
        return Reply(text=step)
    if isinstance(step, Reply | Fault):
        return step
    raise TypeError(f"a step must be a str, Reply or Fault, not {type(step).__name__}")


class ServerState:
    """Configuration, script and recordings of one fake server."""

    __slots__ = (
        "_default",
        "_exchanges",
        "_ids",
        "_key",
        "_lock",
        "_script",
        "connections_accepted",
        "latency",
        "max_body",
        "models",
    )

    def __init__(
        self,
        *,
        latency: float,
        api_key: str | None,
        models: Sequence[str] | None,
        max_body: int,
    ) -> None:
        self.latency = latency
        self.max_body = max_body
        self.models = None if models is None else list(models)
        self._key = None if api_key is None else api_key.encode()
        self._lock = threading.Lock()
        self._script: deque[Reply | Fault] = deque()
        self._default: DefaultFn = echo
        self._exchanges: list[Exchange] = []
        self._ids = itertools.count(1)
        self.connections_accepted = 0

    def authorized(self, header: bytes | None) -> bool | None:
        """Whether ``header`` carries the API key; ``None`` if it is missing."""
        if self._key is None:
            return True
        if header is None:
            return None
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)

    def next_id(self) -> int:
        """A fresh number for a completion's ``id``."""
        return next(self._ids)

    def record(self, incoming: Incoming, body: dict[str, Any] | None) -> Exchange:
        """Record a request in arrival order and return its (status 0) exchange."""
        exchange = Exchange(incoming, body)
        with self._lock:
            self._exchanges.append(exchange)
        return exchange

    def recorded(self) -> list[RecordedRequest]:
        """Snapshots of every recorded request, in arrival order."""
        with self._lock:
            return [exchange.snapshot() for exchange in self._exchanges]

    def request_count(self) -> int:
        """How many requests were recorded."""
        with self._lock:
            return len(self._exchanges)

    def script(self, steps: Iterable[Reply | Fault]) -> None:
        """Queue ``steps`` for the next requests."""
        with self._lock:
            self._script.extend(steps)

    def reply_with(self, fn: DefaultFn) -> None:
        """Use ``fn`` when the script is empty."""
        with self._lock:
            self._default = fn

    def reset(self) -> None:
        """Forget the script and the recorded requests."""
        with self._lock:
            self._script.clear()
            self._exchanges.clear()

    def next_step(self, body: dict[str, Any]) -> Reply | Fault:
        """The next scripted step, or the default behaviour's answer for ``body``."""
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.default_step(body)

    def default_step(self, body: dict[str, Any]) -> Reply | Fault:
        """The default behaviour's answer for ``body`` (may raise: the caller answers 500)."""
        with self._lock:
            default = self._default
        return as_action(default(body))
