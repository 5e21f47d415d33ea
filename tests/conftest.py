"""Shared fixtures: every async test runs under asyncio and Trio; a NATS server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actorbus.testing import NatsServer


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each async test on both anyio backends."""
    return str(request.param)


@pytest.fixture(scope="module")
def nats_server() -> Iterator[NatsServer]:
    """One real nats-server per test module that asks for it (each test uses a stream
    of its own); tests that take the server away start one of their own."""
    with NatsServer() as server:
        yield server
