"""A provider's connections, spread over several httpx clients ("lanes").

httpx's connection pool does work proportional to its connections times its queued
requests every time a request starts or ends (encode/httpcore#1035), so one
`httpx.AsyncClient` serving 100 concurrent requests spends most of its time
assigning connections: measured here, 1,000 requests at concurrency 100 against a
20 ms server ran at about 120/s through one client and about 1,500/s spread over
100 clients (``benchmarks/RESULTS.md``). Lanes keep each pool small: a request
takes the least busy lane, and a new lane opens only when every lane already has
`LANE_DEPTH` requests in flight, so light traffic still reuses one pool's
connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import httpx

__all__ = ["LANE_DEPTH", "MAX_LANES", "Lanes"]

LANE_DEPTH = 4
"""Requests in flight on every lane before another lane opens."""

MAX_LANES = 64
"""The most lanes (httpx clients) one provider opens."""


@final
class Lanes:
    """httpx clients of one provider, each with its own connection pool."""

    __slots__ = ("_busy", "_clients", "_make")

    def __init__(self, make: Callable[[], httpx.AsyncClient]) -> None:
        self._make = make
        self._clients: list[httpx.AsyncClient] = [make()]
        self._busy: list[int] = [0]

    def __len__(self) -> int:
        return len(self._clients)

    def take(self) -> int:
        """Pick the least busy lane (opening one if all are at `LANE_DEPTH`); count it busy."""
        busy = self._busy
        lane = min(range(len(busy)), key=busy.__getitem__)
        if busy[lane] >= LANE_DEPTH and len(busy) < MAX_LANES:
            self._clients.append(self._make())
            busy.append(0)
            lane = len(busy) - 1
        busy[lane] += 1
        return lane

    def give_back(self, lane: int) -> None:
        """Count a request on ``lane`` as finished."""
        self._busy[lane] -= 1

    def client(self, lane: int) -> httpx.AsyncClient:
        """Return the client of ``lane``."""
        return self._clients[lane]

    async def aclose(self) -> None:
        """Close every lane's connections."""
        clients, self._clients, self._busy = self._clients, [], []
        for client in clients:
            await client.aclose()
