"""Shared fixtures: every async test runs under asyncio and Trio; a NATS server per module."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from actorbus.testing import NatsServer

# A test asserts behaviour, never the machine's speed: Hypothesis's per-example deadline
# (200 ms) and its too-slow health check fail a machine that is slow or busy, so
# neither applies here. (Each test still bounds itself with pytest-timeout.)
settings.register_profile("actorbus", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("actorbus")

# Tests of Ctrl-C send SIGINT to a child process, which inherits an ignored SIGINT (a
# suite started in the background by a non-interactive shell ignores it) and then
# cannot be interrupted. Restore Python's own handler: a child starts with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for ``-n auto`` (pyproject's addopts): one per core, and at least two.

    Many tests spend most of their time waiting on child processes, servers and
    timers, so a second worker shortens the suite even on one core.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(2, cores)


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
