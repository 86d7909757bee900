"""A cap on candidate evaluations running at once in one worker process, whatever the campaigns ask for.

Each campaign's ``concurrency`` bounds its own parallel evaluations; several campaigns in one process could
still add up to more than the machine can train. The gate wraps the evaluator the engines share and makes
an evaluation wait for a slot; a waiting evaluation still notices cancellation.
"""

from __future__ import annotations

import threading
from typing import Any


class GatedEvaluator:
    """Same interface as :class:`sandbox.evaluate.Evaluator`; ``evaluate`` waits for one of ``limit`` slots."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __getattr__(self, name: str) -> Any:  # cache_dir, runner, ... pass through
        return getattr(self.inner, name)

    def evaluate(self, code: str, problem: Any, **kwargs: Any) -> Any:
        cancel: threading.Event | None = kwargs.get("cancel")
        while not self._slots.acquire(timeout=0.2):
            if cancel is not None and cancel.is_set():
                break  # let the evaluator report the cancellation at once
        else:
            return self._run_holding_slot(code, problem, kwargs)
        return self.inner.evaluate(code, problem, **kwargs)

    def _run_holding_slot(self, code: str, problem: Any, kwargs: dict[str, Any]) -> Any:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            return self.inner.evaluate(code, problem, **kwargs)
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()

    def close(self) -> None:
        self.inner.close()
