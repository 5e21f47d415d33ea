"""The LLM team on a real bus: research, bounded review rounds, costs, failures.

Model calls need asyncio, so every test here runs on asyncio only. The models are
real: the offline scripted provider (an `EchoTransport` with a `respond`
function), or FakeOpenAI over HTTP.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

import actorbus as ab
import actors
import actors._team as actors_team
from actorbus.testing import FakeOpenAI, Fault, RecordedRequest, Reply
from actors._offline import key_terms

TASK = "How should agents share a task list without losing or repeating work?"
TERMS = key_terms(TASK)
Respond = Callable[[dict[str, Any]], str]
Step = str | Reply | Fault


@pytest.fixture
def anyio_backend() -> str:
    """Model calls need asyncio: run these tests on asyncio only."""
    return "asyncio"


def system_prompt(body: dict[str, Any]) -> str:
    return next(str(m["content"]) for m in body["messages"] if m["role"] == "system")


def user_prompt(body: dict[str, Any]) -> str:
    return next(str(m["content"]) for m in body["messages"] if m["role"] == "user")


def scripted(respond: Respond) -> ab.Models:
    """Offline models answering with ``respond``."""
    return ab.Models(
        ab.ModelsConfig.offline(), transports={"echo": ab.EchoTransport(respond=respond)}
    )


def over_http(server: FakeOpenAI) -> ab.Models:
    provider = ab.Provider(
        name="fake", base_url=server.base_url, max_attempts=1, retry_base=0.01, retry_cap=0.05
    )
    return ab.Models(ab.ModelsConfig(providers=[provider]))


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


async def run_team(
    models: ab.Models, task: str = TASK, **settings: Any
) -> tuple[actors.TeamResult, ab.CostReport, list[actors.TeamEvent], dict[str, Any]]:
    """Run a fresh team once; return the result, the costs, the events, the records."""
    events: list[actors.TeamEvent] = []
    with anyio.fail_after(30):
        async with ab.Bus(models=models) as bus:
            team = actors.Team(bus, **{"task_timeout": 10, **settings})
            await team.start()
            result = await team.run(task, on_event=events.append)
            records = {}
            for key in bus.state.keys(f"task.{result.run_id}."):
                entry = await bus.state.get(key)
                assert entry is not None
                records[key.rsplit(".", 1)[1]] = entry.value
            costs = bus.costs()
    return result, costs, events, records


class TestOffline:
    async def test_the_team_answers_after_the_validator_sends_a_draft_back(self) -> None:
        result, _, _, _ = await run_team(actors.offline_models())
        assert result.approved
        assert result.rounds == 2
        first, second = result.reviews
        assert not first.approved
        assert first.feedback.startswith("mention ")
        assert second.approved
        words = result.answer.lower()
        assert all(term in words for term in TERMS)
        assert len(result.notes) == 3
        assert result.problems == []

    async def test_costs_are_recorded_per_actor_and_per_model(self) -> None:
        _, costs, _, _ = await run_team(actors.offline_models())
        calls = {name: spend.calls for name, spend in costs.by_actor.items()}
        assert calls["writer"] == 2
        assert calls["validator"] == 2
        assert calls["researcher-1"] + calls["researcher-2"] == 3  # one per angle
        assert min(calls["researcher-1"], calls["researcher-2"]) >= 1  # shared out
        assert {m: s.calls for m, s in costs.by_model.items()} == {
            "deepseek-v3": 3,
            "gpt-4.1": 2,
            "gemini-2.5-flash": 2,
        }
        assert costs.total.cost > 0

    async def test_every_task_of_the_run_is_recorded_in_the_state(self) -> None:
        _, _, _, records = await run_team(actors.offline_models())
        assert set(records) == {
            "research-background",
            "research-approaches",
            "research-risks",
            "write-1",
            "validate-1",
            "write-2",
            "validate-2",
        }
        assert all(r["status"] == "COMPLETED" for r in records.values())
        assert records["write-2"]["assigned_to"] == "writer"
        assert records["validate-1"]["output"]["approved"] is False

    async def test_events_report_each_task_and_verdict_with_counts(self) -> None:
        _, _, events, _ = await run_team(actors.offline_models())
        texts = [e.text for e in events]
        assert "writer started write-1" in texts
        assert "validator finished validate-2" in texts
        reviews = [e.text.splitlines() for e in events if e.kind == "review"]
        assert reviews[0][0] == "round 1: not approved, 2 issues to fix"
        assert all(line.startswith("  - mention ") for line in reviews[0][1:])
        assert reviews[1] == ["round 2: approved"]
        assert (events[-1].done, events[-1].total) == (7, 7)  # flushed before run returns
        assert all(e.done <= e.total for e in events)

    async def test_a_model_for_every_role_replaces_their_own(self) -> None:
        _, costs, _, _ = await run_team(actors.offline_models(), model="my-model")
        assert set(costs.by_model) == {"my-model"}

    async def test_a_one_word_task_leaves_nothing_out_and_is_approved_at_once(self) -> None:
        result, _, _, _ = await run_team(actors.offline_models(), task="Summarize!")
        assert result.approved
        assert result.rounds == 1


def verdict(approved: bool, *issues: str) -> str:
    return json.dumps({"approved": approved, "issues": list(issues)})


class TestReviewLoop:
    async def test_the_writer_gets_the_issues_one_per_line(self) -> None:
        writer_prompts: list[str] = []

        def respond(body: dict[str, Any]) -> str:
            if system_prompt(body) == actors.Writer.system_prompt:
                writer_prompts.append(user_prompt(body))
            return actors.offline_reply(body)

        result, _, _, _ = await run_team(scripted(respond))
        assert result.rounds == 2
        issues = "\n".join(f"- {issue}" for issue in result.reviews[0].issues)
        assert f"Reviewer feedback, to address:\n{issues}\n\nWrite the answer." in writer_prompts[1]
        assert "Your previous draft:" in writer_prompts[1]

    async def test_an_approval_that_never_comes_is_bounded_by_max_rounds(self) -> None:
        def respond(body: dict[str, Any]) -> str:
            if system_prompt(body) == actors.Validator.system_prompt:
                return verdict(False, "say more")
            return actors.offline_reply(body)

        result, costs, _, _ = await run_team(scripted(respond), max_rounds=3)
        assert (result.approved, result.rounds, result.feedback) == (False, 3, "say more")
        assert costs.by_actor["writer"].calls == 3


class TestStructuredVerdict:
    """Regressions for issue 14, point 4: the validator answers with a typed verdict."""

    async def test_the_validator_asks_for_a_verdict_as_structured_output(
        self, server: FakeOpenAI
    ) -> None:
        server.reply_with(actors.offline_reply)
        await run_team(over_http(server))
        judged = [
            r.body for r in server.requests if r.body and "validator" in system_prompt(r.body)
        ]
        assert judged
        for body in judged:
            schema = body["response_format"]["json_schema"]["schema"]
            assert set(schema["properties"]) == {"approved", "issues"}
            assert body["stream"] is True

    async def test_an_answer_that_is_no_verdict_stops_the_team_unapproved(self) -> None:
        asked: list[str] = []

        def respond(body: dict[str, Any]) -> str:
            if system_prompt(body).startswith(actors.Validator.system_prompt):
                asked.append("validator")
                return "I'm not sure what you mean.\nPerhaps?"
            return actors.offline_reply(body)

        result, costs, events, _ = await run_team(scripted(respond), max_rounds=3)
        assert (result.approved, result.rounds, result.reviews) == (False, 1, [])
        (problem,) = result.problems
        assert problem.startswith("round 1: the validator gave no valid verdict (3 answer(s)")
        assert problem.endswith("the draft is unreviewed")
        assert "Perhaps" not in problem  # the model's words are in the log, not quoted as a verdict
        assert len(asked) == 3  # the first answer and its two re-asks (output_retries)
        assert costs.by_actor["writer"].calls == 1  # no revision without a verdict
        assert not [e for e in events if e.kind == "review"]
        assert any(e.kind == "problem" and "no valid verdict" in e.text for e in events)

    async def test_a_verdict_of_the_wrong_shape_is_asked_for_again(self) -> None:
        answers = iter([json.dumps({"approved": "yes"}), verdict(True)])

        def respond(body: dict[str, Any]) -> str:
            if system_prompt(body).startswith(actors.Validator.system_prompt):
                return next(answers)
            return actors.offline_reply(body)

        result, costs, _, _ = await run_team(scripted(respond))
        assert (result.approved, result.rounds, result.problems) == (True, 1, [])
        assert costs.by_actor["validator"].calls == 2

    async def test_a_review_event_shows_a_few_issues_one_line_each(self) -> None:
        issues = [f"issue {i}: " + "very long " * 30 for i in range(8)]

        def respond(body: dict[str, Any]) -> str:
            if system_prompt(body).startswith(actors.Validator.system_prompt):
                return verdict(False, *issues)
            return actors.offline_reply(body)

        result, _, events, _ = await run_team(scripted(respond), max_rounds=1)
        assert result.reviews[0].issues == [" ".join(i.split()) for i in issues]  # all kept
        (review,) = [e.text.splitlines() for e in events if e.kind == "review"]
        assert review[0] == "round 1: not approved, 8 issues to fix"
        assert len(review) == 1 + actors_team.SHOWN_ISSUES + 1
        assert review[-1] == "  (3 more in the log)"


class TestOverHTTP:
    async def test_the_team_works_through_a_real_http_endpoint(self, server: FakeOpenAI) -> None:
        server.reply_with(actors.offline_reply)
        result, costs, _, _ = await run_team(over_http(server))
        assert result.approved
        assert result.rounds == 2
        models = sorted({r.body["model"] for r in server.requests if r.body})
        assert models == ["deepseek-v3", "gemini-2.5-flash", "gpt-4.1"]
        assert server.request_count == 7  # 3 research, 2 writes, 2 validations
        assert costs.total.calls == 7

    async def test_a_failing_researcher_leaves_the_others_notes_and_says_so(
        self, server: FakeOpenAI
    ) -> None:
        def reply(body: dict[str, Any]) -> Step:
            if "Angle: risks" in user_prompt(body):
                return Fault.status(400, body='{"error": {"message": "no risks today"}}')
            return actors.offline_reply(body)

        server.reply_with(reply)
        result, _, events, records = await run_team(over_http(server))
        assert result.approved
        assert len(result.notes) == 2
        (problem,) = result.problems
        assert problem.startswith("research on 'risks' failed (")
        assert problem.endswith("the answer uses the other notes")
        assert records["research-risks"]["status"] == "FAILED"
        assert records["research-risks"]["attempts"] == 2  # each researcher tried
        assert any(e.kind == "problem" and "risks" in e.text for e in events)

    async def test_a_failing_writer_is_a_clear_error(self, server: FakeOpenAI) -> None:
        def reply(body: dict[str, Any]) -> Step:
            if system_prompt(body) == actors.Writer.system_prompt:
                return Fault.status(400)
            return actors.offline_reply(body)

        server.reply_with(reply)
        with pytest.raises(actors.TeamError, match="the writer failed in round 1") as caught:
            await run_team(over_http(server))
        assert caught.value.run_id in str(caught.value)

    async def test_research_failing_on_every_angle_is_a_clear_error(
        self, server: FakeOpenAI
    ) -> None:
        server.reply_with(lambda body: Fault.status(400))
        with pytest.raises(actors.TeamError, match="research failed on every angle"):
            await run_team(over_http(server))


def overlaps(requests: list[RecordedRequest], key: Callable[[RecordedRequest], str]) -> list[str]:
    """Requests the server had open at once for the same ``key``, as text (none: [])."""
    found: list[str] = []
    by_key: dict[str, list[RecordedRequest]] = {}
    for request in requests:
        by_key.setdefault(key(request), []).append(request)
    for name, same in by_key.items():
        same.sort(key=lambda r: r.time)
        for before, after in itertools.pairwise(same):
            assert before.ended is not None
            # The server notices a hang-up on its next read: allow it a moment.
            if after.time < before.ended - 0.05:
                found.append(f"{name}: {before.time:.3f}-{before.ended:.3f} and {after.time:.3f}")
    return found


def angle(request: RecordedRequest) -> str:
    assert request.body is not None
    return user_prompt(request.body).split("Angle: ", 1)[1].split("\n", 1)[0]


class TestSlowEndpoint:
    """Regressions for issue 14, point 3: no task is worked on twice at once."""

    async def test_an_attempt_cut_at_its_timeout_is_closed_before_the_next_is_sent(self) -> None:
        # Answers take 1.5 s and an attempt may take 0.5 s: every attempt is cut.
        async with FakeOpenAI(latency=1.5) as server:
            server.reply_with(actors.offline_reply)
            with pytest.raises(actors.TeamError, match="research failed on every angle"):
                await run_team(over_http(server), task_timeout=0.5)
            requests = server.requests
        assert len(requests) == 6  # three angles, two attempts each
        assert all(r.status == 0 for r in requests)  # each abandoned by its client
        assert overlaps(requests, angle) == []

    async def test_the_costs_count_every_request_the_server_received(self) -> None:
        async with FakeOpenAI() as server:
            server.script(Fault.status(503), Fault.status(503))
            server.reply_with(actors.offline_reply)
            provider = ab.Provider(name="fake", base_url=server.base_url, retry_base=0.01)
            async with ab.Bus(models=ab.Models(ab.ModelsConfig(providers=[provider]))) as bus:
                team = actors.Team(bus, task_timeout=10)
                await team.start()
                await team.run(TASK)
                costs = bus.costs()
            received = server.request_count
        assert received == 9  # two refused, then the seven answered
        assert (costs.total.calls, costs.total.requests) == (7, received)
        assert sum(s.requests for s in costs.by_actor.values()) == received


class TestTeamSettings:
    @pytest.mark.parametrize(
        "settings",
        [
            pytest.param({"researchers": 0}, id="no-researchers"),
            pytest.param({"max_rounds": 0}, id="no-rounds"),
            pytest.param({"angles": ()}, id="no-angles"),
            pytest.param({"angles": "risks"}, id="angles-a-string"),
            pytest.param({"angles": ("Risks", "risks!")}, id="angles-same-id"),
            pytest.param({"task_timeout": 0}, id="no-time"),
        ],
    )
    async def test_bad_settings_are_refused(self, settings: dict[str, Any]) -> None:
        async with ab.Bus() as bus:
            with pytest.raises(ValueError, match="must"):
                actors.Team(bus, **settings)

    async def test_run_before_start_and_start_twice_are_refused(self) -> None:
        async with ab.Bus(models=actors.offline_models()) as bus:
            team = actors.Team(bus, researchers=1)
            with pytest.raises(RuntimeError, match="start the team first"):
                await team.run(TASK)
            await team.start()
            with pytest.raises(RuntimeError, match="started already"):
                await team.start()
            assert set(team.members) <= set(bus.actors())

    async def test_an_on_event_that_raises_does_not_stop_the_run(self) -> None:
        def broken(event: actors.TeamEvent) -> None:
            raise RuntimeError("display broke")

        async with ab.Bus(models=actors.offline_models()) as bus:
            team = actors.Team(bus)
            await team.start()
            result = await team.run(TASK, on_event=broken)
        assert result.approved
