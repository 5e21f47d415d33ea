"""The coordinator's bookkeeping and the workflow checks, as pure logic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import actors
from actors._graph import find_cycle
from actors._registry import Registry


class TestRegistry:
    def test_the_least_busy_capable_actor_is_picked(self) -> None:
        registry = Registry()
        for name in ("a", "b", "c"):
            registry.register(name, f"agents.{name}", ["work"])
        registry.started("a")
        registry.started("b")
        assert registry.pick("work") == "c"

    def test_ties_take_turns(self) -> None:
        registry = Registry()
        for name in ("a", "b", "c"):
            registry.register(name, f"agents.{name}", ["work"])
        assert [registry.pick("work") for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]

    def test_actors_to_avoid_are_avoided_while_others_can_do_it(self) -> None:
        registry = Registry()
        registry.register("a", "agents.a", ["work"])
        registry.register("b", "agents.b", ["work"])
        assert registry.pick("work", avoid=["a"]) == "b"
        assert registry.pick("work", avoid=["a", "b"]) in {"a", "b"}

    def test_an_unknown_capability_has_nobody(self) -> None:
        registry = Registry()
        registry.register("a", "agents.a", ["work"])
        assert registry.pick("fly") is None
        assert registry.capabilities() == ["work"]

    def test_registering_nothing_withdraws(self) -> None:
        registry = Registry()
        registry.register("a", "agents.a", ["work", "write"])
        registry.register("a", "agents.a", [])
        assert registry.pick("work") is None
        assert registry.capabilities() == []

    @given(st.lists(st.integers(0, 4), min_size=1, max_size=60))
    def test_outstanding_work_stays_balanced(self, finishes: list[int]) -> None:
        # Start tasks on picked actors, finishing some: no actor ever has more than
        # one task more than the least busy one.
        registry = Registry()
        names = [f"w{i}" for i in range(5)]
        for name in names:
            registry.register(name, f"agents.{name}", ["work"])
        running: list[str] = []
        for finish in finishes:
            actor = registry.pick("work")
            assert actor is not None
            registry.started(actor)
            running.append(actor)
            counts = [registry.outstanding(n) for n in names]
            assert max(counts) - min(counts) <= 1
            if finish < len(running) and finish % 2:
                registry.finished(running.pop(finish))


def task(id: str, *deps: str) -> actors.Task:
    return actors.Task(id=id, capability="work", depends_on=deps)


class TestWorkflowChecks:
    @pytest.mark.parametrize(
        ("kind", "tasks", "match"),
        [
            ("dag", [], "at least one task"),
            ("dag", [task("a"), task("a")], "unique"),
            ("dag", [task("a b")], "letters, digits"),
            ("dag", [task("a", "ghost")], "unknown task"),
            ("parallel", [task("a"), task("b", "a")], "only a 'dag'"),
            ("dag", [task("a", "b"), task("b", "a")], "cycle: a -> b -> a"),
            ("loop", [task("a")], "'sequential', 'parallel' or 'dag'"),
        ],
    )
    def test_an_invalid_workflow_is_refused_saying_why(
        self, kind: str, tasks: list[actors.Task], match: str
    ) -> None:
        with pytest.raises(actors.WorkflowError, match=match):
            actors.check_workflow(kind, tasks)  # type: ignore[arg-type]

    def test_a_self_dependency_is_a_cycle(self) -> None:
        assert find_cycle([task("a", "a")]) == ["a", "a"]

    @given(st.data())
    def test_cycles_are_found_exactly_when_there_is_one(self, data: st.DataObject) -> None:
        size = data.draw(st.integers(1, 8))
        ids = [f"t{i}" for i in range(size)]
        # Edges from later to earlier tasks only: acyclic.
        deps = {
            i: data.draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
            for i in range(size)
        }
        tasks = [task(ids[i], *(ids[d] for d in sorted(deps[i]))) for i in range(size)]
        assert find_cycle(tasks) == []
        actors.check_workflow("dag", tasks)
        if size >= 2 and deps[size - 1]:
            # One edge back from the first dependency to the last task closes a cycle.
            first = min(deps[size - 1])
            looped = list(tasks)
            looped[first] = task(ids[first], *tasks[first].depends_on, ids[size - 1])
            cycle = find_cycle(looped)
            assert cycle
            assert cycle[0] == cycle[-1]
            with pytest.raises(actors.WorkflowError, match="cycle"):
                actors.check_workflow("dag", looped)
