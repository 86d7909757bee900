"""Background execution of campaigns: lease-holding workers fed by the database work queue.

``WorkerPool`` runs in the API process (``serve``) or on its own (``agentic-sciml worker``); both share the
database, so any number of processes on any number of machines can work the same queue.
"""

from app.workers.options import WorkerOptions
from app.workers.pool import WorkerPool
from app.workers.queue import CAMPAIGN_RUN, enqueue_run

__all__ = ["CAMPAIGN_RUN", "WorkerOptions", "WorkerPool", "enqueue_run"]
