"""Several processes on one JetStream bus: two workers share the work a third publishes.

The child programs are tests/log/js_processes.py. Each key's jobs go to the actor
name ``keyed-<k>`` (mailbox of one), spawned in both workers. What must hold, with
and without faults: every job is handled, its `JobDone` is stored exactly once
(a job handled again after a crash republishes the same derived id, which the
stream drops), and each key's jobs are done in the order they were published.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import nats
import pytest
from js_processes import JobDone, open_log

from actorbus.testing import NatsServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

PROGRAM = Path(__file__).with_name("js_processes.py")
KEYS = 8


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start_worker(server: NatsServer, stream: str, label: str, out: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(PROGRAM), "worker", server.url, stream, str(KEYS), label, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # returns at "ready", or "" if it died first
    assert line.strip() == "ready", f"worker {label} did not start (exit {proc.poll()})"
    return proc


def start_publisher(server: NatsServer, stream: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROGRAM), "publish", server.url, stream, str(KEYS), str(count)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> int:
    """Close the worker's stdin (it closes its bus and exits); return its exit status."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        close_pipes(proc)


def close_pipes(proc: subprocess.Popen[str]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def finished(proc: subprocess.Popen[str], timeout: float) -> int:
    """Wait for the publisher; return its exit status."""
    try:
        proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode


@contextmanager
def workers(server: NatsServer, stream: str, tmp: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs = [start_worker(server, stream, label, tmp / f"{label}.txt") for label in ("a", "b")]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            close_pipes(proc)


async def done_count(server: NatsServer, stream: str) -> int:
    """How many `JobDone` records the stream holds (the server counts them by subject)."""
    client = await nats.connect(server.url)
    try:
        info = await client.jetstream().stream_info(
            stream, subjects_filter=f"{stream.lower()}.done.>"
        )
    finally:
        await client.close()
    return sum((info.state.subjects or {}).values())


async def wait_for_done(
    server: NatsServer, stream: str, count: int, timeout: float, alive: Callable[[], None]
) -> None:
    with anyio.fail_after(timeout):
        while await done_count(server, stream) < count:
            alive()
            await anyio.sleep(0.2)  # a bounded poll of another process's progress


async def done_records(server: NatsServer, stream: str) -> list[JobDone]:
    async with open_log(server.url, stream) as log:
        records = await log.read_topic_prefix("done.")
    found = [env.message for env in records]
    assert all(isinstance(msg, JobDone) for msg in found)
    return found  # type: ignore[return-value]


def check_done_once_each_in_key_order(done: list[JobDone], count: int) -> None:
    assert sorted(msg.n for msg in done) == list(range(count))  # each once: none lost, none twice
    by_key: dict[int, list[int]] = defaultdict(list)
    for msg in done:
        by_key[msg.key].append(msg.n)
    for key, ns in by_key.items():
        assert ns == list(range(key, count, KEYS)), f"key {key} done out of order"


def handled_lines(tmp: Path) -> list[tuple[str, int]]:
    found = []
    for label in ("a", "b"):
        path = tmp / f"{label}.txt"
        for line in path.read_text().splitlines() if path.exists() else []:
            who, _, n = line.split()
            found.append((who, int(n)))
    return found


def fresh_stream() -> str:
    return f"P{uuid.uuid4().hex[:12]}"


def running(*procs: subprocess.Popen[str]) -> Callable[[], None]:
    def check() -> None:
        for proc in procs:
            assert proc.poll() is None, f"a child exited early with {proc.returncode}"

    return check


async def test_two_workers_share_the_jobs_one_publisher_sends(tmp_path: Path) -> None:
    count = 2_000
    stream = fresh_stream()
    with NatsServer() as server, workers(server, stream, tmp_path) as (a, b):
        publisher = start_publisher(server, stream, count)
        await wait_for_done(server, stream, count, 90, running(a, b))
        assert finished(publisher, 30) == 0
        assert stop(a) == 0
        assert stop(b) == 0
        check_done_once_each_in_key_order(await done_records(server, stream), count)
    handled = handled_lines(tmp_path)
    times = Counter(n for _, n in handled)
    assert sorted(times) == list(range(count))
    assert set(times.values()) == {1}
    assert {who for who, _ in handled} == {"a", "b"}  # both did some of the work


async def test_a_server_restart_mid_stream_loses_nothing_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    count = 5_000  # the restart lands after a fifth are done, whatever the count
    stream = fresh_stream()
    with NatsServer() as server, workers(server, stream, tmp_path) as (a, b):
        publisher = start_publisher(server, stream, count)
        await wait_for_done(server, stream, count // 5, 90, running(a, b))
        server.restart()  # every client is cut off; the server comes back on the same port
        await wait_for_done(server, stream, count, 150, running(a, b))
        assert finished(publisher, 60) == 0
        assert stop(a) == 0
        assert stop(b) == 0
        check_done_once_each_in_key_order(await done_records(server, stream), count)
    assert {n for _, n in handled_lines(tmp_path)} == set(range(count))


async def test_a_worker_killed_mid_stream_has_its_jobs_done_by_the_other(tmp_path: Path) -> None:
    count = 2_000  # the kill lands after a quarter are done, whatever the count
    stream = fresh_stream()
    with NatsServer() as server, workers(server, stream, tmp_path) as (a, b):
        publisher = start_publisher(server, stream, count)
        await wait_for_done(server, stream, count // 4, 90, running(a, b))
        a.send_signal(signal.SIGKILL)  # mid-handler, with jobs held and unacknowledged
        a.wait()
        await wait_for_done(server, stream, count, 120, running(b))
        assert finished(publisher, 30) == 0
        assert stop(b) == 0
        check_done_once_each_in_key_order(await done_records(server, stream), count)
    handled = handled_lines(tmp_path)
    assert {n for _, n in handled} == set(range(count))
    assert {who for who, _ in handled} == {"a", "b"}
