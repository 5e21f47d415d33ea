"""`HandlerTimes`: a fixed-bucket histogram of how long an actor's handlings take.

Recording must cost next to nothing, since it sits in an actor's drain loop: a
duration in nanoseconds goes into one of 8 buckets per power of two (found with
``int.bit_length`` and a shift, no floats, no search), so a percentile read back
is within 12.5% above the true value, and memory is fixed (a list of 336 ints,
made on the first sample). The maximum is kept exactly.
"""

from __future__ import annotations

from typing import final

__all__ = ["HandlerTimes"]

_SIZE = 42 * 8  # buckets up to 2**44 ns (about 4.9 hours); longer ones share the last


@final
class HandlerTimes:
    """Counts of handling durations, by bucket; not part of the public API."""

    __slots__ = ("counts", "max_ns", "total")

    def __init__(self) -> None:
        self.counts = [0] * _SIZE
        self.max_ns = 0
        self.total = 0

    def add(self, ns: int) -> None:
        """Count one handling that took ``ns`` nanoseconds."""
        bits = ns.bit_length()
        # Values below 16 have a bucket each; above, 8 buckets per power of two,
        # chosen by the three bits after the leading one.
        index = ns if bits <= 4 else (bits - 3) * 8 + ((ns >> (bits - 4)) & 7)
        self.counts[index if index < _SIZE else _SIZE - 1] += 1
        self.total += 1
        if ns > self.max_ns:
            self.max_ns = ns

    def percentile(self, fraction: float) -> float:
        """Return the duration (seconds) below which ``fraction`` of handlings fell.

        The upper bound of the bucket holding that rank, never above the maximum;
        0.0 with no samples.
        """
        if self.total == 0:
            return 0.0
        rank = max(1, -int(-fraction * self.total // 1))  # ceil, at least the first
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return min(_upper(index), self.max_ns) / 1e9
        return self.max_ns / 1e9  # pragma: no cover (the counts add up to total)


def _upper(index: int) -> int:
    if index < 16:
        return index
    octave, sub = divmod(index, 8)  # octave = bit length - 3
    return (9 + sub) << (octave - 1)
