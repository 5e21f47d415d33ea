"""Model calls: OpenAI-compatible providers, limits, retries, fallbacks, costs, budgets."""

from ._chat import (
    ChatMessage,
    Completion,
    PromptTokensDetails,
    Usage,
    assistant,
    estimate_tokens,
    system,
    user,
)
from ._client import ProviderStatistics
from ._config import ECHO_MODEL, Budgets, ModelsConfig, Provider
from ._costs import CostReport, Spend
from ._echo import EchoTransport
from ._models import DEFAULT_MAX_TOKENS, CompletionJournal, Models, Stream
from ._prices import DEFAULT_PRICES, Price

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PRICES",
    "ECHO_MODEL",
    "Budgets",
    "ChatMessage",
    "Completion",
    "CompletionJournal",
    "CostReport",
    "EchoTransport",
    "Models",
    "ModelsConfig",
    "Price",
    "PromptTokensDetails",
    "Provider",
    "ProviderStatistics",
    "Spend",
    "Stream",
    "Usage",
    "assistant",
    "estimate_tokens",
    "system",
    "user",
]
