"""`bus.statistics()`: a frozen snapshot of depth, lag and handler times per actor."""

from __future__ import annotations

import dataclasses
import random

import anyio
import pytest

import actorbus as ab
from actorbus._actor._timing import (
    QUIET,
    SLOW_NS,
    HandlerTimes,
    Times,
    add_time,
    time_pass,
    time_summary,
)


class StatTick(ab.Message):
    n: int


class Gate(ab.Actor):
    """Waits on an event for its first message, so work piles up behind it."""

    subscribe = ("ticks",)
    mailbox_size = 64

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def on_tick(self, msg: StatTick, ctx: ab.Context) -> None:
        if msg.n == 0:
            self.entered.set()
            await self.release.wait()


class Sleeper(ab.Actor):
    subscribe = ("sleep",)

    async def on_tick(self, msg: StatTick, ctx: ab.Context) -> None:
        await anyio.sleep(msg.n / 1000)


async def test_depth_and_lag_while_an_actor_is_behind() -> None:
    async with ab.Bus() as bus:
        gate = await bus.spawn(Gate, name="gate")
        await bus.publish("ticks", StatTick(n=0))
        await gate.actor.entered.wait()
        for n in range(1, 6):
            await bus.publish("ticks", StatTick(n=n))
        await bus.publish("elsewhere", StatTick(n=99))  # a seq of another topic
        behind = bus.statistics()
        gate.actor.release.set()
        await bus.drain()
        caught_up = bus.statistics()

    with pytest.raises(dataclasses.FrozenInstanceError):
        behind.last_seq = 0  # type: ignore[misc]
    stats = behind.actors["gate"]
    assert (stats.mailbox_depth, stats.busy, stats.cursor) == (5, True, 0)
    assert stats.cursor_lag == 7  # seqs 1..7 are past its cursor, one of another topic
    done = caught_up.actors["gate"]
    assert (done.mailbox_depth, done.cursor, done.cursor_lag, done.handled) == (0, 6, 0, 6)


async def test_handler_time_percentiles() -> None:
    async with ab.Bus() as bus:
        ref = await bus.spawn(Sleeper, name="sleeper")
        for ms in (1, 1, 1, 1, 1, 1, 1, 1, 30, 60):
            await bus.publish("sleep", StatTick(n=ms))
            await bus.drain()  # one at a time: a quiet actor, every handling timed
        stats = ref.statistics()
    assert stats.timed == 10
    # (A timer may fire a little early: bounds leave it a margin.)
    assert 0.0005 <= stats.handler_p50 < 0.03
    assert 0.025 <= stats.handler_p90 <= stats.handler_p99 == stats.handler_max
    assert stats.handler_max >= 0.055


async def test_a_busy_actor_is_sampled() -> None:
    class Quick(ab.Actor):
        subscribe = ("q",)

        async def on_tick(self, msg: StatTick, ctx: ab.Context) -> None:
            pass

    async with ab.Bus() as bus:
        ref = await bus.spawn(Quick)
        for n in range(320):
            await bus.publish("q", StatTick(n=n))
        await bus.drain()
        stats = ref.statistics()
    assert stats.handled == 320
    assert 320 // 128 <= stats.timed < 320  # the first of each pass and after each yield
    assert 0 < stats.handler_p50 <= stats.handler_max


def test_the_histogram_is_within_an_eighth_of_the_truth() -> None:
    times = HandlerTimes()
    rng = random.Random(7)
    samples = sorted(int(rng.lognormvariate(12, 2)) for _ in range(20_000))
    for ns in samples:
        times.add(ns)
    for fraction in (0.5, 0.9, 0.99):
        true = samples[int(fraction * len(samples)) - 1]
        assert true <= times.percentile(fraction) * 1e9 <= true * 1.125
    assert times.percentile(1.0) * 1e9 == pytest.approx(samples[-1])
    assert time_summary(None) == (0, 0.0, 0.0, 0.0, 0.0)


def test_one_sample_is_kept_as_a_small_bucket_and_two_make_a_histogram() -> None:
    one = add_time(None, 2_000)
    # An actor that handled one message holds the sample's bucket: an int below 256,
    # which CPython never allocates; it reads back as the bucket's upper bound.
    assert isinstance(one, int)
    assert 0 <= one < 256
    count, p50, p90, p99, longest = time_summary(one)
    assert count == 1
    assert 2e-6 <= p50 == p90 == p99 == longest <= 2e-6 * 1.125
    slow = add_time(None, 3_999_999_999)  # anything under 4 s stays small
    assert isinstance(slow, int)
    assert slow < 256
    two = add_time(one, 4_000)
    assert isinstance(two, HandlerTimes)
    assert time_summary(two)[0] == 2
    assert time_summary(two)[4] == 4e-6


async def test_a_slow_actor_with_a_backlog_is_timed_throughout() -> None:
    async with ab.Bus() as bus:
        ref = await bus.spawn(Sleeper, name="sleeper")
        for _ in range(5):
            await bus.publish("sleep", StatTick(n=2))  # queued behind one another
        await bus.drain()
        stats = ref.statistics()
    assert stats.timed == 5
    assert stats.handler_p50 >= 0.001


def timed_passes(durations: list[int]) -> list[int]:
    """Which of an actor's passes of one handling each are timed, if they take ``durations``.

    Each pass asks `time_pass` as the drain loop does, and a timed one is counted as
    the loop counts it: the rule with injected durations, whatever the machine.
    """
    times: Times = None
    timed = []
    for handled, ns in enumerate(durations):
        if time_pass(handled, times):
            times = add_time(times, ns)
            timed.append(handled)
    return timed


class TestTheSamplingRule:
    fast, slow = SLOW_NS - 1, SLOW_NS

    def test_a_quiet_actor_is_timed_until_it_proves_fast(self) -> None:
        assert QUIET == 64
        then_one_pass_in_8 = [64, 72, 80, 88, 96]
        assert timed_passes([self.fast] * 100) == [*range(64), *then_one_pass_in_8]

    def test_a_slow_actor_is_timed_every_pass(self) -> None:
        assert timed_passes([self.slow] * 100) == list(range(100))

    def test_one_slow_handling_has_the_next_pass_timed_then_one_in_8_again(self) -> None:
        durations = [self.fast] * 100
        durations[72] = durations[73] = self.slow
        assert timed_passes(durations)[64:] == [64, 72, 73, 74, 80, 88, 96]

    def test_a_slow_handling_that_was_not_timed_changes_nothing(self) -> None:
        durations = [self.fast] * 100
        durations[70] = self.slow  # pass 70 is not timed: nobody saw it was slow
        assert timed_passes(durations)[64:] == [64, 72, 80, 88, 96]


@pytest.mark.parametrize(
    ("ms", "timed"),
    [
        # The handler sleeps 0 ms: it may measure fast or slow, since a pass round
        # trips through the event loop, which a slower machine makes longer than
        # SLOW_NS. Either way the first 64 and one pass in 8 after are timed.
        pytest.param(0, range(64 + 5, 101), id="fast or not: the first 64 and 1 pass in 8"),
        # 1 ms is slow on any machine: every handling is timed.
        pytest.param(1, range(100, 101), id="slow: every one"),
    ],
)
async def test_a_quiet_actor_is_timed_until_it_proves_fast(ms: int, timed: range) -> None:
    async with ab.Bus() as bus:
        ref = await bus.spawn(Sleeper, name="sleeper")
        for _ in range(100):
            await bus.publish("sleep", StatTick(n=ms))
            await bus.drain()  # each message a pass of its own
        stats = ref.statistics()
    assert stats.handled == 100
    assert stats.timed in timed  # the rule exactly: see TestTheSamplingRule
