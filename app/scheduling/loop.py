"""The scheduler loop: a thread that fires due schedules and closes finished batches, every few seconds.

It runs in every API process (started and stopped with the app, next to the in-process workers) and in
``agentic-sciml schedule daemon``; any number may run against one database, because firing is exactly
once per slot (:mod:`app.scheduling.firing`) and closing a batch is a conditional update
(:mod:`app.scheduling.batches`). A tick is a read-only query when nothing is due, so idle instances cost the
database almost nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from app.db.session import Database
from app.scheduling.batches import Finalizer
from app.scheduling.firing import FiringContext, TickReport, fire_due

log = logging.getLogger(__name__)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SchedulerLoop:
    def __init__(self, db: Database, context: FiringContext, finalizer: Finalizer, *, tick_seconds: float = 5.0,
                 on_fired: Callable[[], None] | None = None) -> None:
        self.db = db
        self.context = context
        self.finalizer = finalizer
        self.tick_seconds = tick_seconds
        self.on_fired = on_fired  # e.g. wake the in-process workers at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.totals: dict[str, int] = {"fired": 0, "missed": 0, "overlapped": 0, "failed": 0, "lost": 0, "retry": 0,
                                       "finalized": 0}

    @classmethod
    def from_settings(cls, db: Database, settings: Any, *, default_providers_file: str | None = None,
                      max_concurrency: int | None = None, max_attempts: int = 5,
                      on_fired: Callable[[], None] | None = None, limits: Any = None) -> "SchedulerLoop":
        """``limits``: the service settings whose active-campaign limits firings obey (None: no limits)."""
        data_dir = Path(settings.data_dir)
        context = FiringContext(instance=instance_name(), grace_seconds=settings.schedule_misfire_grace_seconds,
                                max_attempts=max_attempts, user_problems_dir=data_dir / "user_problems",
                                default_providers_file=default_providers_file, max_concurrency=max_concurrency,
                                max_active_campaigns=getattr(limits, "max_active_campaigns", None),
                                max_active_campaigns_per_user=getattr(limits, "max_active_campaigns_per_user", None))
        finalizer = Finalizer(db, data_dir, settings.public_url or "")
        return cls(db, context, finalizer, tick_seconds=settings.scheduler_tick_seconds, on_fired=on_fired)

    # -- one pass -------------------------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> TickReport:
        report = TickReport(outcomes=fire_due(self.db, self.context, now=now))
        report.finalized = self.finalizer.finalize_ready()
        self.ticks += 1
        for outcome in report.outcomes:
            self.totals[outcome.status] = self.totals.get(outcome.status, 0) + 1
            detail = f" (batch {outcome.batch_id})" if outcome.batch_id else (f" ({outcome.error})" if outcome.error
                                                                             else "")
            log.info("schedule %s, slot %s: %s%s", outcome.schedule_id, outcome.slot, outcome.status, detail)
        self.totals["finalized"] += report.finalized
        if report.count("fired") and self.on_fired is not None:
            self.on_fired()
        return report

    # -- thread ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"scheduler-{self.context.instance}", daemon=True)
        self._thread.start()
        log.info("scheduler %s started (tick %g s)", self.context.instance, self.tick_seconds)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the loop; the next tick retries
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def scheduler_for_api(ctx: Any) -> SchedulerLoop | None:
    """The loop an API process runs (None when ``AGENTIC_SCIML_SCHEDULER_ENABLED`` is false); ``ctx`` is the
    app's :class:`~app.api.context.ApiContext`. Firings wake the in-process workers at once."""
    if not ctx.settings.scheduler_enabled:
        return None
    return SchedulerLoop.from_settings(ctx.db, ctx.settings, default_providers_file=ctx.service.llm_providers_file,
                                       max_concurrency=ctx.service.max_evaluations_in_flight,
                                       max_attempts=ctx.service.max_attempts, on_fired=ctx.notify_workers,
                                       limits=ctx.service)
