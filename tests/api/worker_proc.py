"""A worker process for the kill -9 tests: the real WorkerPool, the scripted team, in-process evaluation.

    python -m tests.api.worker_proc DB_URL DATA_DIR NAME LEASE_S HEARTBEAT_S DELAY_S
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from app.campaigns.service import Services
from app.db.artifacts import ArtifactStore
from app.db.session import Database
from app.settings import Settings
from app.workers.main import run_worker_process
from app.workers.options import WorkerOptions
from tests.api.fakes import InlineEvaluator, scripted_team_with


def main() -> None:
    url, data_dir, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    lease, beat, delay = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(levelname)s %(name)s: %(message)s")
    settings = Settings(data_dir=data_dir, DATABASE_URL=url)
    services = Services(settings=settings, db=Database(url), store=ArtifactStore(data_dir / "artifacts"),
                        evaluator=InlineEvaluator(data_dir / "cache"))
    options = WorkerOptions(lease_seconds=lease, heartbeat_seconds=beat, poll_seconds=0.2, reap_every_beats=2)
    print("worker ready", flush=True)
    run_worker_process(settings, size=1, options=options, team_factory=scripted_team_with(delay), name=name,
                       services=services)


if __name__ == "__main__":
    main()
