"""What a campaign is asked to do; stored with the campaign so that a resume continues the same plan."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


def extra_seeds(seed: int, reeval_seeds: list[int]) -> list[int]:
    """The re-evaluation seeds other than the campaign's own, each once, in the order given."""
    return list(dict.fromkeys(x for x in reeval_seeds if x != seed))


class CampaignConfig(BaseModel):
    model_config = {"extra": "forbid"}

    problem: str = Field(description="built-in problem name or user problem path")
    team: Literal["offline", "llm"] = "offline"
    providers_file: str | None = Field(None, description="providers YAML for the LLM team (keys by env var name)")
    iterations: int = Field(4, ge=0, le=1000, description="iterations after the root")
    parents: int = Field(2, ge=1, le=64, description="K: parents mutated per iteration")
    explore_iterations: int = Field(1, ge=0, description="early iterations that mutate every scored node")
    max_children: int = Field(4, ge=1, description="a node with this many children is no longer eligible")
    selectors: int = Field(3, ge=1, le=15, description="ensemble size for parent votes")
    debate_rounds: int = Field(4, ge=0, le=12, description="proposer/critic rounds; 0 = the proposer alone")
    knob_sampler: Literal["tpe", "fixed"] = Field(
        "tpe", description="numbers of a move: Optuna TPE over this campaign's scored nodes, or the move's rule")
    debug_attempts: int = Field(2, ge=0, le=10)
    novelty_retries: int = Field(2, ge=0, le=10, description="new proposals asked for when one duplicates a node")
    concurrency: int = Field(1, ge=1, le=64, description="children evaluated in parallel")
    seed: int = 0
    candidate_seconds: float | None = Field(None, gt=0, le=86400, description="override the problem's wall budget")
    candidate_steps: int | None = Field(
        None, ge=1, le=100_000_000, description="a step budget: candidates train this many optimiser steps, so "
        "scores do not move with the machine's load (the wall budget stays the cap); overrides the problem's")
    smoke_seconds: float = Field(3.0, ge=0, le=600, description="cascade: short run before the full budget; 0 disables")
    target_score: float | None = Field(None, gt=0)
    max_wall_seconds: float | None = Field(None, gt=0)
    max_cost_usd: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0, description="LLM token cap for the whole campaign")
    reeval_seeds: list[int] = Field(default_factory=list, description="extra seeds to re-run the champion with")
    champion_by: Literal["score", "seed_mean"] = Field(
        "score", description="score: the best single-seed score wins; seed_mean: the best few are re-run on "
        "reeval_seeds and the best mean over all seeds wins")
    reeval_top: int = Field(3, ge=1, le=16, description="with champion_by=seed_mean: how many of the best "
                            "single-seed nodes are re-run")
    memory: Literal["full", "none", "random"] = "full"
    allow_weak_isolation: bool = Field(
        False, description="run even if the sandbox is weaker than bubblewrap (unshare or none: candidates can "
        "read host files); such scores are marked weak_isolation")

    @model_validator(mode="after")
    def _seed_mean_needs_seeds(self) -> "CampaignConfig":
        if self.champion_by == "seed_mean" and not extra_seeds(self.seed, self.reeval_seeds):
            raise ValueError("champion_by 'seed_mean' needs reeval_seeds other than the campaign's seed")
        return self

    def candidate_budget(self) -> dict[str, float | int] | None:
        """The overrides of the problem's budget this campaign's candidates get (None: the problem's own)."""
        budget: dict[str, float | int] = {}
        if self.candidate_seconds:
            budget["wall_seconds"] = self.candidate_seconds
        if self.candidate_steps:
            budget["max_steps"] = self.candidate_steps
        return budget or None

    @model_validator(mode="after")
    def _llm_needs_providers(self) -> "CampaignConfig":
        if self.team == "llm" and not self.providers_file:
            raise ValueError("team 'llm' needs providers_file (a providers YAML; see agents/llm/README.md)")
        return self
