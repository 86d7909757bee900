"""Aggregates the web dashboard needs and the other routers do not give in one request.

The campaign page must render a tree of thousands of nodes and a campaign of tens of thousands of messages
quickly, so its first paint comes from one compact response (the tree as columns, usage per role, running
evaluations with their curves so far, the message count and the event cursor to stream from) and messages
come a page at a time, newest first. Everything here is read-only and follows the visibility rule of the
rest of the API (a key sees its user's campaigns, admins see all).
"""

from __future__ import annotations

import io
import logging
import math
import statistics
from datetime import datetime
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from app.api.auth import Principal, require_read
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, ApiError, not_found, responses
from app.api.schemas import ID_PATTERN, MAX_DB_INT, CampaignOut, MessageOut
from app.api.views import campaign_view, visible_campaign, visible_node
from app.db.models import Campaign, Event, KnowledgeLink, Message, Node, Problem

log = logging.getLogger(__name__)
router = APIRouter(tags=["dashboard"])
CampaignId = Path(pattern=ID_PATTERN, description="campaign id")
NodeId = Path(ge=1, le=MAX_DB_INT, description="node id")
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ERROR_CHARS = 300
CURVE_RECORDS_PER_NODE = 2000
MAX_PLOT_POINTS = 20_000
MAX_OPERATOR_SAMPLES = 200
OPERATOR_CURVES = 4


# -- response models ------------------------------------------------------------------------------------------
class TreeColumns(BaseModel):
    """The campaign's nodes as parallel columns (compact JSON for thousands of nodes), in id order."""

    ids: list[int]
    parents: list[int | None]
    iterations: list[int]
    depths: list[int]
    statuses: list[str]
    scores: list[float | None]
    titles: list[str | None]
    cards: list[str | None]
    errors: list[str | None] = Field(description=f"first {ERROR_CHARS} characters of a failure's reason")


class RoleUsage(BaseModel):
    role: str
    model: str | None
    messages: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


class UsageList(BaseModel):
    items: list[RoleUsage]


class RunningEvaluation(BaseModel):
    node_id: int
    title: str | None
    started_at: datetime | None
    budget: dict[str, Any]
    records: list[dict[str, Any]] = Field(description="training.log records so far (step, t, metrics)")


class CampaignDashboard(BaseModel):
    campaign: CampaignOut
    metric: str | None
    last_event_seq: int = Field(description="stream the events after this seq to stay current")
    message_count: int
    segment_started_at: datetime | None = Field(
        description="when the current run of the campaign began (its last start or resume); the campaign's "
        "wall_seconds counts finished runs only, so a running campaign has been active wall_seconds + now - this")
    tree: TreeColumns
    usage: list[RoleUsage]
    running: list[RunningEvaluation]


class MessagePage(BaseModel):
    items: list[MessageOut] = Field(description="oldest first within the page")
    total: int = Field(description="messages matching the filters")
    has_more: bool = Field(description="older messages exist before this page")


class Prediction(BaseModel):
    node_id: int
    kind: str
    metric: str
    layout: Literal["curve", "field", "points", "operator"]
    axes: list[str] = Field(description="names of the plotted coordinates")
    coords: list[list[float | None]] = Field(description="one list per axis (operator: the output coordinate)")
    prediction: list[float | None] | list[list[float | None]]
    reference: list[float | None] | list[list[float | None]]
    samples: list[int] = Field(default_factory=list, description="operator: the test functions shown")
    points: int = Field(description="query points in the problem")
    shown: int = Field(description="points sent (strided below MAX_PLOT_POINTS)")


class CardCampaignUse(BaseModel):
    campaign_id: str
    name: str | None
    problem: str
    status: str
    retrieved: int = Field(description="nodes whose debate had this card in front of it")
    scored: int
    improved: int = Field(description="of those, nodes that beat their parent")
    median_factor: float | None = Field(description="median parent score / node score (>1: better)")
    best_factor: float | None
    discovered: bool = Field(description="the campaign wrote this card from its champion")
    nodes: list[dict[str, Any]]


class CardUsage(BaseModel):
    card_id: str
    campaigns: list[CardCampaignUse]


# -- campaign page --------------------------------------------------------------------------------------------
def _tree_columns(session: Any, campaign_id: str) -> TreeColumns:
    # Title and card are read inside the database (JSON path, SQLite and PostgreSQL alike): decoding every
    # proposal with its rationale and design costs more than the rest of the page.
    rows = session.execute(
        select(Node.id, Node.parent_id, Node.iteration, Node.depth, Node.status, Node.score,
               Node.proposal["title"].as_string(), Node.proposal["card"].as_string(),
               func.substr(Node.error, 1, ERROR_CHARS)).where(Node.campaign_id == campaign_id).order_by(Node.id)
    ).all()
    cols = TreeColumns(ids=[], parents=[], iterations=[], depths=[], statuses=[], scores=[], titles=[], cards=[],
                       errors=[])
    for nid, parent, iteration, depth, status, score, title, card, error in rows:
        cols.ids.append(nid)
        cols.parents.append(parent)
        cols.iterations.append(iteration)
        cols.depths.append(depth)
        cols.statuses.append(status)
        cols.scores.append(score if score is None or math.isfinite(score) else None)
        cols.titles.append(title)
        cols.cards.append(card)
        cols.errors.append(error or None)
    return cols


def _usage(session: Any, campaign_id: str) -> list[RoleUsage]:
    rows = session.execute(
        select(Message.role, Message.model, func.count(Message.id), func.coalesce(func.sum(Message.tokens_in), 0),
               func.coalesce(func.sum(Message.tokens_out), 0), func.coalesce(func.sum(Message.cost_usd), 0.0))
        .where(Message.campaign_id == campaign_id).group_by(Message.role, Message.model)
    ).all()
    items = [RoleUsage(role=r, model=m, messages=int(n), tokens_in=int(ti), tokens_out=int(to), cost_usd=float(c))
             for r, m, n, ti, to, c in rows]
    return sorted(items, key=lambda u: (-u.cost_usd, -(u.tokens_in + u.tokens_out), u.role, u.model or ""))


def _running(session: Any, campaign_id: str) -> list[RunningEvaluation]:
    nodes = session.execute(select(Node.id, Node.proposal, Node.started_at).where(
        Node.campaign_id == campaign_id, Node.status == "running").order_by(Node.id)).all()
    out = []
    for nid, proposal, started_at in nodes:
        started = session.scalars(select(Event).where(
            Event.campaign_id == campaign_id, Event.node_id == nid, Event.type == "evaluation.started",
        ).order_by(Event.seq.desc()).limit(1)).first()
        query = select(Event.payload).where(Event.campaign_id == campaign_id, Event.node_id == nid,
                                            Event.type == "training.log")
        if started is not None:
            query = query.where(Event.seq > started.seq)  # the curve of the current run, not of a smoke run
        records = [p for (p,) in session.execute(query.order_by(Event.seq.desc()).limit(CURVE_RECORDS_PER_NODE))]
        records.reverse()
        out.append(RunningEvaluation(node_id=nid, title=(proposal or {}).get("title"), started_at=started_at,
                                     budget=(started.payload.get("budget") or {}) if started is not None else {},
                                     records=records))
    return out


@router.get("/campaigns/{campaign_id}/dashboard", response_model=CampaignDashboard,
            summary="Everything the campaign page shows first, in one response", responses=responses(*AUTH, 404))
def campaign_dashboard(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
                       principal: Principal = Depends(require_read)) -> CampaignDashboard:
    with ctx.db.session_scope(readonly=True) as s:
        campaign = visible_campaign(s, principal, campaign_id)
        view = campaign_view(s, campaign)
        problem = s.get(Problem, campaign.problem_id)
        metric = (problem.spec or {}).get("metric") if problem is not None else None
        if metric is None and problem is not None and problem.source == "builtin":
            metric = "rel_l2"
        count = int(s.scalar(select(func.count(Message.id)).where(Message.campaign_id == campaign_id)) or 0)
        segment = s.scalar(select(Event.created_at).where(
            Event.campaign_id == campaign_id, Event.type.in_(["campaign.started", "campaign.resumed"]),
        ).order_by(Event.seq.desc()).limit(1))
        return CampaignDashboard(campaign=view, metric=metric, last_event_seq=int(campaign.last_event_seq or 0),
                                 message_count=count, segment_started_at=segment, tree=_tree_columns(s, campaign_id),
                                 usage=_usage(s, campaign_id), running=_running(s, campaign_id))


@router.get("/campaigns/{campaign_id}/usage", response_model=UsageList,
            summary="Messages, tokens and cost per role and model", responses=responses(*AUTH, 404))
def campaign_usage(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
                   principal: Principal = Depends(require_read)) -> UsageList:
    with ctx.db.session_scope(readonly=True) as s:
        visible_campaign(s, principal, campaign_id)
        return UsageList(items=_usage(s, campaign_id))


@router.get("/campaigns/{campaign_id}/messages/recent", response_model=MessagePage,
            summary="A page of messages, newest first (page backwards with before_id)",
            responses=responses(*AUTH, 404))
def recent_messages(
    campaign_id: str = CampaignId,
    before_id: int | None = Query(None, ge=1, le=MAX_DB_INT, description="only messages older than this id"),
    limit: int = Query(50, ge=1, le=500),
    role: str | None = Query(None, pattern=r"^[a-z_]{1,32}$", description="only this role"),
    node_id: int | None = Query(None, ge=1, le=MAX_DB_INT, description="only messages about this node"),
    ctx: ApiContext = Depends(get_ctx),
    principal: Principal = Depends(require_read),
) -> MessagePage:
    with ctx.db.session_scope(readonly=True) as s:
        visible_campaign(s, principal, campaign_id)
        where = [Message.campaign_id == campaign_id]
        if role is not None:
            where.append(Message.role == role)
        if node_id is not None:
            where.append(Message.node_id == node_id)
        total = int(s.scalar(select(func.count(Message.id)).where(*where)) or 0)
        if before_id is not None:
            where.append(Message.id < before_id)
        rows = list(s.scalars(select(Message).where(*where).order_by(Message.id.desc()).limit(limit + 1)))
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
        return MessagePage(items=[MessageOut.model_validate(m) for m in rows], total=total, has_more=has_more)


# -- prediction against reference -----------------------------------------------------------------------------
def _stride(n: int, limit: int) -> np.ndarray:
    return np.arange(0, n, max(1, int(np.ceil(n / limit))))


def _floats(values: np.ndarray) -> list[float | None]:
    """JSON has no NaN or infinity: non-finite values become null (the plots leave a gap)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    out: list[float | None] = np.where(finite, values, 0.0).tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite):
            out[int(i)] = None
    return out


def _load_predictions(ctx: ApiContext, digest: str, shape: tuple[int, ...]) -> np.ndarray:
    from app.db.artifacts import ArtifactNotFound

    try:
        raw = ctx.store.get(digest)
    except ArtifactNotFound:
        raise not_found("the stored predictions' file") from None
    try:
        values = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError:
        raise ApiError(409, "the stored predictions are not a .npy array") from None
    values = np.asarray(values, dtype=np.float64)
    if values.size == int(np.prod(shape)) and values.shape != shape:
        values = values.reshape(shape)
    if values.shape != shape:
        raise ApiError(409, f"the stored predictions have shape {values.shape}, the reference {shape}")
    return values


def _variables(spec: Any, dims: int) -> list[str]:
    if spec.pde:
        try:
            from sandbox.runtime.pde import build_pde

            names = list(build_pde(spec.pde).variables)
            if len(names) == dims:
                return names
        except Exception:  # noqa: BLE001 - labels only
            pass
    return ["x"] if dims == 1 else [f"x{i}" for i in range(dims)]


def prediction_payload(node_id: int, spec: Any, query: dict[str, np.ndarray], targets: np.ndarray,
                       predictions: np.ndarray) -> Prediction:
    """Arrays to plot, chosen by the problem's shape: a curve (1 input), a field (2 inputs), points (more
    inputs, against the query index) or, for operators, a few test functions and the whole error map."""
    common = dict(node_id=node_id, kind=spec.kind, metric=spec.metric)
    if spec.kind == "operator":
        y = np.asarray(query.get("y", np.arange(targets.shape[1])[:, None]), dtype=np.float64)
        y = y.reshape(len(y), -1)[:, 0]
        rows = _stride(targets.shape[0], MAX_OPERATOR_SAMPLES)
        cols = _stride(targets.shape[1], max(1, MAX_PLOT_POINTS // len(rows)))
        return Prediction(**common, layout="operator", axes=["y", "sample"], coords=[_floats(y[cols])],
                          prediction=[_floats(predictions[r, cols]) for r in rows],
                          reference=[_floats(targets[r, cols]) for r in rows], samples=rows.tolist(),
                          points=int(targets.size), shown=int(len(rows) * len(cols)))
    x = np.asarray(query["x"], dtype=np.float64)
    x = x.reshape(len(x), -1)
    flat_pred, flat_ref = predictions.reshape(len(x)), targets.reshape(len(x))
    keep = _stride(len(x), MAX_PLOT_POINTS)
    dims = x.shape[1]
    if dims == 1:
        keep = keep[np.argsort(x[keep, 0], kind="stable")]
        layout, axes, coords = "curve", _variables(spec, 1), [_floats(x[keep, 0])]
    elif dims == 2:
        layout, axes, coords = "field", _variables(spec, 2), [_floats(x[keep, 0]), _floats(x[keep, 1])]
    else:
        layout, axes, coords = "points", ["query index"], [keep.astype(float).tolist()]
    return Prediction(**common, layout=layout, axes=axes, coords=coords, prediction=_floats(flat_pred[keep]),
                      reference=_floats(flat_ref[keep]), points=int(len(x)), shown=int(len(keep)))


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/prediction", response_model=Prediction,
            summary="The node's predictions beside the reference, for plots",
            description="Available for nodes whose predictions were stored (``predictions_artifact``, a .npy "
                        "array of the targets' shape); 404 otherwise. Large outputs are strided.",
            responses=responses(*AUTH, 404, 409))
def node_prediction(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
                    principal: Principal = Depends(require_read)) -> Prediction:
    from problems.registry import get_problem

    with ctx.db.session_scope(readonly=True) as s:
        node = visible_node(s, principal, campaign_id, node_id)
        digest = node.predictions_artifact
        problem_ref = str(s.get(Campaign, campaign_id).config.get("problem", ""))
    if not digest:
        raise not_found(f"stored predictions of node {node_id}")
    try:
        problem = get_problem(problem_ref)
        data = problem.load(ctx.settings.cache_dir)
    except Exception as exc:  # noqa: BLE001 - e.g. an uploaded problem deleted since
        raise ApiError(409, f"the campaign's problem cannot be loaded: {type(exc).__name__}: {exc}") from None
    predictions = _load_predictions(ctx, digest, tuple(data.targets.shape))
    return prediction_payload(node_id, problem.spec, data.query_inputs, np.asarray(data.targets, np.float64),
                              predictions)


# -- knowledge: which campaigns used a card, and with what effect --------------------------------------------
@router.get("/knowledge/cards/{card_id}/usage", response_model=CardUsage,
            summary="Campaigns that retrieved (or discovered) this card, and how the nodes did against their parent",
            responses=responses(*AUTH))
def card_usage(card_id: str = Path(pattern=SLUG, max_length=200), ctx: ApiContext = Depends(get_ctx),
               principal: Principal = Depends(require_read)) -> CardUsage:
    with ctx.db.session_scope(readonly=True) as s:
        query = (select(KnowledgeLink, Campaign, Problem.name).join(Campaign, Campaign.id == KnowledgeLink.campaign_id)
                 .join(Problem, Problem.id == Campaign.problem_id).where(KnowledgeLink.card_id == card_id))
        if not principal.is_admin:
            query = query.where(Campaign.owner_id == principal.user_id)
        rows = s.execute(query.order_by(KnowledgeLink.id)).all()
        node_ids = {link.node_id for link, _, _ in rows if link.node_id}
        scores: dict[int, tuple[float | None, int | None, str]] = {}
        if node_ids:
            for nid, score, parent, status in s.execute(select(Node.id, Node.score, Node.parent_id, Node.status)
                                                        .where(Node.id.in_(node_ids))):
                scores[nid] = (score, parent, status)
        parent_ids = {p for _, p, _ in scores.values() if p}
        parent_scores = dict(s.execute(select(Node.id, Node.score).where(Node.id.in_(parent_ids))).all()) \
            if parent_ids else {}
        uses: dict[str, CardCampaignUse] = {}
        for link, campaign, problem in rows:
            use = uses.get(campaign.id)
            if use is None:
                use = uses[campaign.id] = CardCampaignUse(
                    campaign_id=campaign.id, name=campaign.name, problem=problem, status=campaign.status,
                    retrieved=0, scored=0, improved=0, median_factor=None, best_factor=None, discovered=False,
                    nodes=[])
            if link.kind == "discovered":
                use.discovered = True
                continue
            use.retrieved += 1
            score, parent, status = scores.get(link.node_id or 0, (None, None, "?"))
            parent_score = parent_scores.get(parent) if parent else None
            factor = parent_score / score if score and parent_score else None
            use.nodes.append({"node_id": link.node_id, "status": status, "score": score,
                              "parent_score": parent_score, "factor": factor})
        for use in uses.values():
            factors = [n["factor"] for n in use.nodes if n["factor"] is not None]
            use.scored = len(factors)
            use.improved = sum(1 for f in factors if f > 1)
            use.median_factor = statistics.median(factors) if factors else None
            use.best_factor = max(factors) if factors else None
        return CardUsage(card_id=card_id, campaigns=list(uses.values()))
