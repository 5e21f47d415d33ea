"""Event logs: where every accepted message gets its seq, and duplicates stop.

`EventLog` is the protocol the bus needs; `MemoryLog` is the in-process default.
Durable backends live beside them: `SqliteLog` (one file) and `JetStreamLog` (NATS).

`LogReader` is the protocol for reading a log without changing it, at rest or
live; each log hands out its own (``log.reader()``). With it come the records it
speaks in, and what is derived from them for any reader: a scan of every page,
a message's effects, the model calls of a handling, each consumer's lag. Tools
above this layer (the ``actorbus log`` commands) read logs through these names
only.
"""

from __future__ import annotations

from ._activity import ActorActivity as ActorActivity
from ._activity import activity as activity
from ._calls import Handling as Handling
from ._calls import JournaledCall as JournaledCall
from ._calls import JournaledMessage as JournaledMessage
from ._calls import JournaledTool as JournaledTool
from ._calls import JournaledTurn as JournaledTurn
from ._calls import actor_names as actor_names
from ._calls import handlings as handlings
from ._calls import masked as masked
from ._jetstream import JetStreamLog as JetStreamLog
from ._jetstream import JetStreamReader as JetStreamReader
from ._jetstream import redact_url as redact_url
from ._lag import LAG_NOTE as LAG_NOTE
from ._lag import lags as lags
from ._memory import MemoryLog as MemoryLog
from ._memory_reader import MemoryReader as MemoryReader
from ._protocol import ConsumerLog as ConsumerLog
from ._protocol import EventLog as EventLog
from ._protocol import Feed as Feed
from ._protocol import StartAt as StartAt
from ._protocol import SyncAppend as SyncAppend
from ._reading import CountColumn as CountColumn
from ._reading import JournalEntry as JournalEntry
from ._reading import JournalPage as JournalPage
from ._reading import LogReader as LogReader
from ._reading import RecordFilter as RecordFilter
from ._reading import RecordPage as RecordPage
from ._record import LogSummary as LogSummary
from ._record import Record as Record
from ._record import redact as redact
from ._scan import caused_by as caused_by
from ._scan import scan as scan
from ._sqlite import Durability as Durability
from ._sqlite import SqliteLog as SqliteLog
from ._sqlite_reader import SqliteReader as SqliteReader
from ._usage import ModelTotals as ModelTotals
from ._usage import ModelTurn as ModelTurn
from ._usage import UsagePoint as UsagePoint
from ._usage import UsageTally as UsageTally
from ._usage import model_turns as model_turns

__all__ = [
    "LAG_NOTE",
    "ActorActivity",
    "ConsumerLog",
    "CountColumn",
    "Durability",
    "EventLog",
    "Feed",
    "Handling",
    "JetStreamLog",
    "JetStreamReader",
    "JournalEntry",
    "JournalPage",
    "JournaledCall",
    "JournaledMessage",
    "JournaledTool",
    "JournaledTurn",
    "LogReader",
    "LogSummary",
    "MemoryLog",
    "MemoryReader",
    "ModelTotals",
    "ModelTurn",
    "Record",
    "RecordFilter",
    "RecordPage",
    "SqliteLog",
    "SqliteReader",
    "StartAt",
    "SyncAppend",
    "UsagePoint",
    "UsageTally",
    "activity",
    "actor_names",
    "caused_by",
    "handlings",
    "lags",
    "masked",
    "model_turns",
    "redact",
    "redact_url",
    "scan",
]
