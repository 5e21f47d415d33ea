"""The bus: actors, publishing, asking, draining, and shutdown."""

from __future__ import annotations

from ._bus import Bus as Bus
from ._ref import ActorRef as ActorRef
from ._stats import ActorStatistics as ActorStatistics
from ._stats import BusStatistics as BusStatistics

__all__ = ["ActorRef", "ActorStatistics", "Bus", "BusStatistics"]
