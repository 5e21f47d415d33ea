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
        text: for people: one line, such as ``"researcher-1 started research-risks"``;
            a review's verdict line is followed by one line per issue (at most
            five, then how many more: the full texts are in the log).
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
        issues: what to change, one short item each (remarks, on an approval).
    """

    round: int
    approved: bool
    issues: list[str] = msgspec.field(default_factory=list)

    @property
    def feedback(self) -> str:
        """The issues as one line, separated by semicolons."""
        return "; ".join(self.issues)


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
        finished: False for a run cut short, as `Team.so_far` reports it: the
            answer is then the last draft written, if any.
    """

    answer: str
    approved: bool
    rounds: int
    notes: list[str]
    reviews: list[Review]
    problems: list[str]
    run_id: str
    finished: bool = True

    @property
    def feedback(self) -> str:
        """The last verdict's feedback ("" if no draft was judged)."""
        return self.reviews[-1].feedback if self.reviews else ""
