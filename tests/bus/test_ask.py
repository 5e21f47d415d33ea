"""Asking: replies, time-outs, failures, and many asks at once."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Question(ab.Message):
    n: int
    asker: int = 0


class Answer(ab.Message):
    n: int
    asker: int = 0
    by: str = ""


class Doubler(ab.Actor):
    """Answers by returning a Message, after yielding so that answers interleave."""

    subscribe = ("math.double",)
    concurrency = 8

    async def on_question(self, msg: Question, ctx: ab.Context) -> Answer:
        await anyio.lowlevel.checkpoint()
        return Answer(n=msg.n * 2, asker=msg.asker, by=ctx.actor)


class SmallDoubler(ab.Actor):
    subscribe = ("math.small",)
    mailbox_size = 4

    async def on_question(self, msg: Question, ctx: ab.Context) -> Answer:
        await anyio.lowlevel.checkpoint()
        return Answer(n=msg.n * 2, asker=msg.asker)


class Replier(ab.Actor):
    """Answers with ctx.reply, then returns another message that must be ignored."""

    subscribe = ("math.reply",)

    async def on_question(self, msg: Question, ctx: ab.Context) -> Answer:
        await ctx.reply(Answer(n=msg.n + 1))
        return Answer(n=-1)


class Silent(ab.Actor):
    """Handles the question but never answers."""

    subscribe = ("math.silent",)

    def __init__(self) -> None:
        self.handled = 0

    async def on_question(self, msg: Question, ctx: ab.Context) -> None:
        self.handled += 1


class Broken(ab.Actor):
    subscribe = ("math.broken",)
    max_retries = 2
    retry_delay = 0

    def __init__(self) -> None:
        self.calls = 0

    async def on_question(self, msg: Question, ctx: ab.Context) -> Answer:
        self.calls += 1
        raise ZeroDivisionError(f"cannot answer {msg.n}")


class Relay(ab.Actor):
    """Answers an ask by asking another actor with ctx.ask."""

    subscribe = ("math.relay",)

    def __init__(self) -> None:
        self.envelopes: list[ab.Envelope] = []

    async def on_question(self, msg: Question, ctx: ab.Context) -> Answer:
        answer = await ctx.ask("math.double", Question(n=msg.n), timeout=5)
        assert isinstance(answer, Answer)
        return Answer(n=answer.n + 1)


class RequestWatcher(ab.Actor):
    subscribe = ("math.double",)

    def __init__(self) -> None:
        self.envelopes: list[ab.Envelope] = []

    async def on_question(self, msg: Question, ctx: ab.Context) -> None:
        self.envelopes.append(ctx.envelope)


class TestReplies:
    async def test_a_returned_message_answers_the_ask(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Doubler, name="doubler")
                answer = await bus.ask("math.double", Question(n=21))
        assert answer == Answer(n=42, by="doubler")

    async def test_ctx_reply_answers_and_the_first_reply_wins(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Replier)
                answer = await bus.ask("math.reply", Question(n=1))
                await bus.drain()
                assert bus.statistics().pending_asks == 0
        assert answer == Answer(n=2)

    async def test_the_request_is_published_with_a_reply_topic(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Doubler)
                watcher = await bus.spawn(RequestWatcher)
                await bus.ask("math.double", Question(n=1))
                await bus.drain()
        [env] = watcher.actor.envelopes
        assert env.reply_to is not None
        assert env.reply_to.startswith("_reply.")

    async def test_a_handler_can_ask_another_actor(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Doubler)
                await bus.spawn(Relay, name="relay")
                watcher = await bus.spawn(RequestWatcher)
                before = bus.log.last_seq
                answer = await bus.ask("math.relay", Question(n=5))
                await bus.drain()
                [outer] = await bus.log.read(before + 1, limit=1)
        assert answer == Answer(n=11)
        [inner] = watcher.actor.envelopes
        assert inner.sender == "relay"
        assert inner.causation == outer.id
        assert inner.correlation_id == outer.id


class TestAskErrors:
    async def test_no_answer_raises_ask_timeout(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                silent = await bus.spawn(Silent)
                with pytest.raises(ab.AskTimeout) as caught:
                    await bus.ask("math.silent", Question(n=1), timeout=0.05)
                assert bus.statistics().pending_asks == 0
                await bus.drain()
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.topic == "math.silent"
        assert caught.value.timeout == 0.05
        assert silent.actor.handled == 1

    async def test_asking_a_topic_nobody_subscribes_to_raises_no_subscriber(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Doubler)
                with pytest.raises(ab.NoSubscriber) as caught:
                    await bus.ask("math.nobody", Question(n=1))
                assert bus.log.last_seq == 0
        assert caught.value.topic == "math.nobody"
        assert isinstance(caught.value, LookupError)

    async def test_a_handler_that_always_raises_makes_ask_raise_ask_failed(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                broken = await bus.spawn(Broken, name="broken")
                with pytest.raises(ab.AskFailed) as caught:
                    await bus.ask("math.broken", Question(n=3))
        failure = caught.value
        assert failure.topic == "math.broken"
        assert failure.actor == "broken"
        assert failure.error_type == "ZeroDivisionError"
        assert failure.error == "cannot answer 3"
        assert failure.attempts == 3
        assert broken.actor.calls == 3


class TestAskUnderLoad:
    async def test_many_concurrent_asks_each_get_their_own_reply(self) -> None:
        count = 200
        answers: dict[int, ab.Message] = {}

        async def ask(bus: ab.Bus, i: int) -> None:
            answers[i] = await bus.ask("math.double", Question(n=i, asker=i), timeout=5)

        with anyio.fail_after(10):
            async with ab.Bus() as bus:
                await bus.spawn(Doubler, name="d1")
                async with anyio.create_task_group() as tg:
                    for i in range(count):
                        tg.start_soon(ask, bus, i)
                assert bus.statistics().pending_asks == 0
        assert answers == {i: Answer(n=2 * i, asker=i, by="d1") for i in range(count)}

    async def test_concurrent_asks_to_a_slow_small_mailbox_all_get_replies(self) -> None:
        # The mailbox fills, so most asks wait for room before their request is in.
        count = 200
        answers: dict[int, ab.Message] = {}

        async def ask(bus: ab.Bus, i: int) -> None:
            answers[i] = await bus.ask("math.small", Question(n=i, asker=i), timeout=5)

        with anyio.fail_after(10):
            async with ab.Bus() as bus:
                await bus.spawn(SmallDoubler)
                async with anyio.create_task_group() as tg:
                    for i in range(count):
                        tg.start_soon(ask, bus, i)
        assert answers == {i: Answer(n=2 * i, asker=i) for i in range(count)}
