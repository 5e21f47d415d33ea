"""Running tasks and workflows from outside the team: one ask to the coordinator."""

from __future__ import annotations

from collections.abc import Sequence

import actorbus as ab

from ._coordinator import ANSWER_GRACE
from ._graph import check_workflow, check_workflow_id
from ._messages import RunWorkflow, Task, TaskOutcome, WorkflowKind, WorkflowResult
from ._worker import task_topic

__all__ = ["run_task", "run_workflow"]


def _budget(tasks: Sequence[Task]) -> float:
    # The longest a workflow can take: every attempt of every task timing out in
    # turn, plus the coordinator's grace for each. Parallel tasks too: those
    # sent to a busy worker wait behind each other.
    return sum((t.timeout + ANSWER_GRACE) * t.max_attempts for t in tasks) + 5.0


async def run_workflow(
    bus: ab.Bus,
    kind: WorkflowKind,
    tasks: Sequence[Task],
    *,
    workflow_id: str | None = None,
    coordinator: str = "coordinator",
    timeout: float | None = None,
) -> WorkflowResult:
    """Run ``tasks`` as a ``kind`` workflow on ``coordinator`` and return how each ended.

    Args:
        bus: the bus the coordinator runs on.
        kind: ``"sequential"``, ``"parallel"`` or ``"dag"`` (see `RunWorkflow`).
        tasks: the tasks.
        workflow_id: names the run in the shared state (default: a new id); 1-128
            letters, digits, ``-`` or ``_``.
        coordinator: the coordinator's actor name.
        timeout: seconds to wait in all (default: long enough for every attempt of
            every task to time out).

    Raises:
        WorkflowError: the workflow is invalid (checked before anything runs).
        AskTimeout: the workflow did not finish within ``timeout``.
    """
    check_workflow(kind, tasks)
    if workflow_id is not None:
        check_workflow_id(workflow_id)
    request = RunWorkflow(workflow_id=workflow_id or ab.new_id(), kind=kind, tasks=list(tasks))
    wait = _budget(tasks) if timeout is None else timeout
    reply = await bus.ask(task_topic(coordinator), request, timeout=wait)
    if not isinstance(reply, WorkflowResult):
        raise TypeError(f"{coordinator!r} answered a workflow with {type(reply).__name__}")
    return reply


async def run_task(
    bus: ab.Bus, task: Task, *, coordinator: str = "coordinator", timeout: float | None = None
) -> TaskOutcome:
    """Run one task on ``coordinator``; return how it ended (see `run_workflow`)."""
    result = await run_workflow(bus, "sequential", [task], coordinator=coordinator, timeout=timeout)
    return result.outcomes[0] if result.outcomes else _refused(task, result)


def _refused(task: Task, result: WorkflowResult) -> TaskOutcome:
    return TaskOutcome(task_id=task.id, status="FAILED", error=result.error)
