"""Fast stand-ins for the API tests: an in-process evaluator and the scripted team as a team factory.

The evaluator runs the candidate's real code and scores it with the real trusted scorer, but in a thread of
this process instead of a sandboxed subprocess: a sandbox start costs seconds here (it imports torch), and
these tests are about the service (queue, leases, streams, control), not about isolation, which the sandbox
tests cover. It honours ``cancel`` like the real runner (the evaluation returns at once as killed).
"""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from sandbox.evaluate import EvaluationResult
from sandbox.scorer import score_arrays
from tests.campaigns.scripted_team import ScriptedTeam

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "problems" / "examples" / "damped_oscillator"


class InlineEvaluator:
    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def evaluate(self, code: str, problem: Any, *, seed: int = 0, budget: dict[str, Any] | None = None,
                 on_log: Callable[[dict[str, Any]], None] | None = None,
                 cancel: threading.Event | None = None) -> EvaluationResult:
        data = problem.load(self.cache_dir)
        logs: list[dict[str, Any]] = []
        start = time.monotonic()

        def log(step: int, **metrics: Any) -> None:
            record = {"step": step, "t": time.monotonic() - start, **metrics}
            logs.append(record)
            if on_log is not None:
                on_log(record)

        task = SimpleNamespace(train=data.train, query_inputs=data.query_inputs, log=log, seed=seed,
                               output_shape=data.targets.shape, kind=problem.spec.kind, name=problem.spec.name)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                namespace: dict[str, Any] = {"__name__": "candidate"}
                exec(compile(code, "candidate.py", "exec"), namespace)  # noqa: S102 - test double, trusted code
                outcome["predictions"] = np.asarray(namespace["solve"](task), dtype=float)
            except BaseException as exc:  # noqa: BLE001 - reported like a sandboxed crash
                outcome["error"] = f"{type(exc).__name__}: {exc}"

        with self._lock:
            self.calls.append({"seed": seed, "budget": budget, "code_head": code[:80]})
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.05)
            if cancel is not None and cancel.is_set():
                return self._result(problem, seed, start, "failed", "killed", "cancelled", logs=logs)
        if "error" in outcome:
            return self._result(problem, seed, start, "failed", "exception", outcome["error"], logs=logs,
                                traceback=outcome["error"])
        if outcome["predictions"].shape != data.targets.shape:
            return self._result(problem, seed, start, "failed", "invalid_output",
                                f"shape {outcome['predictions'].shape}, expected {data.targets.shape}", logs=logs)
        scored = score_arrays(outcome["predictions"], data.targets, problem.spec.metric)
        if not scored.ok:
            return self._result(problem, seed, start, "failed", "invalid_output", scored.reason, logs=logs)
        result = self._result(problem, seed, start, "succeeded", None, None, logs=logs)
        result.score, result.metrics = scored.score, scored.metrics
        buffer = io.BytesIO()  # the engine stores scored predictions for the node page, as with the real runner
        np.save(buffer, outcome["predictions"], allow_pickle=False)
        result.predictions_npy = buffer.getvalue()
        return result

    @staticmethod
    def _result(problem: Any, seed: int, start: float, status: str, failure: str | None, reason: str | None, *,
                logs: list[dict[str, Any]], traceback: str | None = None) -> EvaluationResult:
        return EvaluationResult(
            problem=problem.spec.name, status=status, failure=failure, reason=reason, metric=problem.spec.metric,
            seed=seed, budget={}, run_id=uuid.uuid4().hex[:8], wall_seconds=time.monotonic() - start,
            startup_seconds=0.0, solve_seconds=time.monotonic() - start, cpu_seconds=0.0, max_rss_mb=0.0,
            warm_start=False, protections={"isolation": "none (in-process test evaluator)"}, traceback=traceback,
            stdout="fitted\n", logs=logs,
        )

    def close(self) -> None:
        pass


def scripted_team(config: Any) -> ScriptedTeam:
    """Team factory for workers (in-process or not): the scripted team, candidates sleep SCRIPTED_DELAY s."""
    return ScriptedTeam(delay=float(os.environ.get("SCRIPTED_DELAY", "0")))


def scripted_team_with(delay: float) -> Callable[[Any], ScriptedTeam]:
    return lambda config: ScriptedTeam(delay=delay)
