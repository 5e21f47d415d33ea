"""Model calls: OpenAI-compatible providers, limits, retries, fallbacks, costs, budgets, tools."""

from ._chat import (
    ChatMessage,
    Completion,
    FunctionCall,
    PromptTokensDetails,
    ToolCall,
    ToolRun,
    Usage,
    assistant,
    estimate_tokens,
    system,
    tool_result,
    user,
)
from ._client import ProviderStatistics
from ._config import ECHO_MODEL, Budgets, ModelsConfig, Provider, StructuredOutput
from ._costs import CostReport, Spend
from ._echo import EchoTransport
from ._events import ModelEvent
from ._loop import CallJournal
from ._models import DEFAULT_MAX_TOKENS, Models, Stream
from ._prices import DEFAULT_PRICES, Price
from ._tools import Asker, Tool, actor_tool, tool

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PRICES",
    "ECHO_MODEL",
    "Asker",
    "Budgets",
    "CallJournal",
    "ChatMessage",
    "Completion",
    "CostReport",
    "EchoTransport",
    "FunctionCall",
    "ModelEvent",
    "Models",
    "ModelsConfig",
    "Price",
    "PromptTokensDetails",
    "Provider",
    "ProviderStatistics",
    "Spend",
    "Stream",
    "StructuredOutput",
    "Tool",
    "ToolCall",
    "ToolRun",
    "Usage",
    "actor_tool",
    "assistant",
    "estimate_tokens",
    "system",
    "tool",
    "tool_result",
    "user",
]
