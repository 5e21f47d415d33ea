"""The tool loop (issue 13, points 2-4): over real HTTP to FakeOpenAI, through a real Bus.

A handler's ``ctx.complete(messages, tools=[...])`` runs model turn -> tool calls ->
tool results -> model turn until the model answers without calling a tool. These
tests script the model with FakeOpenAI and read back what it was sent: the
``tools`` definitions, the assistant's tool calls, the tool messages, the
``response_format``. FakeOpenAI answers 400 to a malformed request, so a loop that
gets its answers also proves its requests well-formed. Actor tools are real actors
on the bus: a failing one dead-letters its request, a full mailbox holds its asks.
Bad calls become error results the model reads; the bounds end the loop with
`ToolLoopError`; budgets and rate limits bind every turn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import anyio
import msgspec
import pytest

import actorbus as ab
from actorbus.testing import FakeOpenAI, Reply, ToolCall

from ._support import KEY_ENV, SENTINEL_KEY

pytestmark = pytest.mark.timeout(60)

QUESTION = "What is 1 + 2?"


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    return SENTINEL_KEY


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=SENTINEL_KEY) as server:
        yield server


def models_for(fake: FakeOpenAI, budget: ab.Budgets | None = None, **provider: Any) -> ab.Models:
    settings: dict[str, Any] = {
        "name": "fake",
        "base_url": fake.base_url,
        "api_key_env": KEY_ENV,
        "retry_base": 0.01,
        "retry_cap": 0.05,
        **provider,
    }
    config = ab.ModelsConfig(providers=[ab.Provider(**settings)], budget=budget or ab.Budgets())
    return ab.Models(config)


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The bodies FakeOpenAI received, each one it accepted (200)."""
    found = []
    for request in fake.requests:
        assert request.status == 200, request  # FakeOpenAI refuses malformed requests
        assert request.body is not None
        found.append(request.body)
    return found


def calls(*specs: tuple[str, Any]) -> Reply:
    """A turn that calls tools: (name, arguments) pairs."""
    return Reply(tool_calls=[ToolCall(name, arguments) for name, arguments in specs])


async def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


class Report(msgspec.Struct):
    """The final answer's shape."""

    total: float
    note: str


class Analyst(ab.Actor):
    """Runs a tool loop per question; keeps each completion (or error) for the test."""

    subscribe = ("questions",)
    model = "gpt-4.1"
    max_retries = 0

    def __init__(self, tools: Sequence[Any], options: dict[str, Any] | None = None) -> None:
        self.tools = list(tools)
        self.options = options or {}
        self.done: list[ab.Completion[Any]] = []
        self.errors: list[Exception] = []

    async def on_question(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
        try:
            done = await ctx.complete([ab.user(msg.content)], tools=self.tools, **self.options)
        except ab.ModelError as exc:
            self.errors.append(exc)
            raise
        self.done.append(done)
        return ab.Response(content=done.text)


class StreamingAnalyst(Analyst):
    """The same over ``ctx.stream``, keeping the deltas."""

    subscribe = ("streamed",)

    def __init__(self, tools: Sequence[Any]) -> None:
        super().__init__(tools)
        self.deltas: list[str] = []

    async def on_question(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
        async with ctx.stream([ab.user(msg.content)], tools=self.tools) as stream:
            self.deltas += [delta async for delta in stream]
        assert stream.completion is not None
        self.done.append(stream.completion)
        return ab.Response(content=stream.completion.text)


async def run_loop(
    fake: FakeOpenAI,
    tools: Sequence[Any],
    *,
    budget: ab.Budgets | None = None,
    provider: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[Analyst, ab.Message | ab.AskFailed, ab.CostReport]:
    """Ask an `Analyst` on a fresh bus; return it, its reply (or the failure), the costs.

    ``options`` go to ``ctx.complete``; ``provider`` to the provider's settings.
    """
    with anyio.fail_after(30):
        async with ab.Bus(models=models_for(fake, budget, **(provider or {}))) as bus:
            ref = await bus.spawn(Analyst, tools, options, name="analyst")
            try:
                reply: ab.Message | ab.AskFailed = await bus.ask(
                    "questions", ab.Request(content=QUESTION), timeout=20
                )
            except ab.AskFailed as exc:
                reply = exc
            costs = bus.costs()
    return ref.actor, reply, costs


class TestTheLoop:
    async def test_tool_results_go_back_until_the_model_answers(self, fake: FakeOpenAI) -> None:
        fake.script(
            Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 2})], prompt_tokens=100,
                  completion_tokens=10),
            Reply(text="It is 3.", prompt_tokens=200, completion_tokens=20),
        )  # fmt: skip
        analyst, reply, costs = await run_loop(fake, [add])
        assert reply == ab.Response(content="It is 3.")
        (done,) = analyst.done
        first, second = bodies(fake)
        # every turn offers the tools, as the tool describes itself
        assert first["tools"] == second["tools"] == [ab.tool(add).definition()]
        (call,) = done.turns[0].tool_calls or []
        assert second["messages"] == [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a":1,"b":2}'},
                    }
                ],
            },
            {"role": "tool", "content": "3.0", "tool_call_id": call.id},
        ]
        # done shows the turns, each call with its arguments, result, duration, origin
        (run,) = done.tools
        assert (run.call_id, run.name, run.arguments) == (call.id, "add", '{"a":1,"b":2}')
        assert (run.result, run.error, run.journaled) == ("3.0", False, False)
        assert run.duration >= 0
        assert [len(t.tools) for t in done.turns] == [1, 0]
        assert done.turns[0].tools == [run]
        assert done.text == "It is 3."
        assert done.tool_calls is None
        assert done.finish_reason == "stop"
        # usage and cost summed over the turns
        assert done.usage == ab.Usage(prompt_tokens=300, completion_tokens=30, total_tokens=330)
        assert done.cost == pytest.approx((300 * 2.0 + 30 * 8.0) / 1e6)  # gpt-4.1
        assert done.attempts == 2
        spend = costs.by_actor["analyst"]
        assert (spend.calls, spend.tool_calls, spend.tool_errors) == (2, 1, 0)
        assert spend.cost == pytest.approx(done.cost)

    async def test_a_plain_function_is_made_a_tool_and_runs_in_a_thread(
        self, fake: FakeOpenAI
    ) -> None:
        def shout(text: str) -> str:
            """Say it louder."""
            return text.upper()

        fake.script(calls(("shout", {"text": "hi"})), "done")
        analyst, _, _ = await run_loop(fake, [shout])
        assert [run.result for run in analyst.done[0].tools] == ["HI"]
        assert bodies(fake)[0]["tools"][0]["function"]["description"] == "Say it louder."

    async def test_output_applies_to_the_final_answer(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("add", {"a": 1, "b": 2})), Reply.json({"total": 3, "note": "ok"}))
        analyst, _, _ = await run_loop(fake, [add], output=Report)
        (done,) = analyst.done
        assert done.output == Report(total=3.0, note="ok")
        assert [run.result for run in done.tools] == ["3.0"]
        for body in bodies(fake):
            assert body["response_format"]["json_schema"]["name"] == "Report"
            assert body["tools"] == [ab.tool(add).definition()]

    async def test_an_invalid_final_answer_is_re_asked_after_the_tools(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(
            calls(("add", {"a": 1, "b": 2})),
            Reply.json({"total": "three", "note": "ok"}),
            Reply.json({"total": 3, "note": "ok"}),
        )
        analyst, _, _ = await run_loop(fake, [add], output=Report)
        assert analyst.done[0].output == Report(total=3.0, note="ok")
        third = bodies(fake)[2]
        assert [m["role"] for m in third["messages"]] == [
            "user", "assistant", "tool", "assistant", "user"
        ]  # fmt: skip
        assert "at `$.total`" in third["messages"][-1]["content"]

    async def test_parallel_calls_run_concurrently_and_answer_in_call_order(
        self, fake: FakeOpenAI
    ) -> None:
        in_flight = 0
        most = 0
        both_in = anyio.Event()
        second_done = anyio.Event()

        async def meet(who: str) -> str:
            """Wait until both calls are running at once."""
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == 2:
                both_in.set()
            await both_in.wait()  # sequential calls would wait here until the timeout
            if who == "first":
                await second_done.wait()  # finish last, yet answer first
            in_flight -= 1
            if who == "second":
                second_done.set()
            return f"met {who}"

        fake.script(calls(("meet", {"who": "first"}), ("meet", {"who": "second"})), "both met")
        analyst, _, _ = await run_loop(fake, [ab.tool(meet, timeout=20)])
        assert most == 2
        (done,) = analyst.done
        assert [(run.result, run.error) for run in done.tools] == [
            ("met first", False), ("met second", False)
        ]  # fmt: skip
        ids = [call.id for call in done.turns[0].tool_calls or []]
        tool_messages = [m for m in bodies(fake)[1]["messages"] if m["role"] == "tool"]
        assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [
            (ids[0], "met first"), (ids[1], "met second")
        ]  # fmt: skip

    async def test_a_structured_result_is_sent_as_json(self, fake: FakeOpenAI) -> None:
        async def locate(city: str) -> Report:
            """Locate a city."""
            return Report(total=1.5, note=city)

        fake.script(calls(("locate", {"city": "Paris"})), "found")
        await run_loop(fake, [locate])
        tool_message = bodies(fake)[1]["messages"][-1]
        assert tool_message["content"] == '{"total":1.5,"note":"Paris"}'

    async def test_streaming_assembles_tool_call_deltas_and_loops(self, fake: FakeOpenAI) -> None:
        fake.script(
            Reply(text="Adding. ", tool_calls=[ToolCall("add", {"a": 10, "b": 20})],
                  arguments_chunk=3),
            Reply(text="The sum is 30."),
        )  # fmt: skip
        async with ab.Bus(models=models_for(fake)) as bus:
            ref = await bus.spawn(StreamingAnalyst, [add], name="streamer")
            reply = await bus.ask("streamed", ab.Request(content=QUESTION), timeout=20)
        assert reply == ab.Response(content="The sum is 30.")
        streamer = ref.actor
        assert "".join(streamer.deltas) == "Adding. The sum is 30."
        (done,) = streamer.done
        (run,) = done.tools
        assert (run.name, msgspec.json.decode(run.arguments), run.result) == (
            "add", {"a": 10, "b": 20}, "30.0"
        )  # fmt: skip
        first, second = bodies(fake)
        assert first["stream"] is second["stream"] is True
        assistant = second["messages"][1]
        assert assistant["content"] == "Adding. "
        assert msgspec.json.decode(assistant["tool_calls"][0]["function"]["arguments"]) == {
            "a": 10,
            "b": 20,
        }

    async def test_models_complete_runs_the_same_loop(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("add", {"a": 2, "b": 2})), Reply.json({"total": 4, "note": "n"}))
        async with models_for(fake) as models:
            done = await models.complete(
                [ab.user(QUESTION)], model="gpt-4.1", tools=[add], output=Report
            )
        assert done.output == Report(total=4.0, note="n")
        assert [run.result for run in done.tools] == ["4.0"]

    async def test_tools_in_a_call_that_are_not_a_list_are_refused(self, fake: FakeOpenAI) -> None:
        async with models_for(fake) as models:
            for tools in (add, {"type": "function"}, [add, ab.tool(add)]):
                with pytest.raises(ab.SchemaError):
                    await models.complete([ab.user("x")], model="gpt-4.1", tools=tools)  # type: ignore[arg-type]
        assert fake.request_count == 0


class SearchRequest(ab.Message):
    """Search the team's notes.

    Attributes:
        query: what to look for.
    """

    query: str


class SearchResult(ab.Message):
    hits: list[str]


class Searcher(ab.Actor):
    """An actor tool: answers searches; fails on "boom"; can be held at a gate."""

    subscribe = ("tools.search",)
    max_retries = 0

    def __init__(self, gate: anyio.Event | None = None) -> None:
        self.gate = gate
        self.entered = anyio.Event()
        self.started = 0
        self.running = 0
        self.most = 0

    async def on_search(self, msg: SearchRequest, ctx: ab.Context) -> SearchResult:
        self.started += 1
        self.entered.set()
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if msg.query == "boom":
                raise ValueError("the index is on fire")
            return SearchResult(hits=[f"note about {msg.query}"])
        finally:
            self.running -= 1


class DeadLetters(ab.Actor):
    subscribe = ("_dead.>",)

    def __init__(self) -> None:
        self.seen: list[ab.DeadLetter] = []

    async def on_dead(self, msg: ab.DeadLetter, ctx: ab.Context) -> None:
        self.seen.append(msg)


SEARCH = ab.actor_tool("tools.search", SearchRequest)


class TestActorTools:
    async def test_a_call_is_an_ask_and_the_reply_is_the_result(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("tools_search", {"query": "actors"})), "Found it.")
        async with ab.Bus(models=models_for(fake)) as bus:
            searcher = await bus.spawn(Searcher, name="searcher")
            analyst = await bus.spawn(Analyst, [SEARCH], name="analyst")
            reply = await bus.ask("questions", ab.Request(content=QUESTION), timeout=20)
        assert reply == ab.Response(content="Found it.")
        assert searcher.actor.started == 1
        (run,) = analyst.actor.done[0].tools
        assert not run.error
        assert msgspec.json.decode(run.result) == {
            "type": "SearchResult",
            "hits": ["note about actors"],
        }
        first, second = bodies(fake)
        assert first["tools"] == [SEARCH.definition()]
        assert second["messages"][-1]["content"] == run.result

    async def test_a_failing_handler_dead_letters_and_the_model_reads_the_error(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(calls(("tools_search", {"query": "boom"})), "The search failed.")
        async with ab.Bus(models=models_for(fake)) as bus:
            await bus.spawn(Searcher, name="searcher")
            dead = await bus.spawn(DeadLetters, name="dead")
            analyst = await bus.spawn(Analyst, [SEARCH], name="analyst")
            reply = await bus.ask("questions", ab.Request(content=QUESTION), timeout=20)
            await bus.drain()
            costs = bus.costs()
        assert reply == ab.Response(content="The search failed.")  # the handler did not crash
        (letter,) = dead.actor.seen
        assert letter.actor == "searcher"
        assert letter.message == SearchRequest(query="boom")
        assert "the index is on fire" in letter.error
        (run,) = analyst.actor.done[0].tools
        assert run.error
        assert run.result.startswith("error: the tool failed: AskFailed")
        assert "the index is on fire" in run.result
        assert bodies(fake)[1]["messages"][-1]["content"] == run.result
        assert costs.by_actor["analyst"].tool_errors == 1

    async def test_asks_wait_for_room_in_a_full_mailbox(self, fake: FakeOpenAI) -> None:
        gate = anyio.Event()
        queries = ["a", "b", "c"]
        fake.script(calls(*[("tools_search", {"query": q}) for q in queries]), "Three found.")

        class Narrow(Searcher):
            mailbox_size = 1

        async with ab.Bus(models=models_for(fake)) as bus:
            searcher = await bus.spawn(Narrow, gate, name="searcher")
            analyst = await bus.spawn(Analyst, [SEARCH], name="analyst")
            async with anyio.create_task_group() as tg:
                tg.start_soon(bus.ask, "questions", ab.Request(content=QUESTION), 20)
                with anyio.fail_after(20):
                    await searcher.actor.entered.wait()  # the first search is held at the gate
                await anyio.wait_all_tasks_blocked()  # and the other asks are as far as they go
                started, held = searcher.actor.started, bus.statistics().actors["searcher"]
                gate.set()
            stats = bus.statistics().actors["searcher"]
        # one search running, one queued, one publisher waiting for room: backpressure
        assert (started, held.mailbox_size, held.mailbox_depth) == (1, 1, 2)
        assert searcher.actor.most == 1
        assert (stats.handled, stats.dropped) == (3, 0)
        (done,) = analyst.actor.done
        assert [msgspec.json.decode(run.result)["hits"] for run in done.tools] == [
            [f"note about {q}"] for q in queries
        ]

    async def test_an_actor_tool_nobody_answers_is_an_error_result(self, fake: FakeOpenAI) -> None:
        nobody = ab.actor_tool("tools.nobody", SearchRequest)
        fake.script(calls(("tools_nobody", {"query": "x"})), "Nobody is there.")
        analyst, reply, _ = await run_loop(fake, [nobody])
        assert reply == ab.Response(content="Nobody is there.")
        (run,) = analyst.done[0].tools
        assert run.error
        assert run.result.startswith("error: the tool failed: NoSubscriber")

    async def test_an_actor_tool_is_bounded_by_its_timeout(self, fake: FakeOpenAI) -> None:
        gate = anyio.Event()  # the searcher never answers in time
        slow = ab.actor_tool("tools.search", SearchRequest, timeout=0.1)
        fake.script(calls(("tools_search", {"query": "x"})), "Too slow.")
        async with ab.Bus(models=models_for(fake)) as bus:
            await bus.spawn(Searcher, gate, name="searcher")
            analyst = await bus.spawn(Analyst, [slow], name="analyst")
            reply = await bus.ask("questions", ab.Request(content=QUESTION), timeout=20)
            gate.set()
        assert reply == ab.Response(content="Too slow.")
        (run,) = analyst.actor.done[0].tools
        assert (run.error, run.result) == (True, "error: the tool ran past its timeout of 0.1 s")

    async def test_models_complete_asks_through_a_bus_given_as_asker(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(calls(("tools_search", {"query": "x"})), "ok")
        async with ab.Bus() as bus, models_for(fake) as models:
            await bus.spawn(Searcher, name="searcher")
            done = await models.complete(
                [ab.user(QUESTION)], model="gpt-4.1", tools=[SEARCH], asker=bus
            )
        assert [run.error for run in done.tools] == [False]

    async def test_without_an_asker_an_actor_tool_is_refused_before_any_request(
        self, fake: FakeOpenAI
    ) -> None:
        async with models_for(fake) as models:
            with pytest.raises(ab.ModelsConfigError, match="asker=bus"):
                await models.complete([ab.user(QUESTION)], model="gpt-4.1", tools=[SEARCH])
        assert fake.request_count == 0


class TestBadCalls:
    """A bad call becomes an error result the model reads; the loop goes on."""

    async def test_a_tool_not_offered(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("delete_everything", {})), "Sorry.")
        analyst, reply, costs = await run_loop(fake, [add])
        assert reply == ab.Response(content="Sorry.")
        (run,) = analyst.done[0].tools
        assert run.error
        assert run.result == "error: there is no tool 'delete_everything'; the tools are: add"
        assert bodies(fake)[1]["messages"][-1]["content"] == run.result
        assert costs.by_actor["analyst"].tool_errors == 1

    async def test_arguments_that_are_not_json(self, fake: FakeOpenAI) -> None:
        ran: list[str] = []

        async def echo(text: str) -> str:
            """Echo."""
            ran.append(text)
            return text

        fake.script(calls(("echo", '{"text": "unclosed')), "Oops.")
        analyst, _, _ = await run_loop(fake, [echo])
        (run,) = analyst.done[0].tools
        assert run.error
        assert run.result.startswith("error: invalid arguments for echo: ")
        assert "not valid JSON" in run.result
        assert ran == []
        assert bodies(fake)[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == (
            '{"text": "unclosed'
        )  # sent back as the model wrote it

    async def test_arguments_that_do_not_validate_name_the_field(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("add", {"a": 1, "b": "two"})), calls(("add", {"a": 1, "b": 2})), "3")
        analyst, _, _ = await run_loop(fake, [add])
        bad, good = analyst.done[0].tools
        assert bad.error
        assert bad.result == (
            "error: invalid arguments for add: Expected `float`, got `str` - at `$.b`"
        )
        assert (good.error, good.result) == (False, "3.0")

    async def test_a_tool_that_raises(self, fake: FakeOpenAI) -> None:
        async def fragile(n: int) -> int:
            """Fails."""
            raise ZeroDivisionError(f"cannot divide {n} by zero")

        fake.script(calls(("fragile", {"n": 7})), "It failed.")
        analyst, reply, _ = await run_loop(fake, [fragile])
        assert reply == ab.Response(content="It failed.")
        (run,) = analyst.done[0].tools
        assert run.error
        assert run.result == "error: the tool failed: ZeroDivisionError: cannot divide 7 by zero"

    async def test_a_long_error_is_cut(self, fake: FakeOpenAI) -> None:
        async def verbose() -> None:
            """Fails at length."""
            raise ValueError("x" * 10_000)

        fake.script(calls(("verbose", {})), "ok")
        analyst, _, _ = await run_loop(fake, [verbose])
        (run,) = analyst.done[0].tools
        assert run.error
        assert len(run.result) < 2_100
        assert run.result.endswith("...")

    async def test_a_tool_that_hangs_is_stopped_at_its_timeout(self, fake: FakeOpenAI) -> None:
        never = anyio.Event()

        async def hangs() -> str:
            """Never answers."""
            await never.wait()
            return "never"

        fake.script(calls(("hangs", {})), "It timed out.")
        analyst, reply, _ = await run_loop(fake, [ab.tool(hangs, timeout=0.1)])
        assert reply == ab.Response(content="It timed out.")
        (run,) = analyst.done[0].tools
        assert run.error
        assert run.result == "error: the tool ran past its timeout of 0.1 s"
        assert run.duration >= 0.1

    async def test_a_model_that_never_stops_calling_tools(self, fake: FakeOpenAI) -> None:
        turn = iter(range(1000))
        fake.reply_with(lambda body: calls(("add", {"a": next(turn), "b": 1})))
        analyst, reply, _ = await run_loop(fake, [add])
        assert isinstance(reply, ab.AskFailed)
        assert reply.error_type.endswith("ToolLoopError")
        (error,) = analyst.errors
        assert isinstance(error, ab.ToolLoopError)
        assert error.reason == "max_tool_rounds"
        assert fake.request_count == 9  # 8 rounds of tools (the default), then stopped
        assert len(error.tools) == 8


class TestBounds:
    async def test_max_tool_rounds_ends_the_loop_with_the_transcript(
        self, fake: FakeOpenAI
    ) -> None:
        fake.script(*[calls(("add", {"a": n, "b": 1})) for n in range(3)], "never sent")
        analyst, reply, _ = await run_loop(fake, [add], max_tool_rounds=2)
        assert isinstance(reply, ab.AskFailed)
        (error,) = analyst.errors
        assert isinstance(error, ab.ToolLoopError)
        assert isinstance(error, ab.ModelError)
        assert error.reason == "max_tool_rounds"
        assert "max_tool_rounds" in str(error)
        assert fake.request_count == 3  # and, permanent, the handler was not run again
        assert [m.role for m in error.transcript] == [
            "user", "assistant", "tool", "assistant", "tool", "assistant"
        ]  # fmt: skip
        assert error.transcript[0] == ab.user(QUESTION)
        assert [run.result for run in error.tools] == ["1.0", "2.0"]

    async def test_the_same_call_more_than_max_repeats_times(self, fake: FakeOpenAI) -> None:
        ran: list[float] = []

        async def count(a: float, b: float) -> float:
            """Add, counting."""
            ran.append(a)
            return a + b

        fake.script(
            calls(("count", {"a": 1, "b": 2})),
            calls(("count", '{"b": 2,   "a": 1}')),  # the same arguments, written otherwise
            calls(("count", {"a": 1, "b": 2})),
            "never sent",
        )
        analyst, _, _ = await run_loop(fake, [count])
        (error,) = analyst.errors
        assert isinstance(error, ab.ToolLoopError)
        assert error.reason == "max_repeats"
        assert "count" in error.detail
        assert ran == [1, 1]  # the third call was not run
        assert fake.request_count == 3

    async def test_repeats_within_one_turn_count_too(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("add", {"a": 1, "b": 1}), ("add", {"a": 1, "b": 1})), "never sent")
        analyst, _, _ = await run_loop(fake, [add], max_repeats=1)
        (error,) = analyst.errors
        assert isinstance(error, ab.ToolLoopError)
        assert error.reason == "max_repeats"
        assert error.tools == []

    async def test_more_than_max_tool_errors_error_results(self, fake: FakeOpenAI) -> None:
        fake.script(
            calls(("nope", {}), ("nope", {"n": 1})),
            calls(("add", "not json")),
            calls(("nope", {"n": 2})),
            "never sent",
        )
        analyst, _, costs = await run_loop(fake, [add])
        (error,) = analyst.errors
        assert isinstance(error, ab.ToolLoopError)
        assert error.reason == "max_tool_errors"
        assert fake.request_count == 3
        assert [run.error for run in error.tools] == [True] * 4
        assert costs.by_actor["analyst"].tool_errors == 4

    async def test_no_error_is_allowed_with_max_tool_errors_zero(self, fake: FakeOpenAI) -> None:
        fake.script(calls(("nope", {})), "never sent")
        analyst, _, _ = await run_loop(fake, [add], max_tool_errors=0)
        (error,) = analyst.errors
        assert isinstance(error, ab.ToolLoopError)
        assert error.reason == "max_tool_errors"
        assert fake.request_count == 1

    @pytest.mark.parametrize(
        "bound",
        [
            {"max_tool_rounds": 0},
            {"max_repeats": -1},
            {"max_tool_errors": -1},
            {"output_retries": True},
        ],
        ids=repr,
    )
    async def test_an_invalid_bound_is_refused_before_any_request(
        self, fake: FakeOpenAI, bound: dict[str, Any]
    ) -> None:
        async with models_for(fake) as models:
            with pytest.raises(ab.ModelsConfigError, match=next(iter(bound))):
                await models.complete([ab.user("x")], model="gpt-4.1", tools=[add], **bound)
        assert fake.request_count == 0

    async def test_a_budget_is_reserved_before_every_turn(self, fake: FakeOpenAI) -> None:
        # turn 1 costs 1000 output tokens ($0.008 at gpt-4.1's $8/MTok); a turn reserves
        # its worst case (prompt + max_tokens=100): turn 2 no longer fits in $0.0085
        fake.script(
            Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 2})], prompt_tokens=10,
                  completion_tokens=1000),
            "never sent",
        )  # fmt: skip
        budget = ab.Budgets(actors={"analyst": 0.0085})
        analyst, reply, costs = await run_loop(fake, [add], budget=budget, max_tokens=100)
        assert isinstance(reply, ab.AskFailed)
        assert reply.error_type.endswith("BudgetExceeded")
        assert fake.request_count == 1
        assert costs.by_actor["analyst"].cost <= 0.0085
        assert costs.by_actor["analyst"].tool_calls == 1  # the tools ran; the next turn did not
        (error,) = analyst.errors
        assert isinstance(error, ab.BudgetExceeded)

    async def test_the_run_budget_binds_the_loop_too(self, fake: FakeOpenAI) -> None:
        fake.script(
            Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 2})], completion_tokens=1000),
            "never sent",
        )
        budget = ab.Budgets(run=0.0085)
        _, reply, costs = await run_loop(fake, [add], budget=budget, max_tokens=100)
        assert isinstance(reply, ab.AskFailed)
        assert reply.error_type.endswith("BudgetExceeded")
        assert fake.request_count == 1
        assert costs.total.cost <= 0.0085

    @pytest.mark.xfail(
        strict=True,
        reason="Models._reserve estimates a turn's prompt from its messages only: the tools' "
        "definitions (and an output's schema), which a provider bills as input, are not "
        "reserved, so large tool schemas can take a loop past its budget",
    )
    async def test_the_tool_definitions_count_in_the_reservation(self, fake: FakeOpenAI) -> None:
        async def documented(n: int) -> int:
            return n

        # ~40,000 characters of description: ~10,000 prompt tokens, $0.02 at $2/MTok
        big = ab.tool(documented, description="Returns n. " * 4_000)
        fake.script(Reply(tool_calls=[ToolCall("documented", {"n": 1})], prompt_tokens=10_010))
        budget = ab.Budgets(actors={"analyst": 0.01})
        _, reply, costs = await run_loop(fake, [big], budget=budget, max_tokens=100)
        assert isinstance(reply, ab.AskFailed)
        assert reply.error_type.endswith("BudgetExceeded")
        assert fake.request_count == 0
        assert costs.by_actor["analyst"].cost <= 0.01

    async def test_rate_limits_apply_to_every_turn(self, fake: FakeOpenAI) -> None:
        # 60 requests a minute is one a second: the loop's second turn waits for it
        fake.script(calls(("add", {"a": 1, "b": 2})), "3")
        await run_loop(fake, [add], provider={"requests_per_minute": 60})
        assert "requests_per_minute" not in bodies(fake)[0]
        first, second = fake.requests
        assert second.time - first.time >= 0.9  # by the server's clock


class Flaky(Analyst):
    """Runs the loop, then fails the first time: the retry replays the journal."""

    max_retries = 1
    retry_delay = 0

    async def on_question(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
        reply = await super().on_question(msg, ctx)
        if len(self.done) == 1:
            raise RuntimeError("fails after the loop")
        return reply


class FlakyStreamer(StreamingAnalyst):
    """Streams the loop, then fails the first time: the retry replays the journal."""

    max_retries = 1
    retry_delay = 0

    async def on_question(self, msg: ab.Request, ctx: ab.Context) -> ab.Response:
        reply = await super().on_question(msg, ctx)
        if len(self.done) == 1:
            raise RuntimeError("fails after the loop")
        return reply


class TestJournal:
    async def test_a_re_run_replays_turns_and_tool_results(self, fake: FakeOpenAI) -> None:
        ran: list[float] = []

        async def count(a: float, b: float) -> float:
            """Add, counting."""
            ran.append(a)
            return a + b

        fake.script(calls(("count", {"a": 1, "b": 2})), "It is 3.")
        async with ab.Bus(models=models_for(fake)) as bus:
            ref = await bus.spawn(Flaky, [count], name="analyst")
            reply = await bus.ask("questions", ab.Request(content=QUESTION), timeout=20)
            costs = bus.costs()
        assert reply == ab.Response(content="It is 3.")
        first, again = ref.actor.done
        assert not first.journaled
        assert [run.journaled for run in first.tools] == [False]
        assert again.journaled
        assert [run.journaled for run in again.tools] == [True]
        assert [t.journaled for t in again.turns] == [True, True]
        assert [run.result for run in again.tools] == ["3.0"]
        assert ran == [1]  # the tool ran once
        assert fake.request_count == 2  # the model was asked once per turn
        spend = costs.by_actor["analyst"]
        assert (spend.calls, spend.tool_calls) == (2, 1)

    async def test_a_streamed_re_run_replays_each_turn_as_one_delta(self, fake: FakeOpenAI) -> None:
        ran: list[float] = []

        async def count(a: float, b: float) -> float:
            """Add, counting."""
            ran.append(a)
            return a + b

        fake.script(
            Reply(text="Adding. ", tool_calls=[ToolCall("count", {"a": 1, "b": 2})]),
            Reply(text="It is 3."),
        )
        async with ab.Bus(models=models_for(fake)) as bus:
            ref = await bus.spawn(FlakyStreamer, [count], name="streamer")
            reply = await bus.ask("streamed", ab.Request(content=QUESTION), timeout=20)
        assert reply == ab.Response(content="It is 3.")
        streamer = ref.actor
        first, again = streamer.done
        assert not first.journaled
        assert again.journaled
        assert [run.journaled for run in again.tools] == [True]
        assert ran == [1]
        assert fake.request_count == 2
        # the first run streamed in pieces; the replay gave each turn's text as one delta
        replayed = streamer.deltas[len(streamer.deltas) - 2 :]
        assert replayed == ["Adding. ", "It is 3."]
        assert "".join(streamer.deltas) == "Adding. It is 3." * 2
