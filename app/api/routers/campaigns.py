"""Campaigns: create (queued for a worker), list, inspect, pause, resume, cancel, delete.

No request waits for training: create and resume only put a ``campaign.run`` item in the work queue, and
pause/cancel only record the request (see :mod:`app.workers.control`); the worker running the campaign, in
this process or another, acts on it within a heartbeat.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from pydantic import ValidationError
from sqlalchemy import delete, func, select, update

from app.api.auth import Principal, require_read, require_write
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, BODY, ApiError, field_error, responses
from app.api.limits import check_campaign_admission
from app.api.schemas import (
    ID_PATTERN,
    NAME_PATTERN,
    ActionResult,
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignStatus,
)
from app.api.views import campaign_view, campaign_views, visible_campaign
from app.campaigns.config import CampaignConfig
from app.db import repository as repo
from app.db.events import append_event
from app.db.models import Campaign, Problem
from app.workers import control
from app.workers.queue import enqueue_run, live_item
from problems.registry import BUILTINS

router = APIRouter(tags=["campaigns"])
CampaignId = Path(pattern=ID_PATTERN, description="campaign id")


def _resolve_problem(ctx: ApiContext, principal: Principal, name: str) -> str:
    """What the engine loads: a built-in's name, or the stored directory of a visible uploaded problem."""
    if name in BUILTINS:
        return name
    path = ctx.problems.path_of(name)
    if path is not None:
        with ctx.db.session_scope(readonly=True) as s:
            row = repo.get_problem_by_name(s, name)
            if row is not None and row.source == "user" and principal.can_see(row.owner_id):
                return str(path)
    raise field_error(["body", "problem"], f"unknown problem {name!r}: not a built-in "
                                           f"({', '.join(BUILTINS)}) nor one of your uploaded problems")


def check_isolation(ctx: ApiContext, allowed: bool, loc: list[str | int]) -> None:
    """422 naming the backend and the field when candidates would run under a sandbox weaker than bubblewrap
    that neither the request nor the service allows (app/isolation.py)."""
    from app.isolation import HOW_API, IsolationError, require_isolation

    try:
        require_isolation(ctx.settings, allowed, how=HOW_API)
    except IsolationError as exc:
        raise field_error(loc, str(exc)) from None


def _config(ctx: ApiContext, principal: Principal, body: CampaignCreate) -> CampaignConfig:
    """The engine's configuration: problem resolved to what it loads, the LLM providers file checked.

    A providers file names the endpoints and the environment variables holding API keys, so choosing one is
    an admin's privilege: a user who could point it at a file of their own could send the service's keys to
    any host.
    """
    providers = body.providers_file
    if providers is not None and not principal.is_admin:
        raise field_error(["body", "providers_file"], "providers_file: only admins may choose a providers file; "
                                                      "leave it out to use the service's")
    if body.team == "llm" and providers is None:
        providers = ctx.service.llm_providers_file
        if providers is None:
            raise field_error(["body", "team"], "team 'llm' is not available: this service has no LLM providers "
                                                "file configured (AGENTIC_SCIML_LLM_PROVIDERS_FILE)")
    try:
        return body.config(problem=_resolve_problem(ctx, principal, body.problem), providers_file=providers)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise field_error(["body", *[str(p) for p in first["loc"]]], first["msg"]) from None


@router.post("/campaigns", response_model=CampaignOut, status_code=202, summary="Create and queue a campaign",
             responses=responses(*AUTH, *BODY, 429))
def create(body: CampaignCreate, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> CampaignOut:
    from app.campaigns.service import create_campaign

    limit = ctx.service.max_evaluations_in_flight
    if body.concurrency > limit:
        raise field_error(["body", "concurrency"], f"concurrency {body.concurrency} exceeds this service's "
                                                   f"limit of {limit} evaluations in flight")
    config = _config(ctx, principal, body)
    check_isolation(ctx, body.allow_weak_isolation, ["body", "allow_weak_isolation"])
    with ctx.db.session_scope(readonly=True) as s:
        check_campaign_admission(s, principal, per_user=ctx.service.max_active_campaigns_per_user,
                                 total=ctx.service.max_active_campaigns)
    try:
        campaign_id = create_campaign(ctx.db, config, owner_id=principal.user_id, name=body.name)
    except ValueError as exc:  # a user problem that no longer validates
        raise field_error(["body", "problem"], str(exc)) from None
    with ctx.db.session_scope() as s:
        enqueue_run(s, campaign_id, max_attempts=ctx.service.max_attempts, reason="created")
        append_event(s, campaign_id, "campaign.queued", {"reason": "created", "by": principal.username})
        view = campaign_view(s, repo.get_campaign(s, campaign_id))
    ctx.notify_workers()
    return view


@router.get("/campaigns", response_model=CampaignPage, summary="Campaigns, newest first",
            responses=responses(*AUTH))
def list_campaigns(
    status: CampaignStatus | None = Query(None, description="only campaigns in this status"),
    problem: str | None = Query(None, pattern=NAME_PATTERN, description="only campaigns on this problem"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    ctx: ApiContext = Depends(get_ctx),
    principal: Principal = Depends(require_read),
) -> CampaignPage:
    query = select(Campaign)
    if status is not None:
        query = query.where(Campaign.status == status)
    if problem is not None:
        query = query.join(Problem, Problem.id == Campaign.problem_id).where(Problem.name == problem)
    if not principal.is_admin:
        query = query.where(Campaign.owner_id == principal.user_id)
    with ctx.db.session_scope(readonly=True) as s:
        total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = list(s.scalars(query.order_by(Campaign.created_at.desc(), Campaign.id).limit(limit).offset(offset)))
        items = campaign_views(s, rows)
    next_offset = offset + len(items) if offset + len(items) < total else None
    return CampaignPage(items=items, total=total, limit=limit, offset=offset, next_offset=next_offset)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="Status, progress, champion and cost",
            responses=responses(*AUTH, 404))
def get_one(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
            principal: Principal = Depends(require_read)) -> CampaignOut:
    with ctx.db.session_scope(readonly=True) as s:
        return campaign_view(s, visible_campaign(s, principal, campaign_id))


def _stop(ctx: ApiContext, principal: Principal, campaign_id: str, action: control.Action) -> ActionResult:
    with ctx.db.session_scope() as s:
        campaign = visible_campaign(s, principal, campaign_id)
        if campaign.status in ("completed", "cancelled", "failed"):
            raise ApiError(409, f"campaign {campaign_id} is {campaign.status}; nothing to {action}")
        if action == "pause" and campaign.status == "paused" and live_item(s, campaign_id) is None:
            return ActionResult(campaign=campaign_view(s, campaign), message="already paused")
        was_running = campaign.status == "running"
        control.request(s, campaign_id, action, by=principal.username)
        if was_running:
            append_event(s, campaign_id, f"campaign.{action}_requested", {"by": principal.username})
            message = f"{action} requested; the worker stops the campaign within a heartbeat"
        else:
            append_event(s, campaign_id, f"campaign.{control.STATUS_FOR[action]}",
                         {"reason": f"{action} requested", "by": principal.username})
            message = f"campaign {control.STATUS_FOR[action]}"
        s.flush()
        return ActionResult(campaign=campaign_view(s, repo.get_campaign(s, campaign_id)), message=message)


@router.post("/campaigns/{campaign_id}/pause", response_model=ActionResult, summary="Pause (resume continues it)",
             responses=responses(*AUTH, 404, 409))
def pause(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
          principal: Principal = Depends(require_write)) -> ActionResult:
    return _stop(ctx, principal, campaign_id, "pause")


@router.post("/campaigns/{campaign_id}/cancel", response_model=ActionResult, summary="Cancel for good",
             responses=responses(*AUTH, 404, 409))
def cancel(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> ActionResult:
    return _stop(ctx, principal, campaign_id, "cancel")


@router.post("/campaigns/{campaign_id}/resume", response_model=ActionResult, status_code=202,
             summary="Queue a paused, failed or interrupted campaign again",
             responses=responses(*AUTH, 404, 409, 429))
def resume(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> ActionResult:
    with ctx.db.session_scope() as s:
        campaign = visible_campaign(s, principal, campaign_id)
        if campaign.status in ("completed", "cancelled"):
            raise ApiError(409, f"campaign {campaign_id} is {campaign.status}; it cannot be resumed")
        if live_item(s, campaign_id) is not None:
            return ActionResult(campaign=campaign_view(s, campaign), message="already queued or running")
        if campaign.status == "running":
            # Running with no run item: a process outside the work queue (`agentic-sciml run`) drives it, or
            # drove it and died; a second engine must not start beside it.
            raise ApiError(409, f"campaign {campaign_id} is running outside the service's work queue (e.g. "
                                "`agentic-sciml run`); pause it first, or resume it with `agentic-sciml resume`")
        check_campaign_admission(s, principal, per_user=ctx.service.max_active_campaigns_per_user,
                                 total=ctx.service.max_active_campaigns)
        control.clear(s, campaign_id)
        enqueue_run(s, campaign_id, max_attempts=ctx.service.max_attempts, reason="resumed")
        append_event(s, campaign_id, "campaign.queued", {"reason": "resumed", "by": principal.username})
        s.flush()
        view = campaign_view(s, repo.get_campaign(s, campaign_id))
    ctx.notify_workers()
    return ActionResult(campaign=view, message="queued")


@router.delete("/campaigns/{campaign_id}", status_code=204, summary="Delete a campaign that is not running",
               responses=responses(*AUTH, 404, 409))
def delete_one(campaign_id: str = CampaignId, ctx: ApiContext = Depends(get_ctx),
               principal: Principal = Depends(require_write)) -> None:
    with ctx.db.session_scope() as s:
        campaign = visible_campaign(s, principal, campaign_id)
        if campaign.status == "running" or live_item(s, campaign_id) is not None:
            raise ApiError(409, f"campaign {campaign_id} is running or queued; pause or cancel it first")
        # Break the campaign <-> node cycle, then let ON DELETE CASCADE remove nodes, events, messages, work.
        s.execute(update(Campaign).where(Campaign.id == campaign_id).values(root_node_id=None, champion_node_id=None))
        s.execute(delete(Campaign).where(Campaign.id == campaign_id))
