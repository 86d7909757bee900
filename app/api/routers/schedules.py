"""Schedules: a batch started at every slot of a cron expression, read in a time zone.

The scheduler loop of every API instance (and of ``agentic-sciml schedule daemon``) fires due schedules;
each slot fires once however many instances run. A firing creates a batch whose campaigns are queued for
the workers (see ``/v1/batches``). The list shows each schedule's next slot and its last run.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from app.api.auth import Principal, require_read, require_write
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, BODY, ApiError, field_error, not_found, responses
from app.api.routers.batches import plan_rules, spec_error
from app.api.schemas import MAX_DB_INT
from app.db.models import Schedule, ScheduleSource
from app.scheduling import store
from app.scheduling.api_models import ScheduleCreate, ScheduleDetail, SchedulePage, ScheduleUpdate
from app.scheduling.cron import CronError
from app.scheduling.plan import PlanRules, plan_batch
from app.scheduling.spec import BatchSpecError

router = APIRouter(tags=["schedules"])
ScheduleId = Path(ge=1, le=MAX_DB_INT, description="schedule id")


def _visible(session, principal: Principal, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None or not principal.can_see(schedule.owner_id):
        raise not_found(f"schedule {schedule_id}")
    return schedule


def _detail(session, schedule: Schedule) -> ScheduleDetail:
    view = store.views(session, [schedule])[0]
    return ScheduleDetail(**view.model_dump(), batch=store.spec_of(schedule),
                          recent_firings=store.firings(session, schedule.id, limit=20))


@router.post("/schedules", response_model=ScheduleDetail, status_code=201, summary="Create a schedule",
             responses=responses(*AUTH, *BODY, 409))
def create(body: ScheduleCreate, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> ScheduleDetail:
    try:
        cron = store.validate_cron(body.cron, body.timezone,
                                   min_interval_seconds=ctx.settings.schedule_min_interval_seconds)
    except CronError as exc:
        raise field_error(["body", exc.field], exc.message) from None
    with ctx.db.session_scope(readonly=True) as s:
        try:
            plan_batch(body.batch, plan_rules(ctx, principal), s)  # refuse now what would fail at every slot
        except BatchSpecError as exc:
            raise spec_error(exc, ("body", "batch")) from None
    with ctx.db.session_scope() as s:
        try:
            schedule = store.create_schedule(s, name=body.name, cron=cron, spec=body.batch,
                                             source=ScheduleSource.API.value, owner_id=principal.user_id,
                                             missed=body.missed, overlap=body.overlap, paused=body.paused)
        except store.ScheduleConflict as exc:
            raise ApiError(409, str(exc), field=["body", "name"]) from None
        return _detail(s, schedule)


@router.get("/schedules", response_model=SchedulePage, summary="Schedules with their next slot and last run",
            responses=responses(*AUTH))
def list_schedules(limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000),
                   ctx: ApiContext = Depends(get_ctx), principal: Principal = Depends(require_read)) -> SchedulePage:
    with ctx.db.session_scope(readonly=True) as s:
        rows, total = store.list_schedules(s, owner_id=principal.user_id, any_owner=principal.is_admin,
                                           limit=limit, offset=offset)
        items = store.views(s, rows)
    next_offset = offset + len(items) if offset + len(items) < total else None
    return SchedulePage(items=items, total=total, limit=limit, offset=offset, next_offset=next_offset)


@router.get("/schedules/{schedule_id}", response_model=ScheduleDetail,
            summary="A schedule with its batch and recent firings", responses=responses(*AUTH, 404))
def get_one(schedule_id: int = ScheduleId, ctx: ApiContext = Depends(get_ctx),
            principal: Principal = Depends(require_read)) -> ScheduleDetail:
    with ctx.db.session_scope(readonly=True) as s:
        return _detail(s, _visible(s, principal, schedule_id))


@router.patch("/schedules/{schedule_id}", response_model=ScheduleDetail,
              summary="Change a schedule (name, expression, time zone, policies, batch); history is kept",
              responses=responses(*AUTH, *BODY, 404, 409))
def update(body: ScheduleUpdate, schedule_id: int = ScheduleId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> ScheduleDetail:
    with ctx.db.session_scope() as s:
        # The row lock keeps an instance's scheduler loop from firing the schedule halfway through the change.
        schedule = s.get(Schedule, schedule_id, with_for_update=True)
        if schedule is None or not principal.can_see(schedule.owner_id):
            raise not_found(f"schedule {schedule_id}")
        if body.batch is not None:
            try:  # as on create, refuse now what would fail at every slot: under the owner's rules
                plan_batch(body.batch, PlanRules.for_owner(
                    s, schedule.owner_id, default_providers_file=ctx.service.llm_providers_file,
                    user_problems_dir=ctx.problems.root, max_concurrency=ctx.service.max_evaluations_in_flight), s)
            except BatchSpecError as exc:
                raise spec_error(exc, ("body", "batch")) from None
        cron = None
        if body.cron is not None or body.timezone is not None:
            try:
                cron = store.validate_cron(body.cron or schedule.cron, body.timezone or schedule.timezone,
                                           min_interval_seconds=ctx.settings.schedule_min_interval_seconds)
            except CronError as exc:
                raise field_error(["body", exc.field], exc.message) from None
        try:
            # A batch given over the API obeys the API's rules when it fires (built-ins and uploads only).
            store.update_schedule(s, schedule, name=body.name, cron=cron, spec=body.batch,
                                  source=ScheduleSource.API.value if body.batch is not None else None,
                                  missed=body.missed, overlap=body.overlap)
        except store.ScheduleConflict as exc:
            raise ApiError(409, str(exc), field=["body", "name"]) from None
        return _detail(s, schedule)


def _set_paused(ctx: ApiContext, principal: Principal, schedule_id: int, paused: bool) -> ScheduleDetail:
    with ctx.db.session_scope() as s:
        schedule = _visible(s, principal, schedule_id)
        store.set_paused(s, schedule, paused)
        return _detail(s, schedule)


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleDetail,
             summary="Stop firing (a batch already started keeps running)", responses=responses(*AUTH, 404))
def pause(schedule_id: int = ScheduleId, ctx: ApiContext = Depends(get_ctx),
          principal: Principal = Depends(require_write)) -> ScheduleDetail:
    return _set_paused(ctx, principal, schedule_id, True)


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleDetail,
             summary="Fire again from the next slot (slots passed while paused do not run)",
             responses=responses(*AUTH, 404))
def resume(schedule_id: int = ScheduleId, ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_write)) -> ScheduleDetail:
    return _set_paused(ctx, principal, schedule_id, False)


@router.delete("/schedules/{schedule_id}", status_code=204,
               summary="Delete a schedule and its firing history (its batches stay)", responses=responses(*AUTH, 404))
def delete_one(schedule_id: int = ScheduleId, ctx: ApiContext = Depends(get_ctx),
               principal: Principal = Depends(require_write)) -> None:
    with ctx.db.session_scope() as s:
        store.delete_schedule(s, _visible(s, principal, schedule_id))
