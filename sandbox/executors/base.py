"""The executor interface: where a candidate runs, never how it is scored.

An executor takes what a candidate may see (code, a :class:`~sandbox.runner.TaskBundle` without targets,
a budget) and gives back a :class:`~sandbox.runner.RunOutcome` plus a predictions file *on this machine*.
The :class:`~sandbox.evaluate.Evaluator` then scores that file with the trusted scorer in its own process,
so the hidden targets never leave it whichever executor ran the candidate. Every executor runs the
candidate inside the isolated runner (``sandbox/runner.py``); they differ only in where that runner lives.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..runner import RunOutcome, TaskBundle
from ..runtime.task import Budget

LogSink = Callable[[dict[str, Any]], None]


class ExecutedRun(BaseModel):
    """One finished run, ready for the scorer.

    ``predictions_path`` is a local file written by the candidate (local executor) or by this process from
    the bytes a remote worker sent back (Ray); the scorer opens it without following links either way.
    ``placement`` says where the run happened (executor, host or node, attempts), for the run record.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    outcome: RunOutcome
    predictions_path: str | None = None
    placement: dict[str, Any] = Field(default_factory=dict)
    cleanup: Any = Field(default=None, exclude=True)


class CandidateExecutor(ABC):
    """Runs candidates somewhere; thread-safe (campaigns evaluate siblings from several threads)."""

    kind: ClassVar[str]

    @abstractmethod
    def run(self, code: str, bundle: TaskBundle, budget: Budget, *, on_log: LogSink | None = None,
            cancel: threading.Event | None = None) -> ExecutedRun:
        """Run one candidate to its end (or until ``cancel`` is set) and return its outcome."""

    @abstractmethod
    def release(self, run: ExecutedRun) -> None:
        """Remove what the run left on disk once it was scored (an executor may keep runs on request)."""

    def describe(self) -> dict[str, Any]:
        """A short description for logs and health pages."""
        return {"executor": self.kind}

    def close(self) -> None:
        """Stop background processes and connections; the executor is unusable afterwards."""


def failed_run(reason: str, *, failure: str = "sandbox_error", placement: dict[str, Any] | None = None,
               run_id: str = "-") -> ExecutedRun:
    """A run that never produced predictions, with the reason in words."""
    outcome = RunOutcome(run_id=run_id, status="failed", failure=failure, reason=reason)  # type: ignore[arg-type]
    return ExecutedRun(outcome=outcome, placement=placement or {})
