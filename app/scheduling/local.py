"""Running a batch in this process, one campaign after another (``agentic-sciml batch run`` / ``resume``).

The batch is stored like any other (``run_mode = local``), so ``batch list/show`` and the API see it, but
its campaigns are not queued: this process drives them. An interruption (Ctrl-C) pauses the campaign that
was running and stops the batch; ``agentic-sciml batch resume ID`` continues with the unfinished campaigns.
A campaign that fails does not stop the others; the summary says which failed and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from app.campaigns.config import CampaignConfig
from app.db import repository as repo
from app.db.models import TERMINAL_CAMPAIGN_STATUSES, Batch
from app.scheduling.batches import Finalizer, campaign_ids, create_batch, summary_of
from app.scheduling.plan import PlannedRun
from app.scheduling.report import BatchSummary
from app.scheduling.spec import BatchSpec

log = logging.getLogger(__name__)
TERMINAL = {str(s) for s in TERMINAL_CAMPAIGN_STATUSES}


@dataclass
class LocalOutcome:
    batch_id: str
    summary: BatchSummary
    interrupted: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # campaign id -> engine error


def start_local_batch(services: Any, spec: BatchSpec, runs: list[PlannedRun]) -> str:
    with services.db.session_scope() as s:
        return create_batch(s, spec, runs, owner_id=None, run_mode="local", by="cli").id


def run_local_batch(services: Any, batch_id: str, *, base_url: str = "",
                    on_campaign: Callable[[int, int, str], None] | None = None,
                    on_event: Callable[[str], Any] | None = None,
                    team_factory: Callable[[CampaignConfig], Any] | None = None,
                    engine_hook: Callable[[Any], None] | None = None) -> LocalOutcome:
    """Run the batch's unfinished campaigns in order, then close the batch if all are done.

    ``on_campaign(index, count, campaign_id)`` announces each campaign; ``on_event(campaign_id)`` returns the
    engine's event callback for it; ``team_factory`` replaces the configured team (tests).
    """
    from app.campaigns.service import run_campaign

    with services.db.session_scope(readonly=True) as s:
        ids = campaign_ids(s, batch_id)
    outcome_errors: dict[str, str] = {}
    interrupted = False
    for index, campaign_id in enumerate(ids):
        with services.db.session_scope(readonly=True) as s:
            campaign = repo.get_campaign(s, campaign_id)
            if campaign is None or campaign.status in TERMINAL:
                continue
            config = CampaignConfig(**{k: v for k, v in campaign.config.items() if not k.startswith("_")})
        if on_campaign is not None:
            on_campaign(index, len(ids), campaign_id)
        team = team_factory(config) if team_factory is not None else None
        try:
            result = run_campaign(services, campaign_id, on_event=on_event(campaign_id) if on_event else None,
                                  team=team, engine_hook=engine_hook)
        except Exception as exc:  # noqa: BLE001 - the engine marked the campaign failed; go on with the next
            outcome_errors[campaign_id] = f"{type(exc).__name__}: {exc}"
            log.warning("campaign %s of batch %s failed: %s", campaign_id, batch_id, outcome_errors[campaign_id])
            continue
        if result.get("status") == "paused":
            interrupted = True
            break
    finalizer = Finalizer(services.db, services.settings.data_dir, base_url)
    summary = finalizer.finalize(batch_id)
    if summary is None:  # not finished (interrupted), or closed already (cancelled meanwhile)
        with services.db.session_scope(readonly=True) as s:
            summary = summary_of(s, s.get(Batch, batch_id), base_url)
    return LocalOutcome(batch_id=batch_id, summary=summary, interrupted=interrupted, errors=outcome_errors)
