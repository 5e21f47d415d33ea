"""Checking a workflow before it runs: ids, dependencies, cycles."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._errors import WorkflowError
from ._messages import Task, WorkflowKind

__all__ = ["check_workflow", "check_workflow_id"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_workflow(kind: WorkflowKind, tasks: Sequence[Task]) -> None:
    """Raise `WorkflowError` unless ``tasks`` can run as a ``kind`` workflow."""
    if kind not in ("sequential", "parallel", "dag"):
        raise WorkflowError(f"a workflow is 'sequential', 'parallel' or 'dag', not {kind!r}")
    if not tasks:
        raise WorkflowError("a workflow needs at least one task")
    seen: set[str] = set()
    for task in tasks:
        if not _ID.fullmatch(task.id):
            raise WorkflowError(f"task id {task.id!r} must be 1-128 letters, digits, '-' or '_'")
        if task.id in seen:
            raise WorkflowError(f"two tasks have the id {task.id!r}: ids must be unique")
        seen.add(task.id)
        if task.max_attempts < 1 or task.timeout <= 0:
            raise WorkflowError(f"task {task.id!r}: max_attempts must be >= 1 and timeout > 0")
        if task.depends_on and kind != "dag":
            raise WorkflowError(
                f"task {task.id!r} has dependencies, which only a 'dag' workflow honours"
            )
    for task in tasks:
        unknown = [d for d in task.depends_on if d not in seen]
        if unknown:
            raise WorkflowError(f"task {task.id!r} depends on unknown task(s) {unknown}")
    if kind == "dag" and (cycle := find_cycle(tasks)):
        raise WorkflowError(f"the tasks depend on each other in a cycle: {' -> '.join(cycle)}")


def check_workflow_id(workflow_id: str) -> None:
    """Raise `WorkflowError` unless ``workflow_id`` can name a run's state keys.

    Two ids must never map to the same keys (``task.<workflow id>.<task id>``), so
    ids are not rewritten: one with other characters is refused.
    """
    if not _ID.fullmatch(workflow_id):
        raise WorkflowError(
            f"workflow id {workflow_id!r} must be 1-128 letters, digits, '-' or '_'"
        )


def find_cycle(tasks: Sequence[Task]) -> list[str]:
    """Return a dependency cycle (first id repeated at the end), or [] if there is none."""
    deps = {t.id: t.depends_on for t in tasks}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return []

    for task in tasks:
        if task.id not in state and (found := visit(task.id)):
            return found
    return []
