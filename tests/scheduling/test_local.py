"""A batch run in this process (what ``agentic-sciml batch run`` does), with the scripted team and in-process
evaluation so that it takes seconds: campaigns in order, the summary at the end, interruption and resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlalchemy import select

from app.campaigns.service import Services
from app.db.artifacts import ArtifactStore
from app.db.models import WorkItem
from app.db.session import Database
from app.scheduling.batches import report_path
from app.scheduling.local import run_local_batch, start_local_batch
from app.scheduling.plan import PlanRules, plan_batch
from app.scheduling.spec import parse_spec
from app.settings import Settings
from tests.api.fakes import InlineEvaluator, scripted_team_with

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PROBLEM = REPO / "problems" / "examples" / "damped_oscillator"


def services_for(url: str, data_dir: Path) -> Services:
    return Services(settings=Settings(data_dir=data_dir, DATABASE_URL=url), db=Database(url),
                    store=ArtifactStore(data_dir / "artifacts"), evaluator=InlineEvaluator(data_dir / "cache"))


def test_local_batch_runs_each_campaign_then_reports(db_url, tmp_path):
    spec = parse_spec({"name": "local", "problems": [str(EXAMPLE_PROBLEM)],
                       "teams": [{"name": "one", "iterations": 1}, {"name": "two", "iterations": 2}],
                       "defaults": {"smoke_seconds": 0, "memory": "none", "parents": 1},
                       "budget": {"max_wall_seconds": 120}})
    with services_for(db_url, tmp_path / "data") as services:
        runs = plan_batch(spec, PlanRules.trusted())
        batch_id = start_local_batch(services, spec, runs)

        interrupt_first = {"done": False}

        def hook(engine):  # a Ctrl-C at the very start of the first campaign
            if not interrupt_first["done"]:
                interrupt_first["done"] = True
                engine.cancel.set()

        first = run_local_batch(services, batch_id, team_factory=scripted_team_with(0.0), engine_hook=hook)
        assert first.interrupted and first.summary.status == "running" and not first.summary.final
        assert [r.status for r in first.summary.rows] == ["paused", "created"]

        announced = []
        outcome = run_local_batch(services, batch_id, team_factory=scripted_team_with(0.0),
                                  on_campaign=lambda i, n, cid: announced.append((i, n, cid)))
        with services.db.session_scope(readonly=True) as s:
            queued = s.scalars(select(WorkItem.id).where(WorkItem.kind == "campaign.run")).all()
    summary = outcome.summary
    assert not outcome.interrupted and outcome.errors == {}
    assert [(i, n) for i, n, _ in announced] == [(0, 2), (1, 2)]
    assert summary.status == "completed" and summary.final
    assert [(r.team, r.status, r.iterations) for r in summary.rows] == [("one", "completed", 1),
                                                                       ("two", "completed", 2)]
    assert all(r.improvement_factor and r.improvement_factor > 1 for r in summary.rows)
    assert summary.totals.wall_seconds == pytest.approx(sum(r.wall_seconds for r in summary.rows))
    assert summary.totals.wall_seconds > 0
    assert queued == []  # a local batch never reaches the workers' queue
    assert report_path(tmp_path / "data", batch_id).read_text().startswith("# Batch local")
