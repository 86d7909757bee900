"""The budget a campaign's candidates run under, and what a run used of it.

Two units exist. A wall-clock budget is what a user feels, but a candidate that trains "until the time is
up" trains fewer steps on a busy machine, so its score moves with the load. A step budget
(``max_steps``) fixes the number of optimiser steps instead: the same code and seed give the same score
on any load, which is what comparisons between runs and machines need; the wall budget then stays only
as the cap the runner enforces.
"""

from __future__ import annotations

from typing import Any

from app.campaigns.config import CampaignConfig
from sandbox.evaluate import EvaluationResult

SMOKE_STEPS = 10
# Under a step budget the smoke run must not fail for being slow (that would make the outcome depend on
# the load again), so its wall cap is a share of the full one rather than the few seconds of a timed smoke.
SMOKE_WALL_SHARE = 0.25


def step_budget(config: CampaignConfig, problem: Any) -> int | None:
    """The campaign's step budget, else the problem's, else None (a wall-clock budget)."""
    return config.candidate_steps or getattr(problem.spec.budget, "max_steps", None)


def smoke_budget(config: CampaignConfig, problem: Any) -> dict[str, Any]:
    """The short run before the full one: a few seconds, or a few steps under a step budget."""
    steps = step_budget(config, problem)
    if not steps:
        return {"wall_seconds": config.smoke_seconds}
    wall = float(config.candidate_seconds or problem.spec.budget.wall_seconds)
    return {"max_steps": min(int(steps), SMOKE_STEPS), "wall_seconds": max(config.smoke_seconds, SMOKE_WALL_SHARE * wall)}


def run_usage(result: EvaluationResult) -> dict[str, Any]:
    """What one evaluation used, stored on its node: steps (counted inside the candidate, so informational)
    against the step budget, and wall and CPU seconds measured by the runner."""
    return {
        "steps": result.steps,
        "step_budget": (result.budget or {}).get("max_steps"),
        "wall_budget_s": (result.budget or {}).get("wall_seconds"),
        "wall_s": result.wall_seconds,
        "import_s": result.import_seconds,
        "solve_s": result.solve_seconds,
        "cpu_s": result.cpu_seconds,
        "max_rss_mb": result.max_rss_mb,
    }
