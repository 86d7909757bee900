"""Firing schedules against a real database (both back ends) with an explicit clock, and closing batches."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import repository as repo
from app.db.models import Batch, BatchCampaign, Campaign, Schedule, ScheduleFiring, WorkItem
from app.db.session import Database
from app.scheduling import store
from app.scheduling.batches import Finalizer, report_path
from app.scheduling.cron import CronSchedule
from app.scheduling.firing import FiringContext, fire_due
from app.scheduling.spec import parse_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PROBLEM = REPO / "problems" / "examples" / "damped_oscillator"
T0 = datetime(2026, 6, 1, 12, 20, tzinfo=timezone.utc)
H = [datetime(2026, 6, 1, 13 + i, 0, tzinfo=timezone.utc) for i in range(10)]  # the hourly slots after T0


def batch_spec(problem: str = str(EXAMPLE_PROBLEM), teams: int = 1) -> dict:
    return {"name": "nightly", "problems": [problem],
            "teams": [{"name": f"t{i}", "iterations": 1, "memory": "none", "smoke_seconds": 0} for i in range(teams)],
            "budget": {"max_wall_seconds": 600}}


def add_schedule(db: Database, name: str, *, cron: str = "0 * * * *", missed: str = "skip", overlap: str = "skip",
                 spec: dict | None = None) -> int:
    with db.session_scope() as s:
        return store.create_schedule(s, name=name, cron=CronSchedule(cron, "UTC"),
                                     spec=parse_spec(spec or batch_spec()), source="cli", owner_id=None,
                                     missed=missed, overlap=overlap, now=T0).id


CTX = FiringContext(instance="test", grace_seconds=300)


def firing_slots(db: Database, schedule_id: int) -> list[datetime]:
    with db.session_scope(readonly=True) as s:
        return list(s.scalars(select(ScheduleFiring.slot).where(ScheduleFiring.schedule_id == schedule_id)
                              .order_by(ScheduleFiring.slot)))


def next_run(db: Database, schedule_id: int) -> datetime:
    with db.session_scope(readonly=True) as s:
        return s.get(Schedule, schedule_id).next_run_at


def test_a_due_schedule_fires_once_and_queues_its_campaigns(db):
    sid = add_schedule(db, "hourly", spec=batch_spec(teams=2))
    assert next_run(db, sid) == H[0]
    assert fire_due(db, CTX, now=H[0] - timedelta(seconds=1)) == []  # not yet due
    [outcome] = fire_due(db, CTX, now=H[0] + timedelta(seconds=3))
    assert outcome.status == "fired" and outcome.slot == H[0] and outcome.missed_slots == 0
    first_batch = outcome.batch_id
    assert fire_due(db, CTX, now=H[0] + timedelta(seconds=4)) == []  # the same slot never fires twice
    assert next_run(db, sid) == H[1]
    with db.session_scope(readonly=True) as s:
        batch = s.get(Batch, outcome.batch_id)
        assert (batch.schedule_id, batch.slot, batch.status, batch.run_mode) == (sid, H[0], "running", "queue")
        links = s.scalars(select(BatchCampaign).where(BatchCampaign.batch_id == batch.id)).all()
        assert [link.team for link in links] == ["t0", "t1"]
        items = s.scalars(select(WorkItem).where(WorkItem.campaign_id.in_([link.campaign_id for link in links]))).all()
        assert sorted((i.kind, i.status) for i in items) == [("campaign.run", "queued")] * 2
        # the batch budget was split between the two campaigns
        walls = [s.get(Campaign, link.campaign_id).config["max_wall_seconds"] for link in links]
        assert walls == [300.0, 300.0]
    [outcome] = fire_due(db, CTX, now=H[1])  # overlap "skip": the first batch still runs
    assert outcome.status == "overlapped" and "still running" in outcome.error
    with db.session_scope(readonly=True) as s:
        last = store.last_runs(s, [sid])[sid]  # the running batch, not the slot it made skip
    assert (last.status, last.slot, last.batch_id) == ("running", H[0], first_batch)


def test_missed_runs_after_downtime_skip_or_run_once(db):
    skip = add_schedule(db, "skip", missed="skip")
    once = add_schedule(db, "once", missed="run_once")
    down_until = H[5] + timedelta(minutes=30)  # no scheduler from before H[0] until now: six slots passed
    outcomes = {o.schedule_id: o for o in fire_due(db, CTX, now=down_until)}
    assert outcomes[skip].status == "missed" and outcomes[skip].batch_id is None
    assert outcomes[once].status == "fired" and outcomes[once].batch_id is not None
    for sid in (skip, once):
        assert outcomes[sid].slot == H[5] and outcomes[sid].missed_slots == 5
        assert next_run(db, sid) == H[6]
        assert len(firing_slots(db, sid)) == 1
    assert "missed" in outcomes[skip].error and "5 earlier slot(s) missed, run once" in outcomes[once].error

    # a slot a little late (within the grace) still runs under "skip"
    [late] = [o for o in fire_due(db, CTX, now=H[6] + timedelta(seconds=200)) if o.schedule_id == skip]
    assert late.status == "fired" and late.missed_slots == 0


def test_skip_runs_the_latest_slot_within_the_grace_and_drops_the_older_ones(db):
    sid = add_schedule(db, "grace", missed="skip", overlap="allow")
    [outcome] = fire_due(db, CTX, now=H[2] + timedelta(seconds=100))
    assert (outcome.status, outcome.slot, outcome.missed_slots) == ("fired", H[2], 2)
    assert "2 earlier slot(s) missed, dropped" in outcome.error
    assert firing_slots(db, sid) == [H[2]] and next_run(db, sid) == H[3]


def test_overlap_allow_fires_beside_a_running_batch(db):
    sid = add_schedule(db, "allow", overlap="allow")
    first = fire_due(db, CTX, now=H[0])[0]
    second = fire_due(db, CTX, now=H[1])[0]
    assert first.status == second.status == "fired" and first.batch_id != second.batch_id
    assert firing_slots(db, sid) == [H[0], H[1]]


def test_paused_schedules_do_not_fire_and_resume_from_now(db):
    sid = add_schedule(db, "p")
    with db.session_scope() as s:
        store.set_paused(s, s.get(Schedule, sid), True)
    assert fire_due(db, CTX, now=H[3]) == []
    with db.session_scope() as s:
        store.set_paused(s, s.get(Schedule, sid), False, now=H[3] + timedelta(minutes=1))
    assert next_run(db, sid) == H[4]  # the slots that passed while paused are not caught up
    assert [o.slot for o in fire_due(db, CTX, now=H[4])] == [H[4]]


def test_a_batch_that_no_longer_plans_is_recorded_as_failed_and_the_schedule_moves_on(db, tmp_path):
    problem = tmp_path / "oscillator"
    shutil.copytree(EXAMPLE_PROBLEM, problem)
    sid = add_schedule(db, "gone", spec=batch_spec(str(problem)))
    shutil.rmtree(problem)
    [outcome] = fire_due(db, CTX, now=H[0])
    assert outcome.status == "failed" and "problems[0].problem" in outcome.error and outcome.batch_id is None
    assert next_run(db, sid) == H[1]
    with db.session_scope(readonly=True) as s:
        assert s.scalar(select(Batch.id)) is None and s.scalar(select(Campaign.id)) is None
        last = store.last_runs(s, [sid])[sid]
    assert last.status == "failed" and "cannot run" in last.summary


def _campaign_ids(db: Database, batch_id: str) -> list[str]:
    """The batch's campaigns in plan order."""
    with db.session_scope(readonly=True) as s:
        return [link.campaign_id for link in s.scalars(select(BatchCampaign).where(BatchCampaign.batch_id == batch_id)
                                                       .order_by(BatchCampaign.position))]


def _finish_campaign(db: Database, campaign_id: str, root: float, champion: float | None, status: str = "completed",
                     cost: float = 0.0, reeval: dict | None = None) -> None:
    with db.session_scope() as s:
        node = repo.add_node(s, campaign_id, code="def solve(task): pass", status="succeeded")
        repo.record_node_score(s, node.id, root)
        if champion is not None:
            child = repo.add_node(s, campaign_id, parent_id=node.id, code="def solve(task): return 1",
                                  status="succeeded")
            repo.record_node_score(s, child.id, champion, metrics={"reeval": reeval} if reeval else None)
        repo.add_campaign_usage(s, campaign_id, cost_usd=cost, tokens_in=10, tokens_out=5, evaluations=2)
        repo.set_campaign_status(s, campaign_id, status, error="boom" if status == "failed" else None)


def test_a_batch_closes_with_its_summary_and_report_once_every_campaign_finished(db, tmp_path):
    sid = add_schedule(db, "report", spec=batch_spec(teams=2))
    batch_id = fire_due(db, CTX, now=H[0])[0].batch_id
    finalizer = Finalizer(db, tmp_path, "http://api.example")
    first, second = _campaign_ids(db, batch_id)
    _finish_campaign(db, first, root=0.4, champion=0.1, cost=0.25)
    assert finalizer.finalize_ready() == 0  # the second campaign is still queued
    assert finalizer.finalize(batch_id) is None
    _finish_campaign(db, second, root=0.3, champion=None, status="failed")
    assert finalizer.finalize_ready() == 1
    assert finalizer.finalize_ready() == 0  # closed exactly once

    with db.session_scope(readonly=True) as s:
        batch = s.get(Batch, batch_id)
        summary, report, status, finished_at = batch.summary, batch.report, batch.status, batch.finished_at
        last = store.last_runs(s, [sid])[sid]
    assert status == "completed" and finished_at is not None
    rows = summary["rows"]
    assert [(r["team"], r["status"]) for r in rows] == [("t0", "completed"), ("t1", "failed")]
    # the second campaign's root is its own champion (nothing beat it): factor 1
    assert rows[0]["improvement_factor"] == pytest.approx(4.0) and rows[1]["improvement_factor"] == pytest.approx(1.0)
    assert rows[0]["link"] == f"http://api.example/v1/campaigns/{first}"
    totals = summary["totals"]
    assert totals["cost_usd"] == pytest.approx(0.25) and totals["tokens"] == 30
    assert totals["best_improvement"] == pytest.approx(4.0) and totals["by_status"] == {"completed": 1, "failed": 1}
    assert totals["geomean_improvement"] == pytest.approx(2.0)
    assert totals["budget"] == {"max_wall_seconds": 600.0}
    assert f"[{first}](http://api.example/v1/campaigns/{first})" in report and "4.00×" in report and "boom" in report
    assert report_path(tmp_path, batch_id).read_text() == report
    assert last.status == "completed" and last.summary.startswith("1/2 campaigns completed, 1 failed")

    # the next slot runs again now that the previous batch is done
    assert fire_due(db, CTX, now=H[1])[0].status == "fired"


def test_the_batch_report_shows_mean_and_spread_where_the_champion_ran_on_more_seeds(db, tmp_path):
    add_schedule(db, "seeds", spec=batch_spec(teams=2))
    batch_id = fire_due(db, CTX, now=H[0])[0].batch_id
    first, second = _campaign_ids(db, batch_id)
    reeval = {"scores_by_seed": {"0": 0.1, "1": 0.3, "2": 0.2}, "mean": 0.2, "std": 0.0816, "failed_seeds": 0}
    _finish_campaign(db, first, root=0.4, champion=0.1, reeval=reeval)
    _finish_campaign(db, second, root=0.4, champion=0.2)
    assert Finalizer(db, tmp_path).finalize_ready() == 1
    with db.session_scope(readonly=True) as s:
        batch = s.get(Batch, batch_id)
        rows, report = batch.summary["rows"], batch.report
    assert (rows[0]["champion_seeds"], rows[0]["champion_mean"], rows[0]["champion_spread"]) == (3, 0.2, 0.0816)
    assert (rows[1]["champion_seeds"], rows[1]["champion_mean"]) == (1, None)
    assert "1.000e-01; mean 2.000e-01 ± 8.2e-02 over 3 seeds |" in report
    assert report.count("over 3 seeds") == 1


def test_cancelling_a_batch_cancels_its_campaigns_and_closes_it(db, tmp_path):
    add_schedule(db, "cancel", spec=batch_spec(teams=2))
    batch_id = fire_due(db, CTX, now=H[0])[0].batch_id
    finalizer = Finalizer(db, tmp_path)
    assert finalizer.cancel(batch_id, by="me") == 2
    with db.session_scope(readonly=True) as s:
        status = s.get(Batch, batch_id).status
        statuses = {c.status for c in s.scalars(select(Campaign))}
        live = s.scalars(select(WorkItem.id).where(WorkItem.status.in_(["queued", "leased"]))).all()
    assert status == "cancelled" and statuses == {"cancelled"} and live == []
    assert finalizer.cancel(batch_id) == 0


def test_a_cancelled_batch_closes_as_cancelled_whoever_closes_it(db, tmp_path):
    """The scheduler loop may close the batch between the cancel's commit and the cancelling request's own
    close (a race CI hit): the batch must still end 'cancelled', not 'completed'."""
    add_schedule(db, "cancel-race", spec=batch_spec(teams=2))
    batch_id = fire_due(db, CTX, now=H[0])[0].batch_id
    first, second = _campaign_ids(db, batch_id)
    with db.session_scope() as s:
        repo.set_campaign_status(s, first, "running")  # its worker sees the request later

    class LosesTheRace(Finalizer):
        def finalize(self, batch_id):  # the cancelling request never gets to close the batch itself
            return None

    assert LosesTheRace(db, tmp_path).cancel(batch_id, by="me") == 2
    loop = Finalizer(db, tmp_path)
    assert loop.finalize_ready() == 1 and loop.finalize_ready() == 0
    with db.session_scope(readonly=True) as s:
        batch = s.get(Batch, batch_id)
        status, summary, requested = batch.status, batch.summary, batch.cancel_requested_at
    assert status == "cancelled" and summary["status"] == "cancelled" and requested is not None
    assert {r["status"] for r in summary["rows"]} == {"cancelled"}
    assert {first, second} == {r["campaign_id"] for r in summary["rows"]}


def test_an_expression_that_runs_out_fires_its_last_slot_then_never_again(db):
    sid = add_schedule(db, "once", cron="0 0 1 1 * 0 2027")  # croniter's year field: 2027-01-01 only
    last = datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert next_run(db, sid) == last
    [outcome] = fire_due(db, CTX, now=last)
    assert outcome.status == "fired" and outcome.slot == last
    assert next_run(db, sid) is None
    assert fire_due(db, CTX, now=last + timedelta(days=400)) == []
    with db.session_scope() as s:
        schedule = s.get(Schedule, sid)
        store.set_paused(s, schedule, True)
        store.set_paused(s, schedule, False, now=last + timedelta(days=1))
    assert next_run(db, sid) is None


def test_a_slot_over_the_active_campaign_limits_is_recorded_as_failed_not_started(db):
    """Schedules obey the limits `POST /v1/batches` applies: per owner and service-wide."""
    with db.session_scope() as s:
        owner = repo.create_user(s, "ann").id
        sid = store.create_schedule(s, name="limited", cron=CronSchedule("0 * * * *", "UTC"),
                                    spec=parse_spec(batch_spec(teams=2)), source="cli", owner_id=owner,
                                    overlap="allow", now=T0).id

    [refused] = fire_due(db, FiringContext(instance="t", max_active_campaigns_per_user=1), now=H[0])
    assert refused.status == "failed" and refused.batch_id is None
    assert "adds 2 campaigns to the 0 its owner" in refused.error and "per-user limit 1" in refused.error
    limits = FiringContext(instance="t", max_active_campaigns=3, max_active_campaigns_per_user=2)
    [fired] = fire_due(db, limits, now=H[1])
    assert fired.status == "fired"
    [again] = fire_due(db, limits, now=H[2])  # the first batch's two campaigns are still queued
    assert again.status == "failed" and "to the 2 the service already runs or queues (limit 3)" in again.error
    [mine] = fire_due(db, FiringContext(instance="t", max_active_campaigns_per_user=2), now=H[3])
    assert mine.status == "failed" and "per-user limit 2" in mine.error
    with db.session_scope(readonly=True) as s:
        assert s.scalar(select(func.count(Batch.id))) == 1
        assert [f.status for f in s.scalars(select(ScheduleFiring).where(ScheduleFiring.schedule_id == sid)
                                            .order_by(ScheduleFiring.slot))] == ["failed", "fired", "failed",
                                                                                 "failed"]
