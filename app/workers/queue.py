"""Campaign runs as work items: at most one live item per campaign, and the queries around that rule.

The generic lease queue (:mod:`app.db.work_queue`) knows nothing about campaigns; this module adds the one
invariant the service needs on top of it: a campaign has at most one queued-or-leased ``campaign.run``
item at a time, so two workers never run the same campaign. Enqueueing is idempotent (it returns the live
item if there is one), and a worker that still finds itself holding a second item for a campaign defers
to the item with the smaller id (see :func:`defer_to_earlier`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.db import repository as repo
from app.db.models import Campaign, WorkItem, WorkStatus
from app.db.types import utcnow

CAMPAIGN_RUN = "campaign.run"
LIVE = (WorkStatus.QUEUED.value, WorkStatus.LEASED.value)


def live_item(session: Session, campaign_id: str) -> WorkItem | None:
    """The campaign's queued or leased run, if any (the oldest one)."""
    return session.scalar(
        select(WorkItem)
        .where(WorkItem.campaign_id == campaign_id, WorkItem.kind == CAMPAIGN_RUN, WorkItem.status.in_(LIVE))
        .order_by(WorkItem.id)
        .limit(1)
    )


def live_items(session: Session, campaign_ids: list[str]) -> dict[str, WorkItem]:
    """Live run per campaign for a page of campaigns (one query)."""
    if not campaign_ids:
        return {}
    rows = session.scalars(
        select(WorkItem)
        .where(WorkItem.campaign_id.in_(campaign_ids), WorkItem.kind == CAMPAIGN_RUN, WorkItem.status.in_(LIVE))
        .order_by(WorkItem.id)
    )
    found: dict[str, WorkItem] = {}
    for row in rows:
        found.setdefault(row.campaign_id, row)
    return found


def enqueue_run(session: Session, campaign_id: str, *, max_attempts: int, reason: str) -> tuple[WorkItem, bool]:
    """Queue a run of the campaign unless one is already live; returns (item, created)."""
    existing = live_item(session, campaign_id)
    if existing is not None:
        return existing, False
    item = repo.enqueue(session, CAMPAIGN_RUN, {"reason": reason}, campaign_id=campaign_id,
                        max_attempts=max_attempts)
    return item, True


def active_campaign_count(session: Session, *, owner_id: int | None = None, any_owner: bool = True) -> int:
    """Campaigns that hold a worker or wait for one: a live run item, or status ``running``."""
    has_live = (
        select(WorkItem.id)
        .where(WorkItem.campaign_id == Campaign.id, WorkItem.kind == CAMPAIGN_RUN, WorkItem.status.in_(LIVE))
        .exists()
    )
    query = select(func.count(Campaign.id)).where(or_(has_live, Campaign.status == "running"))
    if not any_owner:
        query = query.where(Campaign.owner_id.is_(None) if owner_id is None else Campaign.owner_id == owner_id)
    return int(session.scalar(query) or 0)


def admission_refusal(session: Session, count: int, *, owner_id: int | None, total_limit: int | None,
                      user_limit: int | None, owner_phrase: str = "you already run or queue") -> tuple[str, str] | None:
    """Why ``count`` more campaigns may not start now, as ``(limit, reason)`` with limit ``"service"`` or
    ``"user"``, or None. One rule for batches made over the API and batches fired by schedules: queued and
    running campaigns count, service-wide and for ``owner_id`` (no per-user limit without an owner)."""
    if total_limit is not None:
        active = active_campaign_count(session)
        if active + count > total_limit:
            return "service", (f"the batch adds {count} campaigns to the {active} the service already runs or "
                               f"queues (limit {total_limit})")
    if user_limit is not None and owner_id is not None:
        mine = active_campaign_count(session, owner_id=owner_id, any_owner=False)
        if mine + count > user_limit:
            return "user", f"the batch adds {count} campaigns to the {mine} {owner_phrase} (per-user limit {user_limit})"
    return None


def defer_to_earlier(session: Session, campaign_id: str, item_id: int, now: datetime | None = None) -> bool:
    """True if another unexpired lease with a smaller id holds the campaign (then this item must not run).

    Two workers that each hold an item for one campaign both run this check after claiming; exactly one of
    them (the larger id) sees the other and stands down, so the campaign never runs twice.
    """
    now = now or utcnow()
    other = session.scalar(
        select(WorkItem.id).where(
            WorkItem.campaign_id == campaign_id,
            WorkItem.kind == CAMPAIGN_RUN,
            WorkItem.id < item_id,
            or_(
                and_(WorkItem.status == WorkStatus.LEASED.value, WorkItem.lease_expires_at >= now),
                WorkItem.status == WorkStatus.QUEUED.value,
            ),
        ).limit(1)
    )
    return other is not None


def queue_depth(session: Session) -> dict[str, int]:
    """Campaign runs by work status (queued, leased, ...)."""
    rows = session.execute(
        select(WorkItem.status, func.count(WorkItem.id)).where(WorkItem.kind == CAMPAIGN_RUN).group_by(WorkItem.status)
    )
    return {status: int(count) for status, count in rows}


def exhausted_runs(session: Session) -> list[tuple[int, str, str | None]]:
    """Campaigns whose latest run failed for good while they still look alive: (item id, campaign id, error).

    Only the latest run of a campaign counts, and only for ``running``/``created`` campaigns, so an old
    failure never touches a campaign that was resumed (or paused) afterwards.
    """
    latest = (
        select(WorkItem.campaign_id, func.max(WorkItem.id).label("item_id"))
        .where(WorkItem.kind == CAMPAIGN_RUN)
        .group_by(WorkItem.campaign_id)
        .subquery()
    )
    rows = session.execute(
        select(WorkItem.id, WorkItem.campaign_id, WorkItem.last_error)
        .join(latest, latest.c.item_id == WorkItem.id)
        .join(Campaign, Campaign.id == WorkItem.campaign_id)
        .where(WorkItem.status == WorkStatus.FAILED.value, Campaign.status.in_(["running", "created"]))
    )
    return [(row.id, row.campaign_id, row.last_error) for row in rows]


def describe(item: WorkItem | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "item_id": item.id, "status": item.status, "claimed_by": item.claimed_by, "attempts": item.attempts,
        "lease_expires_at": item.lease_expires_at.isoformat() if item.lease_expires_at else None,
    }
