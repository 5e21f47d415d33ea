"""Routing: from a topic to the mailboxes that should receive it.

Subscriptions live in a `TopicIndex` trie; resolved routes are cached per topic and
the cache is dropped whenever a subscription changes, so the common case is one
dict lookup per publish. The cache is bounded: many one-off topics cannot grow it
without limit.
"""

from __future__ import annotations

from typing import Protocol, final

import anyio

from .._mailbox import Overflow
from .._message import Envelope
from .._topic import TopicIndex, validate_topic

__all__ = ["GuardedRoute", "Route", "Router", "Target"]

_MAX_CACHED_ROUTES = 4096


class Target(Protocol):
    """Something the router delivers to: a mailbox, or the bus's reply inbox."""

    policy: Overflow
    owner: str
    size: int

    def __len__(self) -> int:
        """Envelopes queued."""
        ...

    def offer(self, env: Envelope) -> anyio.Event | None:
        """Take ``env``; return an event to wait on if the publisher must wait."""
        ...

    def refuses(self) -> bool:
        """Tell whether a new envelope would be refused (full ``reject`` mailbox)."""
        ...


Route = tuple[Target, ...]
"""The targets of a topic."""


class GuardedRoute(tuple[Target, ...]):
    """A route with at least one ``reject`` target: check for room before appending.

    Plain routes are plain tuples, so the hot path tells the two apart with one
    type check and a cached route costs no more than its tuple.
    """

    __slots__ = ()


@final
class Router:
    """Subscriptions and the route cache."""

    __slots__ = ("_index", "cache")

    def __init__(self) -> None:
        self._index: TopicIndex[Target] = TopicIndex()
        self.cache: dict[str, Route] = {}
        """Resolved routes by topic; read it directly on hot paths, then `route` on a miss."""

    def add(self, pattern: str, target: Target) -> None:
        """Subscribe ``target`` to ``pattern``."""
        self._index.add(pattern, target)
        self.cache.clear()

    def remove(self, pattern: str, target: Target) -> None:
        """Unsubscribe ``target`` from ``pattern``."""
        self._index.remove(pattern, target)
        self.cache.clear()

    def route(self, topic: str) -> Route:
        """Return the route of ``topic``.

        Raises:
            InvalidTopic: the topic cannot be published to.
        """
        route = self.cache.get(topic)
        if route is None:
            route = self._resolve(topic)
        return route

    def _resolve(self, topic: str) -> Route:
        targets = self._index.match(validate_topic(topic))
        guarded = any(t.policy == "reject" for t in targets)
        route = GuardedRoute(targets) if guarded else targets
        cache = self.cache
        if len(cache) >= _MAX_CACHED_ROUTES:
            # Evict the oldest route only: with more topics in use than the cache
            # holds, clearing it all would make nearly every publish a miss.
            del cache[next(iter(cache))]
        cache[topic] = route
        return route
