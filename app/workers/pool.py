"""Workers: threads that claim campaign runs from the database queue and drive them with the engine.

Requests never wait for training: the API only enqueues a ``campaign.run`` item. A worker claims it under
a lease, runs the campaign to its end with :func:`app.campaigns.service.run_campaign`, and completes the
item. One heartbeat thread per pool keeps every lease it holds alive, beats the pool's liveness row, and
watches the campaigns it runs; it is how a pause or cancel issued through the API (in any process) reaches
an engine here, and how a worker notices that its lease was taken away.

Failure model:

* a worker process that dies (kill -9) stops renewing; once its lease expires another worker's claim takes
  the item over and the engine's resume logic keeps finished nodes and redoes unfinished ones;
* a graceful stop (SIGTERM) stops claiming, sets ``engine.cancel`` (the running evaluation is killed and its
  node goes back to pending), and releases the lease so that another worker resumes the campaign at once;
* an engine error marks the campaign failed (the engine does that) and fails the item without retry;
* a run whose attempts are used up (it kept killing its workers) fails its campaign, via the reaper.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select

from app.campaigns.config import CampaignConfig
from app.db import repository as repo
from app.db.events import append_event
from app.db.models import Campaign
from app.workers import control, heartbeat
from app.workers.gate import GatedEvaluator
from app.workers.options import WorkerOptions
from app.workers.queue import CAMPAIGN_RUN, defer_to_earlier, exhausted_runs
from app.workers.teams import TeamFactory

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One claimed run: the lease, the engine once it exists, and why it is being interrupted."""

    lease: repo.Lease
    engine: Any = None
    lost: bool = False
    taken_over: bool = False  # another worker holds the campaign now: settle writes nothing
    shutdown: bool = False
    cancel_reason: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def campaign_id(self) -> str:
        return self.lease.campaign_id or ""

    def attach(self, engine: Any) -> None:
        """Engine hook: remember the engine; a request that came before it existed applies now."""
        lease = self.lease
        with self._lock:
            self.engine = engine
            # Every write of the engine first checks that this lease still holds the campaign, so a worker
            # that stalled past its lease cannot write over the one that took the campaign over.
            engine.fence = lambda session: repo.assert_held(session, lease.item_id, lease.lease_token)
            if self.cancel_reason is not None:
                engine.cancel.set()

    def interrupt(self, reason: str) -> None:
        with self._lock:
            if self.cancel_reason is None:
                self.cancel_reason = reason
            if self.engine is not None:
                self.engine.cancel.set()


class WorkerPool:
    """``size`` worker threads plus one heartbeat thread sharing one database, store and evaluator.

    ``services`` is an :class:`app.campaigns.service.Services` (built from ``settings`` when omitted, and
    then closed by :meth:`stop`). ``team_factory`` turns a campaign's configuration into an agent team.
    """

    def __init__(
        self,
        services: Any,
        *,
        size: int = 1,
        options: WorkerOptions | None = None,
        team_factory: TeamFactory | None = None,
        name: str | None = None,
        owns_services: bool = False,
        on_job_finished: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.options = options or WorkerOptions()
        self.services = services
        self.db = services.db
        self._gated = GatedEvaluator(services.evaluator, self.options.max_evaluations_in_flight)
        services.evaluator = self._gated
        self.size = size
        self.team_factory = team_factory  # None: run_campaign builds the team the campaign asked for
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._owns_services = owns_services
        self._on_job_finished = on_job_finished
        self._stopping = threading.Event()
        self._nudge = threading.Event()
        self._threads: list[threading.Thread] = []
        self._beat_thread: threading.Thread | None = None
        self._beat_stop = threading.Event()
        self._jobs: dict[int, Job] = {}
        self._jobs_lock = threading.Lock()
        self._beat_row: tuple[int, str] | None = None
        self.finished: deque[dict[str, Any]] = deque(maxlen=1000)  # recent outcomes, for tests and logs

    @classmethod
    def from_settings(cls, settings: Any, *, size: int = 1, options: WorkerOptions | None = None,
                      team_factory: TeamFactory | None = None, name: str | None = None) -> "WorkerPool":
        from app.campaigns.service import open_services

        options = options or WorkerOptions()
        services = open_services(settings, warm_workers=settings.warm_workers)
        return cls(services, size=size, options=options, team_factory=team_factory, name=name,
                   owns_services=True)

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._warm_up()
        self._register_heartbeat()
        self._beat_thread = threading.Thread(target=self._beat_loop, name=f"{self.name}-heartbeat", daemon=True)
        self._beat_thread.start()
        for index in range(self.size):
            worker_id = f"{self.name}/{index}"
            thread = threading.Thread(target=self._work_loop, args=(worker_id,), name=worker_id, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker pool %s started with %d worker(s)", self.name, self.size)

    @staticmethod
    def _warm_up() -> None:
        """Pay the engine's imports (torch through the problem suite, the knowledge base) before claiming
        anything, so that they do not eat into the first lease."""
        import importlib

        for module in ("app.campaigns.service", "problems.registry", "knowledge_base.retrieval"):
            try:
                importlib.import_module(module)
            except Exception:  # the run itself will report what is missing
                log.warning("worker warm-up: cannot import %s", module, exc_info=True)

    def notify(self) -> None:
        """Work was just queued: idle workers look now instead of at their next poll."""
        self._nudge.set()

    def stop(self, timeout: float | None = None) -> None:
        """Graceful stop: claim nothing more, interrupt running campaigns, hand their leases back."""
        timeout = self.options.stop_timeout_seconds if timeout is None else timeout
        self._stopping.set()
        self._nudge.set()
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.shutdown = True
            job.interrupt("worker shutting down")
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._beat_stop.set()
        if self._beat_thread is not None:
            self._beat_thread.join(5)
        self._retire_heartbeat()
        if self._owns_services:
            self.services.close()
        log.info("worker pool %s stopped", self.name)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads) and not self._stopping.is_set()

    def active_campaigns(self) -> list[str]:
        with self._jobs_lock:
            return [job.campaign_id for job in self._jobs.values()]

    # -- heartbeat ----------------------------------------------------------------------------------------
    def _register_heartbeat(self) -> None:
        info = {"host": socket.gethostname(), "pid": os.getpid(), "threads": self.size}
        with self.db.session_scope() as s:
            heartbeat.prune(s)
            self._beat_row = heartbeat.register(s, self.name, info, self.options.lease_seconds)

    def _retire_heartbeat(self) -> None:
        if self._beat_row is None:
            return
        try:
            with self.db.session_scope() as s:
                heartbeat.retire(s, *self._beat_row)
        except Exception:  # the row expires by itself anyway
            log.exception("could not retire heartbeat row")
        self._beat_row = None

    def _beat_loop(self) -> None:
        beats = 0
        while not self._beat_stop.wait(self.options.heartbeat_seconds):
            beats += 1
            try:
                self._beat_once(reap=beats % self.options.reap_every_beats == 0)
            except Exception:  # a database hiccup must not kill the heartbeat
                log.exception("heartbeat failed")

    def _beat_once(self, *, reap: bool = False) -> None:
        lease_s = self.options.lease_seconds
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        with self.db.session_scope() as s:
            if self._beat_row is not None and not heartbeat.beat(s, *self._beat_row, lease_s):
                self._beat_row = heartbeat.register(s, self.name, {"host": socket.gethostname(),
                                                                   "pid": os.getpid(), "threads": self.size},
                                                    lease_s)
            for job in jobs:
                if repo.renew_lease(s, job.lease.item_id, job.lease.lease_token, lease_seconds=lease_s) is None:
                    job.lost = True
        for job in jobs:
            if job.lost:
                job.interrupt("lease lost (cancelled, paused or taken over)")
        if jobs:
            with self.db.session_scope(readonly=True) as s:
                statuses = dict(s.execute(select(Campaign.id, Campaign.status)
                                          .where(Campaign.id.in_([j.campaign_id for j in jobs]))).all())
            # Pause and cancel through the API also cancel the run item, so they show up above as a lost
            # lease; this check catches a campaign cancelled or deleted by other means. (A "paused" status
            # is not a signal here: a released run waits as "paused" until its engine sets "running".)
            for job in jobs:
                status = statuses.get(job.campaign_id)
                if status in (None, "cancelled"):
                    job.interrupt(f"campaign {status or 'deleted'}")
        if reap:
            self._reap()

    def _reap(self) -> None:
        """Return expired leases to the queue; fail campaigns whose runs used up their attempts."""
        with self.db.session_scope() as s:
            report = repo.requeue_expired(s)
            dead = exhausted_runs(s)
            for item_id, campaign_id, error in dead:
                message = f"run {item_id} failed for good: {error or 'its workers kept dying'}"
                repo.set_campaign_status(s, campaign_id, "failed", error=message)
                append_event(s, campaign_id, "campaign.failed", {"reason": message})
        if report.requeued or report.failed or dead:
            log.info("reaper: %d lease(s) requeued, %d failed, %d campaign(s) failed",
                     report.requeued, report.failed, len(dead))

    # -- work ---------------------------------------------------------------------------------------------
    def _work_loop(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            try:
                lease = self._claim(worker_id)
            except Exception:  # the next poll tries again
                log.exception("claim failed")
                lease = None
            if lease is None:
                self._nudge.wait(self.options.poll_seconds)
                self._nudge.clear()
                continue
            try:
                self._run(lease)
            except Exception:  # keep the worker alive; the lease will expire
                log.exception("run of item %s crashed", lease.item_id)

    def _claim(self, worker_id: str) -> repo.Lease | None:
        with self.db.session_scope() as s:
            return repo.claim(s, worker_id, kinds=[CAMPAIGN_RUN], lease_seconds=self.options.lease_seconds)

    def _run(self, lease: repo.Lease) -> None:
        campaign_id = lease.campaign_id
        with self.db.session_scope() as s:
            campaign = repo.get_campaign(s, campaign_id) if campaign_id else None
            if campaign is None or campaign.status in ("completed", "cancelled"):
                why = "campaign gone" if campaign is None else f"campaign already {campaign.status}"
                repo.complete(s, lease.item_id, lease.lease_token, result={"skipped": why})
                self._record(lease, {"outcome": "skipped", "reason": why})
                return
            if defer_to_earlier(s, campaign_id, lease.item_id):
                repo.complete(s, lease.item_id, lease.lease_token, result={"skipped": "another run holds it"})
                self._record(lease, {"outcome": "skipped", "reason": "duplicate run"})
                return
            config = CampaignConfig(**{k: v for k, v in campaign.config.items() if not k.startswith("_")})
            append_event(s, campaign_id, "worker.claimed", {"worker": lease.claimed_by,
                                                           "attempt": lease.attempts, "item_id": lease.item_id})
        job = Job(lease)
        with self._jobs_lock:
            self._jobs[lease.item_id] = job
        if self._stopping.is_set():
            job.shutdown = True
            job.interrupt("worker shutting down")
        summary: dict[str, Any] | None = None
        error: str | None = None
        try:
            team = self.team_factory(config) if self.team_factory is not None else None
            from app.campaigns.service import run_campaign

            summary = run_campaign(self.services, campaign_id, team=team, engine_hook=job.attach)
        except repo.LeaseLost as exc:
            job.lost = job.taken_over = True
            log.warning("campaign %s: stopped writing, %s", campaign_id, exc)
        except Exception as exc:  # noqa: BLE001 - recorded on the item and the campaign
            error = f"{type(exc).__name__}: {exc}"
            log.warning("campaign %s failed: %s\n%s", campaign_id, error, traceback.format_exc())
        finally:
            with self._jobs_lock:
                self._jobs.pop(lease.item_id, None)
        self._settle(job, summary, error)

    def _settle(self, job: Job, summary: dict[str, Any] | None, error: str | None) -> None:
        """Decide what happens to the item (and, in races, the campaign's status) once the engine returned."""
        lease, campaign_id = job.lease, job.campaign_id
        status = (summary or {}).get("status")
        with self.db.session_scope() as s:
            if error is not None:
                # The item before the campaign row: the lock order of engines' fenced writes.
                repo.fail(s, lease.item_id, lease.lease_token, error=error, retry=False)
                campaign = repo.get_campaign(s, campaign_id)
                if campaign is not None and campaign.status not in ("failed", "cancelled"):
                    repo.set_campaign_status(s, campaign_id, "failed", error=error)  # e.g. the team failed
                    append_event(s, campaign_id, "campaign.failed", {"reason": error})
                outcome = "failed"
            elif job.taken_over:
                outcome = "taken over"
            elif job.lost:
                changed = control.reassert(s, campaign_id)
                outcome = "lost"
                if changed:
                    append_event(s, campaign_id, f"campaign.{changed}", {"reason": "requested while starting"})
            elif job.shutdown and status == "paused" and job.cancel_reason == "worker shutting down":
                repo.release(s, lease.item_id, lease.lease_token)
                append_event(s, campaign_id, "campaign.requeued", {"reason": "worker shutting down",
                                                                  "worker": lease.claimed_by})
                outcome = "released"
            else:
                repo.complete(s, lease.item_id, lease.lease_token, result={"status": status})
                outcome = "completed"
        self._record(lease, {"outcome": outcome, "status": status, "error": error})

    def _record(self, lease: repo.Lease, info: dict[str, Any]) -> None:
        entry = {"item_id": lease.item_id, "campaign_id": lease.campaign_id, "worker": lease.claimed_by, **info}
        self.finished.append(entry)
        if self._on_job_finished is not None:
            self._on_job_finished(lease.campaign_id or "", entry)
