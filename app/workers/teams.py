"""Which agent team a worker hands to the engine.

Production builds the team named in the campaign's configuration (:func:`app.campaigns.service.build_team`,
called by ``run_campaign`` when no team is given, so an LLM team gets its campaign id and recorder).
Tests and plugins inject another one, either directly (``WorkerPool(team_factory=...)``) or by import path
(``AGENTIC_SCIML_TEAM_FACTORY=package.module:callable``), which is how a worker in another process gets it.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from app.campaigns.config import CampaignConfig

TeamFactory = Callable[[CampaignConfig], Any]


def load_team_factory(path: str | None) -> TeamFactory | None:
    """``None`` → None (the engine builds the configured team); ``"module:attr"`` → that callable, which
    receives the CampaignConfig."""
    if not path:
        return None
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"team factory {path!r} must look like 'package.module:callable'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"team factory {path!r} cannot be imported: {exc}") from None
    if not callable(factory):
        raise TypeError(f"team factory {path!r} is not callable")
    return factory
