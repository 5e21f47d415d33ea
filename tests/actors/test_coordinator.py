"""The coordinator on a real bus: delegation, balancing, retries, workflows, teams."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import anyio
import anyio.lowlevel
import pytest

import actorbus as ab
import actors
from actors import Task


class Echo(actors.Worker):
    """Answers with its name, the task and what it was given."""

    capabilities = ("work",)
    done: ClassVar[Counter[str]] = Counter()

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        type(self).done[ctx.actor] += 1
        await anyio.lowlevel.checkpoint()
        return {"by": ctx.actor, "task": task.task_id, "inputs": task.inputs}


class Broken(actors.Worker):
    """Fails every task (its handler raises)."""

    capabilities = ("work",)
    max_retries = 0

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        raise RuntimeError("this worker is broken")


class Stuck(actors.Worker):
    """Never finishes."""

    capabilities = ("work",)

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        await anyio.sleep_forever()


class Picky(actors.Worker):
    """Fails the tasks whose id starts with 'bad'; does the rest."""

    capabilities = ("work",)
    max_retries = 0

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        if task.task_id.startswith("bad"):
            raise ValueError(f"cannot do {task.task_id}")
        return {"id": task.task_id, "previous": task.inputs.get("previous"),
                "deps": task.inputs.get("deps")}  # fmt: skip


class Slow(actors.Worker):
    """Takes ``seconds`` per task, noting when each starts, ends or is stopped."""

    capabilities = ("work",)
    seconds: ClassVar[float] = 60.0
    seen: ClassVar[list[tuple[str, str, str]]] = []  # (actor, task, what)

    async def perform(self, task: ab.TaskDelegation, ctx: ab.Context) -> Any:
        self.seen.append((ctx.actor, task.task_id, "started"))
        try:
            await anyio.sleep(self.seconds)
        except anyio.get_cancelled_exc_class():
            self.seen.append((ctx.actor, task.task_id, "stopped"))
            raise
        self.seen.append((ctx.actor, task.task_id, "done"))
        return ctx.actor


@pytest.fixture(autouse=True)
def _reset() -> None:
    Echo.done.clear()
    Slow.seen.clear()
    Slow.seconds = 60.0


async def team(bus: ab.Bus, *workers: tuple[type[actors.Worker], str]) -> None:
    await bus.spawn(actors.Coordinator, name="coordinator")
    for cls, name in workers:
        await bus.spawn(cls, name=name)
    await bus.drain()  # registrations handled


def work(id: str, *deps: str, **kw: Any) -> Task:
    return Task(id=id, capability="work", depends_on=deps, **kw)


class TestDelegation:
    async def test_a_task_goes_to_a_capable_actor_and_its_status_is_in_the_state(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo-1"))
            outcome = await actors.run_task(bus, work("t1", description="do it"))
            assert outcome.status == "COMPLETED"
            assert outcome.worker == "echo-1"
            assert outcome.output["task"] == "t1"
            assert outcome.attempts == 1
            (key,) = [k for k in bus.state.keys("task.") if k.endswith(".t1")]
            entry = await bus.state.get(key)
            assert entry is not None
            assert entry.updated_by == "coordinator"
            assert entry.value["status"] == "COMPLETED"
            assert entry.value["assigned_to"] == "echo-1"
            assert entry.revision == 3  # PENDING, RUNNING, COMPLETED

    async def test_work_is_balanced_over_equally_capable_actors(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo-1"), (Echo, "echo-2"), (Echo, "echo-3"))
            tasks = [work(f"t{i}") for i in range(30)]
            result = await actors.run_workflow(bus, "parallel", tasks)
        assert result.ok
        assert Echo.done == {"echo-1": 10, "echo-2": 10, "echo-3": 10}

    async def test_no_capable_actor_fails_the_task_at_once_saying_what_exists(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo-1"))
            outcome = await actors.run_task(bus, Task(id="t", capability="fly"))
        assert outcome.status == "FAILED"
        assert outcome.attempts == 0
        assert outcome.error == "no actor can do 'fly' (capabilities known: work)"

    async def test_a_failing_actors_task_is_retried_on_another(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Broken, "broken"), (Echo, "echo"))
            outcomes = [await actors.run_task(bus, work(f"t{i}")) for i in range(4)]
        assert all(o.status == "COMPLETED" and o.worker == "echo" for o in outcomes)
        assert any(o.attempts == 2 for o in outcomes)  # some went to 'broken' first

    async def test_a_stuck_actors_task_times_out_and_goes_to_another(self) -> None:
        async with ab.Bus(shutdown_grace=0.1) as bus:
            await team(bus, (Stuck, "stuck"))
            await bus.spawn(Echo, name="echo")
            await bus.drain()
            outcomes = [await actors.run_task(bus, work(f"t{i}", timeout=0.2)) for i in range(2)]
        assert [o.status for o in outcomes] == ["COMPLETED", "COMPLETED"]
        assert {o.worker for o in outcomes} == {"echo"}

    async def test_when_every_attempt_fails_the_task_fails_with_the_last_reason(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Broken, "broken-1"), (Broken, "broken-2"))
            outcome = await actors.run_task(bus, work("t", max_attempts=3))
        assert outcome.status == "FAILED"
        assert outcome.attempts == 3
        assert outcome.error is not None
        assert "this worker is broken" in outcome.error

    async def test_workers_spawned_before_the_coordinator_are_found(self) -> None:
        async with ab.Bus() as bus:
            await bus.spawn(Echo, name="early")
            await bus.spawn(actors.Coordinator, name="coordinator")
            await bus.drain()
            outcome = await actors.run_task(bus, work("t"))
        assert outcome.worker == "early"

    async def test_a_stopped_worker_gets_no_more_tasks(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo"))
            await bus.stop("echo")
            await bus.drain()
            outcome = await actors.run_task(bus, work("t"))
        assert outcome.status == "FAILED"
        assert "no actor can do 'work'" in (outcome.error or "")


class TestWorkflows:
    async def test_sequential_tasks_get_the_earlier_outputs_in_order(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Picky, "picky"))
            result = await actors.run_workflow(bus, "sequential", [work("a"), work("b"), work("c")])
        assert result.ok
        assert [o.output["id"] for o in result.outcomes] == ["a", "b", "c"]
        assert [o["id"] for o in result.outcome("c").output["previous"]] == ["a", "b"]

    async def test_a_sequential_failure_stops_the_rest(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Picky, "picky"))
            result = await actors.run_workflow(
                bus, "sequential", [work("a"), work("bad", max_attempts=1), work("c")]
            )
        assert not result.ok
        assert [o.status for o in result.outcomes] == ["COMPLETED", "FAILED", "SKIPPED"]
        assert "cannot do bad" in (result.outcome("bad").error or "")
        assert result.outcome("c").error == "not run: task 'bad' before it failed"

    async def test_a_parallel_failure_fails_only_its_task(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Picky, "picky"))
            tasks = [work("a"), work("bad", max_attempts=1), work("c")]
            result = await actors.run_workflow(bus, "parallel", tasks)
        assert [o.status for o in result.outcomes] == ["COMPLETED", "FAILED", "COMPLETED"]

    async def test_a_dag_runs_each_task_after_its_dependencies_with_their_outputs(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Picky, "p1"), (Picky, "p2"))
            tasks = [work("top", "left", "right"), work("left", "root"), work("right", "root"),
                     work("root")]  # fmt: skip
            result = await actors.run_workflow(bus, "dag", tasks)
        assert result.ok
        deps = result.outcome("top").output["deps"]
        assert set(deps) == {"left", "right"}
        assert deps["left"]["deps"]["root"]["id"] == "root"

    async def test_a_failed_dependency_skips_its_dependents_but_not_other_branches(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Picky, "picky"))
            tasks = [work("bad", max_attempts=1), work("after", "bad"), work("other"),
                     work("last", "after", "other")]  # fmt: skip
            result = await actors.run_workflow(bus, "dag", tasks)
        status = {o.task_id: o.status for o in result.outcomes}
        assert status == {"bad": "FAILED", "after": "SKIPPED", "other": "COMPLETED",
                          "last": "SKIPPED"}  # fmt: skip
        assert result.outcome("after").error == "not run: its dependency 'bad' did not complete"

    async def test_a_cycle_is_refused_before_anything_runs(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo"))
            published = bus.statistics().published
            with pytest.raises(actors.WorkflowError, match="cycle"):
                await actors.run_workflow(bus, "dag", [work("a", "b"), work("b", "a")])
            assert bus.statistics().published == published
        assert not Echo.done

    async def test_a_workflow_id_that_cannot_name_state_keys_is_refused(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo"))
            with pytest.raises(actors.WorkflowError, match=r"workflow id 'job\.1'"):
                await actors.run_workflow(bus, "parallel", [work("a")], workflow_id="job.1")
            request = actors.RunWorkflow(workflow_id="job 1", kind="parallel", tasks=[work("a")])
            reply = await bus.ask("agents.coordinator", request, timeout=5)
        assert isinstance(reply, actors.WorkflowResult)
        assert not reply.ok
        assert "workflow id 'job 1'" in (reply.error or "")
        assert not Echo.done

    async def test_an_invalid_workflow_sent_directly_is_answered_not_run(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Echo, "echo"))
            request = actors.RunWorkflow(workflow_id="w", kind="dag", tasks=[work("a", "a")])
            reply = await bus.ask("agents.coordinator", request, timeout=5)
        assert isinstance(reply, actors.WorkflowResult)
        assert not reply.ok
        assert "cycle" in (reply.error or "")
        assert not Echo.done


class TestNoOverlap:
    """Regressions for issue 14, point 3: a task's attempts never run at once."""

    async def test_a_timed_out_attempt_is_stopped_before_the_next_starts(self) -> None:
        with anyio.fail_after(20):
            async with ab.Bus(shutdown_grace=0.1) as bus:
                await team(bus, (Slow, "slow-1"), (Slow, "slow-2"))
                outcome = await actors.run_task(bus, work("t", timeout=0.2, max_attempts=2))
        assert outcome.status == "FAILED"
        assert "stopped t at its deadline" in (outcome.error or "")
        first, second = sorted({actor for actor, _, _ in Slow.seen})
        tried = [(actor, what) for actor, _, what in Slow.seen]
        # each attempt was stopped before the next one started, whoever went first
        assert [what for _, what in tried] == ["started", "stopped", "started", "stopped"]
        assert {tried[0][0], tried[2][0]} == {first, second}

    async def test_a_task_waiting_behind_another_at_a_busy_worker_gets_its_time(self) -> None:
        # One worker, two tasks at once: the second waits for the first (0.6 s),
        # then runs (0.6 s), past its own timeout (1 s) but within the time it
        # was given, its own and the one before it (2 s): no second attempt.
        Slow.seconds = 0.6
        with anyio.fail_after(20):
            async with ab.Bus() as bus:
                await team(bus, (Slow, "slow"))
                tasks = [work(f"t{i}", timeout=1.0, max_attempts=2) for i in range(2)]
                result = await actors.run_workflow(bus, "parallel", tasks)
        assert result.ok, result.outcomes
        assert [o.attempts for o in result.outcomes] == [1, 1]
        assert [what for _, _, what in Slow.seen] == ["started", "done"] * 2

    async def test_a_delegation_past_its_deadline_is_not_started(self) -> None:
        async with ab.Bus() as bus:
            await team(bus, (Slow, "slow"))
            late = ab.TaskDelegation(task_id="t", capability="work", deadline=0.0)
            reply = await bus.ask("agents.slow", late, timeout=5)
        assert isinstance(reply, actors.TaskResult)
        assert not reply.ok
        assert reply.error == "slow got t after its deadline: not started"
        assert Slow.seen == []


class TestTeamsOfTeams:
    async def test_a_coordinator_works_for_a_coordinator_above_it(self) -> None:
        async with ab.Bus() as bus:
            await bus.spawn(actors.Coordinator, name="coordinator")
            await bus.spawn(actors.Coordinator, "coordinator", ["research"], name="research-team")
            await bus.spawn(Echo, "research-team", ["research"], name="researcher-1")
            await bus.spawn(Echo, "research-team", ["research"], name="researcher-2")
            await bus.drain()
            result = await actors.run_workflow(
                bus, "parallel", [Task(id=f"r{i}", capability="research") for i in range(4)]
            )
        assert result.ok
        assert {o.worker for o in result.outcomes} == {"research-team"}
        assert {o.output["by"] for o in result.outcomes} == {"researcher-1", "researcher-2"}
        assert Echo.done == {"researcher-1": 2, "researcher-2": 2}
