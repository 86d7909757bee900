"""A worker that stalled past its lease (frozen VM, long pause) must not write once another took over."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.events import list_events
from app.db.session import Database, upgrade_database
from app.db.types import utcnow
from sandbox.evaluate import Evaluator
from tests.campaigns.scripted_team import ScriptedTeam

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_engine_whose_lease_was_taken_over_commits_nothing_more(tmp_path, backend, request):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    upgrade_database(url)
    db = Database(url)
    campaign_id = create_campaign(db, CampaignConfig(problem=EXAMPLE, iterations=2, parents=2, smoke_seconds=0))
    with db.session_scope() as s:
        item_id = repo.enqueue(s, "campaign.run", campaign_id=campaign_id).id
    with db.session_scope() as s:
        stalled = repo.claim(s, "stalled", lease_seconds=30)
    assert stalled is not None and stalled.item_id == item_id
    taken: dict[str, object] = {}

    def on_event(type_: str, payload: dict, node_id: int | None) -> None:
        # While the first iteration's parents are being mutated, the lease expires and w2 claims the run.
        if type_ == "iteration.parents" and not taken:
            later = utcnow() + timedelta(minutes=5)
            with db.session_scope() as s:
                repo.requeue_expired(s, now=later)
                taken["lease"] = repo.claim(s, "w2", now=later)
                taken["seq"] = repo.get_campaign(s, campaign_id).last_event_seq

    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path]) as evaluator:
        engine = CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, ScriptedTeam(),
                                on_event=on_event)
        engine.fence = lambda s: repo.assert_held(s, stalled.item_id, stalled.lease_token)
        with pytest.raises(repo.LeaseLost, match="taken over"):
            asyncio.run(engine.run(campaign_id))

    assert taken["lease"].item_id == item_id
    with db.session_scope(readonly=True) as s:
        events = [e.type for e in list_events(s, campaign_id, limit=100_000)]
        campaign = repo.get_campaign(s, campaign_id)
        nodes = repo.list_nodes(s, campaign_id)
        status, last_seq = campaign.status, campaign.last_event_seq
        node_ids = [n.id for n in nodes]
    # Nothing after the takeover: no child, no "campaign.failed" or "campaign.paused" from the stale worker.
    assert last_seq == taken["seq"] and events[-1] == "iteration.parents"
    assert status == "running" and len(node_ids) == 1  # the root only; w2 carries on from here
    db.dispose()
