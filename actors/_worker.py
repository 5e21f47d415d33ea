"""`Worker`: an actor with capabilities that a `Coordinator` delegates tasks to."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import anyio

import actorbus as ab

from ._messages import TaskResult

__all__ = ["ANNOUNCE", "Worker", "registry_topic", "task_topic"]

ANNOUNCE = "agents.announce"
"""Where a coordinator says it has started, so workers (re-)announce themselves."""


def task_topic(actor: str) -> str:
    """Return the topic ``actor`` takes tasks on."""
    return f"agents.{actor}"


def registry_topic(coordinator: str) -> str:
    """Return the topic ``coordinator`` learns its workers' capabilities on."""
    return f"{coordinator}.register"


class Worker(ab.Actor):
    """An actor that does tasks for a coordinator: subclass it and write `perform`.

    On start it announces its `capabilities` to its coordinator (a `Register`
    message on ``<coordinator>.register``), and again whenever that coordinator
    starts, so spawn order does not matter; on stop it withdraws them. Tasks arrive
    as `TaskDelegation` asks on ``agents.<name>``; `perform`'s return value is the
    task's output. An exception is retried like any handler's (``max_retries``;
    not at all if it is `actorbus.Permanent`), then the coordinator tries another
    capable actor.

    A delegation's ``deadline`` bounds the work: `perform` is cancelled when it
    passes (closing any model request it has open) and the answer is a failed
    `TaskResult` saying so; a delegation that arrives after its deadline (it
    waited behind other tasks) is answered so at once, without starting. So when
    the coordinator tries the task again, this attempt is over.

    Args:
        coordinator: the coordinator to work for (None: announce to nobody).
        capabilities: overrides the class's `capabilities` for this instance.

    Class attributes:
        capabilities: what it can do (``("research",)``).
    """

    subscribe: ClassVar[tuple[str, ...]] = ("agents.{name}", ANNOUNCE)
    capabilities: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, coordinator: str | None = "coordinator", capabilities: Sequence[str] | None = None
    ) -> None:
        self.coordinator = coordinator
        self.skills: tuple[str, ...] = (
            tuple(capabilities) if capabilities is not None else type(self).capabilities
        )

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        """Do ``task`` and return its output (JSON-compatible). Override this."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement perform()")

    async def on_task(self, msg: ab.TaskDelegation, ctx: ab.Context) -> TaskResult:
        """Do a delegated task by its deadline and answer with its result."""
        if msg.deadline is None:
            output = await self.perform(msg, ctx)
            return TaskResult(task_id=msg.task_id, ok=True, output=output, worker=ctx.actor)
        left = msg.deadline - time.time()
        if left <= 0:
            error = f"{ctx.actor} got {msg.task_id} after its deadline: not started"
            return TaskResult(task_id=msg.task_id, ok=False, error=error, worker=ctx.actor)
        with anyio.move_on_after(left) as scope:
            output = await self.perform(msg, ctx)
        if scope.cancelled_caught:
            error = (
                f"{ctx.actor} stopped {msg.task_id} at its deadline "
                "(any model request it had open was closed)"
            )
            return TaskResult(task_id=msg.task_id, ok=False, error=error, worker=ctx.actor)
        return TaskResult(task_id=msg.task_id, ok=True, output=output, worker=ctx.actor)

    async def on_register(self, msg: ab.Register, ctx: ab.Context) -> None:
        """Re-announce when our coordinator says it (re)started."""
        if ctx.topic == ANNOUNCE and msg.actor == self.coordinator:
            await self.announce(ctx)

    async def on_start(self, ctx: ab.Context) -> None:
        """Announce the capabilities."""
        await self.announce(ctx)

    async def on_stop(self, ctx: ab.Context) -> None:
        """Withdraw the capabilities, so no more tasks come here."""
        if self.coordinator is not None and self.skills:
            with contextlib.suppress(ab.BusClosed):  # the bus is going: nobody to tell
                await ctx.publish(
                    registry_topic(self.coordinator), ab.Register(actor=ctx.actor, capabilities=())
                )

    async def announce(self, ctx: ab.Context) -> None:
        """Tell the coordinator what this actor can do and where."""
        if self.coordinator is None or not self.skills:
            return
        await ctx.publish(
            registry_topic(self.coordinator),
            ab.Register(actor=ctx.actor, capabilities=self.skills, topics=(task_topic(ctx.actor),)),
        )
