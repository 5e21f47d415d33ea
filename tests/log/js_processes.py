"""The child programs of the multi-process JetStream tests: keyed workers and a publisher.

Run as::

    python tests/log/js_processes.py worker URL STREAM KEYS LABEL OUTFILE
    python tests/log/js_processes.py publish URL STREAM KEYS COUNT

A worker spawns one actor per key, ``keyed-<k>`` subscribed to ``jobs.k<k>`` with a
mailbox of one: its name's consumer then lets one message out at a time, so every
process running the same names shares the keys' work while each key's messages
are handled in order. For each job it appends ``<label> <k> <n>`` to OUTFILE and
publishes ``JobDone`` on ``done.k<k>`` (with the id the core derives from the job's,
so a job handled again after a crash publishes nothing new). It prints ``ready``
once its actors are spawned, and closes its bus when its stdin closes.

The publisher publishes jobs 0..COUNT-1, job n on key n % KEYS, with the key
``job-<n>``: each key's jobs in order, the keys concurrently. It imports only
public actorbus.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import anyio
import anyio.to_thread

import actorbus

REDELIVER_AFTER = 2.0  # seconds before a dead worker's message goes to the other
DEDUP_WINDOW = 3600.0  # longer than any test: no job id may be forgotten


class JobRequest(actorbus.Message):
    """A job, on ``jobs.k<key>``."""

    key: int
    n: int


class JobDone(actorbus.Message):
    """A job handled, on ``done.k<key>``."""

    key: int
    n: int
    by: str


class KeyedWorker(actorbus.Actor):
    """Handles one key's jobs; one in flight per name across every process."""

    mailbox_size = 1

    def __init__(self, label: str, out: TextIO) -> None:
        self.label = label
        self.out = out

    async def on_job(self, msg: JobRequest, ctx: actorbus.Context) -> None:
        self.out.write(f"{self.label} {msg.key} {msg.n}\n")
        self.out.flush()
        await ctx.publish(f"done.k{msg.key}", JobDone(key=msg.key, n=msg.n, by=self.label))


def open_log(url: str, stream: str) -> actorbus.JetStreamLog:
    return actorbus.JetStreamLog(
        url,
        stream=stream,
        subject_prefix=stream.lower(),
        redeliver_after=REDELIVER_AFTER,
        duplicate_window=DEDUP_WINDOW,
        publish_timeout=60.0,
    )


async def work(url: str, stream: str, keys: int, label: str, outfile: Path) -> None:
    with outfile.open("a", encoding="utf-8") as out:
        async with actorbus.Bus(log=open_log(url, stream)) as bus:
            for k in range(keys):
                await bus.spawn(
                    KeyedWorker, label, out, name=f"keyed-{k}", subscribe=[f"jobs.k{k}"]
                )
            print("ready", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the test closes stdin


async def publish(url: str, stream: str, keys: int, count: int) -> None:
    async with actorbus.Bus(log=open_log(url, stream)) as bus:

        async def one_key(k: int) -> None:
            for n in range(k, count, keys):
                await bus.publish(f"jobs.k{k}", JobRequest(key=k, n=n), key=f"job-{n}")

        async with anyio.create_task_group() as tg:
            for k in range(keys):
                tg.start_soon(one_key, k)
    print("published", flush=True)


def main(argv: list[str]) -> None:
    role, url, stream, keys = argv[0], argv[1], argv[2], int(argv[3])
    if role == "worker":
        anyio.run(work, url, stream, keys, argv[4], Path(argv[5]))
    elif role == "publish":
        anyio.run(publish, url, stream, keys, int(argv[4]))
    else:
        raise SystemExit(f"unknown role {role!r}: worker or publish")


if __name__ == "__main__":
    main(sys.argv[1:])
