"""What coordinators, workers and their clients say to each other.

A `Task` is a unit of work for some actor with a capability; a workflow is a list
of tasks run in sequence, in parallel, or as a graph of dependencies. Workers
answer a `TaskDelegation` with a `TaskResult`; a coordinator answers a
`RunWorkflow` with a `WorkflowResult` holding one `TaskOutcome` per task.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

import actorbus as ab

__all__ = [
    "RunWorkflow",
    "Task",
    "TaskOutcome",
    "TaskResult",
    "TaskStatus",
    "WorkflowKind",
    "WorkflowResult",
]

TaskStatus = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED"]
"""Where a task is: waiting, running on an actor, done, failed for good, or not run
because the workflow stopped (sequential) or a dependency failed (DAG)."""

WorkflowKind = Literal["sequential", "parallel", "dag"]
"""How a workflow's tasks run; see `RunWorkflow`."""


class Task(msgspec.Struct, frozen=True, kw_only=True):
    """A unit of work for an actor with ``capability``.

    Attributes:
        id: unique within its workflow; letters, digits, ``-`` and ``_`` (it names
            the task's state key, ``task.<workflow>.<id>``).
        capability: what the doing actor must be able to do (``"research"``).
        description: what to do, in plain words.
        inputs: structured inputs, JSON-compatible.
        depends_on: ids of tasks whose results this one needs (DAG workflows).
        timeout: seconds one attempt may take before it counts as failed.
        max_attempts: attempts in all, each on another capable actor when there is one.
    """

    id: str
    capability: str
    description: str = ""
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    timeout: float = 60.0
    max_attempts: int = 3


class TaskResult(ab.Message):
    """A worker's answer to a `TaskDelegation`.

    Attributes:
        task_id: the task.
        ok: whether it was done.
        output: the result, JSON-compatible (when ok).
        error: what went wrong (when not ok).
        worker: the actor that did (or tried) it.
    """

    task_id: str
    ok: bool = True
    output: Any = None
    error: str | None = None
    worker: str | None = None


class TaskOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How one task of a workflow ended.

    Attributes:
        task_id: the task.
        status: ``COMPLETED``, ``FAILED`` or ``SKIPPED``.
        output: its result, when completed.
        error: why it failed or was skipped.
        worker: the actor that completed it (or last tried).
        attempts: how many actors were tried.
    """

    task_id: str
    status: TaskStatus
    output: Any = None
    error: str | None = None
    worker: str | None = None
    attempts: int = 0


class RunWorkflow(ab.Message):
    """Ask a coordinator to run tasks.

    Attributes:
        workflow_id: names the run (its tasks' state keys start ``task.<workflow_id>.``).
        kind: ``"sequential"``: one after another, each given the earlier outputs
            (``inputs["previous"]``, a list), stopping at the first failure (the rest
            are SKIPPED). ``"parallel"``: all at once; a failure fails only its own
            task. ``"dag"``: each task starts once the tasks it depends on have
            completed, with their outputs in ``inputs["deps"]`` (by id); a task whose
            dependency failed is SKIPPED, independent branches go on.
        tasks: the tasks.
    """

    workflow_id: str
    kind: WorkflowKind
    tasks: list[Task]


class WorkflowResult(ab.Message):
    """How a workflow ended: ``ok`` when every task completed.

    Attributes:
        workflow_id: the run.
        ok: True when every task completed.
        outcomes: one per task, in the order given.
        error: why the workflow could not run at all (it was invalid), if so.
    """

    workflow_id: str
    ok: bool
    outcomes: list[TaskOutcome] = msgspec.field(default_factory=list)
    error: str | None = None

    def outcome(self, task_id: str) -> TaskOutcome:
        """Return the outcome of ``task_id``.

        Raises:
            KeyError: no such task in this workflow.
        """
        for outcome in self.outcomes:
            if outcome.task_id == task_id:
                return outcome
        raise KeyError(task_id)
