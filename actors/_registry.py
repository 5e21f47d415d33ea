"""Which actors can do what, and how busy each is: the coordinator's bookkeeping."""

from __future__ import annotations

from collections.abc import Collection
from typing import final

__all__ = ["Registry"]


@final
class Registry:
    """Capable actors per capability, with their outstanding tasks.

    `pick` chooses the actor with the fewest outstanding tasks; ties go round-robin,
    so equally idle actors share the work instead of the first always winning.
    """

    __slots__ = ("_by_capability", "_next", "_outstanding", "_topics")

    def __init__(self) -> None:
        self._by_capability: dict[str, list[str]] = {}
        self._topics: dict[str, str] = {}
        self._outstanding: dict[str, int] = {}
        self._next: dict[str, int] = {}

    def register(self, actor: str, topic: str, capabilities: Collection[str]) -> None:
        """Record (or replace) what ``actor`` can do; no capabilities removes it."""
        self.remove(actor)
        if not capabilities:
            return
        self._topics[actor] = topic
        self._outstanding.setdefault(actor, 0)
        for capability in capabilities:
            self._by_capability.setdefault(capability, []).append(actor)

    def remove(self, actor: str) -> None:
        """Forget ``actor`` (its outstanding count stays until its tasks end)."""
        self._topics.pop(actor, None)
        for capability, actors in list(self._by_capability.items()):
            if actor in actors:
                actors.remove(actor)
                if not actors:
                    del self._by_capability[capability]

    def capabilities(self) -> list[str]:
        """Return the known capabilities, sorted."""
        return sorted(self._by_capability)

    def capable(self, capability: str) -> list[str]:
        """Return the actors that can do ``capability``, in registration order."""
        return list(self._by_capability.get(capability, ()))

    def topic(self, actor: str) -> str:
        """Return the topic ``actor`` takes tasks on."""
        return self._topics[actor]

    def outstanding(self, actor: str) -> int:
        """Return how many tasks ``actor`` is doing for this coordinator."""
        return self._outstanding.get(actor, 0)

    def pick(self, capability: str, avoid: Collection[str] = ()) -> str | None:
        """Return the least busy capable actor, preferring ones not in ``avoid``."""
        actors = self._by_capability.get(capability)
        if not actors:
            return None
        fresh = [a for a in actors if a not in avoid] or actors
        least = min(self._outstanding.get(a, 0) for a in fresh)
        idle = [a for a in fresh if self._outstanding.get(a, 0) == least]
        turn = self._next.get(capability, 0)
        self._next[capability] = turn + 1
        return idle[turn % len(idle)]

    def started(self, actor: str) -> None:
        """Count a task ``actor`` took."""
        self._outstanding[actor] = self._outstanding.get(actor, 0) + 1

    def finished(self, actor: str) -> None:
        """Count a task ``actor`` ended."""
        self._outstanding[actor] -= 1
