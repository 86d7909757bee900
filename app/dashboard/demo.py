"""The demo behind ``agentic-sciml serve --demo``: a short campaign queued at start-up for the dashboard to show.

It is an ordinary campaign (offline team, small budgets) put in the work queue like one created through the
API, so the in-process workers pick it up as soon as the server starts and the dashboard follows it live.
"""

from __future__ import annotations

from app.api.settings import ServiceSettings
from app.campaigns.config import CampaignConfig
from app.settings import Settings

DEMO_PLAN = dict(team="offline", iterations=3, parents=2, candidate_seconds=15.0, smoke_seconds=3.0,
                 debate_rounds=4, memory="full")


def demo_config(problem: str) -> CampaignConfig:
    return CampaignConfig(problem=problem, **DEMO_PLAN)


def queue_demo_campaign(settings: Settings, service: ServiceSettings, problem: str) -> str:
    """Create the demo campaign and queue its run; returns the campaign id."""
    from app.campaigns.service import create_campaign, open_database
    from app.db.events import append_event
    from app.workers.queue import enqueue_run

    db = open_database(settings)
    try:
        campaign_id = create_campaign(db, demo_config(problem), name=f"demo: {problem}")
        with db.session_scope() as s:
            enqueue_run(s, campaign_id, max_attempts=service.max_attempts, reason="created")
            append_event(s, campaign_id, "campaign.queued", {"reason": "created", "by": "serve --demo"})
        return campaign_id
    finally:
        db.dispose()


def dashboard_url(host: str, port: int, campaign_id: str | None = None) -> str:
    shown = f"[{host}]" if ":" in host else host
    path = f"/ui/campaigns/{campaign_id}" if campaign_id else "/ui/"
    return f"http://{shown}:{port}{path}"
