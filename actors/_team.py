"""`Team`: researchers, a writer and a validator under a coordinator.

A run researches the task from several angles at once (a parallel workflow, one
task per angle), then writes and validates in rounds: the validator sends the
draft back to the writer with its feedback until it approves or ``max_rounds``
are done. Every step is a task the coordinator delegates, so its status is in the
bus's state (``task.<run id>.<task id>``) and every wait is bounded by the tasks'
timeouts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, final

import actorbus as ab

from ._client import run_workflow
from ._coordinator import Coordinator, TaskRecord
from ._errors import TeamError
from ._messages import Task, TaskOutcome, WorkflowKind, WorkflowResult
from ._roles import Researcher, Validator, Writer, parse_verdict
from ._team_types import OnEvent, Review, TeamResult
from ._watch import RunTracker, TaskWatcher

__all__ = ["DEFAULT_ANGLES", "Team"]

DEFAULT_ANGLES = ("background", "approaches", "risks")
"""The angles a `Team` researches a task from, by default."""


@final
class Team:
    """A coordinator with researchers, a writer and a validator, on ``bus``.

    Args:
        bus: an open bus with models (``Bus(models=...)``).
        researchers: how many researchers (``researcher-1`` ... ``researcher-N``).
        angles: what to research, one task each, shared among the researchers.
        max_rounds: the most write-and-validate rounds.
        coordinator: the coordinator's actor name.
        model: the model every role calls (None: each role's own; an assignment
            in the model configuration wins either way).
        task_timeout: seconds one attempt at a task may take.
        max_attempts: attempts per task, each on another capable actor if any.

    Raises:
        ValueError: a setting is out of range, or two angles share a task id.
    """

    __slots__ = (
        "_runs",
        "_started",
        "angles",
        "bus",
        "coordinator",
        "max_attempts",
        "max_rounds",
        "model",
        "researchers",
        "task_timeout",
    )

    def __init__(
        self,
        bus: ab.Bus,
        *,
        researchers: int = 2,
        angles: Sequence[str] = DEFAULT_ANGLES,
        max_rounds: int = 3,
        coordinator: str = "coordinator",
        model: str | None = None,
        task_timeout: float = 120.0,
        max_attempts: int = 2,
    ) -> None:
        _check(researchers, angles, max_rounds, task_timeout, max_attempts)
        self.bus = bus
        self.researchers = researchers
        self.angles = tuple(angles)
        self.max_rounds = max_rounds
        self.coordinator = coordinator
        self.model = model
        self.task_timeout = task_timeout
        self.max_attempts = max_attempts
        self._runs: dict[str, RunTracker] = {}
        self._started = False

    @property
    def members(self) -> list[str]:
        """The actor names the team runs under, coordinator first."""
        names = [f"researcher-{i}" for i in range(1, self.researchers + 1)]
        return [self.coordinator, *names, "writer", "validator"]

    @property
    def _watcher(self) -> str:
        return f"{self.coordinator}-watcher"

    async def start(self) -> None:
        """Spawn the coordinator and the roles; return once they have registered.

        Raises:
            RuntimeError: the team was started already.
            DuplicateActor: one of `members` is taken on the bus.
        """
        if self._started:
            raise RuntimeError("this team has started already: make another Team")
        self._started = True
        bus, boss = self.bus, self.coordinator
        # start_at="latest": on a durable log, an actor with these names would
        # otherwise resume after its old cursor and redo (and pay for) an earlier
        # session's unfinished tasks, whose askers are gone.
        await bus.spawn(Coordinator, name=boss, start_at="latest")
        await bus.spawn(TaskWatcher(self._record_changed), name=self._watcher, start_at="latest")
        for name in self.members[1:-2]:
            await bus.spawn(Researcher(boss, model=self.model), name=name, start_at="latest")
        await bus.spawn(Writer(boss, model=self.model), name="writer", start_at="latest")
        await bus.spawn(Validator(boss, model=self.model), name="validator", start_at="latest")
        await bus.drain()  # every Register handled: the coordinator knows its team

    async def run(self, task: str, *, on_event: OnEvent | None = None) -> TeamResult:
        """Research ``task``, then write and validate in rounds; return the result.

        Args:
            task: what to answer, in plain words.
            on_event: called with a `TeamEvent` for each task status change, each
                verdict and each problem; it must not block (exceptions it raises
                are logged and ignored).

        Raises:
            TeamError: research failed on every angle, the writer failed, or the
                coordinator did not answer in time.
            RuntimeError: the team has not been started.
        """
        if not self._started:
            raise RuntimeError("start the team first: await team.start()")
        tracker = RunTracker(ab.new_id(), on_event)
        self._runs[tracker.run_id] = tracker
        try:
            notes, problems = await self._research(task, tracker)
            result = await self._rounds(task, notes, problems, tracker)
            if on_event is not None:
                await self._flush()
        finally:
            del self._runs[tracker.run_id]
        return result

    # -- research ---------------------------------------------------------------------

    async def _research(self, task: str, run: RunTracker) -> tuple[list[str], list[str]]:
        tasks = [
            self._task(_research_id(angle), "research", task, angle=angle) for angle in self.angles
        ]
        result = await self._workflow(run, "parallel", tasks)
        notes: list[str] = []
        problems: list[str] = []
        for angle, outcome in zip(self.angles, result.outcomes, strict=True):
            if outcome.status == "COMPLETED":
                notes.append(str(outcome.output))
                continue
            problem = (
                f"research on {angle!r} failed ({outcome.error}); the answer uses the other notes"
            )
            problems.append(problem)
            run.emit("problem", problem, task_id=outcome.task_id)
        if not notes:
            raise TeamError(f"research failed on every angle: {'; '.join(problems)}", run.run_id)
        return notes, problems

    # -- write and validate -------------------------------------------------------------

    async def _rounds(
        self, task: str, notes: list[str], problems: list[str], run: RunTracker
    ) -> TeamResult:
        draft, feedback, reviews, rounds = "", "", list[Review](), 0
        for rounds in range(1, self.max_rounds + 1):
            draft = await self._write(task, notes, draft, feedback, rounds, run)
            review = await self._validate(task, draft, rounds, run)
            if review is None:  # the validator failed: keep the draft, unapproved
                problems.append(f"the validator failed in round {rounds}; the draft is unreviewed")
                break
            reviews.append(review)
            verdict = "APPROVED" if review.approved else f"REVISE: {review.feedback}"
            run.emit("review", f"round {rounds}: validator says {verdict}")
            if review.approved:
                break
            feedback = review.feedback
        approved = bool(reviews) and reviews[-1].approved
        return TeamResult(
            answer=draft, approved=approved, rounds=rounds, notes=notes, reviews=reviews,
            problems=problems, run_id=run.run_id,
        )  # fmt: skip

    async def _write(
        self, task: str, notes: list[str], draft: str, feedback: str, round_: int, run: RunTracker
    ) -> str:
        inputs: dict[str, Any] = {"notes": notes, "draft": draft}
        if feedback:
            inputs["feedback"] = feedback
        outcome = await self._one(run, self._task(f"write-{round_}", "write", task, **inputs))
        if outcome.status != "COMPLETED":
            raise TeamError(f"the writer failed in round {round_}: {outcome.error}", run.run_id)
        return str(outcome.output)

    async def _validate(self, task: str, draft: str, round_: int, run: RunTracker) -> Review | None:
        outcome = await self._one(
            run, self._task(f"validate-{round_}", "validate", task, draft=draft)
        )
        if outcome.status != "COMPLETED":
            run.emit("problem", f"validate-{round_} failed: {outcome.error}")
            return None
        verdict = _verdict(outcome.output)
        return Review(round=round_, approved=verdict["approved"], feedback=verdict["feedback"])

    # -- plumbing ---------------------------------------------------------------------

    def _task(self, task_id: str, capability: str, description: str, **inputs: Any) -> Task:
        return Task(
            id=task_id, capability=capability, description=description, inputs=inputs,
            timeout=self.task_timeout, max_attempts=self.max_attempts,
        )  # fmt: skip

    async def _one(self, run: RunTracker, task: Task) -> TaskOutcome:
        # `run_task` with the run's workflow id, so every task of the run shares
        # the state prefix task.<run id>.
        result = await self._workflow(run, "sequential", [task])
        return result.outcomes[0]

    async def _workflow(
        self, run: RunTracker, kind: WorkflowKind, tasks: list[Task]
    ) -> WorkflowResult:
        try:
            result = await run_workflow(
                self.bus, kind, tasks, workflow_id=run.run_id, coordinator=self.coordinator
            )
        except ab.AskTimeout as exc:
            raise TeamError(f"the coordinator did not answer in time: {exc}", run.run_id) from exc
        if result.error is not None or len(result.outcomes) != len(tasks):
            raise TeamError(f"the coordinator refused the tasks: {result.error}", run.run_id)
        return result

    def _record_changed(self, key: str, record: TaskRecord) -> None:
        # The watcher reports every task record; keys are task.<run id>.<task id>.
        _, run_id, task_id = [*key.split(".", 2), "", ""][:3]
        if (tracker := self._runs.get(run_id)) is not None:
            tracker.task_changed(task_id, record)

    async def _flush(self) -> None:
        # The status changes of the run's last tasks were published before the
        # coordinator answered; this ask returns once the watcher has reported them.
        try:
            await self.bus.ask(f"{self._watcher}.flush", ab.Request(), timeout=self.task_timeout)
        except ab.AskTimeout:
            return


def _check(
    researchers: int, angles: Sequence[str], max_rounds: int, timeout: float, attempts: int
) -> None:
    if researchers < 1 or max_rounds < 1 or attempts < 1 or timeout <= 0:
        raise ValueError("researchers, max_rounds and max_attempts must be >= 1, task_timeout > 0")
    if isinstance(angles, str) or not angles:
        raise ValueError(f"angles must be a non-empty sequence of strings, not {angles!r}")
    ids = [_research_id(a) for a in angles]
    if len(set(ids)) != len(ids):
        raise ValueError(f"angles must differ in their letters and digits: {list(angles)}")


def _research_id(angle: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", angle).strip("-").lower()[:60]
    return f"research-{slug or 'angle'}"


def _verdict(output: Any) -> dict[str, Any]:
    # A Validator's output is parse_verdict's dict; any other worker's is read as text.
    if isinstance(output, dict) and isinstance(output.get("approved"), bool):
        return {"approved": output["approved"], "feedback": str(output.get("feedback") or "")}
    return parse_verdict(str(output))
