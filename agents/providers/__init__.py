"""LLM provider layer: OpenAI-compatible and Anthropic protocols over httpx, retries, pricing, budgets."""

from agents.providers.accounting import BudgetCaps, UsageLedger, UsageRecord, UsageTotals, complete_metered
from agents.providers.anthropic import AnthropicProvider
from agents.providers.base import (
    BudgetExceeded,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Provider,
    ProviderConfigError,
    ProviderError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
    ResponseSchema,
)
from agents.providers.config import ProvidersConfig, RoleModelConfig
from agents.providers.factory import build_provider, build_role_providers
from agents.providers.openai_compat import OpenAICompatProvider
from agents.providers.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from agents.providers.retry import ConcurrencyLimiter, ConcurrencyRegistry, RetryPolicy

__all__ = [
    "AnthropicProvider",
    "BudgetCaps",
    "BudgetExceeded",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ConcurrencyLimiter",
    "ConcurrencyRegistry",
    "DEFAULT_PRICES",
    "ModelPrice",
    "OpenAICompatProvider",
    "PriceTable",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "ProviderRequestError",
    "ProviderResponseError",
    "ProviderUnavailable",
    "ProvidersConfig",
    "ResponseSchema",
    "RetryPolicy",
    "RoleModelConfig",
    "UsageLedger",
    "UsageRecord",
    "UsageTotals",
    "build_provider",
    "build_role_providers",
    "complete_metered",
]
