"""A concurrent actor never strands a message that arrives while its drain ends."""

from __future__ import annotations

import anyio

import actorbus as ab


class Job(ab.Message):
    n: int


class Done(ab.Message):
    n: int


class Slowish(ab.Actor):
    """Handles up to four jobs at once, each taking a few scheduler turns."""

    subscribe = ("jobs",)
    concurrency = 4

    async def on_job(self, msg: Job, ctx: ab.Context) -> Done:
        for _ in range(msg.n % 3):
            await anyio.lowlevel.checkpoint()
        return Done(n=msg.n)


async def test_back_to_back_asks_to_a_concurrent_actor_are_all_answered() -> None:
    # Each ask is sent 0-4 scheduler turns after the previous answer arrives: some
    # land while the actor's drain, its mailbox empty, is winding down. That message must start
    # a new drain, not wait for one that is ending.
    async with ab.Bus() as bus:
        await bus.spawn(Slowish, name="slowish")
        with anyio.fail_after(20):
            for n in range(300):
                reply = await bus.ask("jobs", Job(n=n), timeout=5)
                assert reply == Done(n=n)
                for _ in range(n % 5):  # sweep the arrival over the drain's last turns
                    await anyio.lowlevel.checkpoint()
        with anyio.fail_after(2):
            await bus.drain()  # and the ended drains were all counted as ended
        stats = bus.statistics().actors["slowish"]
    assert stats.handled == 300
    assert stats.mailbox_depth == 0
