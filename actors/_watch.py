"""Following a team's tasks through the shared state, for progress reports.

The coordinator keeps each task's `TaskRecord` in the bus's state under
``task.<workflow>.<task id>``, and every change is published as a `StateUpdate` on
``_state.task.<workflow>.<task id>``. `TaskWatcher` subscribes to those, and
`RunTracker` turns one run's changes into `TeamEvent` lines with done/total counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import final

import msgspec

import actorbus as ab

from ._coordinator import TaskRecord
from ._messages import TaskStatus
from ._team_types import EventKind, OnEvent, TeamEvent

__all__ = ["RunTracker", "TaskWatcher"]

log = logging.getLogger("actorbus.team")

_ENDED: frozenset[TaskStatus] = frozenset({"COMPLETED", "FAILED", "SKIPPED"})


class TaskWatcher(ab.Actor):
    """Reports every task record change to ``report(key, record)``, in order.

    An ask on ``<name>.flush`` is answered once every change published before it
    has been reported: a barrier that needs no sleeping and no `Bus.drain`.
    """

    subscribe = ("_state.task.>", "{name}.flush")
    max_retries = 0

    def __init__(self, report: Callable[[str, TaskRecord], None]) -> None:
        self._report = report

    async def on_update(self, msg: ab.StateUpdate, ctx: ab.Context) -> None:
        """Report a task's new record (deletions and foreign values are skipped)."""
        if msg.deleted or msg.value is None:
            return
        try:
            record = msgspec.convert(msg.value, TaskRecord)
        except msgspec.ValidationError:
            ctx.logger.debug("%s is not a task record; skipped", msg.key)
            return
        self._report(msg.key, record)

    async def on_flush(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
        """Answer once everything before this message has been reported."""
        return ab.Response()


@final
class RunTracker:
    """One run's task statuses, and the `TeamEvent` lines they make."""

    __slots__ = ("_on_event", "_statuses", "run_id")

    def __init__(self, run_id: str, on_event: OnEvent | None) -> None:
        self.run_id = run_id
        self._on_event = on_event
        self._statuses: dict[str, TaskStatus] = {}

    def task_changed(self, task_id: str, record: TaskRecord) -> None:
        """Count the change; report it unless the task is only waiting."""
        self._statuses[task_id] = record.status
        if record.status == "PENDING":
            return
        actor = record.assigned_to
        self.emit(
            "task", _describe(task_id, record), task_id=task_id, actor=actor, status=record.status
        )

    def kept(self, task_id: str) -> None:
        """Count a task an earlier, unfinished run completed, and say it is reused."""
        self._statuses[task_id] = "COMPLETED"
        self.emit(
            "task", f"{task_id}: done in the earlier run, kept", task_id=task_id, status="COMPLETED"
        )

    def emit(
        self,
        kind: EventKind,
        text: str,
        *,
        task_id: str | None = None,
        actor: str | None = None,
        status: TaskStatus | None = None,
    ) -> None:
        """Call the run's ``on_event`` (a failing callback is logged, never raised)."""
        if self._on_event is None:
            return
        done = sum(1 for s in self._statuses.values() if s in _ENDED)
        event = TeamEvent(
            kind=kind, text=text, run_id=self.run_id, task_id=task_id, actor=actor,
            status=status, done=done, total=len(self._statuses),
        )  # fmt: skip
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event failed on %r; the run goes on", event.text)


def _describe(task_id: str, record: TaskRecord) -> str:
    actor = record.assigned_to or "nobody"
    if record.status == "RUNNING":
        again = f" (attempt {record.attempts})" if record.attempts > 1 else ""
        return f"{actor} started {task_id}{again}"
    if record.status == "COMPLETED":
        return f"{actor} finished {task_id}"
    if record.status == "FAILED":
        where = f" on {record.assigned_to}" if record.assigned_to else ""
        return f"{task_id} failed{where}: {record.error}"
    return f"{task_id} skipped: {record.error}"
