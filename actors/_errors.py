"""Errors of the ready-made actors."""

from __future__ import annotations

import actorbus as ab

__all__ = ["TeamError", "WorkflowError"]


class WorkflowError(ab.ActorbusError, ValueError):
    """A workflow cannot run as given; raised before anything runs.

    Such as a duplicate or malformed task id, an unknown dependency, a cycle, or a
    dependency in a workflow that is not a DAG.

    Attributes:
        problem: what is wrong and what to do.
    """

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


class TeamError(ab.ActorbusError, RuntimeError):
    """A `Team` could not produce an answer: what failed, and why.

    Raised when research failed on every angle, when the writer failed, or when
    the coordinator did not answer in time. The tasks' records stay in the bus's
    state (``task.<run id>.*``) for a closer look.

    Attributes:
        problem: what went wrong.
        run_id: the run (its tasks' state keys start ``task.<run_id>.``).
    """

    def __init__(self, problem: str, run_id: str) -> None:
        self.problem = problem
        self.run_id = run_id
        super().__init__(f"{problem} (run {run_id}: its tasks are under task.{run_id}.*)")
