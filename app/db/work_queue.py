"""A lease-based work queue in the ``work_items`` table.

A worker *claims* an item and receives a lease: a fresh random ``lease_token`` and an expiry time.
It must *renew* before the expiry while it works and then *complete*, *fail* or *release* the item,
each time presenting the token. A worker that dies simply stops renewing; once the lease has expired
another worker's claim takes the item over (and gets a new token, which fences off the old holder),
and :func:`requeue_expired` puts such items back in the queue, or fails them once ``max_attempts``
claims have been used.

Claiming is race-free on both back ends:

* PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` then ``UPDATE`` by id, in one transaction;
  concurrent claimers skip each other's locked candidate instead of waiting or colliding.
* SQLite: a single ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING``, run under the database
  write lock (write sessions begin ``IMMEDIATE``), so no two transactions can pick the same row.

Every function takes ``now`` so tests (and a scheduler with its own clock) can move time explicitly.
Nothing here commits; claim in a short transaction of its own so the row lock is released promptly.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from app.db.session import async_commit_column

from app.db.models import WorkItem, WorkStatus
from app.db.types import utcnow

DEFAULT_LEASE_S = 60.0

_items = WorkItem.__table__


class Lease(BaseModel):
    """What a worker holds after a successful claim."""

    model_config = ConfigDict(frozen=True)

    item_id: int
    kind: str
    campaign_id: str | None
    payload: dict[str, Any]
    claimed_by: str
    lease_token: str
    lease_expires_at: datetime
    attempts: int
    max_attempts: int


class LeaseLost(Exception):
    """The lease this work was done under is no longer held: the work was taken over, cancelled or paused.

    Raised by :func:`assert_held` inside the transaction that was about to write, so nothing of a worker
    that stalled past its lease (a frozen VM, a long GC pause) is committed after another took over.
    """


class RequeueReport(BaseModel):
    requeued: int
    failed: int


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    campaign_id: str | None = None,
    priority: int = 0,
    available_at: datetime | None = None,
    max_attempts: int = 3,
    now: datetime | None = None,
) -> WorkItem:
    """Add a queued item (flushed, so ``id`` is set); higher ``priority`` is claimed first."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    now = now or utcnow()
    item = WorkItem(
        kind=kind,
        payload=payload if payload is not None else {},
        campaign_id=campaign_id,
        status=WorkStatus.QUEUED.value,
        priority=priority,
        available_at=available_at or now,
        max_attempts=max_attempts,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return item


def _claimable(now: datetime, kinds: list[str] | None, campaign_id: str | None) -> Any:
    condition = and_(
        or_(
            and_(_items.c.status == WorkStatus.QUEUED.value, _items.c.available_at <= now),
            and_(_items.c.status == WorkStatus.LEASED.value, _items.c.lease_expires_at < now),
        ),
        _items.c.attempts < _items.c.max_attempts,
    )
    if kinds is not None:
        condition = and_(condition, _items.c.kind.in_(kinds))
    if campaign_id is not None:
        condition = and_(condition, _items.c.campaign_id == campaign_id)
    return condition


def claim(
    session: Session,
    worker_id: str,
    *,
    kinds: Iterable[str] | None = None,
    campaign_id: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_S,
    now: datetime | None = None,
) -> Lease | None:
    """Lease the best claimable item (queued and due, or leased with an expired lease), or None."""
    now = now or utcnow()
    kind_list = list(kinds) if kinds is not None else None
    token = secrets.token_hex(16)
    expires = now + timedelta(seconds=lease_seconds)
    order = (_items.c.priority.desc(), _items.c.id)
    candidates = select(_items.c.id).where(_claimable(now, kind_list, campaign_id)).order_by(*order).limit(1)

    if session.get_bind().dialect.name == "postgresql":
        item_id = session.execute(candidates.with_for_update(skip_locked=True)).scalar_one_or_none()
        if item_id is None:
            return None
        target = _items.c.id == item_id
    else:
        # The re-check of the claim condition makes the statement safe even without the write lock.
        target = and_(_items.c.id == candidates.scalar_subquery(), _claimable(now, kind_list, campaign_id))

    row = session.execute(
        update(_items)
        .where(target)
        .values(
            status=WorkStatus.LEASED.value,
            claimed_by=worker_id,
            lease_token=token,
            lease_expires_at=expires,
            attempts=_items.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            _items.c.id,
            _items.c.kind,
            _items.c.campaign_id,
            _items.c.payload,
            _items.c.attempts,
            _items.c.max_attempts,
        )
    ).one_or_none()
    if row is None:
        return None
    _forget(session, row.id)
    return Lease(
        item_id=row.id,
        kind=row.kind,
        campaign_id=row.campaign_id,
        payload=row.payload or {},
        claimed_by=worker_id,
        lease_token=token,
        lease_expires_at=expires,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
    )


def _held(item_id: int, lease_token: str) -> Any:
    return and_(
        _items.c.id == item_id,
        _items.c.lease_token == lease_token,
        _items.c.status == WorkStatus.LEASED.value,
    )


# Built once: the fence runs in every write transaction of a worker's engine.
_HOLDER = (select(_items.c.campaign_id, _items.c.kind, _items.c.status)
           .where(_items.c.id == bindparam("fence_item"), _items.c.lease_token == bindparam("fence_token"))
           .with_for_update())
_RIVAL = (select(_items.c.id)
          .where(_items.c.campaign_id == bindparam("fence_campaign"), _items.c.kind == bindparam("fence_kind"),
                 _items.c.id != bindparam("fence_item"), _items.c.status == WorkStatus.LEASED.value)
          .limit(1))


def assert_held(session: Session, item_id: int, lease_token: str) -> None:
    """Fence a write: raise :class:`LeaseLost` if another worker has taken this work over.

    Taken over means: the item was claimed again (a new token) or returned to the queue after its lease
    expired (no token), or, once the item was cancelled (a pause), another item of the same kind for the
    same campaign is leased (the campaign was resumed elsewhere). A pause or cancel alone does not fence:
    the cancelled item keeps its token so its engine can still record how it stopped. While the item is
    still leased under this token it holds the work, whatever else is queued for the campaign (a duplicate
    run item stands down by itself, see ``app.workers.queue.defer_to_earlier``).

    Call it first in the transaction that writes, before touching the campaign's row (pause and cancel
    lock the item first too; the opposite order deadlocks on PostgreSQL). On SQLite that transaction
    holds the database write lock (``BEGIN IMMEDIATE``), so nothing changes between check and commit. On
    PostgreSQL the item row stays locked (``FOR UPDATE``) until the transaction ends, so a takeover's claim
    skips the item (``SKIP LOCKED``) until then; a new run item of a paused campaign claimed during that
    one transaction is not excluded.
    """
    relax = async_commit_column(session)  # a requested async commit rides on this round trip
    holder = _HOLDER if relax is None else _HOLDER.add_columns(relax.label("async_commit"))
    row = session.execute(holder, {"fence_item": item_id, "fence_token": lease_token}).first()
    if row is None:
        raise LeaseLost(f"work item {item_id} was taken over (its lease expired and was claimed or requeued)")
    if row.status == WorkStatus.LEASED.value or row.campaign_id is None:
        return
    other = session.execute(_RIVAL, {"fence_campaign": row.campaign_id, "fence_kind": row.kind,
                                     "fence_item": item_id}).first()
    if other is not None:
        raise LeaseLost(f"campaign {row.campaign_id} is run by work item {other.id} now, not {item_id}")


def _forget(session: Session, item_id: int) -> None:
    """Expire a loaded WorkItem after a Core UPDATE so the ORM does not serve stale columns."""
    loaded = session.identity_map.get(session.identity_key(WorkItem, item_id))
    if loaded is not None:
        session.expire(loaded)


def _forget_all(session: Session) -> None:
    for obj in list(session.identity_map.values()):
        if isinstance(obj, WorkItem):
            session.expire(obj)


def renew_lease(
    session: Session,
    item_id: int,
    lease_token: str,
    *,
    lease_seconds: float = DEFAULT_LEASE_S,
    now: datetime | None = None,
) -> datetime | None:
    """Extend a lease still held with this token; the new expiry, or None if the lease was lost."""
    now = now or utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    result = session.execute(
        update(_items).where(_held(item_id, lease_token)).values(lease_expires_at=expires, updated_at=now)
    )
    _forget(session, item_id)
    return expires if result.rowcount == 1 else None


def complete(
    session: Session,
    item_id: int,
    lease_token: str,
    *,
    result: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Mark the item done; False if this token no longer holds it (the work was taken over)."""
    now = now or utcnow()
    outcome = session.execute(
        update(_items)
        .where(_held(item_id, lease_token))
        .values(
            status=WorkStatus.DONE.value,
            result=result,
            lease_token=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    )
    _forget(session, item_id)
    return outcome.rowcount == 1


def fail(
    session: Session,
    item_id: int,
    lease_token: str,
    *,
    error: str,
    retry: bool = True,
    retry_delay_s: float = 0.0,
    now: datetime | None = None,
) -> WorkStatus | None:
    """Record a failure: back to the queue (after ``retry_delay_s``) while attempts remain, else failed.

    Returns the new status, or None if this token no longer holds the item.
    """
    now = now or utcnow()
    row = session.execute(
        select(_items.c.attempts, _items.c.max_attempts).where(_held(item_id, lease_token))
    ).one_or_none()
    if row is None:
        return None
    again = retry and row.attempts < row.max_attempts
    status = WorkStatus.QUEUED if again else WorkStatus.FAILED
    values: dict[str, Any] = {
        "status": status.value,
        "last_error": error,
        "lease_token": None,
        "lease_expires_at": None,
        "updated_at": now,
    }
    if again:
        values.update(available_at=now + timedelta(seconds=retry_delay_s), claimed_by=None)
    else:
        values["finished_at"] = now
    outcome = session.execute(update(_items).where(_held(item_id, lease_token)).values(**values))
    _forget(session, item_id)
    return status if outcome.rowcount == 1 else None


def release(session: Session, item_id: int, lease_token: str, *, now: datetime | None = None) -> bool:
    """Hand an item back untouched (e.g. on graceful shutdown); the claim does not count as an attempt."""
    now = now or utcnow()
    outcome = session.execute(
        update(_items)
        .where(_held(item_id, lease_token))
        .values(
            status=WorkStatus.QUEUED.value,
            attempts=_items.c.attempts - 1,
            claimed_by=None,
            lease_token=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )
    _forget(session, item_id)
    return outcome.rowcount == 1


def requeue_expired(session: Session, *, now: datetime | None = None) -> RequeueReport:
    """Return expired leases to the queue, or fail them when their attempts are used up."""
    now = now or utcnow()
    expired = and_(_items.c.status == WorkStatus.LEASED.value, _items.c.lease_expires_at < now)
    failed = session.execute(
        update(_items)
        .where(expired, _items.c.attempts >= _items.c.max_attempts)
        .values(
            status=WorkStatus.FAILED.value,
            last_error="lease expired with no attempts left",
            lease_token=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    ).rowcount
    requeued = session.execute(
        update(_items)
        .where(expired, _items.c.attempts < _items.c.max_attempts)
        .values(
            status=WorkStatus.QUEUED.value,
            available_at=now,
            claimed_by=None,
            lease_token=None,
            lease_expires_at=None,
            updated_at=now,
        )
    ).rowcount
    if failed or requeued:
        _forget_all(session)
    return RequeueReport(requeued=requeued, failed=failed)


def cancel_campaign_work(session: Session, campaign_id: str, *, now: datetime | None = None) -> int:
    """Cancel a campaign's queued and leased items (its workers learn at their next renew).

    A leased item keeps its token: renewing and completing fail (the status is no longer ``leased``), but
    :func:`assert_held` still lets its engine record how it stopped.
    """
    now = now or utcnow()
    count = session.execute(
        update(_items)
        .where(
            _items.c.campaign_id == campaign_id,
            _items.c.status.in_([WorkStatus.QUEUED.value, WorkStatus.LEASED.value]),
        )
        .values(
            status=WorkStatus.CANCELLED.value,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    ).rowcount
    if count:
        _forget_all(session)
    return count
