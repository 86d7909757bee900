"""Pause and cancel requests that must reach a campaign running in another process.

The API records the request in three places, in one transaction: the campaign's status (the engine reads
it between steps), the campaign's run items are cancelled (the worker's next lease renewal fails, so it
interrupts even a long evaluation), and ``config["_control"]`` keeps the intent. The last one settles a
race: a worker that started the engine just before the request can have its engine overwrite the status
with ``running`` and then stop as ``paused``; the worker re-applies the recorded intent afterwards.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from app.db import repository as repo
from app.db.types import utcnow

Action = Literal["pause", "cancel"]
STATUS_FOR: dict[str, str] = {"pause": "paused", "cancel": "cancelled"}


def request(session: Session, campaign_id: str, action: Action, *, by: str | None = None) -> int:
    """Apply a pause/cancel request; returns how many run items were cancelled.

    The run items are updated before the campaign row, the order in which a worker's engine locks them (its
    lease fence locks the item, then its write touches the campaign): the opposite order deadlocks on
    PostgreSQL when a pause meets a write.
    """
    if repo.get_campaign(session, campaign_id) is None:
        raise LookupError(f"no campaign {campaign_id!r}")
    cancelled = repo.cancel_campaign_work(session, campaign_id)
    campaign = repo.get_campaign(session, campaign_id)
    campaign.config = {**campaign.config,
                       "_control": {"action": action, "at": utcnow().isoformat(), "by": by}}
    repo.set_campaign_status(session, campaign_id, STATUS_FOR[action])
    return cancelled


def clear(session: Session, campaign_id: str) -> None:
    """Forget an earlier request (on resume)."""
    campaign = repo.get_campaign(session, campaign_id)
    if campaign is not None and "_control" in campaign.config:
        campaign.config = {k: v for k, v in campaign.config.items() if k != "_control"}
        session.flush()


def reassert(session: Session, campaign_id: str) -> str | None:
    """After an interrupted run: make the status match a recorded request; returns the status set, if any."""
    campaign = repo.get_campaign(session, campaign_id)
    if campaign is None:
        return None
    action = (campaign.config.get("_control") or {}).get("action")
    wanted = STATUS_FOR.get(action or "")
    if wanted is None or campaign.status == wanted or campaign.status in ("completed", "failed", "cancelled"):
        return None
    repo.set_campaign_status(session, campaign_id, wanted)
    return wanted
