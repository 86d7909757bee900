"""The campaign engine end to end with a scripted team: real sandboxed runs, real scores, real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine, campaign_summary
from app.campaigns.report import export_campaign, tree_rows
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.events import list_events
from tests.campaigns.scripted_team import ScriptedTeam

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


def run_campaign(world, **overrides):
    import asyncio

    db, store, evaluator, _ = world
    options = {"iterations": 2, "parents": 2, "smoke_seconds": 0.5, "selectors": 3, "debug_attempts": 1}
    config = CampaignConfig(problem=EXAMPLE, **{**options, **overrides})
    campaign_id = create_campaign(db, config)
    team = ScriptedTeam()
    engine = CampaignEngine(db, store, evaluator, team)
    summary = asyncio.run(engine.run(campaign_id))
    return campaign_id, summary, team


def test_campaign_grows_a_tree_and_improves(world):
    db, store, _, root = world
    campaign_id, summary, team = run_campaign(world)
    assert summary["status"] == "completed"
    assert summary["iterations"] == 2
    assert summary["root_score"] > summary["champion_score"] > 0
    rows = tree_rows(db, campaign_id)
    by_id = {r["node_id"]: r for r in rows}
    root_row = rows[0]
    assert root_row["parent_id"] is None and root_row["status"] == "succeeded"
    # Novelty: the child that repeats its parent's code is skipped, not trained.
    skipped = [r for r in rows if r["status"] == "skipped_duplicate"]
    assert len(skipped) == 1 and "duplicate of node" in skipped[0]["error"]
    # Debugger: the crashing degree-5 candidate was repaired and scored; its attempt is kept.
    with db.session_scope(readonly=True) as s:
        fixed = [n for n in repo.list_nodes(s, campaign_id) if (n.proposal or {}).get("design", {}).get("degree") == 5]
        assert fixed and fixed[0].status == "succeeded"
        assert [a.diagnosis for a in fixed[0].attempts] == ["removed the stray raise"]
        assert "raise RuntimeError" not in fixed[0].code
        messages = [(m.role, m.node_id) for m in repo.list_messages(s, campaign_id)]
        fixed_id = fixed[0].id
        events = [(e.seq, e.type, e.node_id) for e in list_events(s, campaign_id, limit=100000)]
    roles = {role for role, _ in messages}
    assert {"data_analyst", "proposer", "critic", "result_analyst", "selector"} <= roles
    debate = [m for m in messages if m[0] in ("proposer", "critic") and m[1] == fixed_id]
    assert len(debate) == 4  # the configured number of debate rounds
    seqs = [e[0] for e in events]
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
    # Scored nodes keep their predictions (the node page plots them against the reference).
    with db.session_scope(readonly=True) as s:
        scored = [(n.predictions_artifact, n.score) for n in repo.list_nodes(s, campaign_id) if n.status == "succeeded"]
    assert scored and all(digest for digest, _ in scored)
    import io

    import numpy as np

    from problems.registry import get_problem

    targets = get_problem(EXAMPLE).load().targets
    for digest, score in scored:
        predictions = np.load(io.BytesIO(store.get(digest)), allow_pickle=False)
        assert predictions.shape == targets.shape
        assert np.linalg.norm(predictions - targets) / np.linalg.norm(targets) == pytest.approx(score, rel=1e-9)
    types = [e[1] for e in events]
    assert types[0] == "campaign.started" and types[-1] == "campaign.completed"
    assert "champion.changed" in types and "iteration.parents" in types and "debug.attempt" in types
    # Every child has a parent in the tree, and nothing was evaluated twice.
    finished = [e[2] for e in events if e[1] == "evaluation.finished"]
    assert len(finished) == len(set(finished))
    assert all(r["parent_id"] in by_id for r in rows[1:])


def test_export_writes_report_and_champion(world, tmp_path):
    db, store, _, _ = world
    campaign_id, summary, _ = run_campaign(world, iterations=1)
    result = export_campaign(db, store, campaign_id, tmp_path / "export")
    out = Path(result["export_dir"])
    assert "def solve(task)" in (out / "champion.py").read_text()
    report = (out / "report.md").read_text()
    assert "Lineage of the champion" in report and campaign_id in report
    assert (out / "best_score.png").stat().st_size > 1000
    assert summary["champion_node_id"] == result["champion_node_id"]


def test_target_score_stops_early(world):
    _, summary, _ = run_campaign(world, iterations=5, target_score=10.0)
    assert summary["status"] == "completed" and summary["iterations"] == 0


def test_champion_reevaluation_with_new_seeds_is_not_a_new_node(world):
    db, _, _, _ = world
    campaign_id, summary, _ = run_campaign(world, iterations=1, reeval_seeds=[1, 2])
    reeval = summary["champion_reeval"]
    assert set(reeval["scores_by_seed"]) == {"0", "1", "2"}
    assert reeval["mean"] == pytest.approx(summary["champion_score"])  # deterministic candidate
    with db.session_scope(readonly=True) as s:
        assert len(repo.list_nodes(s, campaign_id)) == len(tree_rows(db, campaign_id))


def test_unknown_problem_is_refused_before_anything_is_stored(world):
    db, _, _, _ = world
    with pytest.raises(LookupError):
        create_campaign(db, CampaignConfig(problem="nope"))


def test_champion_becomes_a_discovered_card(world):
    import asyncio

    from knowledge_base.cards import MethodCard

    db, store, evaluator, root = world
    added: list[MethodCard] = []
    campaign_id = create_campaign(db, CampaignConfig(problem=EXAMPLE, iterations=1, parents=1, smoke_seconds=0))
    engine = CampaignEngine(db, store, evaluator, ScriptedTeam(), card_sink=added.append)
    summary = asyncio.run(engine.run(campaign_id))
    assert summary["champion_node_id"] != (summary.get("root_node_id") or -1)
    assert len(added) == 1
    card = added[0]
    assert card.origin == "discovered" and card.provenance["campaign_id"] == campaign_id
    assert card.provenance["improvement_factor"] == pytest.approx(summary["improvement_factor"])
    assert "def solve(task)" in card.pytorch_sketch
    with db.session_scope(readonly=True) as s:
        links = repo.list_knowledge_links(s, campaign_id=campaign_id)
        assert [(l.card_id, l.kind) for l in links] == [(card.id, "discovered")]
