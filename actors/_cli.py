"""The team ``actorbus run`` runs: registered as the ``default`` ``actorbus.teams`` entry point.

actorbus cannot import this package (it is the lower layer), so the command loads
`runner` by entry point and calls it through its ``TeamRunner`` protocol: spawn a
`Team`, run the task, report progress from the team's events, and return what
the command prints, including the log ids of the requests the run made (the
roots of its causation trees, for ``actorbus log trace``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, final

import actorbus as ab

from ._messages import RunWorkflow
from ._offline import offline_models
from ._team import Team
from ._team_types import TeamEvent, TeamResult

__all__ = ["CliOutcome", "DefaultTeam", "runner"]


class Progress(Protocol):
    """What the command passes as progress (actorbus's ``Progress`` protocol)."""

    def __call__(self, text: str, *, done: int, total: int, lasting: bool = False) -> None: ...


@dataclass(frozen=True)
class CliOutcome:
    """A run as ``actorbus run`` prints it (its ``TeamOutcome`` protocol)."""

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
        self, bus: ab.Bus, task: str, progress: Progress, *, model: str | None
    ) -> CliOutcome:
        """Spawn a `Team` on ``bus``, run ``task`` with progress, return the outcome."""
        team = Team(bus, model=model)
        await team.start()
        progress(f"team: {', '.join(team.members)}; task: {task!r}", done=0, total=0, lasting=True)
        before = bus.log.last_seq
        result = await team.run(task, on_event=_reporter(progress))
        return CliOutcome(
            answer=result.answer,
            approved=result.approved,
            rounds=result.rounds,
            reviews=_reviews(result),
            problems=list(result.problems),
            traces=await _roots(bus, before),
        )


runner = DefaultTeam()
"""The object the ``actorbus.teams`` entry point ``default`` names."""


def _reporter(progress: Progress) -> Callable[[TeamEvent], None]:
    def report(event: TeamEvent) -> None:
        lasting = event.kind != "task"
        progress(event.text, done=event.done, total=event.total, lasting=lasting)

    return report


def _reviews(result: TeamResult) -> list[str]:
    return ["APPROVED" if r.approved else f"REVISE: {r.feedback}" for r in result.reviews]


async def _roots(bus: ab.Bus, after: int) -> list[tuple[str, str]]:
    """Return (step, id) of each workflow asked from outside the team since ``after``."""
    roots: list[tuple[str, str]] = []
    seq = after + 1
    while batch := await bus.log.read(seq, 1000):
        for env in batch:
            msg = env.message
            if isinstance(msg, RunWorkflow) and env.sender is None:
                ids = [t.id for t in msg.tasks]
                step = ids[0] if len(ids) == 1 else f"{ids[0].split('-')[0]} ({len(ids)} tasks)"
                roots.append((step, env.id))
        seq = batch[-1].seq + 1
    return roots
