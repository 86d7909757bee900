"""The offline team in the engine: every debate's outcome is stored with its child and counted in the
summary, and the knob sampler sees earlier iterations' children only (so a resume sees what a run saw)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.offline_team import OfflineTeam
from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.service import create_campaign
from app.db import repository as repo

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


class WatchedTeam(OfflineTeam):
    """The real offline team, noting what each debate was shown."""

    def __init__(self) -> None:
        self.shown: list[tuple[int, list[tuple[int, int]]]] = []

    async def debate(self, ctx, rounds):
        self.shown.append((ctx.iteration, [(v.node_id, v.iteration) for v in ctx.history]))
        assert ctx.knob_sampler == "tpe"
        return await super().debate(ctx, rounds)


def test_debates_are_recorded_counted_and_see_only_earlier_iterations(world) -> None:
    db, store, evaluator, _ = world
    config = CampaignConfig(problem=EXAMPLE, iterations=2, parents=2, smoke_seconds=0, candidate_seconds=3,
                            debug_attempts=0, selectors=1)
    campaign_id = create_campaign(db, config)
    team = WatchedTeam()
    summary = asyncio.run(CampaignEngine(db, store, evaluator, team).run(campaign_id))
    assert summary["status"] == "completed"
    with db.session_scope(readonly=True) as s:
        children = [n for n in repo.list_nodes(s, campaign_id) if n.parent_id is not None]
        records = [(n.proposal or {}).get("debate") for n in children]
        tunings = [((n.proposal or {}).get("design") or {}).get("_tuning") for n in children]
    debated = [r for r in records if r]
    assert debated and all(set(r) >= {"opening", "final", "verdict", "changed", "objections"} for r in debated)
    assert all(t is not None and t["sampler"] == "tpe" for t, r in zip(tunings, records) if r)
    debates = summary["debates"]
    assert debates["held"] == len(debated)
    assert debates["changed_plan"] == sum(bool(r["changed"]) for r in debated)
    assert sum(debates["verdicts"].values()) == len(debated)
    for iteration, history in team.shown:
        assert all(seen < iteration for _, seen in history)
    assert any(history for iteration, history in team.shown if iteration == 2)
