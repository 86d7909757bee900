"""Turns a ``RoleModelConfig`` into a live provider.

A shared ``ConcurrencyRegistry`` makes roles that point at the same server share its concurrency slots;
``sleep``/``rng``/``now`` are passed through so tests can make retries instant and deterministic.
"""

from __future__ import annotations

import random

from agents.providers.anthropic import AnthropicProvider
from agents.providers.config import ProvidersConfig, RoleModelConfig
from agents.providers.http_provider import HttpChatProvider, SchemaSupport
from agents.providers.openai_compat import OpenAICompatProvider
from agents.providers.pricing import PriceTable
from agents.providers.retry import ConcurrencyRegistry, NowFn, SleepFn


def build_provider(
    cfg: RoleModelConfig,
    *,
    prices: PriceTable | None = None,
    registry: ConcurrencyRegistry | None = None,
    sleep: SleepFn | None = None,
    rng: random.Random | None = None,
    now: NowFn | None = None,
    schema_support: dict[str, SchemaSupport] | None = None,
) -> HttpChatProvider:
    """``schema_support``: shared across the providers of one team, keyed by server and model, so that a
    server's refusal of JSON schemas is remembered by every role that uses it."""
    registry = registry or ConcurrencyRegistry()
    support = None
    if schema_support is not None:
        support = schema_support.setdefault(f"{cfg.endpoint_key}|{cfg.model}", SchemaSupport())
    common = dict(
        base_url=cfg.effective_base_url,
        model=cfg.model,
        api_key=cfg.resolve_api_key,  # a callable: read at each request, never stored
        name=cfg.display_name,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        extra_headers=cfg.extra_headers,
        extra_body=cfg.extra_body,
        policy=cfg.retry_policy(),
        limiter=registry.get(cfg.endpoint_key, cfg.max_concurrency),
        prices=prices,
        price=cfg.price,
        sleep=sleep,
        rng=rng,
        now=now,
        structured_output=cfg.structured_output,
        schema_support=support,
    )
    if cfg.provider == "openai":
        return OpenAICompatProvider(max_tokens_field=cfg.max_tokens_field, schema_dialect=cfg.schema_dialect,
                                    **common)
    if cfg.provider == "anthropic":
        return AnthropicProvider(**common)
    raise ValueError(f"unknown provider kind {cfg.provider!r}")  # unreachable while the Literal holds


def build_role_providers(
    config: ProvidersConfig,
    role: str,
    *,
    registry: ConcurrencyRegistry | None = None,
    sleep: SleepFn | None = None,
    rng: random.Random | None = None,
    now: NowFn | None = None,
) -> list[HttpChatProvider]:
    """All providers of a role's ensemble (one element for a single-model role)."""
    prices = config.price_table()
    registry = registry or ConcurrencyRegistry()
    return [
        build_provider(cfg, prices=prices, registry=registry, sleep=sleep, rng=rng, now=now)
        for cfg in config.for_role(role)
    ]
