"""Evaluations as Ray tasks: each candidate is one task that asks for its CPUs, GPU and memory.

The caller (a campaign worker or the API's in-process workers) is a Ray driver. It submits
:func:`~sandbox.executors.ray_task.evaluate_on_worker` with the candidate code and the inputs the
candidate may see; the task runs the isolated runner on whichever node Ray picks and returns the outcome
and the predictions' bytes, which :class:`~sandbox.evaluate.Evaluator` scores here with the targets that
never left this process.

Failure model: a task whose worker process or node dies is retried by Ray (``max_retries``) on a live
node; a candidate's own failure (crash, timeout, bad output) is a result, never retried. A task that asks
for more than any live node has (a GPU on a CPU-only cluster) fails at once with a message instead of
waiting forever. Cancellation interrupts the task (the runner kills the jail), then forces it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..gpu import wants_gpu
from ..runner import RunOutcome, TaskBundle
from ..runtime.task import Budget
from .base import CandidateExecutor, ExecutedRun, LogSink, failed_run
from .ray_task import LogRelay, RemoteRunnerOptions, evaluate_on_worker

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
RELAY_POLL_SECONDS = 0.5
CANCEL_GRACE_SECONDS = 15.0
NODES_CACHE_SECONDS = 5.0
NAMESPACE = "agentic-sciml"


class RayResources(BaseModel):
    """What every evaluation task asks Ray for (GPU and memory may follow the evaluation's budget)."""

    cpus: float = Field(1.0, gt=0)
    gpus: float | None = Field(None, ge=0, le=1)
    memory_mb: int | None = Field(None, ge=1)


class RayExecutor(CandidateExecutor):
    kind = "ray"

    def __init__(self, *, address: str | None, scratch_dir: Path, resources: RayResources | None = None,
                 runner: RemoteRunnerOptions | None = None, max_retries: int = 3,
                 init_options: dict[str, Any] | None = None) -> None:
        import ray

        self._ray = ray
        self.address = address or "auto"
        self.resources = resources or RayResources()
        self.runner_options = runner or RemoteRunnerOptions()
        self.max_retries = max_retries
        self.scratch_dir = Path(scratch_dir)
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.scratch_dir, 0o700)
        self._owns_connection = False
        if not ray.is_initialized():
            self._connect(init_options or {})
            self._owns_connection = True
        self._task = ray.remote(evaluate_on_worker)
        self._relay = self._start_relay()
        self._nodes: tuple[float, list[dict[str, float]]] = (0.0, [])
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "RayExecutor":
        options: dict[str, Any] = {
            "address": settings.ray_address,
            "scratch_dir": settings.runs_dir / "ray-predictions",
            "resources": RayResources(cpus=settings.ray_cpus_per_evaluation,
                                      gpus=settings.ray_gpus_per_evaluation,
                                      memory_mb=settings.ray_memory_mb_per_evaluation),
            "runner": RemoteRunnerOptions(backend=settings.sandbox_mode, keep_runs=settings.keep_runs,
                                          uid_base=settings.sandbox_uid_base,
                                          warm_workers=settings.ray_warm_workers),
            "max_retries": settings.ray_max_retries,
        }
        options.update(overrides)
        return cls(**options)

    # -- set-up ---------------------------------------------------------------------------------------------
    def _connect(self, init_options: dict[str, Any]) -> None:
        """``ray.init``, keeping this process's SIGTERM handler.

        ``ray.init`` in the main thread replaces the SIGTERM handler with ``sys.exit``; a campaign worker
        must keep its own, which stops claiming work and hands running campaigns back before exiting.
        """
        main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if main else None
        try:
            self._ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False,
                           logging_level=logging.WARNING, **init_options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RuntimeError(f"EXECUTOR=ray could not join the Ray cluster at {self.address!r}: {exc}. "
                               "Start one (`ray start --head`) or set RAY_ADDRESS.") from exc
        finally:
            if main and previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _start_relay(self) -> Any:
        """The log relay, pinned to this driver's node so that a dying worker node cannot take it along.

        Hard affinity: a soft one lets Ray place it on a worker node when the driver's node has no CPUs
        (the head, or a campaign worker that joined without resources), where a node failure would end it.
        """
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        return ray.remote(LogRelay).options(num_cpus=0, max_restarts=0, scheduling_strategy=strategy).remote()

    def _alive_nodes(self) -> list[dict[str, float]]:
        with self._lock:
            stamp, nodes = self._nodes
            if time.monotonic() - stamp < NODES_CACHE_SECONDS and nodes:
                return nodes
        nodes = [dict(n.get("Resources") or {}) for n in self._ray.nodes() if n.get("Alive")]
        with self._lock:
            self._nodes = (time.monotonic(), nodes)
        return nodes

    def request_for(self, budget: Budget) -> dict[str, float]:
        """The Ray resource request of one evaluation: CPUs, one GPU when its device wants one, memory."""
        gpus = 0.0
        if wants_gpu(budget.device):
            wanted = 1.0 if self.resources.gpus is None else float(self.resources.gpus)
            has_gpus = any(n.get("GPU", 0) > 0 for n in self._alive_nodes())
            if budget.device.startswith("cuda") or has_gpus:
                gpus = wanted
        memory_mb = self.resources.memory_mb or int(budget.memory_mb)
        return {"num_cpus": float(self.resources.cpus), "num_gpus": gpus,
                "memory": float(memory_mb) * 1024 * 1024}

    def _infeasible(self, request: dict[str, float]) -> str | None:
        nodes = self._alive_nodes()
        need = {"CPU": request["num_cpus"], "GPU": request["num_gpus"], "memory": request["memory"]}
        for node in nodes:
            if all(node.get(key, 0.0) >= amount for key, amount in need.items() if amount > 0):
                return None
        gib = request["memory"] / 2**30
        return (f"no live Ray node can run this evaluation: it needs {request['num_cpus']:g} CPU, "
                f"{request['num_gpus']:g} GPU and {gib:.1f} GiB memory; the cluster has {len(nodes)} live "
                f"node(s) with at most {max((n.get('CPU', 0) for n in nodes), default=0):g} CPU and "
                f"{max((n.get('GPU', 0) for n in nodes), default=0):g} GPU each")

    # -- the run ---------------------------------------------------------------------------------------------
    def run(self, code: str, bundle: TaskBundle, budget: Budget, *, on_log: LogSink | None = None,
            cancel: threading.Event | None = None) -> ExecutedRun:
        resources = self.request_for(budget)
        placement: dict[str, Any] = {"executor": self.kind, "resources": {
            "CPU": resources["num_cpus"], "GPU": resources["num_gpus"],
            "memory_mb": int(resources["memory"] // (1024 * 1024))}}
        problem = self._infeasible(resources)
        if problem is not None:
            return failed_run(problem, placement=placement)
        eval_id = uuid.uuid4().hex
        request = {
            "eval_id": eval_id, "code": code, "meta": dict(bundle.meta), "train": dict(bundle.train),
            "query_inputs": dict(bundle.query_inputs), "budget": budget.to_dict(),
            "runner": self.runner_options.model_dump(), "relay": self._relay,
        }
        ref = self._task.options(
            max_retries=self.max_retries, retry_exceptions=False,
            name=f"evaluate:{bundle.meta.get('name', '?')}", **resources,
        ).remote(request)
        try:
            result, cancelled = self._wait(ref, eval_id, on_log, cancel)
            starts = self._drain(eval_id, on_log)
        finally:
            self._forget(eval_id)
        placement["attempts"] = len(starts) or None
        placement["nodes"] = [s.get("node_id") for s in starts]
        if cancelled:
            return failed_run("cancelled", failure="killed", placement=placement)
        if isinstance(result, BaseException):
            return failed_run(self._describe_error(result, len(starts)), placement=placement)
        outcome = RunOutcome(**result["outcome"])
        placement.update(node_id=result.get("node_id"), host=result.get("host"),
                         gpu_ids=result.get("gpu_ids"))
        path = None
        if outcome.status == "succeeded":
            if result.get("predictions") is None:
                outcome.status, outcome.failure = "failed", "no_output"
                outcome.reason = "the worker returned no predictions"
            else:
                path = self._store_predictions(eval_id, result["predictions"])
        return ExecutedRun(outcome=outcome, predictions_path=str(path) if path else None, placement=placement,
                           cleanup=path)

    def _wait(self, ref: Any, eval_id: str, on_log: LogSink | None,
              cancel: threading.Event | None) -> tuple[Any, bool]:
        """Block until the task ends, streaming logs; returns (result or exception, cancelled)."""
        ray = self._ray
        last_relay = time.monotonic()
        while True:
            ready, _ = ray.wait([ref], timeout=POLL_SECONDS)
            if ready:
                try:
                    return ray.get(ref), False
                except ray.exceptions.TaskCancelledError:
                    return None, True
                except ray.exceptions.RayError as exc:
                    return exc, False
            if cancel is not None and cancel.is_set():
                self._cancel(ref)
                return None, True
            if on_log is not None and time.monotonic() - last_relay >= RELAY_POLL_SECONDS:
                last_relay = time.monotonic()
                self._drain(eval_id, on_log)

    def _cancel(self, ref: Any) -> None:
        """Interrupt the task (the runner kills its jail on KeyboardInterrupt), then force it if it stays."""
        ray = self._ray
        try:
            ray.cancel(ref, force=False)
            ray.wait([ref], timeout=CANCEL_GRACE_SECONDS)
            ray.get(ref, timeout=0.1)
        except ray.exceptions.GetTimeoutError:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        except Exception:  # noqa: BLE001 - TaskCancelledError and friends: what we asked for
            pass

    def _drain(self, eval_id: str, on_log: LogSink | None) -> list[dict[str, Any]]:
        """Deliver streamed log records; returns the attempts the relay saw (one per start)."""
        if self._relay is None:
            return []
        try:
            records, starts = self._ray.get(self._relay.pull.remote(eval_id), timeout=10)
        except Exception as exc:  # noqa: BLE001 - a lost relay ends live logs, not the evaluation
            log.warning("Ray log relay lost (%s); live training logs stop", exc)
            self._relay = None
            return []
        if on_log is not None:
            for record in records:
                try:
                    on_log(record)
                except Exception:  # noqa: BLE001 - a consumer's bug must not fail the evaluation
                    pass
        return starts

    def _forget(self, eval_id: str) -> None:
        if self._relay is not None:
            try:
                self._relay.forget.remote(eval_id)
            except Exception:  # noqa: BLE001
                pass

    def _describe_error(self, exc: BaseException, attempts: int) -> str:
        ray = self._ray
        lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError)
        if isinstance(exc, lost):
            return (f"the evaluation lost its Ray worker {attempts or 'each'} time(s) and ran out of retries "
                    f"(max_retries={self.max_retries}): {type(exc).__name__}")
        if isinstance(exc, ray.exceptions.RayTaskError):
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return f"the Ray task failed outside the candidate: {type(cause).__name__}: {str(cause)[:500]}"
        return f"Ray error: {type(exc).__name__}: {str(exc)[:500]}"

    def _store_predictions(self, eval_id: str, data: bytes) -> Path:
        """Write the returned bytes where the scorer reads them; never over an existing file."""
        path = self.scratch_dir / f"{eval_id}.npy"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path

    def release(self, run: ExecutedRun) -> None:
        if isinstance(run.cleanup, Path):
            run.cleanup.unlink(missing_ok=True)

    def describe(self) -> dict[str, Any]:
        nodes = self._alive_nodes()
        return {"executor": self.kind, "address": self.address, "nodes": len(nodes),
                "cpus": sum(n.get("CPU", 0.0) for n in nodes), "gpus": sum(n.get("GPU", 0.0) for n in nodes)}

    def close(self) -> None:
        ray = self._ray
        if self._relay is not None:
            try:
                ray.kill(self._relay)
            except Exception:  # noqa: BLE001
                pass
            self._relay = None
        if self._owns_connection and ray.is_initialized():
            ray.shutdown()
