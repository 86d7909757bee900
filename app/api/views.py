"""Turning rows into API responses, and the visibility rule (a user sees their own campaigns; admins all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.api.auth import Principal
from app.api.errors import not_found
from app.api.schemas import CampaignOut, Champion, Cost, Progress, RunInfo
from app.db import repository as repo
from app.db.models import Campaign, Node, Problem
from app.isolation import summarise
from app.workers.queue import describe, live_items


def visible_campaign(session: Session, principal: Principal, campaign_id: str) -> Campaign:
    """The campaign if it exists and the caller may see it; 404 otherwise (never 403: ids are not leaked)."""
    campaign = repo.get_campaign(session, campaign_id)
    if campaign is None or not principal.can_see(campaign.owner_id):
        raise not_found(f"campaign {campaign_id!r}")
    return campaign


def visible_node(session: Session, principal: Principal, campaign_id: str, node_id: int) -> Node:
    visible_campaign(session, principal, campaign_id)
    node = repo.get_node(session, node_id)
    if node is None or node.campaign_id != campaign_id:
        raise not_found(f"node {node_id} of campaign {campaign_id!r}")
    return node


def public_config(config: dict[str, Any], problem_name: str) -> dict[str, Any]:
    """The stored plan without engine bookkeeping (``_state``, ``_control``) and without server paths."""
    return {**{k: v for k, v in config.items() if not k.startswith("_")}, "problem": problem_name}


def campaign_views(session: Session, campaigns: list[Campaign]) -> list[CampaignOut]:
    """Responses for a page of campaigns with a fixed number of queries, whatever the page size."""
    if not campaigns:
        return []
    ids = [c.id for c in campaigns]
    counts: dict[str, dict[str, int]] = {}
    for cid, status, n in session.execute(select(Node.campaign_id, Node.status, func.count(Node.id))
                                          .where(Node.campaign_id.in_(ids)).group_by(Node.campaign_id, Node.status)):
        counts.setdefault(cid, {})[status] = int(n)
    problem_rows = session.execute(select(Problem.id, Problem.name, Problem.kind)
                                   .where(Problem.id.in_({c.problem_id for c in campaigns}))).all()
    problems = {pid: name for pid, name, _ in problem_rows}
    kinds = {pid: kind for pid, _, kind in problem_rows}
    special = {n for c in campaigns for n in (c.root_node_id, c.champion_node_id) if n}
    nodes = {n.id: n for n in session.scalars(select(Node).where(Node.id.in_(special)))} if special else {}
    runs = live_items(session, ids)
    scored: dict[str, list[Any]] = {}
    for cid, metrics in session.execute(select(Node.campaign_id, Node.metrics)
                                        .where(Node.campaign_id.in_(ids), Node.score.is_not(None))):
        scored.setdefault(cid, []).append(metrics)
    views = [_view(c, counts.get(c.id, {}), problems.get(c.problem_id, "?"), kinds.get(c.problem_id), nodes,
                   runs.get(c.id)) for c in campaigns]
    for view, c in zip(views, campaigns):
        view.isolation = summarise(c.config, scored.get(c.id, []))
    return views


def campaign_view(session: Session, campaign: Campaign) -> CampaignOut:
    """One campaign, with what its debates decided (pages leave that out: it reads every node's proposal)."""
    from app.campaigns.engine import champion_selection, debate_counts

    out = campaign_views(session, [campaign])[0]
    out.debates = debate_counts(session, campaign.id)
    out.champion_selection = champion_selection(campaign.config)
    return out


def _view(c: Campaign, counts: dict[str, int], problem: str, kind: str | None, nodes: dict[int, Node],
          run: Any) -> CampaignOut:
    root = nodes.get(c.root_node_id) if c.root_node_id else None
    champ = nodes.get(c.champion_node_id) if c.champion_node_id else None
    root_score = root.score if root else None
    champ_score = champ.score if champ else None
    state = c.status
    if run is not None and c.status not in ("completed", "cancelled"):
        state = "running" if run.status == "leased" else "queued"
    return CampaignOut(
        id=c.id, name=c.name, problem=problem, problem_kind=kind, owner_id=c.owner_id, status=c.status,
        state=state, run=RunInfo(**describe(run)) if run is not None else None,
        progress=Progress(iterations_done=c.iterations_done, iterations_planned=int(c.config.get("iterations", 0)),
                          nodes=sum(counts.values()), nodes_by_status=counts, evaluations=c.evaluations,
                          failures=c.failures),
        best_score=c.best_score, root_score=root_score,
        champion=Champion(node_id=champ.id, score=champ.score, title=(champ.proposal or {}).get("title"))
        if champ else None,
        improvement_factor=(root_score / champ_score) if root_score and champ_score else None,
        cost=Cost(usd=c.cost_usd or 0.0, tokens_in=c.tokens_in or 0, tokens_out=c.tokens_out or 0),
        wall_seconds=round(float(c.config.get("_state", {}).get("active_seconds", 0.0)), 2),
        config=public_config(c.config, problem), error=c.error, created_at=c.created_at,
        started_at=c.started_at, finished_at=c.finished_at, updated_at=c.updated_at,
    )
