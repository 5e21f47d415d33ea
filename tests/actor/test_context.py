"""The handler's Context: the envelope, publishing as the actor, replying."""

from __future__ import annotations

import anyio
import pytest

import actorbus as ab


class Start(ab.Message):
    text: str


class Step(ab.Message):
    text: str
    hop: int


class Question(ab.Message):
    text: str


class Answer(ab.Message):
    text: str


class Seen:
    def __init__(self) -> None:
        self.envelopes: list[ab.Envelope] = []
        self.errors: list[Exception] = []


class Forwarder(ab.Actor):
    """Forwards each Start as a Step, and each Step as the next Step, up to hop 2."""

    subscribe = ("start", "step")

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def on_start(self, ctx: ab.Context) -> None:
        try:
            ctx.envelope  # noqa: B018
        except RuntimeError as exc:
            self.seen.errors.append(exc)

    async def on_start_msg(self, msg: Start, ctx: ab.Context) -> None:
        self.seen.envelopes.append(ctx.envelope)
        await ctx.publish("step", Step(text=msg.text, hop=1))

    async def on_step(self, msg: Step, ctx: ab.Context) -> None:
        self.seen.envelopes.append(ctx.envelope)
        if msg.hop < 2:
            await ctx.publish("step", Step(text=msg.text, hop=msg.hop + 1))


class Inspector(ab.Actor):
    """Checks the context's shortcuts against its envelope."""

    subscribe = ("inspect.*",)

    def __init__(self, seen: Seen) -> None:
        self.seen = seen
        self.views: list[tuple[ab.Message, int, str, str]] = []

    async def on_start_msg(self, msg: Start, ctx: ab.Context) -> None:
        self.seen.envelopes.append(ctx.envelope)
        self.views.append((ctx.message, ctx.seq, ctx.topic, ctx.actor))


class Answerer(ab.Actor):
    """Answers with ctx.reply, or records why it could not."""

    subscribe = ("questions",)

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def on_question(self, msg: Question, ctx: ab.Context) -> None:
        try:
            await ctx.reply(Answer(text=f"re: {msg.text}"))
        except ab.NoReplyExpected as exc:
            self.seen.errors.append(exc)


class Returner(ab.Actor):
    subscribe = ("returns",)

    async def on_question(self, msg: Question, ctx: ab.Context) -> Answer:
        return Answer(text=msg.text.upper())


class ReplyWatcher(ab.Actor):
    subscribe = ("_reply.>",)

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def on_answer(self, msg: Answer, ctx: ab.Context) -> None:
        self.seen.envelopes.append(ctx.envelope)


class TestEnvelopeInHandlers:
    async def test_ctx_shortcuts_read_the_current_envelope(self) -> None:
        seen = Seen()
        start = Start(text="a")
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Inspector, seen, name="inspector")
                receipt = await bus.publish("inspect.one", start)
                await bus.drain()
        [env] = seen.envelopes
        assert ref.actor.views == [(start, receipt.seq, "inspect.one", "inspector")]
        assert env.message is start

    async def test_ctx_envelope_outside_a_handler_raises_runtime_error(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Forwarder, seen)
        [error] = seen.errors
        assert isinstance(error, RuntimeError)


class TestPublishFromAHandler:
    async def test_sets_sender_causation_and_starts_a_correlation(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Forwarder, seen, name="fwd")
                receipt = await bus.publish("start", Start(text="x"))
                await bus.drain()
        first, hop1, hop2 = seen.envelopes
        assert (first.sender, first.causation, first.correlation_id) == (None, None, None)
        assert first.id == receipt.id
        assert hop1.sender == "fwd"
        assert hop1.causation == first.id
        assert hop1.correlation_id == first.id  # the conversation started by `first`
        assert hop2.sender == "fwd"
        assert hop2.causation == hop1.id
        assert hop2.correlation_id == first.id  # inherited, not hop1's id
        assert first.seq < hop1.seq < hop2.seq

    async def test_inherits_the_correlation_id_the_publisher_chose(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Forwarder, seen)
                await bus.publish("start", Start(text="x"), correlation_id="conv-42")
                await bus.drain()
        assert [env.correlation_id for env in seen.envelopes] == ["conv-42"] * 3


class TestReply:
    async def test_ctx_reply_answers_an_ask(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Answerer, seen)
                answer = await bus.ask("questions", Question(text="hi"))
        assert answer == Answer(text="re: hi")
        assert seen.errors == []

    async def test_ctx_reply_to_a_published_message_raises_no_reply_expected(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Answerer, seen)
                await bus.publish("questions", Question(text="hi"))
                await bus.drain()
                assert bus.log.last_seq == 1  # nothing was sent
        [error] = seen.errors
        assert isinstance(error, ab.NoReplyExpected)
        assert error.topic == "questions"

    async def test_a_returned_message_answers_an_ask(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Returner)
                answer = await bus.ask("returns", Question(text="hi"))
        assert answer == Answer(text="HI")

    async def test_a_returned_message_is_not_sent_when_nobody_asked(self) -> None:
        seen = Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Returner)
                await bus.spawn(ReplyWatcher, seen)
                await bus.publish("returns", Question(text="hi"))
                await bus.drain()
                assert bus.log.last_seq == 1
        assert seen.envelopes == []

    @pytest.mark.parametrize(
        "topic", [pytest.param("questions", id="ctx.reply"), pytest.param("returns", id="return")]
    )
    async def test_a_reply_is_stamped_as_an_answer_to_the_request(self, topic: str) -> None:
        seen, replies = Seen(), Seen()
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Answerer, seen, name="answerer")
                await bus.spawn(Returner, name="returner")
                await bus.spawn(ReplyWatcher, replies)
                await bus.ask(topic, Question(text="hi"))
                await bus.drain()
                [request] = await bus.log.read(1, limit=1)
        [reply] = replies.envelopes
        assert reply.topic == request.reply_to
        assert reply.sender == ("answerer" if topic == "questions" else "returner")
        assert reply.causation == request.id
        assert reply.correlation_id == request.id
