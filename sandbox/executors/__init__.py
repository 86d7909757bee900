"""Where candidates run: the local process pool (default) or a Ray cluster (``EXECUTOR=ray``).

Both run each candidate inside the isolated runner and hand back a predictions file; scoring stays with
the :class:`~sandbox.evaluate.Evaluator`, so hidden targets never travel. Ray is an optional dependency
(``pip install agentic-sciml[ray]``) imported only when the Ray executor is built.
"""

from __future__ import annotations

from typing import Any

from .base import CandidateExecutor, ExecutedRun, failed_run
from .local import GpuSlots, LocalExecutor

__all__ = ["CandidateExecutor", "ExecutedRun", "GpuSlots", "LocalExecutor", "executor_from_settings",
           "failed_run"]


def executor_from_settings(settings: Any, **runner_overrides: Any) -> CandidateExecutor:
    """The executor ``settings.executor`` names; ``runner_overrides`` tune the local runner (warm workers)."""
    if settings.executor == "ray":
        try:
            from .ray_executor import RayExecutor
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise RuntimeError("EXECUTOR=ray needs Ray: pip install 'agentic-sciml[ray]'") from exc
        return RayExecutor.from_settings(settings)
    from ..runner import CandidateRunner

    options = {
        "backend": settings.sandbox_mode,
        "warm_workers": settings.warm_workers,
        "keep_runs": settings.keep_runs,
        "uid_base": settings.sandbox_uid_base,
    }
    options.update(runner_overrides)
    # The data directory holds the database and the problem cache (hidden targets): never inside the jail.
    options["secret_dirs"] = [settings.data_dir, settings.cache_dir, *options.get("secret_dirs", [])]
    return LocalExecutor(CandidateRunner(settings.runs_dir, **options))
