"""Regressions: a worker that vanished, and a team restarted on a durable log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import actorbus as ab
import actors
from actors import Task


class Named(actors.Worker):
    """Answers with its name."""

    capabilities = ("work",)

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        return ctx.actor


class TestVanishedWorker:
    async def test_a_killed_worker_is_forgotten_after_its_first_missed_task(self) -> None:
        # kill() runs no on_stop, so the worker never withdraws: the coordinator
        # must stop picking it once its topic has no subscriber.
        with anyio.fail_after(10):
            async with ab.Bus() as bus:
                await bus.spawn(actors.Coordinator, name="coordinator")
                await bus.spawn(Named, name="w1")
                await bus.spawn(Named, name="w2")
                await bus.drain()
                bus.kill("w1")
                outcomes = [
                    await actors.run_task(bus, Task(id=f"t{i}", capability="work", max_attempts=1))
                    for i in range(4)
                ]
        failed = [o for o in outcomes if o.status != "COMPLETED"]
        assert len(failed) <= 1
        assert [o.worker for o in outcomes if o.status == "COMPLETED"] == ["w2"] * (4 - len(failed))


class TestTeamOnADurableLog:
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"  # model calls need asyncio

    async def test_a_new_team_does_not_redo_a_previous_sessions_leftover_tasks(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "team.db"
        task = "How should agents share a task list?"
        with anyio.fail_after(30):
            async with ab.Bus(log=ab.SqliteLog(path), models=actors.offline_models()) as bus:
                team = actors.Team(bus, task_timeout=10)
                await team.start()
                await team.run(task)
                # A delegation the session ended before the validator handled (as
                # when `actorbus run` times out): it stays in the log, unhandled.
                leftover = ab.TaskDelegation(
                    task_id="validate-9", capability="validate", inputs={"draft": "old"}
                )
                await bus.publish("agents.validator", leftover)
                bus.kill("validator")
            async with ab.Bus(log=ab.SqliteLog(path), models=actors.offline_models()) as bus:
                team = actors.Team(bus, task_timeout=10)
                await team.start()
                result = await team.run(task)
                await bus.drain()
                calls = bus.costs().by_actor["validator"].calls
        assert calls == result.rounds  # one call per round of this run, none for old work
