"""A team's runs in the shared state: which run a task had last, and what it got done.

A `Team` notes each run under ``team.<coordinator>.run.<digest of the task>`` (a
`RunRecord`: the run id, the task, whether it finished, the log seq it started
at), next to the coordinator's task records (``task.<run id>.<task id>``). Both
live in the bus's state, so on a durable log they outlast the process: a run cut
short (a timeout, Ctrl-C) can be shown as far as it got (`so_far`) and resumed,
its completed tasks reused rather than asked again (`Team.run(..., resume=True)`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

import actorbus as ab

from ._coordinator import TaskRecord
from ._roles import Verdict
from ._team_types import Review, TeamResult

__all__ = [
    "RunRecord",
    "completed",
    "last_run",
    "no_verdict_problem",
    "run_key",
    "save_run",
    "so_far",
    "verdict_of",
]


class RunRecord(msgspec.Struct, kw_only=True):
    """A team's run of one task, as noted in the state.

    Attributes:
        run_id: the run (its tasks' records are under ``task.<run_id>.``).
        task: the task, in full (the key holds only its digest).
        finished: whether the run ended with a result (not cut short, not failed).
        first_seq: the log's seq when the run started (its requests come after).
    """

    run_id: str
    task: str
    finished: bool = False
    first_seq: int = 1


def run_key(coordinator: str, task: str) -> str:
    """Return the state key of the last run of ``task`` under ``coordinator``."""
    digest = hashlib.sha256(task.encode()).hexdigest()[:24]
    return f"team.{coordinator}.run.{digest}"


async def last_run(bus: ab.Bus, coordinator: str, task: str) -> RunRecord | None:
    """Return the last run of ``task`` noted on ``bus`` (None: none, or another task's)."""
    entry = await bus.state.get(run_key(coordinator, task))
    if entry is None:
        return None
    try:
        run = msgspec.convert(entry.value, RunRecord)
    except msgspec.ValidationError:
        return None
    return run if run.task == task else None  # a digest collision is not this task


async def save_run(bus: ab.Bus, coordinator: str, run: RunRecord) -> None:
    """Note ``run`` as the last run of its task."""
    await bus.state.put(run_key(coordinator, run.task), msgspec.to_builtins(run))


async def completed(bus: ab.Bus, run_id: str) -> dict[str, TaskRecord]:
    """Return the run's completed tasks' records, by task id."""
    prefix = f"task.{run_id}."
    found: dict[str, TaskRecord] = {}
    for key in bus.state.keys(prefix):
        entry = await bus.state.get(key)
        if entry is None:
            continue
        try:
            record = msgspec.convert(entry.value, TaskRecord)
        except msgspec.ValidationError:
            continue
        if record.status == "COMPLETED":
            found[key[len(prefix) :]] = record
    return found


def verdict_of(round_: int, output: Any) -> Review | str:
    """Return a validate task's output as a `Review`, or why it holds no verdict.

    The `Validator`'s output is a `Verdict` as a dict, or one saying
    ``no_verdict``; anything else (another worker's answer) is no verdict either.
    """
    if isinstance(output, dict) and output.get("no_verdict"):
        return str(output["no_verdict"])
    try:
        verdict = msgspec.convert(output, Verdict)
    except msgspec.ValidationError as exc:
        return f"its answer is not a verdict: {exc}"
    return Review(round=round_, approved=verdict.approved, issues=list(verdict.issues))


def so_far(run: RunRecord, records: dict[str, TaskRecord], angles: list[str]) -> TeamResult:
    """Return what ``run`` got done, from its completed tasks' ``records``.

    ``angles`` are the research task ids, in order. The answer is the last draft
    written ("" if none was); it is approved only if its own round's verdict said so.
    """
    notes = [str(records[a].output) for a in angles if a in records]
    draft, reviews, problems, rounds = "", list[Review](), list[str](), 0
    while f"write-{rounds + 1}" in records:
        rounds += 1
        draft = str(records[f"write-{rounds}"].output)
        if (validated := records.get(f"validate-{rounds}")) is None:
            break
        review = verdict_of(rounds, validated.output)
        if isinstance(review, str):
            problems.append(no_verdict_problem(rounds, review))
            break
        reviews.append(review)
    approved = bool(reviews) and reviews[-1].round == rounds and reviews[-1].approved
    return TeamResult(
        answer=draft, approved=approved, rounds=rounds, notes=notes, reviews=reviews,
        problems=problems, run_id=run.run_id, finished=run.finished,
    )  # fmt: skip


def no_verdict_problem(round_: int, why: str) -> str:
    """Say that round ``round_``'s validator gave no valid verdict, and why."""
    return f"round {round_}: the validator gave no valid verdict ({why}); the draft is unreviewed"
