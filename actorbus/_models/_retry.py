"""Which failures of a model call are worth retrying, and how long to wait first."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import httpx

__all__ = ["RETRY_STATUSES", "is_retryable_error", "retry_after"]

RETRY_STATUSES = frozenset({408, 409, 429})
"""Statuses retried besides every 5xx: timeout, conflict, rate limited."""


def is_retryable_status(status: int) -> bool:
    """Tell whether an answer with ``status`` is worth another attempt."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def is_retryable_error(exc: httpx.HTTPError) -> bool:
    """Tell whether a transport failure is worth another attempt.

    Timeouts, refused or dropped connections and answers cut short are; a request
    that cannot be built or an unsupported URL are not.
    """
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Return the seconds the server asks to wait, or None if it does not say.

    Reads ``retry-after-ms`` (milliseconds, as OpenAI sends) first, then
    ``Retry-After`` as seconds or as an HTTP date. Negative or unreadable values
    count as not saying.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = -1.0
        if ms >= 0:
            return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None
