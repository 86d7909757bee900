"""USD prices per million tokens, and the cost of one call.

The built-in table is a *default* snapshot of public list prices for a few well-known hosted models
(checked late 2025); prices change, so deployments should override it from a dict or YAML file.
Models missing from the table (local vLLM/Ollama models, new releases) cost 0 and are flagged so the
UI can say the cost is under-reported instead of silently showing a low number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class ModelPrice(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_per_mtok: float = Field(ge=0.0, description="USD per million input (prompt) tokens.")
    output_per_mtok: float = Field(ge=0.0, description="USD per million output (completion) tokens.")


class CostEstimate(BaseModel):
    cost_usd: float
    price_known: bool
    matched: str | None = Field(default=None, description="Price-table key that matched, if any.")


# Default list prices, USD per million tokens (input, output). Override rather than edit in place.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(input_per_mtok=i, output_per_mtok=o)
    for name, (i, o) in {
        # OpenAI
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o3": (2.00, 8.00),
        "o4-mini": (1.10, 4.40),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
        # Anthropic
        "claude-opus-4": (15.00, 75.00),
        "claude-opus-4-1": (15.00, 75.00),
        "claude-opus-4-5": (5.00, 25.00),
        "claude-sonnet-4": (3.00, 15.00),
        "claude-sonnet-4-5": (3.00, 15.00),
        "claude-3-5-haiku": (0.80, 4.00),
        "claude-haiku-4-5": (1.00, 5.00),
    }.items()
}

# A key matches a model id exactly or as a prefix followed by a version/date suffix, so that
# "gpt-4o-2024-08-06" prices as "gpt-4o" while "gpt-4o-mini" keeps its own entry (longest key wins).
_SUFFIX_BOUNDARY = re.compile(r"[-:@.]")


class PriceTable:
    """Looks up a model's price: exact id, then longest key that is a prefix at a version boundary.

    Router-style ids such as ``openai/gpt-4o`` are also tried without their vendor part.
    """

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None, *, include_defaults: bool = True):
        self._prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES) if include_defaults else {}
        if prices:
            self._prices.update(prices)

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, include_defaults: bool = True) -> PriceTable:
        """Accepts ``{model: {input_per_mtok, output_per_mtok}}`` (or ``input``/``output`` for short),
        optionally nested under a top-level ``models`` key."""
        if "models" in data and isinstance(data["models"], Mapping):
            data = data["models"]
        prices: dict[str, ModelPrice] = {}
        for name, entry in data.items():
            if isinstance(entry, ModelPrice):
                prices[str(name)] = entry
                continue
            if not isinstance(entry, Mapping):
                raise ValueError(f"price entry for {name!r} must be a mapping, got {type(entry).__name__}")
            normalised = {
                "input_per_mtok": entry.get("input_per_mtok", entry.get("input")),
                "output_per_mtok": entry.get("output_per_mtok", entry.get("output")),
            }
            prices[str(name)] = ModelPrice.model_validate(normalised)
        return cls(prices, include_defaults=include_defaults)

    @classmethod
    def from_yaml(cls, path: str | Path, *, include_defaults: bool = True) -> PriceTable:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping of model -> prices")
        return cls.from_mapping(data, include_defaults=include_defaults)

    def with_overrides(self, prices: Mapping[str, ModelPrice]) -> PriceTable:
        table = PriceTable(self._prices, include_defaults=False)
        table._prices.update(prices)
        return table

    # -- lookup ------------------------------------------------------------------------------------

    def lookup(self, model: str) -> tuple[str, ModelPrice] | None:
        for candidate in _candidates(model):
            if candidate in self._prices:
                return candidate, self._prices[candidate]
            best: str | None = None
            for key in self._prices:
                if (
                    candidate.startswith(key)
                    and _SUFFIX_BOUNDARY.match(candidate, len(key))
                    and (best is None or len(key) > len(best))
                ):
                    best = key
            if best is not None:
                return best, self._prices[best]
        return None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> CostEstimate:
        found = self.lookup(model)
        if found is None:
            return CostEstimate(cost_usd=0.0, price_known=False)
        key, price = found
        usd = (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000
        return CostEstimate(cost_usd=usd, price_known=True, matched=key)

    def __contains__(self, model: str) -> bool:
        return self.lookup(model) is not None


def _candidates(model: str) -> list[str]:
    model = model.strip()
    out = [model, model.lower()]
    if "/" in model:
        tail = model.rsplit("/", 1)[1]
        out += [tail, tail.lower()]
    return list(dict.fromkeys(out))


def cost_for(
    table: PriceTable,
    models: list[str | None],
    input_tokens: int,
    output_tokens: int,
    override: ModelPrice | None = None,
) -> CostEstimate:
    """Cost of one call: an explicit per-config price wins, then the first model id the table knows."""
    if override is not None:
        usd = (input_tokens * override.input_per_mtok + output_tokens * override.output_per_mtok) / 1e6
        return CostEstimate(cost_usd=usd, price_known=True, matched="<override>")
    for m in models:
        if m:
            est = table.cost(m, input_tokens, output_tokens)
            if est.price_known:
                return est
    return CostEstimate(cost_usd=0.0, price_known=False)
