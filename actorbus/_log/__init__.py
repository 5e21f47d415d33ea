"""Event logs: where every accepted message gets its seq, and duplicates stop.

`EventLog` is the protocol the bus needs; `MemoryLog` is the in-process default.
Durable backends live beside them: `SqliteLog` (one file) and `JetStreamLog` (NATS).
"""

from __future__ import annotations

from ._dedup import DedupWindow as DedupWindow
from ._jetstream import JetStreamLog as JetStreamLog
from ._memory import MemoryLog as MemoryLog
from ._protocol import ConsumerLog as ConsumerLog
from ._protocol import EventLog as EventLog
from ._protocol import Feed as Feed
from ._protocol import SyncAppend as SyncAppend
from ._sqlite import Durability as Durability
from ._sqlite import SqliteLog as SqliteLog

__all__ = [
    "ConsumerLog",
    "DedupWindow",
    "Durability",
    "EventLog",
    "Feed",
    "JetStreamLog",
    "MemoryLog",
    "SqliteLog",
    "SyncAppend",
]
