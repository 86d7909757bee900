"""Firing due schedules exactly once per slot, however many scheduler instances run.

Every API instance (and ``agentic-sciml schedule daemon``) runs a scheduler loop against the shared
database. For each due schedule, one transaction:

1. takes the schedule's row: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (a concurrent instance
   skips it instead of waiting), the database write lock on SQLite (write transactions begin IMMEDIATE),
   and re-checks that it is still due: an instance that comes second finds ``next_run_at`` advanced;
2. inserts the ``schedule_firings`` row for the slot; UNIQUE (schedule_id, slot) makes a duplicate fail to
   commit even if the lock were somehow bypassed;
3. advances ``next_run_at`` past now and, if the slot is to run, creates the batch with its campaigns and
   their run items for the workers.

All three commit together or not at all, so a crash between them cannot lose a slot or fire it twice:
the next tick (of any instance) finds the schedule still due and tries again.

Missed runs (no scheduler was up at slot time): ``skip`` runs the latest slot only if it is at most
``grace_seconds`` late and drops the others (the firing is recorded as ``missed``); ``run_once`` runs the
latest slot however late, once, standing for all the missed ones. Either way the firing records how many
earlier slots were missed. With ``overlap: skip`` a slot that comes while the schedule's previous batch still
runs is recorded as ``overlapped``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import (
    Batch,
    BatchStatus,
    FiringStatus,
    MissedRunPolicy,
    OverlapPolicy,
    Schedule,
    ScheduleFiring,
    ScheduleSource,
)
from app.db.session import Database
from app.db.types import utcnow
from app.scheduling.batches import create_batch
from app.scheduling.cron import CronError, CronSchedule
from app.scheduling.plan import PlanRules, plan_batch
from app.scheduling.spec import BatchSpecError, parse_spec

log = logging.getLogger(__name__)
MISSED_COUNT_CAP = 200  # counting missed slots walks croniter step by step; beyond this we say "at least"
DUE_PER_TICK = 100


@dataclass(frozen=True)
class FiringContext:
    """What firing needs from the process it runs in."""

    instance: str
    grace_seconds: float = 300.0
    max_attempts: int = 5
    user_problems_dir: Path | None = None
    default_providers_file: str | None = None
    max_concurrency: int | None = None
    # The service's admission limits (as the API applies them to batches); None: no limit.
    max_active_campaigns: int | None = None
    max_active_campaigns_per_user: int | None = None

    def over_limits(self, session: Session, schedule: Schedule, count: int) -> str | None:
        """Why a batch of ``count`` campaigns may not start now, or None (the rule of ``POST /v1/batches``)."""
        from app.workers.queue import admission_refusal

        refusal = admission_refusal(session, count, owner_id=schedule.owner_id,
                                    total_limit=self.max_active_campaigns,
                                    user_limit=self.max_active_campaigns_per_user,
                                    owner_phrase="its owner already runs or queues")
        return f"skipped: {refusal[1]}" if refusal is not None else None

    def rules_for(self, session: Session, schedule: Schedule) -> PlanRules:
        if schedule.source == ScheduleSource.CLI.value:
            return PlanRules.trusted(self.user_problems_dir)
        return PlanRules.for_owner(session, schedule.owner_id, default_providers_file=self.default_providers_file,
                                   user_problems_dir=self.user_problems_dir, max_concurrency=self.max_concurrency)


class FireOutcome(BaseModel):
    schedule_id: int
    slot: datetime | None
    status: str  # fired | missed | overlapped | failed | lost (another instance was first) | retry (rolled back)
    batch_id: str | None = None
    missed_slots: int = 0
    error: str | None = None


@dataclass
class SlotPlan:
    slot: datetime
    missed: int
    late_seconds: float
    next_run_at: datetime | None
    run: bool
    reason: str | None = None


def plan_slot(schedule: Schedule, cron: CronSchedule, now: datetime, grace_seconds: float) -> SlotPlan:
    """Which slot a due schedule fires for, how many it missed, and when it is due next."""
    first = schedule.next_run_at or now
    try:
        latest = max(first, cron.latest_at_or_before(now))
    except CronError:
        latest = first
    missed = cron.count_between(first, latest, MISSED_COUNT_CAP)
    late = max(0.0, (now - latest).total_seconds())
    try:
        next_run_at: datetime | None = cron.next_after(max(now, latest))
    except CronError:  # the expression has no slot left (a year field): this was its last firing
        next_run_at = None
    if schedule.missed == MissedRunPolicy.SKIP.value and late > grace_seconds:
        return SlotPlan(latest, missed, late, next_run_at, False,
                        f"missed: the scheduler was {late:.0f} s late (policy skip, grace {grace_seconds:g} s)")
    return SlotPlan(latest, missed, late, next_run_at, True)


def _running_batch(session: Session, schedule_id: int) -> str | None:
    return session.scalar(select(Batch.id).where(Batch.schedule_id == schedule_id,
                                                 Batch.status == BatchStatus.RUNNING.value).limit(1))


def fire_schedule(db: Database, schedule_id: int, ctx: FiringContext, *,
                  now: datetime | None = None) -> FireOutcome | None:
    """Handle one due schedule; None when it is not due (any more) or another instance holds it."""
    now = now or utcnow()
    try:
        with db.session_scope() as s:
            query = select(Schedule).where(Schedule.id == schedule_id, Schedule.paused.is_(False),
                                           Schedule.next_run_at <= now)
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            schedule = s.scalar(query)
            if schedule is None:
                return None
            return _fire_locked(s, schedule, ctx, now)
    except IntegrityError as exc:
        if "uq_schedule_firings_schedule_id_slot" in str(exc.orig) or "schedule_firings.schedule_id" in str(exc.orig):
            # Only reachable if two transactions both got past the row lock: the constraint kept one out.
            log.info("schedule %s: another instance fired this slot first", schedule_id)
            return FireOutcome(schedule_id=schedule_id, slot=None, status="lost")
        # Something else collided (two instances registering the same new problem row, say): nothing was
        # committed, the schedule is still due, and the next tick tries again.
        log.warning("schedule %s: firing rolled back, retried at the next tick: %s", schedule_id, exc.orig)
        return FireOutcome(schedule_id=schedule_id, slot=None, status="retry", error=str(exc.orig)[:500])


def _fire_locked(s: Session, schedule: Schedule, ctx: FiringContext, now: datetime) -> FireOutcome:
    try:
        cron = CronSchedule(schedule.cron, schedule.timezone)
    except CronError as exc:  # e.g. a time zone the system's tz database no longer has
        schedule.paused = True
        firing = ScheduleFiring(schedule_id=schedule.id, slot=schedule.next_run_at or now, fired_at=now,
                                status=FiringStatus.FAILED.value, missed_slots=0, instance=ctx.instance,
                                error=f"{exc}; the schedule was paused")
        s.add(firing)
        s.flush()
        return FireOutcome(schedule_id=schedule.id, slot=firing.slot, status="failed", error=firing.error)

    plan = plan_slot(schedule, cron, now, ctx.grace_seconds)
    firing = ScheduleFiring(schedule_id=schedule.id, slot=plan.slot, fired_at=now, status=FiringStatus.MISSED.value,
                            missed_slots=plan.missed, instance=ctx.instance, error=plan.reason)
    s.add(firing)
    s.flush()  # the unique (schedule_id, slot) check happens here, before any batch is made
    schedule.next_run_at = plan.next_run_at

    if plan.run and schedule.overlap == OverlapPolicy.SKIP.value:
        previous = _running_batch(s, schedule.id)
        if previous is not None:
            plan.run = False
            firing.status = FiringStatus.OVERLAPPED.value
            firing.error = f"skipped: the previous batch {previous} is still running (overlap: skip)"
    if plan.run:
        try:
            spec = parse_spec(schedule.spec)
            runs = plan_batch(spec, ctx.rules_for(s, schedule), s)
            refusal = ctx.over_limits(s, schedule, len(runs))
        except BatchSpecError as exc:
            refusal = f"the batch cannot run: {exc}"
        if refusal is not None:
            firing.status, firing.error = FiringStatus.FAILED.value, refusal
        else:
            batch = create_batch(s, spec, runs, owner_id=schedule.owner_id, run_mode="queue", schedule_id=schedule.id,
                                 slot=plan.slot, max_attempts=ctx.max_attempts, by=f"schedule {schedule.name}", now=now)
            firing.status, firing.batch_id = FiringStatus.FIRED.value, batch.id
            if plan.missed:
                more = "+" if plan.missed >= MISSED_COUNT_CAP else ""
                how = ("run once for all" if schedule.missed == MissedRunPolicy.RUN_ONCE.value
                       else "dropped (policy skip)")
                firing.error = f"{plan.missed}{more} earlier slot(s) missed, {how}"
    s.flush()
    return FireOutcome(schedule_id=schedule.id, slot=plan.slot, status=firing.status, batch_id=firing.batch_id,
                       missed_slots=plan.missed, error=firing.error)


def due_schedule_ids(db: Database, now: datetime, limit: int = DUE_PER_TICK) -> list[int]:
    with db.session_scope(readonly=True) as s:
        return list(s.scalars(select(Schedule.id).where(Schedule.paused.is_(False), Schedule.next_run_at <= now)
                              .order_by(Schedule.next_run_at, Schedule.id).limit(limit)))


@dataclass
class TickReport:
    outcomes: list[FireOutcome] = field(default_factory=list)
    finalized: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def fire_due(db: Database, ctx: FiringContext, *, now: datetime | None = None) -> list[FireOutcome]:
    """Fire every schedule due at ``now``; returns what happened to each one this instance handled."""
    now = now or utcnow()
    outcomes = []
    for schedule_id in due_schedule_ids(db, now):
        try:
            outcome = fire_schedule(db, schedule_id, ctx, now=now)
        except Exception as exc:  # noqa: BLE001 - one broken schedule must not hold up the others
            log.exception("schedule %s: firing failed; retried at the next tick", schedule_id)
            outcome = FireOutcome(schedule_id=schedule_id, slot=None, status="retry",
                                  error=f"{type(exc).__name__}: {exc}")
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
