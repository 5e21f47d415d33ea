"""Cancellation: cancelling a busy bus from outside leaves no task behind."""

from __future__ import annotations

import asyncio

import anyio
import pytest

import actorbus as ab


class Work(ab.Message):
    n: int


class Ledger:
    """What every handler did: started, finished, or was cancelled."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []
        self.finished: list[tuple[str, int]] = []
        self.cancelled: list[tuple[str, int]] = []

    def running(self) -> set[tuple[str, int]]:
        return set(self.started) - set(self.finished) - set(self.cancelled)


class Busy(ab.Actor):
    """Yields many times per message, so that it is mid-handler most of the time."""

    subscribe = ("work",)
    mailbox_size = 8

    def __init__(self, ledger: Ledger, busy: anyio.Event) -> None:
        self.ledger = ledger
        self.busy = busy

    async def on_work(self, msg: Work, ctx: ab.Context) -> None:
        entry = (ctx.actor, msg.n)
        self.ledger.started.append(entry)
        if len(self.ledger.started) >= 10:
            self.busy.set()
        try:
            for _ in range(50):
                await anyio.lowlevel.checkpoint()
            await ctx.publish("echo", msg)
        except anyio.get_cancelled_exc_class():
            self.ledger.cancelled.append(entry)
            raise
        self.ledger.finished.append(entry)


class ConcurrentBusy(Busy):
    concurrency = 3


class Stuck(ab.Actor):
    """Blocks for ever on its first message."""

    subscribe = ("work",)

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def on_work(self, msg: Work, ctx: ab.Context) -> None:
        entry = (ctx.actor, msg.n)
        self.ledger.started.append(entry)
        try:
            await anyio.Event().wait()
        except anyio.get_cancelled_exc_class():
            self.ledger.cancelled.append(entry)
            raise


class TinyStuck(Stuck):
    mailbox_size = 1


class Echo(ab.Actor):
    subscribe = ("echo",)

    async def on_work(self, msg: Work, ctx: ab.Context) -> None:
        await anyio.lowlevel.checkpoint()


def live_tasks(backend: str) -> set[object]:
    """Every task of the running event loop."""
    if backend == "asyncio":
        return set(asyncio.all_tasks())
    import trio

    tasks: set[object] = set()
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is not None:
            tasks.add(task)
            pending.extend(c for n in task.child_nurseries for c in n.child_tasks)
    return tasks


class TestCancellingTheBus:
    @pytest.mark.parametrize(
        "busy_actor",
        [pytest.param(Busy, id="serial"), pytest.param(ConcurrentBusy, id="concurrency-3")],
    )
    async def test_cancelling_a_busy_bus_leaves_no_task_running(
        self, anyio_backend: str, busy_actor: type[Busy]
    ) -> None:
        ledger = Ledger()
        busy = anyio.Event()
        stopped: list[ab.Bus] = []
        before = live_tasks(anyio_backend)

        async def publish_for_ever(bus: ab.Bus) -> None:
            n = 0
            while True:
                await bus.publish("work", Work(n=n))
                n += 1
                await anyio.lowlevel.checkpoint()  # cancellable even if publish never waits

        with anyio.fail_after(5):
            with anyio.CancelScope() as scope:
                async with ab.Bus() as bus:
                    stopped.append(bus)
                    for i in range(3):
                        await bus.spawn(busy_actor, ledger, busy, name=f"busy{i}")
                    await bus.spawn(Stuck, ledger, name="stuck")
                    await bus.spawn(Echo)
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(publish_for_ever, bus)
                        await busy.wait()
                        # Mid-stream: busy actors are inside their handlers.
                        assert any(name.startswith("busy") for name, _ in ledger.running())
                        assert len(live_tasks(anyio_backend)) > len(before)  # actor tasks
                        scope.cancel()
                        await bus.drain()  # cancelled here
                    pytest.fail("the body went on after the cancel")
        assert scope.cancelled_caught
        assert ledger.started
        assert ledger.running() == set()
        assert ("stuck", 0) in ledger.cancelled
        # Exactly the tasks from before the bus: on asyncio the test's own task and
        # the anyio runner task that awaits it, so no actor task is left.
        assert live_tasks(anyio_backend) == before
        with pytest.raises(ab.BusClosed):
            await stopped[0].publish("work", Work(n=-1))

    async def test_cancelling_while_publish_waits_for_room_leaves_no_task(
        self, anyio_backend: str
    ) -> None:
        ledger = Ledger()
        before = live_tasks(anyio_backend)
        with anyio.fail_after(5):
            with anyio.CancelScope() as scope:
                async with ab.Bus() as bus:
                    await bus.spawn(TinyStuck, ledger, name="stuck")
                    await bus.publish("work", Work(n=0))
                    await anyio.wait_all_tasks_blocked()
                    await bus.publish("work", Work(n=1))  # fills the mailbox of one
                    scope.cancel()
                    await bus.publish("work", Work(n=2))  # would wait for ever
        assert scope.cancelled_caught
        assert ledger.started == [("stuck", 0)]
        assert ledger.running() == set()
        assert live_tasks(anyio_backend) == before
