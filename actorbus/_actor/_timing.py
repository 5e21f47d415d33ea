"""Handler times: a sparse, fixed-bucket histogram of how long handlings take.

Recording must cost next to nothing, since it sits in an actor's drain loop: a
duration in nanoseconds goes into one of 8 buckets per power of two (found with
``int.bit_length`` and a shift, no floats, no search), so a percentile read back
is within 12.5% above the true value; the maximum is kept exactly.

Memory matters as much: a bus may hold thousands of actors that each handled a
message or two (an idle actor costs under 1 KB in all). So an actor's `Times` is
None before its first sample, that sample's bucket after it (a small int, below
256 for anything under 4 s, which CPython never allocates), and a `HandlerTimes`
with a dict of only the buckets in use from the second on.
"""

from __future__ import annotations

from typing import final

__all__ = ["QUIET", "SLOW_NS", "HandlerTimes", "Times", "add_time", "time_pass", "time_summary"]

SLOW_NS = 20_000
"""A handling at least this long is slow: timing the next one costs it under 1%."""

QUIET = 64
"""An actor's first handlings are all timed, so a quiet actor's statistics fill from its start."""


@final
class HandlerTimes:
    """Counts of handling durations, by bucket; not part of the public API."""

    __slots__ = ("counts", "max_ns", "slow")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}  # bucket -> handlings, only buckets in use
        self.max_ns = 0
        self.slow = False  # whether the latest handling counted was slow

    @property
    def total(self) -> int:
        """How many handlings were counted."""
        return sum(self.counts.values())

    def add(self, ns: int) -> None:
        """Count one handling that took ``ns`` nanoseconds."""
        index = _bucket(ns)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        if ns > self.max_ns:
            self.max_ns = ns
        self.slow = ns >= SLOW_NS

    def add_bucket(self, index: int) -> None:
        """Count one handling known only by its bucket (its upper bound stands for it)."""
        self.counts[index] = self.counts.get(index, 0) + 1
        self.max_ns = max(self.max_ns, _upper(index))

    def percentile(self, fraction: float) -> float:
        """Return the duration (seconds) below which ``fraction`` of handlings fell.

        The upper bound of the bucket holding that rank, never above the maximum;
        0.0 with no samples.
        """
        if not self.counts:
            return 0.0
        rank = max(1, -int(-fraction * self.total // 1))  # ceil, at least the first
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(_upper(index), self.max_ns) / 1e9
        return self.max_ns / 1e9


Times = int | HandlerTimes | None
"""An actor's handling times: none yet, the one sample so far (its bucket), or a histogram."""


def add_time(times: Times, ns: int) -> Times:
    """Return ``times`` with one more handling of ``ns`` nanoseconds (store it back)."""
    if isinstance(times, HandlerTimes):
        times.add(ns)
        return times
    if times is None:
        return _bucket(ns)
    histogram = HandlerTimes()
    histogram.add_bucket(times)
    histogram.add(ns)
    return histogram


def time_pass(handled: int, times: Times) -> bool:
    """Tell whether a drain pass times its first handling, for an actor that handled ``handled``.

    An actor's first `QUIET` handlings are all timed; then one pass in 8 is, unless
    the actor's last timed handling was slow, which has the next pass timed too (so a
    slow handler is timed throughout). The drain loop asks once a pass, never once a
    message; it times the handlings within a pass by itself (see ``Cell``).
    """
    return handled < QUIET or not handled & 7 or (type(times) is HandlerTimes and times.slow)


def time_summary(times: Times) -> tuple[int, float, float, float, float]:
    """Return (count, p50, p90, p99, max) of ``times``, durations in seconds."""
    if times is None:
        return 0, 0.0, 0.0, 0.0, 0.0
    if isinstance(times, int):
        one = _upper(times) / 1e9
        return 1, one, one, one, one
    return (  # a snapshot walks the buckets three times: a few dozen at most
        times.total,
        times.percentile(0.5),
        times.percentile(0.9),
        times.percentile(0.99),
        times.max_ns / 1e9,
    )


def _bucket(ns: int) -> int:
    # Values below 16 have a bucket each; above, 8 buckets per power of two,
    # chosen by the three bits after the leading one.
    bits = ns.bit_length()
    return ns if bits <= 4 else (bits << 3) - 24 + ((ns >> (bits - 4)) & 7)


def _upper(index: int) -> int:
    if index < 16:
        return index
    octave, sub = divmod(index, 8)  # octave = bit length - 3
    return (9 + sub) << (octave - 1)
