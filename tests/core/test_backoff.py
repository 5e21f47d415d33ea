"""backoff_delay: exponential backoff with full jitter, as pure maths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorbus._backoff import backoff_delay


class Draws:
    """A stand-in for random.uniform that records its bounds and returns a fixed point."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction
        self.bounds: list[tuple[float, float]] = []

    def __call__(self, low: float, high: float) -> float:
        self.bounds.append((low, high))
        return low + (high - low) * self.fraction


class TestBackoffDelay:
    @pytest.mark.parametrize(
        ("attempt", "ceiling"),
        [
            pytest.param(1, 0.5, id="first-retry-is-base"),
            pytest.param(2, 1.0, id="doubles"),
            pytest.param(3, 2.0, id="doubles-again"),
            pytest.param(5, 8.0, id="fifth"),
            pytest.param(6, 10.0, id="capped"),
            pytest.param(1_000, 10.0, id="far-past-the-cap"),
        ],
    )
    def test_draws_between_zero_and_the_exponential_ceiling(
        self, attempt: int, ceiling: float
    ) -> None:
        draws = Draws(1.0)
        assert backoff_delay(attempt, 0.5, 10.0, draws) == ceiling
        assert draws.bounds == [(0.0, ceiling)]

    @pytest.mark.parametrize(
        ("fraction", "expected"),
        [
            pytest.param(0.0, 0.0, id="bottom-of-range"),
            pytest.param(0.25, 1.0, id="quarter"),
            pytest.param(1.0, 4.0, id="top-of-range"),
        ],
    )
    def test_returns_the_full_jitter_draw(self, fraction: float, expected: float) -> None:
        assert backoff_delay(3, 1.0, 60.0, Draws(fraction)) == expected

    def test_a_cap_below_base_caps_the_first_retry(self) -> None:
        draws = Draws(1.0)
        assert backoff_delay(1, 5.0, 2.0, draws) == 2.0

    @pytest.mark.parametrize(
        "attempt", [pytest.param(63, id="63"), pytest.param(10**6, id="a-million")]
    )
    def test_a_huge_attempt_does_not_overflow(self, attempt: int) -> None:
        assert backoff_delay(attempt, 1e300, 30.0, Draws(1.0)) == 30.0

    @pytest.mark.parametrize(
        ("base", "cap"),
        [
            pytest.param(0.0, 10.0, id="zero-base"),
            pytest.param(1.0, 0.0, id="zero-cap"),
            pytest.param(-1.0, 10.0, id="negative-base"),
        ],
    )
    def test_no_delay_when_base_or_cap_is_not_positive(self, base: float, cap: float) -> None:
        draws = Draws(1.0)
        assert backoff_delay(3, base, cap, draws) == 0.0
        assert draws.bounds == []

    @pytest.mark.parametrize(
        "attempt", [pytest.param(0, id="zero"), pytest.param(-1, id="negative")]
    )
    def test_attempts_count_from_one(self, attempt: int) -> None:
        with pytest.raises(ValueError, match="counts from 1"):
            backoff_delay(attempt, 1.0, 10.0)

    @given(
        attempt=st.integers(1, 200),
        base=st.floats(1e-3, 1e3),
        cap=st.floats(1e-3, 1e4),
    )
    def test_the_real_draw_stays_within_bounds(self, attempt: int, base: float, cap: float) -> None:
        delay = backoff_delay(attempt, base, cap)
        assert 0.0 <= delay <= min(cap, base * 2.0 ** min(attempt - 1, 1_000))
