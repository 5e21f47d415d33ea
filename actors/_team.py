"""`Team`: researchers, a writer and a validator under a coordinator.

A run researches the task from several angles at once (a parallel workflow, one
task per angle), then writes and validates in rounds: the validator sends the
draft back to the writer with its issues until it approves or ``max_rounds``
are done. Every step is a task the coordinator delegates, so its status is in the
bus's state (``task.<run id>.<task id>``) and every wait is bounded by the tasks'
timeouts. The run itself is noted there too (see ``_runs``), so a run cut short
can be shown as far as it got (`Team.so_far`) and resumed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, final

import actorbus as ab

from ._client import run_workflow
from ._coordinator import Coordinator, TaskRecord
from ._errors import TeamError
from ._messages import Task, TaskOutcome, WorkflowKind
from ._roles import Researcher, Validator, Writer
from ._runs import (
    RunRecord,
    completed,
    last_run,
    no_verdict_problem,
    save_run,
    so_far,
    verdict_of,
)
from ._team_types import OnEvent, Review, TeamResult
from ._watch import RunTracker, TaskWatcher

__all__ = ["DEFAULT_ANGLES", "Team", "task_timeout_for"]

DEFAULT_ANGLES = ("background", "approaches", "risks")
"""The angles a `Team` researches a task from, by default."""

DEADLINE_MARGIN = 10.0
"""Seconds a task's attempt gets beyond its model call's deadline (see `task_timeout_for`)."""

SHOWN_ISSUES = 5
"""The most issues a review event lists; the rest are counted (the log has them all)."""


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
        task_timeout: seconds one attempt at a task may take (None: derived from
            the bus's models, see `task_timeout_for`, so that a model call ends,
            by its own deadline, before its attempt would be cut).
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
        task_timeout: float | None = None,
        max_attempts: int = 2,
    ) -> None:
        if task_timeout is None:
            task_timeout = task_timeout_for(bus.models)
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

    async def run(
        self, task: str, *, on_event: OnEvent | None = None, resume: bool = False
    ) -> TeamResult:
        """Research ``task``, then write and validate in rounds; return the result.

        Args:
            task: what to answer, in plain words.
            on_event: called with a `TeamEvent` for each task status change, each
                verdict and each problem; it must not block (exceptions it raises
                are logged and ignored).
            resume: go on with the last run of ``task`` on this bus's log if it did
                not finish (cut short by a timeout, or failed): its completed tasks
                (research, drafts, verdicts) are reused, not asked again. With no
                such run, a new one starts.

        Raises:
            TeamError: research failed on every angle, the writer failed, or the
                coordinator did not answer in time.
            RuntimeError: the team has not been started.
        """
        if not self._started:
            raise RuntimeError("start the team first: await team.start()")
        run = await self._begin(task, resume)
        tracker = RunTracker(run.run_id, on_event)
        kept = await completed(self.bus, run.run_id) if resume else {}
        self._runs[tracker.run_id] = tracker
        try:
            notes, problems = await self._research(task, tracker, kept)
            result = await self._rounds(task, notes, problems, tracker, kept)
            run.finished = True
            await save_run(self.bus, self.coordinator, run)
            if on_event is not None:
                await self._flush()
        finally:
            del self._runs[tracker.run_id]
        return result

    async def so_far(self, task: str) -> TeamResult | None:
        """Return the last run of ``task`` on this bus's log as far as it got.

        For a run cut short (``finished`` False), the answer is the last draft
        written ("" if none), approved only if its own round's verdict approved
        it. None: ``task`` was never run here. The team need not be started.
        """
        run = await last_run(self.bus, self.coordinator, task)
        if run is None:
            return None
        records = await completed(self.bus, run.run_id)
        return so_far(run, records, [_research_id(a) for a in self.angles])

    async def _begin(self, task: str, resume: bool) -> RunRecord:
        """Return the run to do: the unfinished last one (to resume) or a new one."""
        if resume:
            last = await last_run(self.bus, self.coordinator, task)
            if last is not None and not last.finished:
                return last
        run = RunRecord(run_id=ab.new_id(), task=task, first_seq=self.bus.log.last_seq + 1)
        await save_run(self.bus, self.coordinator, run)
        return run

    # -- research ---------------------------------------------------------------------

    async def _research(
        self, task: str, run: RunTracker, kept: dict[str, TaskRecord]
    ) -> tuple[list[str], list[str]]:
        tasks = [
            self._task(_research_id(angle), "research", task, angle=angle) for angle in self.angles
        ]
        outcomes = await self._workflow(run, "parallel", tasks, kept)
        notes: list[str] = []
        problems: list[str] = []
        for angle, outcome in zip(self.angles, outcomes, strict=True):
            if outcome.status == "COMPLETED":
                notes.append(str(outcome.output))
                continue
            problem = (
                f"research on {angle!r} failed ({outcome.error}); the answer uses the other notes"
            )
            problems.append(problem)
            run.emit("problem", problem, task_id=outcome.task_id)
        if not notes:
            first = outcomes[0].error
            raise TeamError(
                f"research failed on every angle ({', '.join(self.angles)}); the first: {first}",
                run.run_id,
            )
        return notes, problems

    # -- write and validate -------------------------------------------------------------

    async def _rounds(
        self,
        task: str,
        notes: list[str],
        problems: list[str],
        run: RunTracker,
        kept: dict[str, TaskRecord],
    ) -> TeamResult:
        draft, issues, reviews, rounds = "", list[str](), list[Review](), 0
        for rounds in range(1, self.max_rounds + 1):
            draft = await self._write(task, notes, draft, issues, rounds, run, kept)
            review = await self._validate(task, draft, rounds, run, kept)
            if review is None:  # the validator failed: keep the draft, unapproved
                problems.append(f"the validator failed in round {rounds}; the draft is unreviewed")
                break
            if isinstance(review, str):  # no valid verdict: stop, the draft unapproved
                problem = no_verdict_problem(rounds, review)
                problems.append(problem)
                run.emit("problem", problem, task_id=f"validate-{rounds}")
                break
            reviews.append(review)
            run.emit("review", _review_text(review), task_id=f"validate-{rounds}")
            if review.approved:
                break
            issues = review.issues
        approved = bool(reviews) and reviews[-1].approved
        return TeamResult(
            answer=draft, approved=approved, rounds=rounds, notes=notes, reviews=reviews,
            problems=problems, run_id=run.run_id,
        )  # fmt: skip

    async def _write(
        self,
        task: str,
        notes: list[str],
        draft: str,
        issues: list[str],
        round_: int,
        run: RunTracker,
        kept: dict[str, TaskRecord],
    ) -> str:
        inputs: dict[str, Any] = {"notes": notes, "draft": draft}
        if issues:
            inputs["feedback"] = issues
        job = self._task(f"write-{round_}", "write", task, **inputs)
        outcome = await self._one(run, job, kept)
        if outcome.status != "COMPLETED":
            raise TeamError(f"the writer failed in round {round_}: {outcome.error}", run.run_id)
        return str(outcome.output)

    async def _validate(
        self, task: str, draft: str, round_: int, run: RunTracker, kept: dict[str, TaskRecord]
    ) -> Review | str | None:
        """Return the round's `Review`, why it has no verdict (a str), or None if it failed."""
        job = self._task(f"validate-{round_}", "validate", task, draft=draft)
        outcome = await self._one(run, job, kept)
        if outcome.status != "COMPLETED":
            run.emit("problem", f"validate-{round_} failed: {outcome.error}")
            return None
        return verdict_of(round_, outcome.output)

    # -- plumbing ---------------------------------------------------------------------

    def _task(self, task_id: str, capability: str, description: str, **inputs: Any) -> Task:
        return Task(
            id=task_id, capability=capability, description=description, inputs=inputs,
            timeout=self.task_timeout, max_attempts=self.max_attempts,
        )  # fmt: skip

    async def _one(self, run: RunTracker, task: Task, kept: dict[str, TaskRecord]) -> TaskOutcome:
        # `run_task` with the run's workflow id, so every task of the run shares
        # the state prefix task.<run id>.
        return (await self._workflow(run, "sequential", [task], kept))[0]

    async def _workflow(
        self, run: RunTracker, kind: WorkflowKind, tasks: list[Task], kept: dict[str, TaskRecord]
    ) -> list[TaskOutcome]:
        """Run ``tasks`` on the coordinator, reusing the ``kept`` ones; their outcomes, in order."""
        outcomes = {t.id: _kept(t.id, kept[t.id]) for t in tasks if t.id in kept}
        for task_id in outcomes:
            run.kept(task_id)
        todo = [t for t in tasks if t.id not in outcomes]
        if todo:
            try:
                result = await run_workflow(
                    self.bus, kind, todo, workflow_id=run.run_id, coordinator=self.coordinator
                )
            except ab.AskTimeout as exc:
                raise TeamError(
                    f"the coordinator did not answer in time: {exc}", run.run_id
                ) from exc
            if result.error is not None or len(result.outcomes) != len(todo):
                raise TeamError(f"the coordinator refused the tasks: {result.error}", run.run_id)
            outcomes.update((o.task_id, o) for o in result.outcomes)
        return [outcomes[t.id] for t in tasks]

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


def task_timeout_for(models: ab.Models | None) -> float:
    """Return the seconds a task's attempt gets by default on a bus with ``models``.

    A worker's model call ends by its provider's ``deadline`` (once per model it
    falls back to), so an attempt gets the longest of those plus
    `DEADLINE_MARGIN`: the models layer gives up (and says why) before the
    coordinator would cut the attempt. Without models, 120 s.
    """
    if models is None:
        return 120.0
    config = models.config
    chain = 1 + max((len(f) for f in config.fallbacks.values()), default=0)
    return max(p.deadline for p in config.providers) * chain + DEADLINE_MARGIN


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


def _kept(task_id: str, record: TaskRecord) -> TaskOutcome:
    return TaskOutcome(
        task_id=task_id, status="COMPLETED", output=record.output, worker=record.assigned_to,
        attempts=record.attempts,
    )  # fmt: skip


def _review_text(review: Review) -> str:
    """The verdict line of a review event, then one line per issue (see `SHOWN_ISSUES`)."""
    n = len(review.issues)
    s = "" if n == 1 else "s"
    if review.approved:
        head = f"round {review.round}: approved" + (f", with {n} remark{s}" if n else "")
    elif n:
        head = f"round {review.round}: not approved, {n} issue{s} to fix"
    else:
        head = f"round {review.round}: not approved (the validator named no issue)"
    lines = [head, *(f"  - {issue}" for issue in review.issues[:SHOWN_ISSUES])]
    if n > SHOWN_ISSUES:
        lines.append(f"  ({n - SHOWN_ISSUES} more in the log)")
    return "\n".join(lines)
