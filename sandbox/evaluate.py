"""Evaluate a candidate on a problem: build what it may see, run it isolated, score it outside.

This is the single entry point the CLI, the campaign engine and the benchmarks use, so every path to a
score goes through the same runner and the same scorer. Where the runner lives is the executor's business
(``sandbox/executors``: this machine, or a Ray cluster); the targets and the scorer stay here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from .executors import CandidateExecutor, LocalExecutor, executor_from_settings
from .runner import CandidateRunner, TaskBundle
from .runtime.task import Budget
from .scorer import score_file


class EvaluationResult(BaseModel):
    """A run record plus the trusted score. ``score`` is set only when the status is ``succeeded``."""

    problem: str
    status: str
    failure: str | None = None
    reason: str | None = None
    metric: str
    score: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    seed: int
    budget: dict[str, Any]
    run_id: str
    wall_seconds: float
    startup_seconds: float
    import_seconds: float | None = None  # the module's top level; it counts against the wall budget
    solve_seconds: float | None
    cpu_seconds: float
    max_rss_mb: float
    steps: int | None = None  # optimiser steps the candidate counted (informational, reported from inside)
    warm_start: bool
    device: str = "cpu"
    gpu: dict[str, Any] | None = None
    protections: dict[str, Any]
    violations: list[str] = Field(default_factory=list)
    traceback: str | None = None
    # The scored predictions as .npy bytes, for the node page's prediction-vs-reference plot; kept out of
    # JSON output (``--json`` prints the summary and logs, not arrays).
    predictions_npy: bytes | None = Field(default=None, exclude=True, repr=False)
    stdout: str = ""
    stderr: str = ""
    logs: list[dict[str, Any]] = Field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The fields a person or a script wants first (no logs or output streams)."""
        keys = ("problem", "status", "failure", "reason", "metric", "score", "metrics", "seed", "wall_seconds",
                "startup_seconds", "import_seconds", "solve_seconds", "cpu_seconds", "max_rss_mb", "steps", "warm_start", "device", "gpu",
                "protections", "violations")
        return {k: getattr(self, k) for k in keys}


def budget_from_problem(problem: Any, override: dict[str, Any] | None = None) -> Budget:
    fields = dict(problem.spec.budget.model_dump())
    fields.update({k: v for k, v in (override or {}).items() if v is not None})
    allowed = {"wall_seconds", "memory_mb", "device", "cpu_threads", "max_steps"}
    return Budget(**{k: v for k, v in fields.items() if k in allowed})


def bundle_for(problem: Any, data: Any, *, seed: int, budget: Budget) -> TaskBundle:
    spec = problem.spec
    meta = {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "metric": spec.metric,
        "output_shape": list(data.targets.shape),
        "budget": budget.to_dict(),
        "seed": int(seed),
        "device": budget.device,  # the runner resolves it against the GPUs its executor granted
        "pde": spec.pde,
    }
    return TaskBundle(meta=meta, train=data.train, query_inputs=data.query_inputs)


MAX_KEPT_PREDICTION_BYTES = 64 * 1024 * 1024


def _read_bounded(path: Any, limit: int) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


class Evaluator:
    """Owns an executor (by default a local :class:`CandidateRunner`) and the problem cache; thread-safe."""

    def __init__(
        self,
        runs_dir: Path,
        cache_dir: Path | None = None,
        *,
        backend: str = "auto",
        warm_workers: int = 0,
        keep_runs: bool = False,
        secret_dirs: list[Path] | None = None,
        uid_base: int = 61000,
        executor: CandidateExecutor | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        if executor is None:
            secrets = list(secret_dirs or [])
            if cache_dir is not None:
                secrets.append(Path(cache_dir))
            runner = CandidateRunner(runs_dir, backend=backend, warm_workers=warm_workers,
                                     keep_runs=keep_runs, secret_dirs=secrets, uid_base=uid_base)
            executor = LocalExecutor(runner)
        self.executor = executor

    @property
    def runner(self) -> CandidateRunner | None:
        """The local runner (``None`` when candidates run elsewhere)."""
        return getattr(self.executor, "runner", None)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "Evaluator":
        """The executor ``settings.executor`` names; ``overrides`` tune a local runner (warm workers...)."""
        executor = overrides.pop("executor", None) or executor_from_settings(settings, **overrides)
        return cls(settings.runs_dir, settings.cache_dir, executor=executor)

    def evaluate(
        self,
        code: str,
        problem: Any,
        *,
        seed: int = 0,
        budget: dict[str, Any] | None = None,
        on_log: Callable[[dict[str, Any]], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> EvaluationResult:
        data = problem.load(self.cache_dir)
        run_budget = budget_from_problem(problem, budget)
        bundle = bundle_for(problem, data, seed=seed, budget=run_budget)
        run = self.executor.run(code, bundle, run_budget, on_log=on_log, cancel=cancel)
        outcome = run.outcome
        protections = dict(outcome.protections)
        if run.placement:
            protections["placement"] = run.placement  # where it ran: host or Ray node, attempts
        result = EvaluationResult(
            problem=problem.spec.name,
            status=outcome.status,
            failure=outcome.failure,
            reason=outcome.reason,
            metric=problem.spec.metric,
            seed=seed,
            budget=run_budget.to_dict(),
            run_id=outcome.run_id,
            wall_seconds=outcome.wall_seconds,
            startup_seconds=outcome.startup_seconds,
            import_seconds=outcome.import_seconds,
            solve_seconds=outcome.solve_seconds,
            cpu_seconds=outcome.cpu_seconds,
            max_rss_mb=outcome.max_rss_mb,
            steps=outcome.steps,
            warm_start=outcome.warm_start,
            device=outcome.device,
            gpu=outcome.gpu,
            protections=protections,
            violations=outcome.violations,
            traceback=outcome.traceback,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            logs=outcome.logs,
        )
        if outcome.status == "succeeded" and run.predictions_path:
            scored = score_file(run.predictions_path, data.targets, problem.spec.metric)
            result.metrics = scored.metrics
            if scored.ok:
                result.score = scored.score
                result.predictions_npy = _read_bounded(run.predictions_path, MAX_KEPT_PREDICTION_BYTES)
            else:
                result.status, result.failure, result.reason = "failed", "invalid_output", scored.reason
        elif outcome.status == "succeeded":
            result.status, result.failure = "failed", "no_output"
            result.reason = "no predictions reached the scorer"
        self.executor.release(run)
        return result

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> "Evaluator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
