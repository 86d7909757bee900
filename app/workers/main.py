"""A standalone worker process: a pool sharing the service's database, stopped gracefully by SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from app.workers.options import WorkerOptions
from app.workers.pool import WorkerPool
from app.workers.teams import TeamFactory

log = logging.getLogger(__name__)


def run_worker_process(settings: Any, *, size: int, options: WorkerOptions, team_factory: TeamFactory | None = None,
                       name: str | None = None, ready: threading.Event | None = None,
                       services: Any = None) -> None:
    """Run until SIGTERM or SIGINT, then stop claiming, interrupt running campaigns and hand them back.

    ``services`` replaces the database/store/evaluator bundle built from ``settings`` (tests use it to run
    candidates in-process).
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("signal %s: stopping the worker pool", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if services is None:
        pool = WorkerPool.from_settings(settings, size=size, options=options, team_factory=team_factory, name=name)
    else:
        pool = WorkerPool(services, size=size, options=options, team_factory=team_factory, name=name,
                          owns_services=True)
    try:
        pool.start()
        if ready is not None:
            ready.set()
        while not stop.wait(1.0):
            pass
    finally:
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
