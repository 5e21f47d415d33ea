"""A provider's limits: requests per minute, tokens per minute, requests in flight.

The two rates are aiolimiter leaky buckets shared by every actor of the bus. Each
holds one second's worth (at least one request) so that a burst is bounded by a
second of rate, not a minute. Tokens are taken before a call from an estimate
(the prompt at about four characters a token, plus ``max_tokens``) and corrected
once the real usage is known: a shortfall is taken then, a surplus is credited to
the next calls. aiolimiter runs on asyncio only.
"""

from __future__ import annotations

import asyncio
from typing import final

from aiolimiter import AsyncLimiter

__all__ = ["ProviderLimits"]


def _bucket(per_minute: float) -> AsyncLimiter:
    capacity = max(1.0, per_minute / 60.0)  # one second's worth, at least one unit
    return AsyncLimiter(capacity, capacity * 60.0 / per_minute)


@final
class ProviderLimits:
    """The limits of one provider, shared by all its calls."""

    __slots__ = ("_concurrency", "_credit", "_requests", "_tokens")

    def __init__(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        max_concurrent: int | None,
    ) -> None:
        self._requests = None if requests_per_minute is None else _bucket(requests_per_minute)
        self._tokens = None if tokens_per_minute is None else _bucket(tokens_per_minute)
        self._concurrency = None if max_concurrent is None else asyncio.Semaphore(max_concurrent)
        self._credit = 0  # tokens taken for calls that used fewer

    async def acquire(self, tokens: int) -> None:
        """Wait until one request of about ``tokens`` tokens may be sent, and take it."""
        if self._tokens is not None:
            await self._take_tokens(tokens)
        if self._requests is not None:
            await self._requests.acquire()
        if self._concurrency is not None:
            await self._concurrency.acquire()

    def holding(self, tokens: int) -> str | None:
        """Return the limit that would make a request of ``tokens`` wait now, or None.

        Names it as the provider's setting does (``"tokens_per_minute"``,
        ``"requests_per_minute"``, ``"max_concurrent"``). A hint for progress
        displays: the answer may be stale by the time `acquire` runs.
        """
        if self._tokens is not None:
            wanted = min(float(max(tokens - self._credit, 0)), self._tokens.max_rate)
            if wanted > 0 and not self._tokens.has_capacity(wanted):
                return "tokens_per_minute"
        if self._requests is not None and not self._requests.has_capacity():
            return "requests_per_minute"
        if self._concurrency is not None and self._concurrency.locked():
            return "max_concurrent"
        return None

    def release(self) -> None:
        """Free the in-flight slot of a request that has finished."""
        if self._concurrency is not None:
            self._concurrency.release()

    async def correct(self, estimated: int, used: int) -> None:
        """Settle a call's tokens once its real usage is known."""
        if self._tokens is None:
            return
        if used > estimated:
            await self._take_tokens(used - estimated)
        else:
            self._credit += estimated - used

    async def _take_tokens(self, tokens: int) -> None:
        bucket = self._tokens
        assert bucket is not None
        from_credit = min(self._credit, tokens)
        self._credit -= from_credit
        tokens -= from_credit
        while tokens > 0:  # the bucket takes at most its capacity at once
            step = min(float(tokens), bucket.max_rate)
            await bucket.acquire(step)
            tokens -= int(step)
