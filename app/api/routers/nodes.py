"""The tree of a campaign and everything recorded about one node: code, diff, proposal, debate, logs, curves."""

from __future__ import annotations

import difflib

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from app.api.auth import Principal, require_read
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, ApiError, responses
from app.api.schemas import (
    ID_PATTERN,
    MAX_DB_INT,
    Analyses,
    Curves,
    DebugAttemptOut,
    DebugAttempts,
    Diff,
    EventOut,
    EventPage,
    MessageList,
    MessageOut,
    NodeOut,
    ProposalOut,
    Tree,
    TreeNode,
)
from app.api.views import visible_campaign, visible_node
from app.campaigns.report import tree_rows
from app.db import repository as repo
from app.db.events import list_events
from app.db.models import Node
from app.isolation import node_marks

router = APIRouter(tags=["nodes"])
CampaignId = Path(pattern=ID_PATTERN, description="campaign id")
NodeId = Path(ge=1, le=MAX_DB_INT, description="node id")
PYTHON = "text/x-python; charset=utf-8"


def _code(ctx: ApiContext, node: Node) -> str:
    return repo.node_code(node, ctx.store) or ""


@router.get("/campaigns/{campaign_id}/tree", response_model=Tree, summary="All nodes, depth-first",
            responses=responses(*AUTH, 404))
def tree(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
         principal: Principal = Depends(require_read)) -> Tree:
    with ctx.db.session_scope(readonly=True) as s:
        champion = visible_campaign(s, principal, campaign_id).champion_node_id
    rows = tree_rows(ctx.db, campaign_id)
    return Tree(campaign_id=campaign_id, champion_node_id=champion, nodes=[TreeNode(**r) for r in rows])


@router.get("/campaigns/{campaign_id}/nodes/{node_id}", response_model=NodeOut, summary="One node with its code",
            responses=responses(*AUTH, 404))
def node(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
         principal: Principal = Depends(require_read)) -> NodeOut:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        children = list(s.scalars(select(Node.id).where(Node.parent_id == n.id).order_by(Node.id)))
        return NodeOut(
            id=n.id, campaign_id=n.campaign_id, parent_id=n.parent_id, iteration=n.iteration, depth=n.depth,
            operation=n.operation, status=n.status, score=n.score, metrics=n.metrics, proposal=n.proposal,
            analysis=n.analysis, error=n.error, protections=n.protections, timings=n.timings,
            wall_seconds=n.wall_seconds, tokens_in=n.tokens_in or 0, tokens_out=n.tokens_out or 0,
            cost_usd=n.cost_usd or 0.0, code=_code(ctx, n), code_hash=n.code_hash, children=children,
            created_at=n.created_at, started_at=n.started_at, finished_at=n.finished_at,
            **node_marks(n.metrics),
        )


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/diff", response_model=Diff,
            summary="Unified diff of the parent's code to this node's", responses=responses(*AUTH, 404))
def diff(campaign_id: str = CampaignId, node_id: int = NodeId, context: int = Query(3, ge=0, le=1000),
         ctx: ApiContext = Depends(get_ctx), principal: Principal = Depends(require_read)) -> Diff:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        parent = repo.get_node(s, n.parent_id) if n.parent_id else None
        if parent is None:
            return Diff(node_id=n.id, parent_id=None, diff="")
        before, after, parent_id, own_id = _code(ctx, parent), _code(ctx, n), parent.id, n.id
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"node_{parent_id}.py", tofile=f"node_{own_id}.py", n=context)
    return Diff(node_id=own_id, parent_id=parent_id, diff="".join(lines))


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/proposal", response_model=ProposalOut,
            summary="What the debate proposed for this node", responses=responses(*AUTH, 404))
def proposal(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
             principal: Principal = Depends(require_read)) -> ProposalOut:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        p = n.proposal or {}
        return ProposalOut(node_id=n.id, title=p.get("title"), rationale=p.get("rationale"), design=p.get("design"),
                           card=p.get("card"), text=n.proposal_text, raw=n.proposal)


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/messages", response_model=MessageList,
            summary="The debate transcript and other agent messages about this node",
            responses=responses(*AUTH, 404))
def node_messages(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
                  principal: Principal = Depends(require_read)) -> MessageList:
    with ctx.db.session_scope(readonly=True) as s:
        visible_node(s, principal, campaign_id, node_id)
        rows = repo.list_messages(s, campaign_id, node_id=node_id)
        return MessageList(items=[MessageOut.model_validate(m) for m in rows])


@router.get("/campaigns/{campaign_id}/messages", response_model=MessageList,
            summary="Every agent message of the campaign (analysis, votes, debates ...)",
            responses=responses(*AUTH, 404))
def campaign_messages(campaign_id: str = CampaignId, after_id: int = Query(0, ge=0, le=MAX_DB_INT),
                      limit: int = Query(200, ge=1, le=1000), ctx: ApiContext = Depends(get_ctx),
                      principal: Principal = Depends(require_read)) -> MessageList:
    with ctx.db.session_scope(readonly=True) as s:
        visible_campaign(s, principal, campaign_id)
        rows = repo.list_messages(s, campaign_id, after_id=after_id, limit=limit)
        return MessageList(items=[MessageOut.model_validate(m) for m in rows])


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/logs", response_class=PlainTextResponse,
            summary="Captured stdout/stderr of the node's evaluation",
            responses={200: {"content": {"text/plain": {}}}, **responses(*AUTH, 404)})
def logs(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
         principal: Principal = Depends(require_read)) -> PlainTextResponse:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        text = n.logs
        if text is None and n.logs_artifact:
            text = ctx.store.get_text(n.logs_artifact)
    return PlainTextResponse(text or "")


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/curves", response_model=Curves,
            summary="Training curves as columns (step, t, metrics)", responses=responses(*AUTH, 404))
def curves(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_read)) -> Curves:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        return Curves(node_id=n.id, curves=n.curves or {})


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/analyses", response_model=Analyses,
            summary="The result analyst's reading of this node", responses=responses(*AUTH, 404))
def analyses(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
             principal: Principal = Depends(require_read)) -> Analyses:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        rows = repo.list_messages(s, campaign_id, node_id=node_id, roles=["result_analyst"])
        return Analyses(node_id=n.id, analysis=n.analysis, messages=[MessageOut.model_validate(m) for m in rows])


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/debug-attempts", response_model=DebugAttempts,
            summary="The debugger's attempts on this node", responses=responses(*AUTH, 404))
def debug_attempts(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
                   principal: Principal = Depends(require_read)) -> DebugAttempts:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        return DebugAttempts(node_id=n.id, attempts=[DebugAttemptOut.model_validate(a) for a in n.attempts])


def _python_file(code: str, filename: str) -> Response:
    return Response(code, media_type=PYTHON, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/campaigns/{campaign_id}/nodes/{node_id}/code", response_class=Response,
            summary="The node's code as a .py file",
            responses={200: {"content": {"text/x-python": {}}}, **responses(*AUTH, 404)})
def node_code(campaign_id: str = CampaignId, node_id: int = NodeId, ctx: ApiContext = Depends(get_ctx),
              principal: Principal = Depends(require_read)) -> Response:
    with ctx.db.session_scope(readonly=True) as s:
        n = visible_node(s, principal, campaign_id, node_id)
        return _python_file(_code(ctx, n), f"node_{n.id}.py")


@router.get("/campaigns/{campaign_id}/champion.py", response_class=Response,
            summary="Download the champion's code",
            responses={200: {"content": {"text/x-python": {}}}, **responses(*AUTH, 404)})
def champion(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
             principal: Principal = Depends(require_read)) -> Response:
    with ctx.db.session_scope(readonly=True) as s:
        campaign = visible_campaign(s, principal, campaign_id)
        if campaign.champion_node_id is None:
            raise ApiError(404, f"campaign {campaign_id} has no champion yet")
        n = repo.get_node(s, campaign.champion_node_id)
        return _python_file(_code(ctx, n), f"champion_{campaign_id}.py")


@router.get("/campaigns/{campaign_id}/events/history", response_model=EventPage,
            summary="A page of the campaign's event log (the SSE stream's content, as JSON)",
            responses=responses(*AUTH, 404))
def event_history(campaign_id: str = CampaignId, after_seq: int = Query(0, ge=0, le=2**62),
                  limit: int = Query(500, ge=1, le=5000), ctx: ApiContext = Depends(get_ctx),
                  principal: Principal = Depends(require_read)) -> EventPage:
    with ctx.db.session_scope(readonly=True) as s:
        campaign = visible_campaign(s, principal, campaign_id)
        rows = list_events(s, campaign_id, after_seq=after_seq, limit=limit)
        return EventPage(items=[EventOut.model_validate(e, from_attributes=True) for e in rows],
                         last_seq=campaign.last_event_seq)
