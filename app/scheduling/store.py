"""Schedules in the database: create, find, list (with each one's last run), pause, resume, delete.

The API and the command line share these functions; they differ only in who owns a schedule and which
problems its batch may name (see :class:`~app.scheduling.plan.PlanRules`), which the caller checks before
calling :func:`create_schedule`.

Pausing keeps ``next_run_at`` for display, and resuming recomputes it from now: slots that passed while a
schedule was paused are not "missed runs" to catch up on, the user asked for them not to run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.errors import NotFound
from app.db.models import (
    Batch, FiringStatus, MissedRunPolicy, OverlapPolicy, Schedule, ScheduleFiring, ScheduleSource,
)
from app.db.types import utcnow
from app.scheduling.batches import stored_summary
from app.scheduling.cron import CronError, CronSchedule
from app.scheduling.report import one_line
from app.scheduling.spec import BatchSpec

SCHEDULE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class ScheduleConflict(ValueError):
    """A schedule with this name exists already."""


class LastRun(BaseModel):
    started_at: datetime = Field(description="when the slot was handled")
    status: str = Field(description="the batch's status (running, completed, cancelled) if the slot ran, "
                                    "else 'missed' (too late after downtime) or 'failed' (could not be planned)")
    summary: str | None = Field(description="one line about the finished batch, or why the slot did not run")
    slot: datetime
    batch_id: str | None
    missed_slots: int


class ScheduleView(BaseModel):
    id: int
    name: str
    cron: str
    timezone: str
    missed: str
    overlap: str
    paused: bool
    next_run_at: datetime | None
    last_run: LastRun | None
    source: str
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


class FiringView(BaseModel):
    id: int
    slot: datetime
    fired_at: datetime
    status: str
    missed_slots: int
    batch_id: str | None
    instance: str | None
    error: str | None


def validate_cron(cron: str, timezone: str, *, min_interval_seconds: float = 0.0,
                  now: datetime | None = None) -> CronSchedule:
    """Parse and check how often it fires; CronError names the field at fault."""
    schedule = CronSchedule(cron, timezone)
    schedule.next_after(now or utcnow())  # CronError if it never fires again
    if min_interval_seconds > 0:
        gap = schedule.shortest_interval(now or utcnow())
        if gap < timedelta(seconds=min_interval_seconds):
            raise CronError("cron", f"{schedule.expression!r} fires every {gap.total_seconds():g} s; this service "
                                    f"allows at most one run per {min_interval_seconds:g} s")
    return schedule


def create_schedule(session: Session, *, name: str, cron: CronSchedule, spec: BatchSpec, source: str,
                    owner_id: int | None, missed: str = MissedRunPolicy.SKIP.value,
                    overlap: str = OverlapPolicy.SKIP.value, paused: bool = False,
                    now: datetime | None = None) -> Schedule:
    now = now or utcnow()
    if session.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
        raise ScheduleConflict(f"a schedule named {name!r} exists already")
    schedule = Schedule(name=name, cron=cron.expression, timezone=cron.timezone, missed=MissedRunPolicy(missed).value,
                        overlap=OverlapPolicy(overlap).value, paused=paused,
                        spec=spec.model_dump(mode="json", exclude_unset=True), source=source, owner_id=owner_id,
                        next_run_at=cron.next_after(now), created_at=now, updated_at=now)
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(session: Session, schedule: Schedule, *, name: str | None = None, cron: CronSchedule | None = None,
                    spec: BatchSpec | None = None, source: str | None = None, missed: str | None = None,
                    overlap: str | None = None, now: datetime | None = None) -> Schedule:
    """Change a schedule in place, keeping its id and firing history. A new expression or time zone takes
    effect from the next slot after ``now``: slots of the old expression that passed are not made up."""
    now = now or utcnow()
    if name is not None and name != schedule.name:
        if session.scalar(select(Schedule.id).where(Schedule.name == name, Schedule.id != schedule.id)) is not None:
            raise ScheduleConflict(f"a schedule named {name!r} exists already")
        schedule.name = name
    if cron is not None:
        schedule.cron, schedule.timezone = cron.expression, cron.timezone
        schedule.next_run_at = cron.next_after(now)
    if spec is not None:
        schedule.spec = spec.model_dump(mode="json", exclude_unset=True)
    if source is not None:
        schedule.source = ScheduleSource(source).value
    if missed is not None:
        schedule.missed = MissedRunPolicy(missed).value
    if overlap is not None:
        schedule.overlap = OverlapPolicy(overlap).value
    schedule.updated_at = now
    session.flush()
    return schedule


def find_schedule(session: Session, ref: str | int) -> Schedule:
    """By id (an integer, or digits) or by name."""
    schedule = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        schedule = session.get(Schedule, int(ref))
    if schedule is None and isinstance(ref, str):
        schedule = session.scalar(select(Schedule).where(Schedule.name == ref))
    if schedule is None:
        raise NotFound(f"schedule {ref!r}")
    return schedule


def list_schedules(session: Session, *, owner_id: int | None = None, any_owner: bool = True,
                   limit: int = 100, offset: int = 0) -> tuple[list[Schedule], int]:
    query = select(Schedule)
    if not any_owner:
        query = query.where(Schedule.owner_id == owner_id)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(session.scalars(query.order_by(Schedule.id).limit(limit).offset(offset)))
    return rows, total


def set_paused(session: Session, schedule: Schedule, paused: bool, *, now: datetime | None = None) -> Schedule:
    now = now or utcnow()
    if schedule.paused != paused:
        schedule.paused = paused
        if not paused:
            schedule.next_run_at = _next_or_none(schedule, now)
        schedule.updated_at = now
        session.flush()
    return schedule


def _next_or_none(schedule: Schedule, now: datetime) -> datetime | None:
    """The next slot, or None when the expression has none left (it then never fires again)."""
    try:
        return CronSchedule(schedule.cron, schedule.timezone).next_after(now)
    except CronError:
        return None


def delete_schedule(session: Session, schedule: Schedule) -> None:
    """The schedule and its firing history go; batches it started stay (their schedule_id becomes NULL)."""
    session.delete(schedule)
    session.flush()


def last_runs(session: Session, schedule_ids: list[int]) -> dict[int, LastRun]:
    """Each schedule's most recent firing, overlapped slots aside (while a batch runs, the batch is what
    matters, not the slots it made skip). One query for any number of schedules."""
    if not schedule_ids:
        return {}
    latest = (select(func.max(ScheduleFiring.id))
              .where(ScheduleFiring.schedule_id.in_(schedule_ids),
                     ScheduleFiring.status != FiringStatus.OVERLAPPED.value)
              .group_by(ScheduleFiring.schedule_id))
    rows = session.execute(select(ScheduleFiring, Batch).outerjoin(Batch, Batch.id == ScheduleFiring.batch_id)
                           .where(ScheduleFiring.id.in_(latest))).all()
    return {firing.schedule_id: _last_run(firing, batch) for firing, batch in rows}


def _last_run(firing: ScheduleFiring, batch: Batch | None) -> LastRun:
    if batch is not None:
        summary = stored_summary(batch)
        text = one_line(summary) if summary is not None else f"batch {batch.id} running"
        status = batch.status
    else:
        status, text = firing.status, firing.error
        if firing.status == FiringStatus.FIRED.value:  # the batch was deleted since
            text = "the batch was deleted"
    return LastRun(started_at=firing.fired_at, status=status, summary=text, slot=firing.slot,
                   batch_id=firing.batch_id, missed_slots=firing.missed_slots)


def views(session: Session, schedules: list[Schedule]) -> list[ScheduleView]:
    runs = last_runs(session, [s.id for s in schedules])
    return [view(s, runs.get(s.id)) for s in schedules]


def view(schedule: Schedule, last_run: LastRun | None) -> ScheduleView:
    return ScheduleView(id=schedule.id, name=schedule.name, cron=schedule.cron, timezone=schedule.timezone,
                        missed=schedule.missed, overlap=schedule.overlap, paused=schedule.paused,
                        next_run_at=schedule.next_run_at, last_run=last_run, source=schedule.source,
                        owner_id=schedule.owner_id, created_at=schedule.created_at, updated_at=schedule.updated_at)


def firings(session: Session, schedule_id: int, *, limit: int = 20) -> list[FiringView]:
    rows = session.scalars(select(ScheduleFiring).where(ScheduleFiring.schedule_id == schedule_id)
                           .order_by(ScheduleFiring.id.desc()).limit(limit))
    return [FiringView(id=f.id, slot=f.slot, fired_at=f.fired_at, status=f.status, missed_slots=f.missed_slots,
                       batch_id=f.batch_id, instance=f.instance, error=f.error) for f in rows]


def spec_of(schedule: Schedule) -> dict[str, Any]:
    return dict(schedule.spec or {})
