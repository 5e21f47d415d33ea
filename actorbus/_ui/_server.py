"""`ViewerServer`: the viewer on a socket of its own, served by uvicorn.

The socket is bound before uvicorn starts, so a port in use is said at once
(`ViewerBindError`) and port 0 gives a free port whose URL can be printed.
Bound to a loopback address, the viewer needs no token; bound to any other
(``--host 0.0.0.0``), it makes one (`secrets.token_urlsafe`) and the URL it
prints carries it. It serves in the foreground (`serve_forever`: ``actorbus log
serve``, until Ctrl-C) or in a thread beside a run (`start`/`stop`: ``actorbus
run --serve``), with an event loop of its own (asyncio: uvicorn's, and what a
JetStream reader needs), so a slow page never slows the run.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from typing import final

import uvicorn

from .._errors import ActorbusError
from ._app import viewer_app
from ._guard import loopback_hosts
from ._viewer import Viewer

__all__ = ["ViewerBindError", "ViewerServer", "is_loopback"]

_STARTUP = 30.0  # seconds a server thread may take to start listening


class ViewerBindError(ActorbusError, OSError):
    """The viewer cannot listen on the address asked for; the message says what to do."""


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@final
class ViewerServer:
    """The viewer of one log, listening on ``host:port``.

    Args:
        viewer: what it reads through.
        host: the address to bind (default loopback: no token needed).
        port: the port (0: any free one).
    """

    def __init__(self, viewer: Viewer, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        loopback = is_loopback(host)
        self.token = None if loopback else secrets.token_urlsafe(24)
        hosts = loopback_hosts() | {host.strip("[]")} if loopback else None
        app = viewer_app(viewer, token=self.token, hosts=hosts)
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, loop="asyncio", http="h11", ws="none", lifespan="on", log_level="warning",
            access_log=False, proxy_headers=False, server_header=False,
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._viewer = viewer
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The viewer's address, with its token when it needs one."""
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.port}/"
        return base if self.token is None else f"{base}?token={self.token}"

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (uvicorn stops gracefully on SIGINT)."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def start(self) -> None:
        """Serve in a thread of its own; return once it listens.

        Raises:
            ViewerBindError: it did not start listening in time.
        """
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]},
            name="actorbus-viewer", daemon=True,
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + _STARTUP
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # uvicorn says it listens by a flag only
        if not self._server.started:
            raise ViewerBindError(f"the viewer did not start on {self.url}")

    def stop(self) -> None:
        """Stop serving (open pages lose their connection) and wait for the thread."""
        self._viewer.stopping = True  # event streams end, so the shutdown needs no grace
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()


def _bind(host: str, port: int) -> socket.socket:
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ViewerBindError(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ViewerBindError(
            f"cannot listen on {host}:{port} ({exc.strerror}); give another --port, "
            "or --port 0 for any free one"
        ) from None
    sock.set_inheritable(True)
    return sock
