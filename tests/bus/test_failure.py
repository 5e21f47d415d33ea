"""Failure: retries, dead letters on ``_dead.<actor>``, and nothing lost silently."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import msgspec
import pytest

import actorbus as ab


class Job(ab.Message):
    n: int
    fail: bool = False


class Stray(ab.Message):
    """A message type no worker has a handler for."""

    n: int


class JobError(Exception):
    pass


class Worker(ab.Actor):
    """Fails on every attempt at a job with ``fail`` set; records what it handled."""

    subscribe = ("jobs",)
    max_retries = 2
    retry_delay = 0

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.attempts: dict[int, int] = {}

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.attempts[msg.n] = self.attempts.get(msg.n, 0) + 1
        if msg.fail:
            raise JobError(f"job {msg.n} failed")
        self.handled.append(msg.n)


class NoRetries(Worker):
    max_retries = 0


class Flaky(ab.Actor):
    """Fails the first ``failures`` attempts at each job, then succeeds."""

    subscribe = ("jobs",)
    max_retries = 3
    retry_delay = 0

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.handled: list[int] = []

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ValueError("not yet")
        self.handled.append(msg.n)


class BadReturn(ab.Actor):
    subscribe = ("jobs",)

    async def on_job(self, msg: Job, ctx: ab.Context) -> str:
        return "not a message"


class DeadWatcher(ab.Actor):
    subscribe = ("_dead.>",)

    def __init__(self) -> None:
        self.letters: list[ab.DeadLetter] = []
        self.envelopes: list[ab.Envelope] = []

    async def on_dead(self, msg: ab.DeadLetter, ctx: ab.Context) -> None:
        self.letters.append(msg)
        self.envelopes.append(ctx.envelope)


class DeadLetterSubscriber(ab.Actor):
    subscribe = ("_dead.>",)

    def __init__(self) -> None:
        self.calls = 0


class FailsOnDeadLetters(DeadLetterSubscriber):
    max_retries = 1
    retry_delay = 0

    async def on_dead(self, msg: ab.DeadLetter, ctx: ab.Context) -> None:
        self.calls += 1
        raise RuntimeError("cannot handle dead letters either")


class NoDeadLetterHandler(DeadLetterSubscriber):
    """Subscribes to dead letters but has no handler for them."""

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.calls += 1


class TestRetries:
    async def test_a_handler_that_fails_then_succeeds_is_retried_not_dead_lettered(
        self,
    ) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Flaky, 2)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        assert ref.actor.handled == [1]
        assert ref.actor.attempts == 3
        stats = ref.statistics()
        assert (stats.handled, stats.failed, stats.retried, stats.dead_lettered) == (1, 2, 2, 0)
        assert dead.actor.letters == []

    @pytest.mark.parametrize(
        ("actor", "attempts"),
        [
            pytest.param(Worker, 3, id="max_retries-2"),
            pytest.param(NoRetries, 1, id="max_retries-0"),
        ],
    )
    async def test_a_handler_is_run_max_retries_plus_one_times(
        self, actor: type[Worker], attempts: int
    ) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(actor)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1, fail=True))
                await bus.drain()
        assert ref.actor.attempts == {1: attempts}
        assert [letter.attempts for letter in dead.actor.letters] == [attempts]
        stats = ref.statistics()
        assert (stats.failed, stats.retried, stats.dead_lettered) == (attempts, attempts - 1, 1)


class TestDeadLetters:
    async def test_a_failed_message_becomes_a_dead_letter_with_the_error(self) -> None:
        job = Job(n=1, fail=True)
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Worker, name="worker")
                dead = await bus.spawn(DeadWatcher)
                receipt = await bus.publish("jobs", job, correlation_id="conv")
                await bus.drain()
        [letter] = dead.actor.letters
        assert letter.actor == "worker"
        assert letter.message is job
        assert letter.envelope.seq == receipt.seq
        assert letter.envelope.id == receipt.id
        assert letter.envelope.topic == "jobs"
        assert letter.envelope.type == "Job"
        assert letter.envelope.sender is None
        assert letter.envelope.correlation_id == "conv"
        assert letter.error_type == f"{JobError.__module__}.JobError"
        assert letter.error == "job 1 failed"
        assert "Traceback" in letter.traceback
        assert "in on_job" in letter.traceback
        assert "JobError: job 1 failed" in letter.traceback
        assert letter.attempts == 3

    async def test_a_dead_letter_is_published_on_dead_actor_by_the_actor(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Worker, name="worker")
                dead = await bus.spawn(DeadWatcher)
                receipt = await bus.publish("jobs", Job(n=1, fail=True))
                await bus.drain()
        [env] = dead.actor.envelopes
        assert env.topic == "_dead.worker"
        assert env.sender == "worker"
        assert env.causation == receipt.id
        assert env.correlation_id == receipt.id

    async def test_a_builtin_exception_is_named_without_its_module(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Flaky, 99)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        [letter] = dead.actor.letters
        assert (letter.error_type, letter.error, letter.attempts) == ("ValueError", "not yet", 4)

    async def test_the_actor_goes_on_with_the_next_message(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Worker)
                dead = await bus.spawn(DeadWatcher)
                for n in range(6):
                    await bus.publish("jobs", Job(n=n, fail=n % 3 == 1))
                await bus.drain()
        assert ref.actor.handled == [0, 2, 3, 5]
        assert [letter.message for letter in dead.actor.letters] == [
            Job(n=1, fail=True),
            Job(n=4, fail=True),
        ]

    async def test_a_message_no_handler_accepts_is_dead_lettered(self) -> None:
        stray = Stray(n=1)
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Worker, name="worker")
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", stray)
                await bus.publish("jobs", Job(n=2))
                await bus.drain()
        [letter] = dead.actor.letters
        assert letter.message is stray
        assert letter.actor == "worker"
        assert letter.error_type == "NoHandler"
        assert "Stray" in letter.error
        assert letter.attempts == 0
        assert ref.actor.handled == [2]

    async def test_a_handler_returning_a_non_message_is_dead_lettered(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(BadReturn)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        [letter] = dead.actor.letters
        assert letter.error_type == "TypeError"
        assert "str" in letter.error

    async def test_nothing_is_dropped_silently(self) -> None:
        kinds: list[ab.Message] = []
        for n in range(30):
            if n % 5 == 0:
                kinds.append(Stray(n=n))
            else:
                kinds.append(Job(n=n, fail=n % 3 == 0))
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Worker)
                dead = await bus.spawn(DeadWatcher)
                seqs = [(await bus.publish("jobs", msg)).seq for msg in kinds]
                await bus.drain()
        handled_seqs = [seqs[n] for n in ref.actor.handled]
        dead_seqs = [letter.envelope.seq for letter in dead.actor.letters]
        assert sorted(handled_seqs + dead_seqs) == seqs
        assert ref.statistics().handled + ref.statistics().dead_lettered == len(kinds)


class TestDeadLetterLoops:
    @pytest.mark.parametrize(
        "watcher",
        [
            pytest.param(FailsOnDeadLetters, id="handler-fails"),
            pytest.param(NoDeadLetterHandler, id="no-handler"),
        ],
    )
    async def test_failing_on_a_dead_letter_does_not_dead_letter_it_again(
        self, watcher: type[DeadLetterSubscriber]
    ) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                await bus.spawn(Worker, name="worker")
                bad = await bus.spawn(watcher, name="bad")
                healthy = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1, fail=True))
                await bus.drain()
                # The job and one dead letter: no dead letter of a dead letter.
                assert bus.log.last_seq == 2
        assert [env.topic for env in healthy.actor.envelopes] == ["_dead.worker"]
        expected_calls = 2 if watcher is FailsOnDeadLetters else 0
        assert bad.actor.calls == expected_calls


class Declined(ab.Permanent, ValueError):
    """A user's own error that no retry can mend, marked as such."""


class Raw(ab.Message):
    """Data for a handler to decode."""

    body: str


class Reading(msgspec.Struct):
    value: int


def _errors(*made: Callable[[], Exception]) -> Callable[[int], Exception]:
    # The n-th attempt raises a fresh made[n] (the last one from then on).
    return lambda attempt: made[min(attempt, len(made) - 1)]()


class Raiser(ab.Actor):
    """Raises, on each attempt at a job, the error its test makes for that attempt."""

    subscribe = ("jobs",)
    max_retries = 3
    retry_delay = 0

    def __init__(self, make: Callable[[int], Exception]) -> None:
        self.make = make
        self.attempts = 0

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.attempts += 1
        raise self.make(self.attempts - 1)


class Parser(ab.Actor):
    """Decodes the data it is sent, which may not be valid."""

    subscribe = ("raw",)
    max_retries = 3
    retry_delay = 0

    def __init__(self) -> None:
        self.attempts = 0

    async def on_raw(self, msg: Raw, ctx: ab.Context) -> None:
        self.attempts += 1
        msgspec.json.decode(msg.body, type=Reading)


class NoModels(ab.Actor):
    """Calls a model on a bus that has none."""

    subscribe = ("jobs",)
    max_retries = 3
    retry_delay = 0

    def __init__(self) -> None:
        self.attempts = 0

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.attempts += 1
        await ctx.complete([ab.user("hi")])


class AsksOnward(ab.Actor):
    """Asks another actor while handling; lets its `AskFailed` escape."""

    subscribe = ("front",)
    max_retries = 3
    retry_delay = 0

    def __init__(self) -> None:
        self.attempts = 0

    async def on_job(self, msg: Job, ctx: ab.Context) -> None:
        self.attempts += 1
        await ctx.ask("jobs", msg, timeout=30)


class TestPermanentErrors:
    """An error that cannot succeed on a retry is dead-lettered at once (issue 12, point 4)."""

    @pytest.mark.parametrize(
        ("make", "error_type"),
        [
            pytest.param(
                _errors(lambda: Declined("card declined")),
                f"{__name__}.Declined",
                id="a-user-error-marked-permanent",
            ),
            pytest.param(
                _errors(lambda: ab.InvalidTopic("a..b", "empty token")),
                "actorbus.InvalidTopic",
                id="an-actorbus-programming-mistake",
            ),
            pytest.param(
                _errors(lambda: ExceptionGroup("calls", [Declined("a"), Declined("b")])),
                "ExceptionGroup",
                id="a-group-of-permanent-errors",
            ),
        ],
    )
    async def test_is_dead_lettered_after_one_attempt(
        self,
        make: Callable[[int], Exception],
        error_type: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger="actorbus")
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Raiser, make, name="worker")
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        assert ref.actor.attempts == 1
        [letter] = dead.actor.letters
        assert (letter.error_type, letter.attempts) == (error_type, 1)
        assert letter.error == str(make(0))
        stats = ref.statistics()
        assert (stats.failed, stats.retried, stats.dead_lettered) == (1, 0, 1)
        said = [r.getMessage() for r in caplog.records if r.name == "actorbus.actor"]
        assert len(said) == 1  # the dead letter, once; no "retrying"
        assert "permanent: not retried" in said[0]

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param('{"value": "many"}', id="validation-error"),
            pytest.param("{not json", id="decode-error"),
        ],
    )
    async def test_a_msgspec_decode_or_validation_error_is_not_retried(self, body: str) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Parser)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("raw", Raw(body=body))
                await bus.drain()
        assert ref.actor.attempts == 1
        [letter] = dead.actor.letters
        assert letter.error_type.startswith("msgspec.")
        assert letter.attempts == 1

    async def test_a_model_call_on_a_bus_without_models_is_not_retried(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(NoModels)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        assert ref.actor.attempts == 1
        [letter] = dead.actor.letters
        assert (letter.error_type, letter.attempts) == ("actorbus.ModelsConfigError", 1)

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(_errors(lambda: ValueError("flaky")), id="an-ordinary-error"),
            pytest.param(
                _errors(lambda: ExceptionGroup("calls", [Declined("a"), ValueError("b")])),
                id="a-group-not-all-permanent",
            ),
            pytest.param(_errors(lambda: ab.StateConflict("k", 1, 2)), id="a-state-conflict"),
        ],
    )
    async def test_an_error_a_retry_may_mend_is_still_retried(
        self, make: Callable[[int], Exception]
    ) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Raiser, make)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        assert ref.actor.attempts == 4  # max_retries 3, plus the first
        [letter] = dead.actor.letters
        assert letter.attempts == 4

    async def test_a_permanent_error_on_a_retry_ends_the_retries(self) -> None:
        make = _errors(lambda: ValueError("flaky"), lambda: Declined("card declined"))
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Raiser, make)
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("jobs", Job(n=1))
                await bus.drain()
        assert ref.actor.attempts == 2
        [letter] = dead.actor.letters
        assert (letter.error, letter.attempts) == ("card declined", 2)

    async def test_an_ask_fails_at_once(self) -> None:
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                ref = await bus.spawn(Raiser, _errors(lambda: Declined("no")), name="worker")
                with pytest.raises(ab.AskFailed) as caught:
                    await bus.ask("jobs", Job(n=1), timeout=30)
        assert ref.actor.attempts == 1
        assert (caught.value.actor, caught.value.attempts) == ("worker", 1)
        assert caught.value.error_type == f"{__name__}.Declined"

    async def test_retries_do_not_multiply_through_an_ask(self) -> None:
        # The asked actor retries (4 runs) and fails for good; the asker, whose
        # handler lets AskFailed escape, is not run again (which would ask again).
        with anyio.fail_after(5):
            async with ab.Bus() as bus:
                back = await bus.spawn(Raiser, _errors(lambda: ValueError("down")))
                front = await bus.spawn(AsksOnward, name="front")
                dead = await bus.spawn(DeadWatcher)
                await bus.publish("front", Job(n=1))
                await bus.drain()
        assert back.actor.attempts == 4
        assert front.actor.attempts == 1
        letters = {letter.actor: letter for letter in dead.actor.letters}
        assert (letters["front"].error_type, letters["front"].attempts) == ("actorbus.AskFailed", 1)
