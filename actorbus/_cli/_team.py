"""The seam between ``actorbus run`` and the team it runs, found by entry point.

actorbus is the lower layer: it must not import the ready-made ``actors`` package.
So ``actorbus run`` finds its team through the ``actorbus.teams`` entry point group
(``pip install`` registers ``default``, the ``actors`` team) and talks to it only
through the small protocols below. Another package can register a team of its own
under another name and run it with ``actorbus run --team NAME``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from .._bus import Bus
from .._errors import ActorbusError
from .._models import Models, ModelsConfig

__all__ = [
    "TEAMS_GROUP",
    "NoTeam",
    "Progress",
    "TeamOutcome",
    "TeamRunner",
    "load_team",
    "load_team_messages",
]

log = logging.getLogger("actorbus.cli")

TEAMS_GROUP = "actorbus.teams"
"""The entry point group teams register in."""


class Progress(Protocol):
    """Where a team reports what it is doing while it works.

    ``text`` is one line for people (``"researcher-1 started research-risks"``);
    ``done`` and ``total`` count the tasks that ended and the tasks known so far.
    A ``lasting`` text (a verdict, a problem) stays on screen, and may have several
    lines (a verdict, then one line per issue); the others may be replaced by the
    next. Every line is cut to the terminal's width.
    """

    def __call__(self, text: str, *, done: int, total: int, lasting: bool = False) -> None: ...


class TeamOutcome(Protocol):
    """What ``actorbus run`` prints of a team's run."""

    @property
    def answer(self) -> str:
        """The final answer."""
        ...

    @property
    def approved(self) -> bool:
        """Whether the review approved it."""
        ...

    @property
    def rounds(self) -> int:
        """How many review rounds it took."""
        ...

    @property
    def reviews(self) -> Sequence[str]:
        """One entry per review round: the verdict's line, then one line per issue."""
        ...

    @property
    def problems(self) -> Sequence[str]:
        """What went wrong without stopping the run, in plain words."""
        ...

    @property
    def traces(self) -> Sequence[tuple[str, str]]:
        """(step, message id) of each request the run made from outside the team.

        They are the roots of its causation trees in the log.
        """
        ...


@runtime_checkable
class TeamRunner(Protocol):
    """A team ``actorbus run`` can run: the object an ``actorbus.teams`` entry point names."""

    def offline_models(self, config: ModelsConfig) -> Models:
        """Return models for ``config`` whose offline providers answer as the roles would.

        ``actorbus run`` uses them when no endpoint is configured.
        """
        ...

    async def run(
        self, bus: Bus, task: str, progress: Progress, *, model: str | None, resume: bool = False
    ) -> TeamOutcome:
        """Spawn the team on ``bus`` (open, with models), run ``task``, return the outcome.

        ``model`` is the model every role calls (None: each role's own). With
        ``resume``, the last run of ``task`` in the log goes on if it did not
        finish, reusing what it completed.
        """
        ...

    async def unfinished(self, bus: Bus, task: str) -> TeamOutcome | None:
        """Return the last run of ``task`` in ``bus``'s log as far as it got (None: none).

        ``actorbus run`` calls it when a run is cut short (``--timeout``, Ctrl-C)
        or fails, to print the best answer so far; the bus is still open, its
        actors perhaps still working.
        """
        ...


class NoTeam(ActorbusError, LookupError):
    """No team is registered under the name ``actorbus run`` was asked for.

    Attributes:
        name: the team asked for.
        installed: the names that are registered.
    """

    def __init__(self, name: str, installed: Sequence[str], problem: str = "") -> None:
        self.name = name
        self.installed = list(installed)
        what = problem or (
            f"no team named {name!r} is installed (installed: "
            f"{', '.join(self.installed) or 'none'})"
        )
        super().__init__(
            f"{what}: teams register under the {TEAMS_GROUP!r} entry point group; "
            "reinstall actorbus (pip install -e .) to register the built-in one"
        )


def load_team(name: str = "default", *, group: str = TEAMS_GROUP) -> TeamRunner:
    """Load the team registered as ``name`` in the entry point ``group``.

    Raises:
        NoTeam: nothing is registered under that name, or what is registered
            is not a `TeamRunner`.
    """
    found = entry_points(group=group)
    matches = [ep for ep in found if ep.name == name]
    if not matches:
        raise NoTeam(name, sorted(ep.name for ep in found))
    runner: object = matches[0].load()
    if not isinstance(runner, TeamRunner):
        problem = (
            f"the team {name!r} ({matches[0].value}) has no offline_models(), run() and "
            "unfinished()"
        )
        raise NoTeam(name, [ep.name for ep in found], problem)
    return runner


def load_team_messages(*, group: str = TEAMS_GROUP) -> None:
    """Import every installed team, defining its message classes in this process.

    ``actorbus log replay`` decodes records by message type, which must be
    defined; a team that fails to import leaves its records undecodable (they
    are reported as such) rather than stopping the command.
    """
    for ep in entry_points(group=group):
        try:
            ep.load()
        except Exception:
            log.warning("cannot import the team %r (%s)", ep.name, ep.value, exc_info=True)
