"""A node whose proposals keep repeating evaluated designs is used up like one with as many trained
children: the selectors stop picking it, instead of growing duplicates for the rest of the campaign."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.report import tree_rows
from app.campaigns.service import create_campaign
from tests.campaigns.scripted_team import ScriptedTeam

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


class RepeatingTeam(ScriptedTeam):
    """Every child repeats its parent's design (what a team does when it has nothing new to propose)."""

    async def debate(self, ctx, rounds):
        outcome = await super().debate(ctx, rounds)
        degree = (ctx.parent.design or {}).get("degree", 1)
        outcome.proposal.design = {"degree": degree}
        return outcome


def test_a_node_that_only_yields_duplicates_is_saturated(world) -> None:
    db, store, evaluator, _ = world
    config = CampaignConfig(problem=EXAMPLE, iterations=8, parents=1, smoke_seconds=0, selectors=1,
                            debug_attempts=0, max_children=3)
    campaign_id = create_campaign(db, config)
    summary = asyncio.run(CampaignEngine(db, store, evaluator, RepeatingTeam()).run(campaign_id))
    rows = tree_rows(db, campaign_id)
    skipped = [r for r in rows if r["status"] == "skipped_duplicate"]
    assert [r["status"] for r in rows[1:]] == ["skipped_duplicate"] * 3
    assert summary["status"] == "completed"  # not 8 iterations of duplicates
    # the engine asks again within the iteration when a proposal repeats; after the third the root is used up
    assert {r["iteration"] for r in skipped} == {1}
    assert summary["iterations"] == 1 and summary["evaluations"] == 1 and not summary.get("error")
