"""What runs on a Ray worker node: one candidate through the isolated runner, predictions sent back as bytes.

The task receives the candidate code, the training and query inputs and the budget, never the targets; it
returns the run outcome (status, logs, curves, usage) and the raw ``.npy`` bytes of the predictions, which
the caller scores with the trusted scorer. The jail is the same as on the head (bubblewrap, seccomp,
rlimits); killing the Ray worker kills the jail with it (``--die-with-parent``), and a cancel from the
caller arrives as ``KeyboardInterrupt``, on which the runner kills the jail before giving up.

Worker-side layout: run directories go to ``AGENTIC_SCIML_RAY_RUNS_DIR`` when set, else to
``$AGENTIC_SCIML_DATA_DIR/runs``, else to a directory under the system temp dir.
"""

from __future__ import annotations

import functools
import os
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from ..runner import CandidateRunner, TaskBundle
from ..runtime.task import Budget

LOG_FLUSH_SECONDS = 0.5
MAX_STREAMED_RECORDS = 20_000


class RemoteRunnerOptions(BaseModel, frozen=True):
    """How the worker-side runner isolates candidates (chosen by the caller's settings)."""

    backend: str = "auto"
    keep_runs: bool = False
    uid_base: int = 61000
    warm_workers: int = 0


def worker_runs_dir() -> Path:
    explicit = os.environ.get("AGENTIC_SCIML_RAY_RUNS_DIR")
    if explicit:
        return Path(explicit)
    data = os.environ.get("AGENTIC_SCIML_DATA_DIR")
    if data:
        return Path(data) / "runs"
    return Path(tempfile.gettempdir()) / f"agentic-sciml-ray-{os.getuid()}" / "runs"


@functools.lru_cache(maxsize=4)
def runner_for(options: RemoteRunnerOptions) -> CandidateRunner:
    """One runner per Ray worker process and options: it probes the sandbox once and may keep warm workers.

    A process-level cache is the only place a Ray task can keep state between tasks; the runner is closed
    when the worker process exits (its warm jails die with it).
    """
    secrets = [Path(os.environ["AGENTIC_SCIML_DATA_DIR"])] if os.environ.get("AGENTIC_SCIML_DATA_DIR") else []
    return CandidateRunner(worker_runs_dir(), backend=options.backend, keep_runs=options.keep_runs,
                           uid_base=options.uid_base, warm_workers=options.warm_workers, secret_dirs=secrets)


class LogForwarder:
    """Batches training-log records to the caller's relay actor (fire and forget, at most twice a second)."""

    def __init__(self, relay: Any, eval_id: str) -> None:
        self.relay = relay
        self.eval_id = eval_id
        self._batch: list[dict[str, Any]] = []
        self._sent = 0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        if self.relay is None or self._sent >= MAX_STREAMED_RECORDS:
            return
        with self._lock:
            self._batch.append(record)
            self._sent += 1
            due = time.monotonic() - self._last >= LOG_FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
            self._last = time.monotonic()
        if batch and self.relay is not None:
            try:
                self.relay.push.remote(self.eval_id, batch)
            except Exception:  # noqa: BLE001 - live curves are a convenience; the result carries all logs
                self.relay = None


def read_predictions(path: str, output_shape: list[int]) -> tuple[bytes | None, str | None]:
    """The predictions file's bytes, read like the scorer reads it (no links, bounded size)."""
    count = int(np.prod(output_shape)) if output_shape else 1
    max_bytes = count * 16 + 65536
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, f"predictions file cannot be opened safely: {exc.strerror}"
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, "predictions file is not a regular file"
        if info.st_size > max_bytes:
            return None, f"predictions file is {info.st_size} bytes, more than {max_bytes} allowed"
        return handle.read(max_bytes + 1), None


def evaluate_on_worker(request: dict[str, Any]) -> dict[str, Any]:
    """The body of the Ray task (see the module docstring); ``request`` is built by the Ray executor."""
    import ray

    context = ray.get_runtime_context()
    node_id = context.get_node_id()
    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    where = {"node_id": node_id, "host": socket.gethostname(), "pid": os.getpid(), "gpu_ids": gpu_ids}
    relay, eval_id = request.get("relay"), request["eval_id"]
    if relay is not None:
        try:
            relay.started.remote(eval_id, where)
        except Exception:  # noqa: BLE001 - the relay only feeds live views
            relay = None
    runner = runner_for(RemoteRunnerOptions(**request["runner"]))
    bundle = TaskBundle(meta=request["meta"], train=request["train"], query_inputs=request["query_inputs"])
    forwarder = LogForwarder(relay, eval_id)
    outcome = runner.run(request["code"], bundle, Budget(**request["budget"]), on_log=forwarder,
                         gpu_ids=gpu_ids)
    forwarder.flush()
    predictions = None
    if outcome.status == "succeeded" and outcome.predictions_path:
        predictions, problem = read_predictions(outcome.predictions_path, request["meta"]["output_shape"])
        if problem is not None:
            outcome.status, outcome.failure, outcome.reason = "failed", "invalid_output", problem
    runner.cleanup(outcome)
    return {"outcome": outcome.model_dump(mode="json"), "predictions": predictions, **where}


class LogRelay:
    """A small actor that carries live training logs and attempt starts from workers to the caller.

    It lives next to the caller (node affinity), so a worker node that dies takes nothing of it along;
    ``started`` records every attempt, which is how the caller counts retries.
    """

    def __init__(self) -> None:
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._starts: dict[str, list[dict[str, Any]]] = {}

    def started(self, eval_id: str, where: dict[str, Any]) -> None:
        self._starts.setdefault(eval_id, []).append({**where, "t": time.time()})

    def push(self, eval_id: str, records: list[dict[str, Any]]) -> None:
        held = self._records.setdefault(eval_id, [])
        room = MAX_STREAMED_RECORDS - len(held)
        if room > 0:
            held.extend(records[:room])

    def pull(self, eval_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return self._records.pop(eval_id, []), list(self._starts.get(eval_id, []))

    def forget(self, eval_id: str) -> None:
        self._records.pop(eval_id, None)
        self._starts.pop(eval_id, None)

    def node_id(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()
