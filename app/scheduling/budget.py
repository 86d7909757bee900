"""A batch's shared budget, split between its campaigns before they start.

Each cap of the batch (wall seconds, USD, tokens) is divided in proportion to the campaigns' weights (the
problem entry's weight times the team's). A campaign then runs with the smaller of its own cap and its
share, and the engine's existing stop rules enforce it: wall time between steps (so a campaign can overrun
by at most one step), cost and tokens in the LLM team's ledger. The sum of the shares never exceeds the
batch's cap, so the group as a whole stays within it up to that per-step overrun; the summary report shows
what was really used against the caps.

Wall seconds are *campaign-seconds*: the sum of the campaigns' own running times, which is what the
machines pay for whether the campaigns run one after another or side by side on several workers.
"""

from __future__ import annotations

import math
from typing import Any

from app.campaigns.config import CampaignConfig
from app.scheduling.spec import BatchBudget

CAPS = ("max_wall_seconds", "max_cost_usd", "max_tokens")


def split_budget(budget: BatchBudget, weights: list[float]) -> list[dict[str, Any]]:
    """Each campaign's share of every cap the batch sets (tokens rounded down, so the sum never exceeds)."""
    if not weights:
        return []
    total_weight = math.fsum(weights)
    caps = budget.caps()
    shares: list[dict[str, Any]] = []
    for weight in weights:
        share: dict[str, Any] = {}
        for name, cap in caps.items():
            part = cap * weight / total_weight
            share[name] = int(math.floor(part)) if name == "max_tokens" else part
        shares.append(share)
    return shares


def apply_share(config: CampaignConfig, share: dict[str, Any]) -> CampaignConfig:
    """The campaign's configuration with each cap lowered to its share (never raised above its own)."""
    if not share:
        return config
    updates: dict[str, Any] = {}
    for name, part in share.items():
        own = getattr(config, name)
        updates[name] = part if own is None else min(own, part)
    return CampaignConfig(**{**config.model_dump(), **updates})
