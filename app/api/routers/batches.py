"""Batches: a group of campaigns (problems × team configurations) with a shared budget and a summary report.

Creating a batch only stores it and queues one run per campaign, like ``POST /v1/campaigns`` does for one;
the workers train them, and the summary (``GET /v1/batches/{id}``, markdown at ``.../report``) is final once
the last campaign finishes. Schedules (``/v1/schedules``) create batches the same way at each cron slot.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select

from app.api.auth import Principal, require_read, require_write
from app.api.context import ApiContext, get_ctx
from app.api.routers.campaigns import check_isolation
from app.api.errors import AUTH, BODY, ApiError, field_error, not_found, responses
from app.api.schemas import ID_PATTERN, MAX_DB_INT
from app.db.models import Batch
from app.scheduling.api_models import BatchOut, BatchPage, BatchStatusName
from app.scheduling.batches import Finalizer, create_batch, summary_of
from app.scheduling.plan import PlanRules, plan_batch
from app.scheduling.spec import BatchSpec, BatchSpecError
from app.workers.queue import admission_refusal

router = APIRouter(tags=["batches"])
BatchId = Path(pattern=ID_PATTERN, description="batch id")


def plan_rules(ctx: ApiContext, principal: Principal) -> PlanRules:
    """What a batch made through the API may name: built-ins and the caller's uploads, no server paths."""
    return PlanRules(allow_paths=False, allow_providers_file=principal.is_admin,
                     default_providers_file=ctx.service.llm_providers_file, user_problems_dir=ctx.problems.root,
                     owner_id=principal.user_id, owner_is_admin=principal.is_admin,
                     max_concurrency=ctx.service.max_evaluations_in_flight)


def spec_error(exc: BatchSpecError, prefix: tuple[str, ...] = ("body",)) -> ApiError:
    return field_error([*prefix, *exc.loc], exc.message)


def finalizer(ctx: ApiContext) -> Finalizer:
    return Finalizer(ctx.db, ctx.settings.data_dir, ctx.settings.public_url or "")


def _check_admission(ctx: ApiContext, principal: Principal, count: int) -> None:
    """429 when the batch's campaigns would take the user or the service over its active-campaign limit."""
    with ctx.db.session_scope(readonly=True) as s:
        refusal = admission_refusal(s, count, owner_id=None if principal.anonymous else principal.user_id,
                                    total_limit=ctx.service.max_active_campaigns,
                                    user_limit=ctx.service.max_active_campaigns_per_user)
    if refusal is not None:
        limit, reason = refusal
        advice = "try again when some finish" if limit == "service" else "pause, cancel or wait for some first"
        raise ApiError(429, f"{reason}; {advice}")


def batch_out(ctx: ApiContext, session, batch: Batch) -> BatchOut:
    summary = summary_of(session, batch, ctx.settings.public_url or "")
    return BatchOut(id=batch.id, name=batch.name, status=batch.status, run_mode=batch.run_mode,
                    schedule_id=batch.schedule_id, slot=batch.slot, owner_id=batch.owner_id,
                    created_at=batch.created_at, finished_at=batch.finished_at, budget=batch.budget or {},
                    summary=summary, report_url=f"/v1/batches/{batch.id}/report")


def _visible(session, principal: Principal, batch_id: str) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None or not principal.can_see(batch.owner_id):
        raise not_found(f"batch {batch_id!r}")
    return batch


@router.post("/batches", response_model=BatchOut, status_code=202, summary="Create a batch and queue its campaigns",
             responses=responses(*AUTH, *BODY, 429))
def create(body: BatchSpec, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> BatchOut:
    with ctx.db.session_scope(readonly=True) as s:
        try:
            runs = plan_batch(body, plan_rules(ctx, principal), s)
        except BatchSpecError as exc:
            raise spec_error(exc) from None
    check_isolation(ctx, all(r.config.allow_weak_isolation for r in runs), ["body", "allow_weak_isolation"])
    _check_admission(ctx, principal, len(runs))
    with ctx.db.session_scope() as s:
        batch = create_batch(s, body, runs, owner_id=principal.user_id, run_mode="queue",
                             max_attempts=ctx.service.max_attempts, by=principal.username)
        out = batch_out(ctx, s, batch)
    ctx.notify_workers()
    return out


@router.get("/batches", response_model=BatchPage, summary="Batches, newest first", responses=responses(*AUTH))
def list_batches(
    status: BatchStatusName | None = Query(None, description="only batches in this status"),
    schedule_id: int | None = Query(None, ge=1, le=MAX_DB_INT, description="only batches this schedule started"),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=1_000_000),
    ctx: ApiContext = Depends(get_ctx),
    principal: Principal = Depends(require_read),
) -> BatchPage:
    query = select(Batch)
    if status is not None:
        query = query.where(Batch.status == status)
    if schedule_id is not None:
        query = query.where(Batch.schedule_id == schedule_id)
    if not principal.is_admin:
        query = query.where(Batch.owner_id == principal.user_id)
    with ctx.db.session_scope(readonly=True) as s:
        total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = list(s.scalars(query.order_by(Batch.created_at.desc(), Batch.id).limit(limit).offset(offset)))
        items = [batch_out(ctx, s, b) for b in rows]
    next_offset = offset + len(items) if offset + len(items) < total else None
    return BatchPage(items=items, total=total, limit=limit, offset=offset, next_offset=next_offset)


def _current(ctx: ApiContext, principal: Principal, batch_id: str) -> BatchOut:
    with ctx.db.session_scope(readonly=True) as s:
        batch = _visible(s, principal, batch_id)
        out = batch_out(ctx, s, batch)
    if out.status == "running" and out.summary.final:
        # Every campaign is done but no scheduler loop has closed the batch yet (or none runs): do it now.
        finalizer(ctx).finalize(batch_id)
        with ctx.db.session_scope(readonly=True) as s:
            out = batch_out(ctx, s, _visible(s, principal, batch_id))
    return out


@router.get("/batches/{batch_id}", response_model=BatchOut, summary="A batch with its per-campaign summary",
            responses=responses(*AUTH, 404))
def get_one(batch_id: str = BatchId, ctx: ApiContext = Depends(get_ctx),
            principal: Principal = Depends(require_read)) -> BatchOut:
    return _current(ctx, principal, batch_id)


@router.get("/batches/{batch_id}/report", response_class=PlainTextResponse,
            summary="The summary report as markdown (provisional while campaigns run)",
            responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}, **responses(*AUTH, 404)})
def report(batch_id: str = BatchId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_read)) -> PlainTextResponse:
    from app.scheduling.report import render_markdown

    _current(ctx, principal, batch_id)
    with ctx.db.session_scope(readonly=True) as s:
        batch = _visible(s, principal, batch_id)
        text = batch.report or render_markdown(summary_of(s, batch, ctx.settings.public_url or ""))
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.post("/batches/{batch_id}/cancel", response_model=BatchOut, summary="Cancel every unfinished campaign",
             responses=responses(*AUTH, 404, 409))
def cancel(batch_id: str = BatchId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> BatchOut:
    with ctx.db.session_scope(readonly=True) as s:
        batch = _visible(s, principal, batch_id)
        if batch.status != "running":
            raise ApiError(409, f"batch {batch_id} is {batch.status}; nothing to cancel")
    finalizer(ctx).cancel(batch_id, by=principal.username)
    return _current(ctx, principal, batch_id)
