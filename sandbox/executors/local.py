"""The default executor: candidates run in jailed processes on this machine (today's behaviour).

Concurrency comes from the callers (a campaign evaluates siblings from several threads; the worker gate
caps the total). GPUs, when the machine has some, are handed out one per evaluation from a fixed set of
slots, so that two concurrent candidates never share a device.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Any

from ..gpu import visible_gpu_ids, wants_gpu
from ..runner import CandidateRunner, TaskBundle
from ..runtime.task import Budget
from .base import CandidateExecutor, ExecutedRun, LogSink, failed_run


class GpuSlots:
    """One slot per visible GPU; ``take`` blocks until one is free (or the evaluation is cancelled)."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = list(ids)
        self._free: "queue.Queue[str]" = queue.Queue()
        for gpu in self.ids:
            self._free.put(gpu)

    @property
    def total(self) -> int:
        return len(self.ids)

    def take(self, cancel: threading.Event | None = None) -> str | None:
        while True:
            try:
                return self._free.get(timeout=0.2)
            except queue.Empty:
                if cancel is not None and cancel.is_set():
                    return None

    def give_back(self, gpu: str) -> None:
        self._free.put(gpu)


class LocalExecutor(CandidateExecutor):
    kind = "local"

    def __init__(self, runner: CandidateRunner, *, gpu_ids: list[str] | None = None) -> None:
        self.runner = runner
        self.gpus = GpuSlots(visible_gpu_ids() if gpu_ids is None else gpu_ids)
        self._host = socket.gethostname()

    def run(self, code: str, bundle: TaskBundle, budget: Budget, *, on_log: LogSink | None = None,
            cancel: threading.Event | None = None) -> ExecutedRun:
        placement: dict[str, Any] = {"executor": self.kind, "host": self._host}
        gpu = None
        if wants_gpu(budget.device) and self.gpus.total:
            gpu = self.gpus.take(cancel)
            if gpu is None:
                return failed_run("cancelled while waiting for a GPU", failure="killed", placement=placement)
        try:
            outcome = self.runner.run(code, bundle, budget, on_log=on_log, cancel=cancel,
                                      gpu_ids=[gpu] if gpu is not None else None)
        finally:
            if gpu is not None:
                self.gpus.give_back(gpu)
        return ExecutedRun(outcome=outcome, predictions_path=outcome.predictions_path, placement=placement)

    def release(self, run: ExecutedRun) -> None:
        self.runner.cleanup(run.outcome)

    def describe(self) -> dict[str, Any]:
        return {"executor": self.kind, "backend": self.runner.backend, "gpus": self.gpus.total}

    def close(self) -> None:
        self.runner.close()
