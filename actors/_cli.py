"""The team ``actorbus run`` runs: registered as the ``default`` ``actorbus.teams`` entry point.

actorbus cannot import this package (it is the lower layer), so the command loads
`runner` by entry point and calls it through its ``TeamRunner`` protocol: spawn a
`Team`, run the task (or resume its last unfinished run), report progress from
the team's events, and return what the command prints, including the log ids of
the requests the run made (the roots of its causation trees, for ``actorbus log
trace``). A run cut short is shown as far as it got by `DefaultTeam.unfinished`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, final

import actorbus as ab

from ._messages import RunWorkflow
from ._offline import offline_models
from ._runs import last_run
from ._team import Team
from ._team_types import Review, TeamEvent, TeamResult

__all__ = ["CliOutcome", "DefaultTeam", "runner"]


class Progress(Protocol):
    """What the command passes as progress (actorbus's ``Progress`` protocol)."""

    def __call__(self, text: str, *, done: int, total: int, lasting: bool = False) -> None: ...


@dataclass(frozen=True)
class CliOutcome:
    """A run as ``actorbus run`` prints it (its ``TeamOutcome`` protocol).

    Each of ``reviews`` is a verdict line, then one line per issue.
    """

    answer: str
    approved: bool
    rounds: int
    reviews: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    traces: list[tuple[str, str]] = field(default_factory=list)


@final
class DefaultTeam:
    """The ``actors`` team for ``actorbus run``: a `Team` with its default settings."""

    def offline_models(self, config: ab.ModelsConfig) -> ab.Models:
        """Return models whose offline providers answer as the roles would."""
        return offline_models(config)

    async def run(
        self,
        bus: ab.Bus,
        task: str,
        progress: Progress,
        *,
        model: str | None,
        resume: bool = False,
    ) -> CliOutcome:
        """Spawn a `Team` on ``bus``, run ``task`` with progress, return the outcome.

        With ``resume``, the last run of ``task`` on the log goes on if it did not
        finish (see `Team.run`).
        """
        team = Team(bus, model=model)
        await team.start()
        said = f"team: {', '.join(team.members)}\ntask: {task!r}"
        progress(said, done=0, total=0, lasting=True)
        if resume:
            progress(await _resuming(bus, team, task), done=0, total=0, lasting=True)
        since = bus.log.last_seq + 1
        result = await team.run(task, on_event=_reporter(progress), resume=resume)
        return await _outcome(bus, team, task, result, since)

    async def unfinished(self, bus: ab.Bus, task: str) -> CliOutcome | None:
        """Return the last run of ``task`` on ``bus`` as far as it got (None: none was)."""
        team = Team(bus)
        result = await team.so_far(task)
        return None if result is None else await _outcome(bus, team, task, result, 1)


runner = DefaultTeam()
"""The object the ``actorbus.teams`` entry point ``default`` names."""


def _reporter(progress: Progress) -> Callable[[TeamEvent], None]:
    def report(event: TeamEvent) -> None:
        lasting = event.kind != "task"
        progress(event.text, done=event.done, total=event.total, lasting=lasting)

    return report


async def _resuming(bus: ab.Bus, team: Team, task: str) -> str:
    last = await last_run(bus, team.coordinator, task)
    if last is None or last.finished:
        return "resume: no unfinished run of this task in the log; starting a new one"
    return f"resume: going on with run {last.run_id}; what it completed is kept"


async def _outcome(
    bus: ab.Bus, team: Team, task: str, result: TeamResult, since: int
) -> CliOutcome:
    run = await last_run(bus, team.coordinator, task)
    first = 1 if run is None else run.first_seq
    return CliOutcome(
        answer=result.answer,
        approved=result.approved,
        rounds=result.rounds,
        reviews=[_review(r) for r in result.reviews],
        problems=list(result.problems),
        traces=await _roots(bus, result.run_id, first, since),
    )


def _review(review: Review) -> str:
    head = "approved" if review.approved else "not approved"
    return "\n".join([head, *review.issues])


async def _roots(bus: ab.Bus, run_id: str, first: int, since: int) -> list[tuple[str, str]]:
    """Return (step, id) of each workflow of ``run_id`` asked from outside the team.

    The run's records start at seq ``first``; a resumed run's are in two sessions,
    and the steps asked before seq ``since`` (in an earlier one) say so.
    """
    roots: list[tuple[str, str]] = []
    seq = first
    while batch := await bus.log.read(seq, 1000):
        for env in batch:
            msg = env.message
            if isinstance(msg, RunWorkflow) and env.sender is None and msg.workflow_id == run_id:
                ids = [t.id for t in msg.tasks]
                step = ids[0] if len(ids) == 1 else f"{ids[0].split('-')[0]} ({len(ids)} tasks)"
                roots.append((step if env.seq >= since else f"{step}, earlier", env.id))
        seq = batch[-1].seq + 1
    return roots
