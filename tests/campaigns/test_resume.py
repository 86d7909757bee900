"""A campaign killed with SIGKILL mid-evaluation resumes: finished nodes kept, nothing scored twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.events import list_events
from app.db.session import Database, upgrade_database
from sandbox.evaluate import Evaluator
from tests.campaigns.scripted_team import ScriptedTeam

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "problems" / "examples" / "damped_oscillator")


def snapshot(db: Database, campaign_id: str) -> dict[int, tuple[str, float | None]]:
    with db.session_scope(readonly=True) as s:
        return {n.id: (n.status, n.score) for n in repo.list_nodes(s, campaign_id)}


def finished_events(db: Database, campaign_id: str) -> list[int]:
    with db.session_scope(readonly=True) as s:
        return [e.node_id for e in list_events(s, campaign_id, limit=100000) if e.type == "evaluation.finished"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_then_resume(tmp_path, backend, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade_database(url)
    db = Database(url)
    config = CampaignConfig(problem=EXAMPLE, iterations=2, parents=2, smoke_seconds=0, debug_attempts=1)
    campaign_id = create_campaign(db, config)
    victim = subprocess.Popen(
        [sys.executable, "-m", "tests.campaigns.run_scripted", url, str(tmp_path), campaign_id, "2.0"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            nodes = snapshot(db, campaign_id)
            done = [n for n, (status, _) in nodes.items() if status == "succeeded"]
            running = [n for n, (status, _) in nodes.items() if status == "running"]
            if len(done) >= 2 and running:
                break
            assert victim.poll() is None, victim.stdout.read().decode()[-3000:]
            time.sleep(0.1)
        else:
            pytest.fail("the campaign never reached a state with two scored nodes and one running")
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
    finally:
        if victim.poll() is None:
            victim.kill()
    before = snapshot(db, campaign_id)
    finished_before = finished_events(db, campaign_id)
    interrupted = [n for n, (status, _) in before.items() if status == "running"]
    assert interrupted, before

    with Evaluator(tmp_path / "runs2", tmp_path / "cache", secret_dirs=[tmp_path]) as evaluator:
        engine = CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, ScriptedTeam())
        summary = asyncio.run(engine.run(campaign_id))

    after = snapshot(db, campaign_id)
    assert summary["status"] == "completed" and summary["iterations"] == 2
    for node_id, (status, score) in before.items():
        if status in ("succeeded", "failed"):
            assert after[node_id] == (status, score), "finished nodes are kept as they were"
    for node_id in interrupted:
        assert after[node_id][0] in ("succeeded", "failed", "skipped_duplicate"), "unfinished work is redone"
    finished_after = finished_events(db, campaign_id)
    assert finished_after[: len(finished_before)] == finished_before
    assert len(finished_after) == len(set(finished_after)), "no node is scored twice"
    db.dispose()
