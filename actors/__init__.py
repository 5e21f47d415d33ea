"""Ready-made actors: a coordinator, workflows of tasks, and LLM role actors.

The coordinator delegates tasks by capability and runs them in sequence, in
parallel or as a graph of dependencies. Actors here are built only on actorbus's
public API, as your own would be.
"""

from __future__ import annotations

from ._client import run_task, run_workflow
from ._coordinator import ANSWER_GRACE, Coordinator, TaskRecord
from ._errors import TeamError, WorkflowError
from ._graph import check_workflow, check_workflow_id
from ._messages import (
    RunWorkflow,
    Task,
    TaskOutcome,
    TaskResult,
    TaskStatus,
    WorkflowKind,
    WorkflowResult,
)
from ._offline import offline_models, offline_reply
from ._roles import LLMWorker, Researcher, Validator, Verdict, Writer
from ._team import Team
from ._team_types import Review, TeamEvent, TeamResult
from ._worker import ANNOUNCE, Worker, registry_topic, task_topic

__all__ = [
    "ANNOUNCE",
    "ANSWER_GRACE",
    "Coordinator",
    "LLMWorker",
    "Researcher",
    "Review",
    "RunWorkflow",
    "Task",
    "TaskOutcome",
    "TaskRecord",
    "TaskResult",
    "TaskStatus",
    "Team",
    "TeamError",
    "TeamEvent",
    "TeamResult",
    "Validator",
    "Verdict",
    "Worker",
    "WorkflowError",
    "WorkflowKind",
    "WorkflowResult",
    "Writer",
    "check_workflow",
    "check_workflow_id",
    "offline_models",
    "offline_reply",
    "registry_topic",
    "run_task",
    "run_workflow",
    "task_topic",
]
