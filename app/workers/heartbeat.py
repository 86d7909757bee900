"""Worker liveness, recorded in the work queue itself so that no extra table is needed.

Each worker process keeps one ``worker.heartbeat`` row in ``work_items``: status ``leased``, ``claimed_by``
its id, the lease expiry pushed forward on every beat. The row is created with ``attempts =
max_attempts = 1``, so no claim can ever take it and :func:`~app.db.work_queue.requeue_expired` simply
marks it failed once the process stops beating. "Alive" therefore means: a leased heartbeat row whose
lease has not expired, which is exactly what ``/readyz`` and the metrics count.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import repository as repo
from app.db.models import WorkItem, WorkStatus
from app.db.types import utcnow

HEARTBEAT = "worker.heartbeat"
KEEP_DEAD_FOR = timedelta(hours=1)


def register(session: Session, worker_id: str, info: dict[str, Any], ttl_seconds: float) -> tuple[int, str]:
    """Create this process's heartbeat row; returns (row id, token)."""
    now = utcnow()
    token = secrets.token_hex(16)
    item = WorkItem(
        kind=HEARTBEAT, payload=info, status=WorkStatus.LEASED.value, claimed_by=worker_id, lease_token=token,
        lease_expires_at=now + timedelta(seconds=ttl_seconds), attempts=1, max_attempts=1,
        created_at=now, updated_at=now, available_at=now,
    )
    session.add(item)
    session.flush()
    return item.id, token


def beat(session: Session, item_id: int, token: str, ttl_seconds: float) -> bool:
    """Push the expiry forward; False if the row was reaped (the process stalled longer than the ttl)."""
    return repo.renew_lease(session, item_id, token, lease_seconds=ttl_seconds) is not None


def retire(session: Session, item_id: int, token: str) -> None:
    """Graceful exit: the row stops counting at once instead of after the ttl."""
    repo.complete(session, item_id, token, result={"stopped": True})


def alive(session: Session) -> list[dict[str, Any]]:
    """Workers whose heartbeat has not expired, with what they reported about themselves."""
    now = utcnow()
    rows = session.scalars(
        select(WorkItem).where(WorkItem.kind == HEARTBEAT, WorkItem.status == WorkStatus.LEASED.value,
                               WorkItem.lease_expires_at >= now)
    )
    return [{"worker_id": r.claimed_by, "expires_at": r.lease_expires_at.isoformat(), **(r.payload or {})}
            for r in rows]


def prune(session: Session) -> int:
    """Drop heartbeat rows of workers gone for more than an hour (they only fill the table)."""
    cutoff = utcnow() - KEEP_DEAD_FOR
    result = session.execute(
        delete(WorkItem).where(WorkItem.kind == HEARTBEAT, WorkItem.status != WorkStatus.LEASED.value,
                               WorkItem.updated_at < cutoff)
    )
    return int(result.rowcount or 0)
