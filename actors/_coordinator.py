"""`Coordinator`: delegates tasks to capable actors and runs workflows of tasks.

Actors announce their capabilities (`Register`) on ``<coordinator>.register``. A
task goes to the capable actor with the fewest outstanding tasks (ties take turns),
never to a made-up default: with no capable actor the task fails at once, saying
which capabilities exist. An attempt that fails (the worker's handler failed for
good, it timed out, or it answered not ok) is retried on another capable actor, up
to the task's ``max_attempts``. Each task's status lives in the bus's shared state
under ``task.<workflow>.<task id>`` (see `TaskRecord`), so anyone can watch it.

An attempt never overlaps the next: the delegation carries a deadline (the task's
``timeout``, plus that of each task already waiting at the same worker, which it
queues behind), the worker stops its work there (see `Worker`), and the
coordinator waits for its answer until the deadline and `ANSWER_GRACE` have
passed before it tries again. Only a worker that does not answer even then (it
is stuck, or gone) is given up on without its answer.

A coordinator is itself a `Worker`: give it capabilities and a coordinator of its
own and it takes tasks from above and hands them to its team (teams of teams).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anyio
import msgspec

import actorbus as ab

from ._graph import check_workflow, check_workflow_id
from ._messages import RunWorkflow, Task, TaskOutcome, TaskResult, TaskStatus, WorkflowResult
from ._registry import Registry
from ._worker import ANNOUNCE, Worker

__all__ = ["ANSWER_GRACE", "Coordinator", "TaskRecord"]

ANSWER_GRACE = 5.0
"""Seconds the coordinator waits past a delegation's deadline for the worker to say
it stopped, before it gives up on that worker's answer."""


class TaskRecord(msgspec.Struct, kw_only=True):
    """A task's status as kept in the shared state (``task.<workflow>.<id>``).

    Attributes:
        status: ``PENDING``, ``RUNNING``, ``COMPLETED``, ``FAILED`` or ``SKIPPED``.
        capability: what it needs.
        description: what it is.
        assigned_to: the actor doing (or that did) it.
        attempts: actors tried so far.
        output: its result, once completed.
        error: why it failed or was skipped.
        created_at: when the coordinator took it (``time.time()``).
        started_at: when its last attempt started.
        finished_at: when it ended.
    """

    status: TaskStatus
    capability: str
    description: str = ""
    assigned_to: str | None = None
    attempts: int = 0
    output: Any = None
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None


class Coordinator(Worker):
    """Delegates tasks to capable actors, balancing load, and runs workflows.

    Ask it (on ``agents.<name>``) with a `RunWorkflow` for a `WorkflowResult`, or
    with a `TaskDelegation` for a `TaskResult`; `run_workflow` and `run_task` do
    that for you.

    Args:
        coordinator: the coordinator above this one (None, the default: top level).
        capabilities: what this coordinator's team can do, announced upwards.
    """

    subscribe = ("agents.{name}", "{name}.register", ANNOUNCE)
    concurrency = 1024  # workflows and tasks wait on workers, not on the CPU
    max_retries = 0  # a coordinator's failures are reported in results, not retried

    def __init__(
        self, coordinator: str | None = None, capabilities: Sequence[str] | None = None
    ) -> None:
        super().__init__(coordinator, capabilities)
        self.registry = Registry()

    async def on_start(self, ctx: ab.Context) -> None:
        """Ask workers already running to announce themselves; announce upwards."""
        await ctx.publish(ANNOUNCE, ab.Register(actor=ctx.actor))
        await super().on_start(ctx)

    async def on_register(self, msg: ab.Register, ctx: ab.Context) -> None:
        """Learn (or forget) a worker's capabilities; or re-announce to our own coordinator."""
        if ctx.topic == ANNOUNCE:
            await super().on_register(msg, ctx)
            return
        topic = msg.topics[0] if msg.topics else f"agents.{msg.actor}"
        self.registry.register(msg.actor, topic, msg.capabilities)
        ctx.logger.debug("%s can do %s", msg.actor, ", ".join(msg.capabilities) or "nothing now")

    async def on_task(self, msg: ab.TaskDelegation, ctx: ab.Context) -> TaskResult:
        """Run one task (from a client or a coordinator above) on a capable actor.

        A delegation with a deadline shares the time left (less `ANSWER_GRACE`)
        among the task's attempts, so this team answers before it.
        """
        task = Task(
            id=_key_token(msg.task_id),
            capability=msg.capability,
            description=msg.description,
            inputs=msg.inputs,
        )
        if msg.deadline is not None:
            left = msg.deadline - time.time() - ANSWER_GRACE
            task = msgspec.structs.replace(task, timeout=max(left / task.max_attempts, 0.001))
        outcome = await self.run_one(task, ctx, workflow=ctx.actor)
        return TaskResult(
            task_id=msg.task_id,
            ok=outcome.status == "COMPLETED",
            output=outcome.output,
            error=outcome.error,
            worker=outcome.worker,
        )

    async def on_workflow(self, msg: RunWorkflow, ctx: ab.Context) -> WorkflowResult:
        """Run a workflow; an invalid one is refused before any task runs."""
        try:
            check_workflow_id(msg.workflow_id)
            check_workflow(msg.kind, msg.tasks)
        except ab.ActorbusError as exc:
            return WorkflowResult(workflow_id=msg.workflow_id, ok=False, error=str(exc))
        workflow = msg.workflow_id
        if msg.kind == "sequential":
            outcomes = await self._sequential(msg.tasks, ctx, workflow)
        elif msg.kind == "parallel":
            outcomes = await self._parallel(msg.tasks, ctx, workflow)
        else:
            outcomes = await self._dag(msg.tasks, ctx, workflow)
        ok = all(o.status == "COMPLETED" for o in outcomes)
        return WorkflowResult(workflow_id=msg.workflow_id, ok=ok, outcomes=outcomes)

    # -- one task ---------------------------------------------------------------------

    async def run_one(self, task: Task, ctx: ab.Context, *, workflow: str) -> TaskOutcome:
        """Run ``task`` on capable actors until it completes or its attempts run out."""
        key = f"task.{workflow}.{task.id}"
        record = TaskRecord(
            status="PENDING",
            capability=task.capability,
            description=task.description,
            created_at=time.time(),
        )
        await self._save(ctx, key, record)
        tried: list[str] = []
        error = ""
        for _ in range(task.max_attempts):
            worker = self.registry.pick(task.capability, avoid=tried)
            if worker is None:
                known = ", ".join(self.registry.capabilities()) or "none yet"
                error = f"no actor can do {task.capability!r} (capabilities known: {known})"
                break
            tried.append(worker)
            record.status, record.assigned_to = "RUNNING", worker
            record.attempts, record.started_at = len(tried), time.time()
            await self._save(ctx, key, record)
            result, error = await self._attempt(task, worker, ctx)
            if result is not None:
                record.status, record.output = "COMPLETED", result.output
                record.error, record.finished_at = None, time.time()
                await self._save(ctx, key, record)
                return _outcome(task.id, record)
            ctx.logger.warning("task %s failed on %s: %s", task.id, worker, error)
        record.status, record.error, record.finished_at = "FAILED", error, time.time()
        await self._save(ctx, key, record)
        return _outcome(task.id, record)

    async def _attempt(
        self, task: Task, worker: str, ctx: ab.Context
    ) -> tuple[TaskResult | None, str]:
        # A worker does one task at a time (unless it says otherwise): this one
        # waits behind those already sent to it, so it gets their time too.
        allowed = task.timeout * (self.registry.outstanding(worker) + 1)
        delegation = ab.TaskDelegation(
            task_id=task.id,
            capability=task.capability,
            description=task.description,
            inputs=task.inputs,
            assigned_to=worker,
            deadline=time.time() + allowed,
        )
        self.registry.started(worker)
        try:
            reply = await ctx.ask(
                self.registry.topic(worker), delegation, timeout=allowed + ANSWER_GRACE
            )
        except ab.AskTimeout:
            return None, f"{worker} did not answer, even {ANSWER_GRACE:g}s past its deadline"
        except ab.NoSubscriber as exc:
            # Gone without withdrawing (killed, or its on_stop failed): forget it,
            # or it would take (and fail) an attempt of every task it is picked for.
            self.registry.remove(worker)
            return None, str(exc)
        except ab.AskFailed as exc:  # its dead letter, in the log, has the whole story
            return None, _failure(exc)
        except KeyError:
            return None, f"{worker} withdrew before the task reached it"
        finally:
            self.registry.finished(worker)
        if not isinstance(reply, TaskResult):
            return None, f"{worker} answered with a {type(reply).__name__}, not a TaskResult"
        if not reply.ok:
            return None, reply.error or f"{worker} could not do it"
        return reply, ""

    async def _save(self, ctx: ab.Context, key: str, record: TaskRecord) -> None:
        await ctx.state.put(key, msgspec.to_builtins(record))

    # -- workflows --------------------------------------------------------------------

    async def _sequential(
        self, tasks: list[Task], ctx: ab.Context, workflow: str
    ) -> list[TaskOutcome]:
        outcomes: list[TaskOutcome] = []
        previous: list[Any] = []
        for i, task in enumerate(tasks):
            task = msgspec.structs.replace(task, inputs={**task.inputs, "previous": list(previous)})
            outcome = await self.run_one(task, ctx, workflow=workflow)
            outcomes.append(outcome)
            if outcome.status != "COMPLETED":
                reason = f"not run: task {task.id!r} before it failed"
                outcomes += [await self._skip(t, reason, ctx, workflow) for t in tasks[i + 1 :]]
                break
            previous.append(outcome.output)
        return outcomes

    async def _parallel(
        self, tasks: list[Task], ctx: ab.Context, workflow: str
    ) -> list[TaskOutcome]:
        results: dict[str, TaskOutcome] = {}

        async def one(task: Task) -> None:
            results[task.id] = await self.run_one(task, ctx, workflow=workflow)

        async with anyio.create_task_group() as tg:
            for task in tasks:
                tg.start_soon(one, task)
        return [results[t.id] for t in tasks]

    async def _dag(self, tasks: list[Task], ctx: ab.Context, workflow: str) -> list[TaskOutcome]:
        results: dict[str, TaskOutcome] = {}
        done = {t.id: anyio.Event() for t in tasks}

        async def one(task: Task) -> None:
            try:
                for dep in task.depends_on:
                    await done[dep].wait()  # each dependency ends: its attempts time out
                failed = [d for d in task.depends_on if results[d].status != "COMPLETED"]
                if failed:
                    reason = f"not run: its dependency {failed[0]!r} did not complete"
                    results[task.id] = await self._skip(task, reason, ctx, workflow)
                    return
                deps = {d: results[d].output for d in task.depends_on}
                ready = msgspec.structs.replace(task, inputs={**task.inputs, "deps": deps})
                results[task.id] = await self.run_one(ready, ctx, workflow=workflow)
            finally:
                done[task.id].set()

        async with anyio.create_task_group() as tg:
            for task in tasks:
                tg.start_soon(one, task)
        return [results[t.id] for t in tasks]

    async def _skip(self, task: Task, reason: str, ctx: ab.Context, workflow: str) -> TaskOutcome:
        record = TaskRecord(
            status="SKIPPED",
            capability=task.capability,
            description=task.description,
            error=reason,
            created_at=time.time(),
            finished_at=time.time(),
        )
        await self._save(ctx, f"task.{workflow}.{task.id}", record)
        return _outcome(task.id, record)


def _outcome(task_id: str, record: TaskRecord) -> TaskOutcome:
    return TaskOutcome(
        task_id=task_id,
        status=record.status,
        output=record.output,
        error=record.error,
        worker=record.assigned_to,
        attempts=record.attempts,
    )


def _failure(exc: ab.AskFailed) -> str:
    """Why a worker's handler failed, in short (its dead letter has the rest)."""
    return f"{exc.error_type.rsplit('.', 1)[-1]}: {exc.error}"


def _key_token(text: str) -> str:
    # A state key token: anything else becomes '_' (ids come from clients).
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text) or "_"
