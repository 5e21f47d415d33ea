"""What a `Team` reports: events while it works, and its result.

Plain frozen Structs, JSON-compatible, so a result can be logged, returned from a
handler's output or printed as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from ._messages import TaskStatus

__all__ = ["EventKind", "OnEvent", "Review", "TeamEvent", "TeamResult"]

EventKind = Literal["task", "review", "problem"]
"""What a `TeamEvent` is about: a task's status changed, a draft was judged, or
something went wrong that the run goes on despite."""


class TeamEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Something a team did, for progress displays.

    Attributes:
        kind: ``"task"``, ``"review"`` or ``"problem"`` (see `EventKind`).
        text: one line for people, such as ``"researcher-1 started research-risks"``.
        run_id: the run it belongs to.
        task_id: the task, for ``"task"`` events.
        actor: the actor doing the task, when one is assigned.
        status: the task's new status, for ``"task"`` events.
        done: tasks of this run that have ended so far.
        total: tasks of this run known so far (review rounds add tasks as they go).
    """

    kind: EventKind
    text: str
    run_id: str
    task_id: str | None = None
    actor: str | None = None
    status: TaskStatus | None = None
    done: int = 0
    total: int = 0


OnEvent = Callable[[TeamEvent], None]
"""A function `Team.run` calls with each `TeamEvent`; it must not block."""


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """The validator's verdict on one round's draft.

    Attributes:
        round: the review round, from 1.
        approved: whether the draft passed.
        feedback: what to change (or the validator's remarks on an approval).
    """

    round: int
    approved: bool
    feedback: str = ""


class TeamResult(msgspec.Struct, frozen=True, kw_only=True):
    """How a team's run ended.

    Attributes:
        answer: the last draft: the approved one, or the best the rounds allowed.
        approved: whether the validator approved it.
        rounds: write-and-validate rounds done (at most the team's ``max_rounds``).
        notes: the research notes the writer worked from, one per angle that
            succeeded.
        reviews: the validator's verdicts, one per round it judged.
        problems: what went wrong without stopping the run (a failed research
            angle, a validator that failed), in plain words; empty when all went well.
        run_id: the run; its tasks' records are under ``task.<run_id>.`` in the
            bus's state.
    """

    answer: str
    approved: bool
    rounds: int
    notes: list[str]
    reviews: list[Review]
    problems: list[str]
    run_id: str

    @property
    def feedback(self) -> str:
        """The last verdict's feedback ("" if no draft was judged)."""
        return self.reviews[-1].feedback if self.reviews else ""
