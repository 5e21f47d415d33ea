"""actorbus: typed actors on a pub/sub bus with an ordered, de-duplicating event log.

The public API is this namespace and `actorbus.testing`; everything in ``_``-modules
is private (importable, for tests, but not promised).
"""

from __future__ import annotations

import contextlib
import logging

import msgspec

from ._actor import Actor as Actor
from ._actor import Context as Context
from ._bus import ActorRef as ActorRef
from ._bus import ActorStatistics as ActorStatistics
from ._bus import Bus as Bus
from ._bus import BusStatistics as BusStatistics
from ._errors import ActorbusError as ActorbusError
from ._errors import ActorDefinitionError as ActorDefinitionError
from ._errors import AskFailed as AskFailed
from ._errors import AskTimeout as AskTimeout
from ._errors import AsyncioRequired as AsyncioRequired
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BudgetExceeded as BudgetExceeded
from ._errors import BusClosed as BusClosed
from ._errors import DuplicateActor as DuplicateActor
from ._errors import InvalidSubscription as InvalidSubscription
from ._errors import InvalidTopic as InvalidTopic
from ._errors import LogFileError as LogFileError
from ._errors import LogTruncated as LogTruncated
from ._errors import LogUnavailable as LogUnavailable
from ._errors import MailboxFull as MailboxFull
from ._errors import MessageTooLarge as MessageTooLarge
from ._errors import ModelError as ModelError
from ._errors import ModelResponseError as ModelResponseError
from ._errors import ModelsConfigError as ModelsConfigError
from ._errors import ModelTimeout as ModelTimeout
from ._errors import ModelUnavailable as ModelUnavailable
from ._errors import NoReplyExpected as NoReplyExpected
from ._errors import NoSubscriber as NoSubscriber
from ._errors import OutputValidationError as OutputValidationError
from ._errors import Permanent as Permanent
from ._errors import SchemaError as SchemaError
from ._errors import StateConflict as StateConflict
from ._errors import ToolLoopError as ToolLoopError
from ._errors import UndecodableRecord as UndecodableRecord
from ._errors import UnknownActor as UnknownActor
from ._errors import UnpricedModel as UnpricedModel
from ._ids import new_id as new_id
from ._log import Durability as Durability
from ._log import EventLog as EventLog
from ._log import JetStreamLog as JetStreamLog
from ._log import JournalEntry as JournalEntry
from ._log import JournalPage as JournalPage
from ._log import LogReader as LogReader
from ._log import LogSummary as LogSummary
from ._log import MemoryLog as MemoryLog
from ._log import Record as Record
from ._log import RecordFilter as RecordFilter
from ._log import RecordPage as RecordPage
from ._log import SqliteLog as SqliteLog
from ._log import StartAt as StartAt
from ._mailbox import DEFAULT_MAILBOX_SIZE as DEFAULT_MAILBOX_SIZE
from ._mailbox import Overflow as Overflow
from ._message import DeadLetter as DeadLetter
from ._message import Envelope as Envelope
from ._message import EnvelopeInfo as EnvelopeInfo
from ._message import Message as Message
from ._message import Receipt as Receipt
from ._message import Register as Register
from ._message import Request as Request
from ._message import Response as Response
from ._message import StateUpdate as StateUpdate
from ._message import TaskDelegation as TaskDelegation
from ._message import Undecodable as Undecodable
from ._message import message_tag as message_tag
from ._models import DEFAULT_MAX_TOKENS as DEFAULT_MAX_TOKENS
from ._models import DEFAULT_PRICES as DEFAULT_PRICES
from ._models import ECHO_MODEL as ECHO_MODEL
from ._models import Asker as Asker
from ._models import Budgets as Budgets
from ._models import CallJournal as CallJournal
from ._models import ChatMessage as ChatMessage
from ._models import Completion as Completion
from ._models import CostReport as CostReport
from ._models import EchoTransport as EchoTransport
from ._models import FunctionCall as FunctionCall
from ._models import ModelEvent as ModelEvent
from ._models import Models as Models
from ._models import ModelsConfig as ModelsConfig
from ._models import Price as Price
from ._models import PromptTokensDetails as PromptTokensDetails
from ._models import Provider as Provider
from ._models import ProviderStatistics as ProviderStatistics
from ._models import Spend as Spend
from ._models import Stream as Stream
from ._models import StructuredOutput as StructuredOutput
from ._models import Tool as Tool
from ._models import ToolCall as ToolCall
from ._models import ToolRun as ToolRun
from ._models import Usage as Usage
from ._models import actor_tool as actor_tool
from ._models import assistant as assistant
from ._models import system as system
from ._models import tool as tool
from ._models import tool_result as tool_result
from ._models import user as user
from ._state import State as State
from ._state import StateEntry as StateEntry
from ._state import StateView as StateView
from ._topic import topic_matches as topic_matches
from ._topic import validate_pattern as validate_pattern
from ._topic import validate_topic as validate_topic
from ._version import __version__ as __version__

# The curated public API (tests/test_exports.py holds the expected list). What a
# backend author implements or receives lives here too: `EventLog`; `LogReader`
# with the data it speaks (`Record`, `RecordFilter`, `RecordPage`, `LogSummary`,
# `JournalEntry`, `JournalPage`);
# `StartAt`. The log's capability protocols (what a log may offer beyond
# `EventLog`) join them in this list, and in the expected list of the test.
__all__ = [
    "DEFAULT_MAILBOX_SIZE",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PRICES",
    "ECHO_MODEL",
    "Actor",
    "ActorDefinitionError",
    "ActorRef",
    "ActorStatistics",
    "ActorbusError",
    "AskFailed",
    "AskTimeout",
    "Asker",
    "AsyncioRequired",
    "AuthenticationError",
    "BudgetExceeded",
    "Budgets",
    "Bus",
    "BusClosed",
    "BusStatistics",
    "CallJournal",
    "ChatMessage",
    "Completion",
    "Context",
    "CostReport",
    "DeadLetter",
    "DuplicateActor",
    "Durability",
    "EchoTransport",
    "Envelope",
    "EnvelopeInfo",
    "EventLog",
    "FunctionCall",
    "InvalidSubscription",
    "InvalidTopic",
    "JetStreamLog",
    "JournalEntry",
    "JournalPage",
    "LogFileError",
    "LogReader",
    "LogSummary",
    "LogTruncated",
    "LogUnavailable",
    "MailboxFull",
    "MemoryLog",
    "Message",
    "MessageTooLarge",
    "ModelError",
    "ModelEvent",
    "ModelResponseError",
    "ModelTimeout",
    "ModelUnavailable",
    "Models",
    "ModelsConfig",
    "ModelsConfigError",
    "NoReplyExpected",
    "NoSubscriber",
    "OutputValidationError",
    "Overflow",
    "Permanent",
    "Price",
    "PromptTokensDetails",
    "Provider",
    "ProviderStatistics",
    "Receipt",
    "Record",
    "RecordFilter",
    "RecordPage",
    "Register",
    "Request",
    "Response",
    "SchemaError",
    "Spend",
    "SqliteLog",
    "StartAt",
    "State",
    "StateConflict",
    "StateEntry",
    "StateUpdate",
    "StateView",
    "Stream",
    "StructuredOutput",
    "TaskDelegation",
    "Tool",
    "ToolCall",
    "ToolLoopError",
    "ToolRun",
    "Undecodable",
    "UndecodableRecord",
    "UnknownActor",
    "UnpricedModel",
    "Usage",
    "actor_tool",
    "assistant",
    "message_tag",
    "new_id",
    "system",
    "tool",
    "tool_result",
    "topic_matches",
    "user",
    "validate_pattern",
    "validate_topic",
]


def _fix_module_names() -> None:
    # Show public names as actorbus.X in reprs, tracebacks and docs. Not msgspec
    # Structs: msgspec and typing resolve their (postponed) annotations in the
    # module named by __module__, which must stay the defining one.
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
            continue
        if isinstance(obj, type) or callable(obj):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = __name__


_fix_module_names()
logging.getLogger("actorbus").addHandler(logging.NullHandler())
