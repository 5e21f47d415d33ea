"""DedupWindow: which ids a log remembers, by count and by age, with no I/O.

Unit tests pin the documented bounds; a hypothesis state machine holds the window
against a plain reference that remembers every id, seq and time. The window may
remember an id up to one mark interval (``min(1, max_age / 16)``) longer than
``max_age``, never shorter, so the reference answers "in", "out" or "either".
"""

from __future__ import annotations

import math
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actorbus._log._dedup import DedupWindow

T0 = 1_000.0


def interval(max_age: float) -> float:
    return min(1.0, max_age / 16)


class TestConstruction:
    def test_defaults(self) -> None:
        window = DedupWindow()
        assert (window.max_entries, window.max_age) == (100_000, 120.0)
        assert window.last_seq == 0
        assert len(window) == 0

    @pytest.mark.parametrize(
        ("max_entries", "max_age"),
        [
            pytest.param(0, 10.0, id="no-entries"),
            pytest.param(-1, 10.0, id="negative-entries"),
            pytest.param(10, 0.0, id="zero-age"),
            pytest.param(10, -5.0, id="negative-age"),
            pytest.param(10, math.nan, id="nan-age"),
        ],
    )
    def test_refuses_an_empty_window(self, max_entries: int, max_age: float) -> None:
        with pytest.raises(ValueError, match="must be"):
            DedupWindow(max_entries, max_age)


class TestCheck:
    def test_a_new_id_is_noted_at_its_seq(self) -> None:
        window = DedupWindow(10, 60.0)
        assert window.check("a", 1, T0) is None
        assert window.last_seq == 1
        assert len(window) == 1

    def test_a_repeated_id_returns_its_original_seq(self) -> None:
        window = DedupWindow(10, 60.0)
        window.check("a", 1, T0)
        window.check("b", 2, T0)
        assert window.check("a", 3, T0 + 1) == 1
        assert window.last_seq == 2  # a duplicate notes nothing
        assert len(window) == 2

    def test_seen_looks_without_noting(self) -> None:
        window = DedupWindow(10, 60.0)
        assert window.seen("a", T0) is None
        assert window.check("a", 1, T0) is None
        assert window.seen("a", T0) == 1
        assert window.last_seq == 1

    def test_noting_a_generated_id_stores_no_id(self) -> None:
        window = DedupWindow(10, 60.0)
        window.note(1, T0)
        assert window.last_seq == 1
        assert len(window) == 0


class TestCountBound:
    def test_an_id_is_forgotten_after_max_entries_newer_seqs(self) -> None:
        window = DedupWindow(3, 60.0)
        for seq, msg_id in enumerate("abcd", start=1):
            window.check(msg_id, seq, T0)
        assert [window.seen(msg_id, T0) for msg_id in "abcd"] == [None, 2, 3, 4]

    def test_generated_ids_count_towards_the_bound(self) -> None:
        window = DedupWindow(3, 60.0)
        window.check("a", 1, T0)
        window.note(2, T0)
        window.note(3, T0)
        assert window.seen("a", T0) == 1
        window.note(4, T0)
        assert window.seen("a", T0) is None

    def test_stored_ids_never_exceed_max_entries(self) -> None:
        window = DedupWindow(5, 60.0)
        for seq in range(1, 101):
            window.check(f"id-{seq}", seq, T0)
            assert len(window) <= 5

    def test_an_id_forgotten_by_count_can_be_reused_many_times(self) -> None:
        # "a" falls out by count through generated-id seqs, comes back, and the
        # window must keep accepting and trimming ids afterwards.
        window = DedupWindow(2, 60.0)
        window.check("a", 1, T0)
        window.note(2, T0)
        window.note(3, T0)
        assert window.check("a", 4, T0) is None
        for seq, msg_id in enumerate("bcdef", start=5):
            assert window.check(msg_id, seq, T0) is None
        assert window.seen("f", T0) == 9
        assert window.seen("a", T0) is None
        assert len(window) <= 2


class TestAgeBound:
    @pytest.mark.parametrize(
        ("max_age", "age", "remembered"),
        [
            pytest.param(8.0, 0.0, True, id="fresh"),
            pytest.param(8.0, 7.99, True, id="just-inside"),
            pytest.param(8.0, 8.0, True, id="at-max-age"),
            pytest.param(8.0, 8.0 + interval(8.0), False, id="max-age-plus-interval"),
            pytest.param(120.0, 119.9, True, id="default-age-just-inside"),
            pytest.param(120.0, 121.0, False, id="default-age-plus-one-second"),
            pytest.param(0.5, 0.49, True, id="short-age-just-inside"),
            pytest.param(0.5, 0.5 + 0.5 / 16, False, id="short-age-plus-interval"),
        ],
    )
    def test_an_id_is_remembered_for_max_age_and_at_most_one_interval_more(
        self, max_age: float, age: float, remembered: bool
    ) -> None:
        window = DedupWindow(100, max_age)
        window.check("a", 1, T0)
        assert window.seen("a", T0 + age) == (1 if remembered else None)
        assert window.covers(1, T0 + age) is remembered

    def test_each_id_ages_from_its_own_time(self) -> None:
        window = DedupWindow(100, 8.0)
        window.check("early", 1, T0)
        window.check("late", 2, T0 + 5.0)
        assert window.seen("early", T0 + 9.0) is None
        assert window.seen("late", T0 + 9.0) == 2

    def test_an_id_ages_from_its_own_time_not_from_its_mark(self) -> None:
        # The mark taken at T0 spans 0.5 s; "a", noted 0.4 s into it, must still be
        # remembered until T0 + 0.4 + 8.
        window = DedupWindow(100, 8.0)
        window.note(1, T0)
        window.check("a", 2, T0 + 0.4)
        assert window.seen("a", T0 + 8.3) == 2
        assert window.covers(2, T0 + 8.3)

    def test_expired_ids_are_let_go(self) -> None:
        window = DedupWindow(100, 8.0)
        for seq in range(1, 11):
            window.check(f"id-{seq}", seq, T0 + seq / 10)
        assert len(window) == 10
        window.seen("other", T0 + 100.0)
        assert len(window) == 0

    def test_a_forgotten_id_is_appended_again_and_remembered_anew(self) -> None:
        window = DedupWindow(100, 8.0)
        window.check("a", 1, T0)
        assert window.check("a", 2, T0 + 20.0) is None
        assert window.check("a", 3, T0 + 21.0) == 2

    def test_marks_are_taken_every_sixteenth_of_max_age_at_most_every_second(self) -> None:
        short, default = DedupWindow(10, 8.0), DedupWindow(10, 120.0)
        short.note(1, T0)
        default.note(1, T0)
        assert short.next_mark == T0 + 0.5
        assert default.next_mark == T0 + 1.0


class TestCovers:
    @pytest.mark.parametrize(
        ("seq", "covered"),
        [
            pytest.param(-1, False, id="negative"),
            pytest.param(0, False, id="zero"),
            pytest.param(1, False, id="out-by-count"),
            pytest.param(2, True, id="oldest-in-window"),
            pytest.param(4, True, id="newest"),
            pytest.param(5, False, id="not-yet-appended"),
        ],
    )
    def test_covers_the_newest_max_entries_seqs(self, seq: int, covered: bool) -> None:
        window = DedupWindow(3, 60.0)
        for n in range(1, 5):
            window.note(n, T0)
        assert window.covers(seq, T0) is covered

    def test_an_empty_window_covers_nothing(self) -> None:
        assert not DedupWindow(3, 60.0).covers(1, T0)

    def test_covers_seqs_from_both_kinds_of_id(self) -> None:
        window = DedupWindow(10, 8.0)
        window.note(1, T0)
        window.check("a", 2, T0 + 4.0)
        assert window.covers(1, T0 + 4.0)
        assert window.covers(2, T0 + 4.0)
        assert not window.covers(1, T0 + 10.0)
        assert window.covers(2, T0 + 10.0)

    def test_a_hot_path_that_skips_notes_until_next_mark_sees_the_same(self) -> None:
        # `note` may be skipped while now < next_mark, setting last_seq directly.
        every, skipping = DedupWindow(50, 8.0), DedupWindow(50, 8.0)
        times = [T0 + n / 8 for n in range(200)]
        for seq, now in enumerate(times, start=1):
            every.note(seq, now)
            if now >= skipping.next_mark:
                skipping.note(seq, now)
            else:
                skipping.last_seq = seq
        for now in (times[-1], times[-1] + 4.0, times[-1] + 8.0, times[-1] + 9.0):
            assert [every.covers(seq, now) for seq in range(202)] == [
                skipping.covers(seq, now) for seq in range(202)
            ]


Verdict = Literal["in", "out", "either"]


class ReferenceWindow:
    """Every seq's time and every caller id's newest seq, kept forever."""

    def __init__(self, max_entries: int, max_age: float) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.slack = interval(max_age)
        self.last_seq = 0
        self.times: dict[int, float] = {}
        self.ids: dict[str, int] = {}

    def add(self, seq: int, now: float, msg_id: str | None = None) -> None:
        self.last_seq = seq
        self.times[seq] = now
        if msg_id is not None:
            self.ids[msg_id] = seq

    def verdict(self, seq: int, now: float) -> Verdict:
        if not 1 <= seq <= self.last_seq or seq <= self.last_seq - self.max_entries:
            return "out"
        age = now - self.times[seq]
        if age < self.max_age:
            return "in"
        return "out" if age >= self.max_age + self.slack else "either"


# Time moves in quarters of the mark interval, or by about max_age, so ids land
# early and late within one mark and queries fall just either side of max_age and
# of max_age + interval. All values are dyadic: every sum is exact, and boundaries
# are hit exactly, not by rounding.
max_ages = st.sampled_from([0.5, 2.0, 8.0, 32.0])
ids = st.sampled_from(["a", "b", "c", "d", "e"])


def steps(max_age: float) -> st.SearchStrategy[float]:
    unit = interval(max_age) / 4
    return st.one_of(
        st.integers(0, 6).map(lambda k: k * unit),
        st.integers(-4, 4).map(lambda k: max_age + k * unit),
    )


class DedupWindowMachine(RuleBasedStateMachine):
    window: DedupWindow
    ref: ReferenceWindow

    def __init__(self) -> None:
        super().__init__()
        self.now = T0

    @initialize(max_entries=st.sampled_from([1, 2, 3, 5, 1000]), max_age=max_ages)
    def make_window(self, max_entries: int, max_age: float) -> None:
        self.window = DedupWindow(max_entries, max_age)
        self.ref = ReferenceWindow(max_entries, max_age)
        self.unit = interval(max_age) / 4

    @rule(units=st.integers(0, 6))
    def advance(self, units: int) -> None:
        self.now += units * self.unit

    @rule(units=st.integers(-4, 4))
    def advance_about_max_age(self, units: int) -> None:
        self.now += self.ref.max_age + units * self.unit

    @rule()
    def note(self) -> None:
        seq = self.ref.last_seq + 1
        self.window.note(seq, self.now)
        self.ref.add(seq, self.now)

    @rule(msg_id=ids)
    def check(self, msg_id: str) -> None:
        seq = self.ref.last_seq + 1
        old = self.window.check(msg_id, seq, self.now)
        verdict = self._id_verdict(msg_id)
        if old is None:
            assert verdict != "in", f"{msg_id!r} forgotten too early"
            self.ref.add(seq, self.now, msg_id)
        else:
            assert verdict != "out", f"{msg_id!r} remembered too long"
            assert old == self.ref.ids[msg_id]

    @rule(msg_id=ids)
    def seen(self, msg_id: str) -> None:
        old = self.window.seen(msg_id, self.now)
        verdict = self._id_verdict(msg_id)
        if old is None:
            assert verdict != "in", f"{msg_id!r} forgotten too early"
        else:
            assert verdict != "out", f"{msg_id!r} remembered too long"
            assert old == self.ref.ids[msg_id]

    @precondition(lambda self: self.ref.last_seq > 0)
    @rule(back=st.integers(-2, 12))
    def covers(self, back: int) -> None:
        seq = self.ref.last_seq - back
        covered = self.window.covers(seq, self.now)
        verdict = self.ref.verdict(seq, self.now)
        assert covered or verdict != "in", f"seq {seq} forgotten too early"
        assert not covered or verdict != "out", f"seq {seq} remembered too long"

    @invariant()
    def agrees_on_last_seq(self) -> None:
        if hasattr(self, "window"):
            assert self.window.last_seq == self.ref.last_seq

    @invariant()
    def stores_at_most_max_entries_ids(self) -> None:
        if hasattr(self, "window"):
            assert len(self.window) <= self.window.max_entries

    def _id_verdict(self, msg_id: str) -> Verdict:
        seq = self.ref.ids.get(msg_id)
        return "out" if seq is None else self.ref.verdict(seq, self.now)


TestDedupWindowMachine = DedupWindowMachine.TestCase
TestDedupWindowMachine.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)


class TestAgainstReference:
    @given(max_entries=st.integers(1, 6), max_age=max_ages, data=st.data())
    def test_covers_and_seen_agree_away_from_the_age_boundary(
        self, max_entries: int, max_age: float, data: st.DataObject
    ) -> None:
        # A seq younger than max_age is in the window; one at least max_age +
        # interval old, or max_entries seqs back, is out. Only the band between
        # may go either way.
        events = data.draw(st.lists(st.tuples(steps(max_age), st.booleans()), max_size=30))
        window = DedupWindow(max_entries, max_age)
        ref = ReferenceWindow(max_entries, max_age)
        now = T0
        for seq, (dt, caller_chosen) in enumerate(events, start=1):
            now += dt
            if caller_chosen:
                assert window.check(f"id-{seq}", seq, now) is None
                ref.add(seq, now, f"id-{seq}")
            else:
                window.note(seq, now)
                ref.add(seq, now)
        now += data.draw(steps(max_age))
        for seq in range(-1, len(events) + 2):
            verdict = ref.verdict(seq, now)
            if verdict != "either":
                assert window.covers(seq, now) is (verdict == "in"), (seq, verdict)
        for msg_id, seq in ref.ids.items():
            verdict = ref.verdict(seq, now)
            if verdict != "either":
                assert window.seen(msg_id, now) == (seq if verdict == "in" else None)
