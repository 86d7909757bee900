"""A batch's summary: one row per campaign (scores, improvement, cost, link) and the group's totals.

The same summary is computed live for a running batch (``final`` false) and frozen into the batch row when
the last campaign finishes; :func:`render_markdown` turns it into the report stored next to it and written
to ``<data_dir>/batches/<id>/report.md``.

The improvement factor is root score / champion score (scores are errors, lower is better), as in
``agentic-sciml show``; the group's figure is the geometric mean over the campaigns that have both scores,
which is what a ratio averages to.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import TERMINAL_CAMPAIGN_STATUSES, Batch, BatchCampaign, Campaign, Node

TERMINAL = {str(s) for s in TERMINAL_CAMPAIGN_STATUSES}


class BatchRow(BaseModel):
    position: int
    problem: str
    team: str
    campaign_id: str | None = Field(description="null once the campaign was deleted")
    status: str = Field(description="the campaign's status, or 'deleted'")
    root_score: float | None
    champion_score: float | None
    improvement_factor: float | None = Field(description="root score / champion score (scores are errors)")
    iterations: int
    evaluations: int
    failures: int
    wall_seconds: float
    cost_usd: float
    tokens: int
    error: str | None
    link: str | None = Field(description="the campaign in the API")
    weak_isolation: bool = Field(False, description="some scores came from a sandbox weaker than bubblewrap, "
                                 "where a candidate could read host files (see isolation)")
    isolation: dict[str, Any] | None = Field(None, description="backends the scores came from, with counts")
    champion_seeds: int = Field(1, description="seeds the champion was scored on (more with reeval_seeds)")
    champion_mean: float | None = Field(None, description="the champion's mean score over those seeds")
    champion_spread: float | None = Field(None, description="population standard deviation over those seeds")
    champion_by: str = Field("score", description="how the champion was chosen: score or seed_mean")


class BatchTotals(BaseModel):
    campaigns: int
    finished: int
    by_status: dict[str, int]
    wall_seconds: float
    cost_usd: float
    tokens: int
    budget: dict[str, float] = Field(description="the batch's caps (absent: no cap)")
    best_improvement: float | None
    best_run: int | None = Field(description="position of the campaign with the best improvement")
    geomean_improvement: float | None


class BatchSummary(BaseModel):
    batch_id: str
    name: str
    status: str
    final: bool = Field(description="true once every campaign finished (the summary no longer changes)")
    schedule_id: int | None
    slot: datetime | None
    created_at: datetime
    finished_at: datetime | None
    rows: list[BatchRow]
    totals: BatchTotals


def build_summary(session: Session, batch: Batch, *, base_url: str = "") -> BatchSummary:
    links = session.scalars(select(BatchCampaign).where(BatchCampaign.batch_id == batch.id)
                            .order_by(BatchCampaign.position)).all()
    ids = [link.campaign_id for link in links if link.campaign_id]
    campaigns = {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(ids)))} if ids else {}
    wanted = {n for c in campaigns.values() for n in (c.root_node_id, c.champion_node_id) if n}
    found = session.execute(select(Node.id, Node.score, Node.metrics).where(Node.id.in_(wanted))).all() if wanted else []
    scores = {node_id: score for node_id, score, _ in found}
    rows = [_row(link, campaigns.get(link.campaign_id or ""), scores, base_url) for link in links]
    _mark_isolation(session, rows, campaigns)
    _mark_seeds(rows, campaigns, {node_id: metrics for node_id, _, metrics in found})
    return BatchSummary(batch_id=batch.id, name=batch.name, status=batch.status,
                        final=bool(rows) and all(r.status in TERMINAL or r.status == "deleted" for r in rows),
                        schedule_id=batch.schedule_id, slot=batch.slot, created_at=batch.created_at,
                        finished_at=batch.finished_at, rows=rows, totals=_totals(rows, batch.budget or {}))


def _row(link: BatchCampaign, campaign: Campaign | None, scores: dict[int, float | None], base_url: str) -> BatchRow:
    if campaign is None:
        return BatchRow(position=link.position, problem=link.problem, team=link.team, campaign_id=None,
                        status="deleted", root_score=None, champion_score=None, improvement_factor=None,
                        iterations=0, evaluations=0, failures=0, wall_seconds=0.0, cost_usd=0.0, tokens=0,
                        error=None, link=None)
    root = scores.get(campaign.root_node_id) if campaign.root_node_id else None
    champion = scores.get(campaign.champion_node_id) if campaign.champion_node_id else None
    factor = root / champion if root and champion and math.isfinite(root / champion) else None
    state = (campaign.config or {}).get("_state", {})
    return BatchRow(
        position=link.position, problem=link.problem, team=link.team, campaign_id=campaign.id,
        status=campaign.status, root_score=root, champion_score=champion, improvement_factor=factor,
        iterations=campaign.iterations_done, evaluations=campaign.evaluations, failures=campaign.failures,
        wall_seconds=round(float(state.get("active_seconds", 0.0)), 2), cost_usd=float(campaign.cost_usd or 0.0),
        tokens=int((campaign.tokens_in or 0) + (campaign.tokens_out or 0)), error=campaign.error,
        link=f"{base_url.rstrip('/')}/v1/campaigns/{campaign.id}",
    )


def _mark_seeds(rows: list[BatchRow], campaigns: dict[str, Campaign], metrics: dict[int, Any]) -> None:
    """Where the champion was re-run on more seeds, the row carries its mean and spread over them."""
    for row in rows:
        campaign = campaigns.get(row.campaign_id or "")
        if campaign is None:
            continue
        row.champion_by = str((campaign.config or {}).get("champion_by", "score"))
        reeval = (metrics.get(campaign.champion_node_id) or {}).get("reeval") if campaign.champion_node_id else None
        if isinstance(reeval, dict) and reeval.get("mean") is not None:
            row.champion_seeds = len(reeval.get("scores_by_seed") or {})
            row.champion_mean, row.champion_spread = float(reeval["mean"]), float(reeval.get("std") or 0.0)


def _mark_isolation(session: Session, rows: list[BatchRow], campaigns: dict[str, Campaign]) -> None:
    from app.isolation import summarise

    if not campaigns:
        return
    scored: dict[str, list[Any]] = {}
    for cid, metrics in session.execute(select(Node.campaign_id, Node.metrics)
                                        .where(Node.campaign_id.in_(list(campaigns)), Node.score.is_not(None))):
        scored.setdefault(cid, []).append(metrics)
    for row in rows:
        if row.campaign_id in campaigns:
            info = summarise(campaigns[row.campaign_id].config, scored.get(row.campaign_id, []))
            row.isolation, row.weak_isolation = info["backends"], info["weak_isolation"]


def _totals(rows: list[BatchRow], budget: dict[str, Any]) -> BatchTotals:
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    factors = [(r.improvement_factor, r.position) for r in rows if r.improvement_factor and r.improvement_factor > 0]
    best = max(factors) if factors else None
    geomean = math.exp(math.fsum(math.log(f) for f, _ in factors) / len(factors)) if factors else None
    return BatchTotals(
        campaigns=len(rows), finished=sum(1 for r in rows if r.status in TERMINAL or r.status == "deleted"),
        by_status=by_status, wall_seconds=round(math.fsum(r.wall_seconds for r in rows), 2),
        cost_usd=math.fsum(r.cost_usd for r in rows), tokens=sum(r.tokens for r in rows),
        budget=dict(budget.get("caps", {})), best_improvement=best[0] if best else None,
        best_run=best[1] if best else None, geomean_improvement=geomean,
    )


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3e}"


def _factor(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: BatchSummary) -> str:
    totals = summary.totals
    lines = [f"# Batch {_cell(summary.name)} (`{summary.batch_id}`)", ""]
    status = ", ".join(f"{n} {s}" for s, n in sorted(totals.by_status.items()))
    lines.append(f"Status: **{summary.status}**, {totals.campaigns} campaigns ({status}).")
    when = f"Created {summary.created_at.isoformat(timespec='seconds')}"
    if summary.finished_at is not None:
        when += f", finished {summary.finished_at.isoformat(timespec='seconds')}"
    if summary.schedule_id is not None:
        slot = summary.slot.isoformat(timespec="seconds") if summary.slot else "?"
        when += f"; started by schedule #{summary.schedule_id} for the slot {slot}"
    lines += [when + ".", ""]
    if not summary.final:
        lines += ["*Some campaigns are still running: this report is provisional.*", ""]
    lines += ["| # | problem | team | status | root score | champion score | improvement | evaluations | "
              "wall s | cost USD | tokens | campaign |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary.rows:
        campaign = f"[{r.campaign_id}]({r.link})" if r.campaign_id and r.link else (r.campaign_id or "deleted")
        weak = " (weak isolation)" if r.weak_isolation else ""
        if r.champion_mean is not None:
            weak += (f"; mean {r.champion_mean:.3e} ± {r.champion_spread or 0.0:.1e} over {r.champion_seeds} seeds"
                     + (", chosen by the mean" if r.champion_by == "seed_mean" else ""))
        lines.append(f"| {r.position + 1} | {_cell(r.problem)} | {_cell(r.team)} | {r.status} | "
                     f"{_score(r.root_score)} | "
                     f"{_score(r.champion_score)}{weak} | {_factor(r.improvement_factor)} | {r.evaluations} | "
                     f"{r.wall_seconds:.1f} | {r.cost_usd:.4f} | {r.tokens} | {campaign} |")
    lines += ["", "## Totals", ""]
    caps = totals.budget
    lines.append(f"- wall time: {totals.wall_seconds:.1f} campaign-seconds"
                 + (f" of {caps['max_wall_seconds']:g}" if "max_wall_seconds" in caps else ""))
    lines.append(f"- cost: ${totals.cost_usd:.4f}"
                 + (f" of ${caps['max_cost_usd']:g}" if "max_cost_usd" in caps else ""))
    lines.append(f"- tokens: {totals.tokens}" + (f" of {int(caps['max_tokens'])}" if "max_tokens" in caps else ""))
    if totals.best_run is not None:
        best = summary.rows[totals.best_run]
        lines.append(f"- best improvement: {_factor(totals.best_improvement)} ({_cell(best.problem)} with "
                     f"{_cell(best.team)})")
        scored = sum(1 for r in summary.rows if r.improvement_factor)
        lines.append(f"- geometric mean improvement: {_factor(totals.geomean_improvement)} over {scored} "
                     f"campaign{'s' if scored != 1 else ''} with both scores")
    else:
        lines.append("- no campaign has both a root and a champion score")
    weak = [r for r in summary.rows if r.weak_isolation]
    if weak:
        lines += ["", "## Weak isolation", "",
                  "These campaigns scored candidates under a sandbox weaker than bubblewrap, where a candidate could "
                  "read host files (hidden targets included); their scores may not be trustworthy:", ""]
        lines += [f"- #{r.position + 1} {_cell(r.problem)} / {_cell(r.team)}: "
                  + ", ".join(f"{k} ({v})" for k, v in sorted((r.isolation or {}).items())) for r in weak]
    failed = [r for r in summary.rows if r.error and r.status in ("failed", "paused")]
    if failed:
        lines += ["", "## Problems", ""]
        lines += [f"- #{r.position + 1} {_cell(r.problem)} / {_cell(r.team)} ({r.status}): {_cell(r.error or '')[:300]}"
                  for r in failed]
    lines += ["", "Inspect a campaign with `agentic-sciml show ID` or `GET /v1/campaigns/ID`.", ""]
    return "\n".join(lines)


def one_line(summary: BatchSummary) -> str:
    """A short text for lists (the schedules' ``last_run.summary``)."""
    totals = summary.totals
    done = totals.by_status.get("completed", 0)
    text = f"{done}/{totals.campaigns} campaigns completed"
    failed = totals.by_status.get("failed", 0)
    if failed:
        text += f", {failed} failed"
    if totals.geomean_improvement is not None:
        text += f"; improvement {totals.geomean_improvement:.2f}× (geometric mean), best {totals.best_improvement:.2f}×"
    if totals.cost_usd:
        text += f"; ${totals.cost_usd:.2f}"
    return text
