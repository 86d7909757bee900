"""Batches in the database: creating one with its campaigns, finishing it with its report, cancelling it.

A batch in ``queue`` mode puts one ``campaign.run`` item per campaign in the work queue, in the same
transaction that creates the rows, so whichever workers are running (in the API process or standalone)
train them; nothing waits for them. A ``local`` batch is driven by the process that made it
(``agentic-sciml batch run``) and queues nothing, so a server's workers never run its campaigns twice.

Finishing is idempotent and safe to race: :meth:`Finalizer.finalize` flips ``running`` to ``completed`` (or
``cancelled``, when ``cancel_requested_at`` is set) with a conditional UPDATE, so of several scheduler
instances (or a reader of the API) exactly one writes the report.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from app.db import repository as repo
from app.db.events import append_event
from app.db.models import TERMINAL_CAMPAIGN_STATUSES, Batch, BatchCampaign, BatchStatus, Campaign
from app.db.session import Database
from app.db.types import utcnow
from app.scheduling.plan import PlannedRun
from app.scheduling.report import BatchSummary, build_summary, render_markdown
from app.scheduling.spec import BatchSpec

log = logging.getLogger(__name__)
TERMINAL = [str(s) for s in TERMINAL_CAMPAIGN_STATUSES]


def new_batch_id() -> str:
    return secrets.token_hex(6)


def create_batch(session: Session, spec: BatchSpec, runs: list[PlannedRun], *, owner_id: int | None,
                 run_mode: str = "queue", schedule_id: int | None = None, slot: datetime | None = None,
                 max_attempts: int = 5, by: str | None = None, now: datetime | None = None) -> Batch:
    """Store the batch, its campaigns and (queue mode) their run items; flushes, never commits."""
    from app.workers.queue import enqueue_run

    now = now or utcnow()
    batch = Batch(id=new_batch_id(), name=spec.name, owner_id=owner_id, schedule_id=schedule_id, slot=slot,
                  status=BatchStatus.RUNNING.value, run_mode=run_mode,
                  spec=spec.model_dump(mode="json", exclude_unset=True),
                  budget={"caps": spec.budget.caps(), "split": "by weight",
                          "shares": [{"position": r.position, "weight": r.weight, **r.share} for r in runs]},
                  created_at=now, updated_at=now)
    session.add(batch)
    # Problem rows first, in name order: two instances firing batches that share problems then lock those
    # rows in the same order and cannot deadlock.
    problem_ids: dict[str, int] = {}
    for resolved in sorted({r.resolved.name: r.resolved for r in runs}.values(), key=lambda p: p.name):
        row = repo.upsert_problem(session, resolved.name, kind=resolved.kind, spec=resolved.spec,
                                  source=resolved.source)
        problem_ids[resolved.name] = row.id
    session.flush()
    for run in runs:
        name = f"{spec.name}: {run.problem} × {run.team}"[:200]
        campaign = repo.create_campaign(session, problem_ids[run.resolved.name], config=run.config.model_dump(),
                                        seed=run.config.seed, owner_id=owner_id, name=name, now=now)
        session.add(BatchCampaign(batch_id=batch.id, position=run.position, campaign_id=campaign.id,
                                  problem=run.problem[:1000], team=run.team))
        if run_mode == "queue":
            enqueue_run(session, campaign.id, max_attempts=max_attempts, reason="batch")
            append_event(session, campaign.id, "campaign.queued",
                         {"reason": "batch", "batch_id": batch.id, "by": by or "scheduler"})
    session.flush()
    return batch


def campaign_ids(session: Session, batch_id: str) -> list[str]:
    return [cid for cid in session.scalars(select(BatchCampaign.campaign_id).where(BatchCampaign.batch_id == batch_id)
                                           .order_by(BatchCampaign.position)) if cid]


def report_path(data_dir: Path, batch_id: str) -> Path:
    return data_dir / "batches" / batch_id / "report.md"


@dataclass
class Finalizer:
    """What finishing a batch needs besides the database: where reports go and how links start."""

    db: Database
    data_dir: Path
    base_url: str = ""

    def ready_ids(self) -> list[str]:
        """Running batches none of whose campaigns is still unfinished (deleted ones count as finished)."""
        unfinished = exists().where(and_(BatchCampaign.batch_id == Batch.id, Campaign.id == BatchCampaign.campaign_id,
                                         Campaign.status.not_in(TERMINAL)))
        with self.db.session_scope(readonly=True) as s:
            return list(s.scalars(select(Batch.id).where(Batch.status == BatchStatus.RUNNING.value, ~unfinished)
                                  .order_by(Batch.created_at).limit(100)))

    def finalize_ready(self) -> int:
        return sum(1 for batch_id in self.ready_ids() if self.finalize(batch_id) is not None)

    def finalize(self, batch_id: str) -> BatchSummary | None:
        """Freeze the summary and report if every campaign finished; None if not yet (or someone else did).

        The closing status comes from the row (``cancel_requested_at``), not from the caller: a scheduler loop
        that closes a batch somebody cancelled a moment ago must close it as cancelled too.
        """
        with self.db.session_scope() as s:
            batch = s.get(Batch, batch_id)
            if batch is None or batch.status != BatchStatus.RUNNING.value:
                return None
            status = (BatchStatus.CANCELLED if batch.cancel_requested_at is not None else BatchStatus.COMPLETED).value
            now = utcnow()
            summary = build_summary(s, batch, base_url=self.base_url)
            if not summary.final:
                return None
            summary = summary.model_copy(update={"status": status, "finished_at": now})
            markdown = render_markdown(summary)
            changed = s.execute(
                update(Batch).where(Batch.id == batch_id, Batch.status == BatchStatus.RUNNING.value)
                .values(status=status, summary=summary.model_dump(mode="json"), report=markdown, finished_at=now,
                        updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                return None
        self._write(batch_id, markdown)
        return summary

    def _write(self, batch_id: str, markdown: str) -> None:
        path = report_path(self.data_dir, batch_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".md.tmp")
            tmp.write_text(markdown, encoding="utf-8")
            tmp.replace(path)
        except OSError:  # the report is in the database anyway
            log.warning("could not write the report of batch %s to %s", batch_id, path, exc_info=True)

    def cancel(self, batch_id: str, *, by: str | None = None) -> int:
        """Cancel every unfinished campaign of the batch and close it as cancelled; returns how many."""
        from app.workers import control

        cancelled = 0
        with self.db.session_scope() as s:
            changed = s.execute(
                update(Batch).where(Batch.id == batch_id, Batch.status == BatchStatus.RUNNING.value)
                .values(cancel_requested_at=func.coalesce(Batch.cancel_requested_at, utcnow()))
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:  # gone, or closed meanwhile
                return 0
            for campaign_id in campaign_ids(s, batch_id):
                campaign = repo.get_campaign(s, campaign_id)
                if campaign is None or campaign.status in TERMINAL:
                    continue
                was_running = campaign.status == "running"
                control.request(s, campaign_id, "cancel", by=by)
                append_event(s, campaign_id, "campaign.cancel_requested" if was_running else "campaign.cancelled",
                             {"reason": "batch cancelled", "by": by, "batch_id": batch_id})
                cancelled += 1
        self.finalize(batch_id)  # closes it now unless a campaign still runs; the scheduler loop does it later
        return cancelled


def stored_summary(batch: Batch) -> BatchSummary | None:
    return BatchSummary.model_validate(batch.summary) if batch.summary else None


def summary_of(session: Session, batch: Batch, base_url: str = "") -> BatchSummary:
    """The frozen summary of a finished batch, or a live one."""
    return stored_summary(batch) or build_summary(session, batch, base_url=base_url)


def describe(batch: Batch) -> dict[str, Any]:
    return {"id": batch.id, "name": batch.name, "status": batch.status, "run_mode": batch.run_mode,
            "schedule_id": batch.schedule_id, "created_at": batch.created_at, "finished_at": batch.finished_at}
