"""Retry delays: exponential backoff with full jitter, as pure maths.

Full jitter (a uniform draw between zero and the exponential cap) spreads retries
of many failing callers apart instead of having them retry in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["backoff_delay"]


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Return how long to wait before retry number ``attempt`` (1 for the first retry).

    The delay is drawn uniformly from ``[0, min(cap, base * 2 ** (attempt - 1))]``.

    Args:
        attempt: which retry this is, counting from 1.
        base: the cap of the first retry's delay, in seconds.
        cap: the largest delay ever returned, in seconds.
        uniform: the random draw, replaceable for tests.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base <= 0 or cap <= 0:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return uniform(0.0, ceiling)
