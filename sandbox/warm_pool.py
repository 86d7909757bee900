"""Pre-started sandbox processes that have already imported torch, each waiting for exactly one job.

Importing torch costs one to two seconds, more than the rest of an isolated evaluation together. A warm
worker is spawned inside its own jail with its own run directory, pays for the imports while the previous
candidate trains, and then serves a single candidate: the isolation rule (one candidate per process
lifetime) is unchanged. The job's tighter limits are applied by the harness before candidate code runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .process import SandboxProcess
from .runtime.task import Budget

if TYPE_CHECKING:
    from .runner import CandidateRunner

# Warm workers start with generous ceilings; each job lowers them to its own budget.
POOL_BUDGET = Budget(wall_seconds=24 * 3600.0, memory_mb=16384, device="cpu", cpu_threads=1)


@dataclass
class WarmWorker:
    run_id: str
    task_dir: Path
    scratch: Path
    process: SandboxProcess
    ready: bool = False

    def alive(self) -> bool:
        return self.process.poll_exit() is None


class WarmPool:
    def __init__(self, runner: "CandidateRunner", size: int) -> None:
        self.runner = runner
        self.size = size
        self._lock = threading.Lock()
        self._workers: list[WarmWorker] = []
        self._closed = False
        self._pending = 0
        for _ in range(size):
            self._spawn()

    def _spawn_tracked(self) -> None:
        try:
            if not self._closed:
                self._spawn()
        except OSError:
            pass  # a failed refill only means the next job starts cold
        finally:
            with self._lock:
                self._pending -= 1

    def _spawn(self) -> None:
        uid = self.runner._new_uid()
        run_id, task_dir, scratch = self.runner.make_run_dirs(uid)
        process = self.runner.launch(budget=POOL_BUDGET, uid=uid, task_dir=task_dir, scratch=scratch, warm=True)
        with self._lock:
            self._workers.append(WarmWorker(run_id, task_dir, scratch, process))

    def _check_ready(self, worker: WarmWorker) -> None:
        if worker.ready:
            return
        # The first message of a warm worker is {"type": "warm"}; peek without consuming others.
        try:
            message = worker.process.messages.get_nowait()
        except Exception:  # noqa: BLE001 - queue.Empty
            return
        if message.get("type") == "warm":
            worker.ready = True
        else:
            worker.process.messages.put(message)

    def acquire(self, budget: Budget, wait_s: float = 0.0) -> WarmWorker | None:
        """Take a ready worker (waiting up to ``wait_s``); refill the pool in the background.

        Returns ``None`` when none becomes ready in time, none is on its way, or the job needs a different
        thread count; the caller then starts a cold process.
        """
        if budget.cpu_threads != POOL_BUDGET.cpu_threads:
            return None
        deadline = time.monotonic() + wait_s
        while True:
            chosen = None
            with self._lock:
                for worker in list(self._workers):
                    if not worker.alive():
                        self._workers.remove(worker)
                        worker.process.kill()
                        self.runner.cleanup_run_dir(worker.run_id)
                        continue
                    self._check_ready(worker)
                    if worker.ready:
                        chosen = worker
                        self._workers.remove(worker)
                        break
                deficit = max(0, self.size - len(self._workers) - self._pending)
                self._pending += deficit
                coming = bool(self._workers) or self._pending > 0
            for _ in range(deficit):
                threading.Thread(target=self._spawn_tracked, daemon=True).start()
            if chosen is not None or time.monotonic() >= deadline or not coming:
                return chosen
            time.sleep(0.02)

    def wait_ready(self, count: int = 1, timeout: float = 60.0) -> bool:
        """Block until ``count`` workers are ready (benchmarks use it to time warm starts fairly)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for worker in self._workers:
                    self._check_ready(worker)
                if sum(w.ready for w in self._workers) >= count:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.process.kill()
            worker.process.wait_exit(5.0)
            self.runner.cleanup_run_dir(worker.run_id)
