"""A fault in a team role costs the smallest unit: the child, the ballot, the analysis or the repair it
happened in; the campaign goes on, completes, and reports no stale error (real sandbox, real database)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.report import tree_rows
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.events import list_events
from tests.campaigns.scripted_team import ScriptedTeam

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


class FaultyTeam(ScriptedTeam):
    """The scripted team with a bug in every role but the root writer."""

    def __init__(self) -> None:
        super().__init__()
        self.debates = 0
        self.analyses = 0

    async def debate(self, ctx, rounds):
        self.debates += 1
        if self.debates == 2:
            reasons: list[str] = []
            return reasons[0]  # the IndexError a real offline-team bug raised
        return await super().debate(ctx, rounds)

    async def debug(self, ctx, code, failure, attempt):
        raise ZeroDivisionError("debugger bug")

    async def analyze_result(self, problem, node, logs, parent):
        self.analyses += 1
        if self.analyses == 2:
            raise KeyError("loss")
        return await super().analyze_result(problem, node, logs, parent)

    async def vote(self, candidates, k, selector, seed):
        if selector == 1:
            raise ValueError("selector bug")
        return await super().vote(candidates, k, selector, seed)


def test_role_faults_cost_one_child_one_ballot_one_analysis(world):
    db, store, evaluator, _ = world
    config = CampaignConfig(problem=EXAMPLE, iterations=3, parents=2, smoke_seconds=0.5, selectors=3,
                            debug_attempts=1, explore_iterations=1)
    campaign_id = create_campaign(db, config)
    summary = asyncio.run(CampaignEngine(db, store, evaluator, FaultyTeam()).run(campaign_id))
    assert summary["status"] == "completed" and summary["error"] is None
    assert summary["iterations"] == 3 and summary["champion_score"] < summary["root_score"]

    rows = tree_rows(db, campaign_id)
    unproduced = [r for r in rows if r["status"] == "failed" and "no runnable candidate" in (r["error"] or "")]
    assert len(unproduced) == 1
    assert "IndexError" in unproduced[0]["error"] and "Traceback" in unproduced[0]["error"]
    assert "reasons[0]" in unproduced[0]["error"]  # the line that raised, for whoever fixes the role
    assert sum(r["status"] == "succeeded" for r in rows) >= 3  # the siblings and later iterations went on

    with db.session_scope(readonly=True) as s:
        faults = [e.payload for e in list_events(s, campaign_id, types=["role.failed"], limit=1000)]
        nodes = repo.list_nodes(s, campaign_id)
        attempts = [a.diagnosis for n in nodes for a in n.attempts]
        analyses = [n.analysis for n in nodes if n.analysis]
    roles = {f["role"] for f in faults}
    assert {"selector", "result_analyst", "debugger"} <= roles, roles
    assert all("Traceback" in f["traceback"] for f in faults)
    assert any("the debugger itself failed: ZeroDivisionError" in (a or "") for a in attempts)
    assert any("the result analysis failed: KeyError" in a for a in analyses)


def test_a_completed_resume_clears_the_error_of_the_run_that_stopped(world):
    db, store, evaluator, _ = world
    campaign_id = create_campaign(db, CampaignConfig(problem=EXAMPLE, iterations=1, parents=1, smoke_seconds=0.5,
                                                     selectors=1))
    with db.session_scope() as s:
        repo.set_campaign_status(s, campaign_id, "running")
        repo.set_campaign_status(s, campaign_id, "paused", error="LLM provider unavailable, campaign paused")
    summary = asyncio.run(CampaignEngine(db, store, evaluator, ScriptedTeam()).run(campaign_id))
    assert summary["status"] == "completed" and summary["error"] is None
